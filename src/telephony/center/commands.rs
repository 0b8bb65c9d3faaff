//! Commands on a live call: hang-up, DTMF, mute, hold, transfer, supervision.

use serde_json::json;

use super::desk::DeskRole;
use super::*;
use crate::webrtc::LineMedia;

impl Center {
    pub(super) async fn request(
        &mut self,
        user: &User,
        call_id: Option<String>,
        command: CallCommand,
    ) -> Result<CallView, CallCenterError> {
        match command {
            CallCommand::Dial { task_id, contact } => {
                return self.dial(user, Some(task_id), None, contact).await
            }
            CallCommand::DialPatient {
                patient_id,
                contact,
            } => return self.dial(user, None, Some(patient_id), contact).await,
            CallCommand::DialRobot(dial) => return self.dial_robot(dial).await,
            _ => {}
        }
        let call_id = call_id.unwrap_or_default();
        let handle = self
            .calls
            .iter()
            .find(|(_, c)| c.id == call_id)
            .map(|(h, _)| *h)
            .ok_or_else(|| CallCenterError::NoSuchCall(call_id.clone()))?;
        let supervises = matches!(user.role, Role::Supervisor | Role::Admin);
        let (own, bridge, monitoring) = {
            let c = self
                .calls
                .get(&handle)
                .ok_or_else(|| CallCenterError::NoSuchCall(call_id.clone()))?;
            (
                c.agent_id == Some(user.id),
                c.bridge.clone(),
                c.monitors.contains(&user.id),
            )
        };
        let is_monitor = matches!(command, CallCommand::Monitor(_) | CallCommand::StopMonitor);
        if !is_monitor && !own && !supervises {
            return Err(CallCenterError::NotYourCall);
        }
        let agent_ringing = self
            .calls
            .get(&handle)
            .is_some_and(|c| c.state == CallState::AgentRinging);
        if agent_ringing && !matches!(command, CallCommand::Hangup) {
            return Err(CallCenterError::Conflict(
                "the nurse's desk phone is still ringing: the patient is not called yet".into(),
            ));
        }
        let sip_err = |e: crate::calls::CallsError| CallCenterError::Sip(e.to_string());
        let (kind, detail) = match command {
            CallCommand::Dial { .. }
            | CallCommand::DialPatient { .. }
            | CallCommand::DialRobot(_) => {
                unreachable!("dialling is handled above")
            }
            CallCommand::Hangup => {
                self.engine.hangup(handle).await.map_err(sip_err)?;
                self.release_unanswered(handle).await;
                ("hangup_requested", user.username.clone())
            }
            CallCommand::Dtmf(digits) => {
                if digits.is_empty()
                    || digits.len() > 32
                    || !digits.chars().all(|c| "0123456789*#ABCD".contains(c))
                {
                    return Err(CallCenterError::Invalid {
                        field: "digits",
                        message: "must be 1–32 of 0-9 * # A-D",
                    });
                }
                self.engine
                    .send_dtmf(handle, &digits)
                    .await
                    .map_err(sip_err)?;
                ("dtmf_sent", digits)
            }
            CallCommand::Mute(m) => {
                self.engine.set_mute(handle, m).await.map_err(sip_err)?;
                (if m { "muted" } else { "unmuted" }, user.username.clone())
            }
            CallCommand::Hold(h) => {
                let state = if h {
                    CallState::Held
                } else {
                    CallState::Answered
                };
                let current = self.calls.get(&handle).map(|c| c.state);
                if let Some(Err(refused)) = current.map(|c| c.move_to(state)) {
                    return Err(CallCenterError::Conflict(format!(
                        "{refused}: only an answered call can be held or resumed"
                    )));
                }
                let music = h.then(|| self.prompts.hold.clone()).flatten();
                let music = if h {
                    Some(music.unwrap_or_default())
                } else {
                    None
                };
                self.engine.hold(handle, music).await.map_err(sip_err)?;
                self.set_state(handle, state).await?;
                (if h { "hold" } else { "resume" }, user.username.clone())
            }
            CallCommand::Transfer { to_user } => {
                if bridge.is_none() {
                    return Err(CallCenterError::Conflict(
                        "only bridged calls can be transferred".into(),
                    ));
                }
                if self.agent_busy(to_user) {
                    return Err(CallCenterError::Conflict(format!(
                        "user {to_user} is already on a call"
                    )));
                }
                let detail = format!("{} -> user {to_user}", user.username);
                match self.state.lines.attach(to_user, true).await {
                    Ok(media) => {
                        self.complete_transfer(handle, to_user, media, None).await?;
                        ("transferred", detail)
                    }
                    // no browser line: ring their desk phone, and hand over when it answers
                    Err(e) => match self.desk_binding(to_user).await {
                        Some(binding) => {
                            let display = "suifang transfer".to_owned();
                            self.ring_desk(
                                to_user,
                                &binding,
                                display,
                                handle,
                                DeskRole::TransferTo,
                            )
                            .await?;
                            ("transfer_ringing", detail)
                        }
                        None => {
                            return Err(CallCenterError::Conflict(format!(
                                "user {to_user} cannot take the call: {e}"
                            )))
                        }
                    },
                }
            }
            CallCommand::Monitor(mode) => {
                // supervisors monitor in every mode; a doctor may only join as third party
                let doctor_joins = mode == MonitorMode::Barge && user.role == Role::Doctor;
                if !(supervises || doctor_joins) {
                    return Err(CallCenterError::NotYourCall);
                }
                let bridge = bridge.ok_or_else(|| {
                    CallCenterError::Conflict("only bridged calls can be monitored".into())
                })?;
                if monitoring {
                    let change = BridgeControl::SetMonitorMode {
                        user_id: user.id,
                        mode,
                    };
                    let _ = bridge.send(change).await;
                } else {
                    let media = self.state.lines.attach(user.id, true).await.map_err(|e| {
                        CallCenterError::Conflict(format!("connect your line first: {e}"))
                    })?;
                    let _ = bridge
                        .send(BridgeControl::AddMonitor {
                            user_id: user.id,
                            mode,
                            media,
                        })
                        .await;
                    if let Some(c) = self.calls.get_mut(&handle) {
                        c.monitors.push(user.id);
                    }
                }
                self.audit(user, mode.as_str(), &call_id, String::new())
                    .await?;
                (mode.as_str(), user.username.clone())
            }
            CallCommand::StopMonitor => {
                if let Some(b) = bridge {
                    let _ = b
                        .send(BridgeControl::RemoveMonitor { user_id: user.id })
                        .await;
                }
                if let Some(c) = self.calls.get_mut(&handle) {
                    c.monitors.retain(|id| *id != user.id);
                }
                ("monitor_stopped", user.username.clone())
            }
        };
        let id = call_id.clone();
        let now = self.now();
        self.state
            .store
            .write(move |tx| db::log(tx, &id, kind, Some(&detail), now))
            .await?;
        self.publish_state(handle, None);
        self.view(&call_id).await
    }

