//! Robot calls in the call center (issue 24): placing one for a robot task, and what robot
//! calls ask of the center (hang up, a nurse for a hand-off). The conversation itself runs in
//! its own task (`telephony::robot`); the center routes the leg's answer, keys and end to it.

use super::super::robot::{self as robot_call, RobotCall, RobotInput, RobotRequest, RobotShell};
use super::super::robot_voice::RobotVoice;
use super::*;
use crate::followup::pathway::CallMode;
use crate::robot::Lang;

/// A robot task to call now (what the robot dialer found due).
#[derive(Debug, Clone)]
pub struct RobotDial {
    pub task_id: i64,
    pub patient_id: i64,
    pub number: String,
    pub lang: Lang,
    pub script_code: String,
    pub mode: CallMode,
}

/// The requests channel of every robot call.
pub(super) struct Robots {
    tx: mpsc::Sender<(String, RobotRequest)>,
    rx: mpsc::Receiver<(String, RobotRequest)>,
}

impl Robots {
    pub(super) fn new() -> Robots {
        let (tx, rx) = mpsc::channel(64);
        Robots { tx, rx }
    }

    /// The next request of any robot call (pending forever while there is none; the center
    /// holds a sender, so the channel never closes).
    pub(super) async fn next_request(&mut self) -> (String, RobotRequest) {
        match self.rx.recv().await {
            Some(r) => r,
            None => std::future::pending().await,
        }
    }
}

impl CallCenter {
    /// Places a robot call (the robot dialer's way in). No user makes it: the request carries
    /// a placeholder the robot path never reads (requests are made by users everywhere else).
    pub async fn dial_robot(&self, dial: RobotDial) -> Result<CallView, CallCenterError> {
        let robot = User {
            id: 0,
            username: "robot".into(),
            display_name: "Robot".into(),
            role: Role::Nurse,
            department: None,
            active: true,
            discipline: None,
        };
        self.command(robot, None, CallCommand::DialRobot(dial))
            .await
    }
}

impl Center {
    fn robot_shell(&self) -> RobotShell {
        let config = &self.state.config;
        let recorded = config.prompts_dir.join(&config.robot.recorded_prompts);
        RobotShell {
            store: self.state.store.clone(),
            config: config.clone(),
            clock: self.state.clock,
            locale: self.state.locale,
            scripts: self.state.scripts.clone(),
            calendar: self.state.calendar.clone(),
            voice: RobotVoice::new(recorded, config.data_dir.join("robot-tts")),
        }
    }

    /// Places a robot call for `dial`: the calls row (no agent) and the robot call's row, the
    /// SIP leg, and the task that holds the conversation.
    pub(super) async fn dial_robot(
        &mut self,
        dial: RobotDial,
    ) -> Result<CallView, CallCenterError> {
        routing::check_calling_hours(&self.state.locale, self.state.clock.now())?;
        let script =
            self.state
                .scripts
                .get(&dial.script_code)
                .cloned()
                .ok_or(CallCenterError::Invalid {
                    field: "script_code",
                    message: "the task's script is not loaded",
                })?;
        let domain = self.state.config.sip.domain().ok_or_else(|| {
            CallCenterError::Conflict("no SIP trunk is configured (sip.trunk)".into())
        })?;
        let uri = SipUri::parse(&format!("sip:{}@{domain}", dial.number))
            .map_err(|e| CallCenterError::Sip(format!("bad number {}: {e}", dial.number)))?;
        let call_id = self.new_call_id();
        let (now, clock_now) = (self.now(), self.state.clock.now());
        let row = (call_id.clone(), dial.clone());
        self.state
            .store
            .write(move |tx| {
                let (id, d) = &row;
                let call = NewCall {
                    id,
                    task_id: Some(d.task_id),
                    patient_id: Some(d.patient_id),
                    agent_id: None,
                    direction: "outbound",
                    remote_number: Some(&d.number),
                    contact: Some("primary"),
                    state: CallState::Dialing.as_str(),
                };
                db::insert(tx, &call, now)?;
                crate::store::robot::start_call(tx, id, d.task_id, d.lang, clock_now)
            })
            .await?;
        let (leg, ends) = SipSide::recorded(&call_id).split();
        let handle = match self.engine.place_call_leg(uri, leg).await {
            Ok(h) => h,
            Err(e) => {
                let why = format!("not placed: {e}");
                self.end_unplaced(&call_id, &why).await?;
                let (id, at) = (call_id.clone(), clock_now);
                self.state
                    .store
                    .write(move |tx| {
                        let outcome = serde_json::json!({ "outcome": "not_placed", "error": why });
                        crate::store::robot::end_call(tx, &id, &outcome, at)
                    })
                    .await?;
                return Err(CallCenterError::Sip(e.to_string()));
            }
        };
        let (input_tx, input_rx) = mpsc::channel(64);
        let call = RobotCall {
            call_id: call_id.clone(),
            task_id: dial.task_id,
            script,
            lang: dial.lang,
            mode: dial.mode,
        };
        tokio::spawn(robot_call::run(
            call,
            self.robot_shell(),
            ends,
            input_rx,
            self.robots.tx.clone(),
        ));
        self.calls.insert(
            handle,
            LiveCall {
                id: call_id.clone(),
                task_id: Some(dial.task_id),
                patient_id: Some(dial.patient_id),
                agent_id: None,
                inbound: false,
                state: CallState::Dialing,
                bridge: None,
                deadline: None,
                monitors: Vec::new(),
                released: false,
                desk: None,
                robot: Some(input_tx),
            },
        );
        tracing::info!(call = %call_id, task = dial.task_id, "robot dialling");
        self.publish_state(handle, None);
        self.view(&call_id).await
    }