    /// Hands the call to `to_user` on `media` (a browser line, or the line of the desk phone
    /// `desk`); the previous nurse is told, and her desk phone, if she was on one, let go.
    pub(super) async fn complete_transfer(
        &mut self,
        handle: CallHandle,
        to_user: i64,
        media: LineMedia,
        desk: Option<CallHandle>,
    ) -> Result<(), StoreError> {
        let Some(c) = self.calls.get_mut(&handle) else {
            if let Some(d) = desk {
                let _ = self.engine.hangup(d).await;
            }
            return Ok(());
        };
        let Some(bridge) = c.bridge.clone() else {
            return Ok(());
        };
        let _ = bridge.send(BridgeControl::SwapAgent(media)).await;
        let previous = c.agent_id.replace(to_user);
        let old_desk = std::mem::replace(&mut c.desk, desk);
        let call_id = c.id.clone();
        // the nurse who handed the call on is no longer in its audience: tell her
        self.state.events.publish(LiveEvent {
            name: "call.state".into(),
            audience: Audience::Users(previous.into_iter().collect()),
            data: json!({ "call_id": call_id, "state": "transferred", "agent_id": to_user }),
        });
        if let Some(d) = old_desk {
            let _ = self.engine.hangup(d).await;
        }
        let device = if desk.is_some() {
            "desk_phone"
        } else {
            "browser"
        };
        self.state
            .store
            .write(move |tx| {
                db::set_agent(tx, &call_id, to_user)?;
                db::set_agent_device(tx, &call_id, device)
            })
            .await
    }
}