    /// Offers a handed-off robot call to the first free nurse whose browser line is
    /// connected (the patient's own nurses first, as for a call-back: `routing::inbound_route`);
    /// she gets the call on her line, the task's lease (to go on with its script and dispose
    /// it) and the call's live event with the task. False when nobody could take it.
    async fn offer_to_nurse(&mut self, handle: CallHandle, call_id: &str) -> bool {
        let Some((robot, task_id)) = self
            .calls
            .get(&handle)
            .filter(|c| c.agent_id.is_none())
            .and_then(|c| c.robot.clone().map(|r| (r, c.task_id)))
        else {
            return false;
        };
        let id = call_id.to_owned();
        let route = self
            .state
            .store
            .read(move |conn| {
                let number: Option<String> = conn
                    .query_row(
                        "SELECT remote_number FROM calls WHERE id = ?1",
                        [&id],
                        |r| r.get(0),
                    )
                    .unwrap_or(None);
                routing::inbound_route(conn, number.as_deref().unwrap_or_default())
            })
            .await;
        let candidates = match route {
            Ok(r) => r.candidates,
            Err(e) => {
                tracing::error!(call = %call_id, error = %e, "no nurses to offer the hand-off to");
                return false;
            }
        };
        for nurse in candidates {
            if self.agent_busy(nurse) {
                continue;
            }
            let Ok(media) = self.state.lines.attach(nurse, true).await else {
                continue;
            };
            let (control, control_rx) = mpsc::channel(8);
            // the bridge sends to the patient once told the call is answered (it is)
            let _ = control.send(BridgeControl::Answered).await;
            let line = RobotInput::NurseLine {
                media,
                control: control_rx,
            };
            if robot.send(line).await.is_err() {
                return false;
            }
            if let Some(c) = self.calls.get_mut(&handle) {
                c.agent_id = Some(nurse);
                c.bridge = Some(control);
            }
            let (id, now, lease) = (
                call_id.to_owned(),
                self.state.clock.now(),
                chrono::Duration::minutes(self.state.config.queue.lease_minutes),
            );
            let written = self
                .state
                .store
                .write(move |tx| {
                    db::set_agent(tx, &id, nurse)?;
                    db::set_agent_device(tx, &id, "browser")?;
                    db::log(
                        tx,
                        &id,
                        "robot_handoff",
                        Some(&format!("user {nurse}")),
                        now.timestamp(),
                    )?;
                    if let Some(task) = task_id {
                        tx.execute(
                            "UPDATE followup_tasks SET lease_owner = ?2, lease_expires_at = ?3
                             WHERE id = ?1 AND status = 'pending'",
                            rusqlite::params![task, nurse, (now + lease).timestamp()],
                        )?;
                    }
                    Ok(())
                })
                .await;
            if let Err(e) = written {
                tracing::error!(call = %call_id, error = %e, "robot hand-off not recorded");
            }
            tracing::info!(call = %call_id, nurse, "robot call handed to a nurse's line");
            self.publish_state(handle, Some("robot_handoff"));
            return true;
        }
        false
    }

    /// A robot call's request.
    pub(super) async fn robot_request(&mut self, call_id: &str, request: RobotRequest) {
        let Some((handle, robot)) = self
            .calls
            .iter()
            .find(|(_, c)| c.id == call_id)
            .and_then(|(h, c)| c.robot.clone().map(|r| (*h, r)))
        else {
            return;
        };
        match request {
            RobotRequest::HangUp => {
                if let Err(e) = self.engine.hangup(handle).await {
                    tracing::warn!(call = %call_id, error = %e, "robot hang-up failed");
                }
            }
            RobotRequest::Handoff(reason) => {
                tracing::info!(call = %call_id, ?reason, "robot hand-off: looking for a free nurse");
                if self.offer_to_nurse(handle, call_id).await {
                    return;
                }
                // nobody free now: one more look when the wait is over, then the call-back
                let wait = Duration::from_secs(self.state.config.robot.handoff_wait_seconds);
                let (requests, id) = (self.robots.tx.clone(), call_id.to_owned());
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    let _ = requests.send((id, RobotRequest::HandoffWaitOver)).await;
                });
            }
            RobotRequest::HandoffWaitOver => {
                if !self.offer_to_nurse(handle, call_id).await {
                    tracing::info!(call = %call_id, "robot hand-off: no nurse free; advice and call-back");
                    let _ = robot.send(RobotInput::NoNurse).await;
                }
            }
        }
    }
}
