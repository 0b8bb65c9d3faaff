//! Placing a call: for a task the nurse holds, or to a patient outside the queue.

use super::desk::{AgentEnd, DeskRole};
use super::*;

impl Center {
    /// Places a call for a task the user holds, or (`task_id` `None`) to a patient directly.
    pub(super) async fn dial(
        &mut self,
        user: &User,
        task_id: Option<i64>,
        patient_id: Option<i64>,
        contact: Option<Contact>,
    ) -> Result<CallView, CallCenterError> {
        if self.agent_busy(user.id) {
            return Err(CallCenterError::Conflict(
                "you are already on a call: hang up first".into(),
            ));
        }
        let (uid, now) = (user.id, self.now());
        let target = self
            .state
            .store
            .read(move |conn| {
                Ok(match (task_id, patient_id) {
                    (Some(task), _) => routing::dial_target(conn, task, uid, contact, now),
                    (None, patient) => {
                        routing::patient_target(conn, patient.unwrap_or_default(), contact)
                    }
                })
            })
            .await??;
        if task_id.is_some() {
            // queue work is checked again at dial time (the claim was checked at claim time)
            routing::check_calling_hours(&self.state.locale, self.state.clock.now())?;
        }

        let domain = self.state.config.sip.domain().ok_or_else(|| {
            CallCenterError::Conflict("no SIP trunk is configured (sip.trunk)".into())
        })?;
        let uri = SipUri::parse(&format!("sip:{}@{domain}", target.number))
            .map_err(|e| CallCenterError::Sip(format!("bad number {}: {e}", target.number)))?;
        // her browser line when it is connected, else her registered desk phone
        let end = self.agent_end(user.id).await?;
        let device = end.device();
        let state = match end {
            AgentEnd::Browser(_) => CallState::Dialing,
            AgentEnd::Desk(_) => CallState::AgentRinging,
        };
        let call_id = self.new_call_id();
        let row = (call_id.clone(), target.clone());
        self.state
            .store
            .write(move |tx| {
                let (id, t) = &row;
                let row = t.new_call(id, task_id, uid, state);
                db::insert(tx, &row, now)?;
                db::set_agent_device(tx, id, device)
            })
            .await?;
        if task_id.is_none() {
            // a call outside the queue opens a patient's record without a task: audit it
            let detail = format!("patient {} outside the queue", target.patient_id);
            self.audit(user, "dialled", &call_id, detail).await?;
        }
        let media = match end {
            AgentEnd::Browser(media) => media,
            AgentEnd::Desk(binding) => {
                // click-to-call: her phone rings first, the patient is dialled when she answers
                let display = match task_id {
                    Some(t) => format!("suifang task {t}"),
                    None => format!("suifang patient {}", target.patient_id),
                };
                let role = DeskRole::Dial { uri };
                let placed = self
                    .ring_desk(uid, &binding, display, CallHandle(0), role)
                    .await;
                let desk = match placed {
                    Ok(h) => h,
                    Err(e) => {
                        self.end_unplaced(&call_id, &e.to_string()).await?;
                        return Err(e);
                    }
                };
                let live = LiveCall::outbound(call_id.clone(), task_id, &target, uid, state);
                self.calls.insert(desk, live.on_desk(desk));
                tracing::info!(call = %call_id, task = ?task_id, user = %user.username, extension = %binding.extension, "ringing the nurse's desk phone");
                self.publish_state(desk, None);
                return self.view(&call_id).await;
            }
        };
        let (leg, ends) = SipSide::recorded(&call_id).split();
        let handle = match self.engine.place_call_leg(uri, leg).await {
            Ok(h) => h,
            Err(e) => {
                self.end_unplaced(&call_id, &format!("not placed: {e}"))
                    .await?;
                return Err(CallCenterError::Sip(e.to_string()));
            }
        };
        let control = self.spawn_bridge(ends, media);
        let live = LiveCall::outbound(call_id.clone(), task_id, &target, uid, CallState::Dialing);
        self.calls.insert(handle, live.bridged(control));
        tracing::info!(call = %call_id, task = ?task_id, user = %user.username, "dialling");
        self.publish_state(handle, None);
        self.view(&call_id).await
    }

    pub(super) fn agent_busy(&self, user_id: i64) -> bool {
        self.calls
            .values()
            .any(|c| c.agent_id == Some(user_id) && !c.released)
            || self.desk.values().any(|d| d.user_id == user_id)
    }

    /// After the nurse hung up an outbound call nobody answered yet: frees her line at once.
    /// Without this she would wait for the trunk's first response before the CANCEL can go
    /// out, or for Timer B (32 s) when the trunk never responds.
    pub(super) async fn release_unanswered(&mut self, handle: CallHandle) {
        let Some(c) = self.calls.get_mut(&handle) else {
            return;
        };
        if c.inbound || c.released || !c.state.is_unanswered() {
            return;
        }
        c.released = true;
        if let Some(bridge) = &c.bridge {
            let _ = bridge.send(BridgeControl::ReleaseAgent).await;
        }
        let desk = c.desk.take();
        if let Some(d) = desk {
            // her desk phone is let go too (when it is not what ended already)
            let _ = self.engine.hangup(d).await;
        }
        let Some(c) = self.calls.get(&handle) else {
            return;
        };
        self.state.events.publish(LiveEvent {
            name: "call.state".into(),
            audience: Audience::Users(c.agent_id.into_iter().collect()),
            data: serde_json::json!({
                "call_id": c.id, "task_id": c.task_id, "patient_id": c.patient_id,
                "agent_id": c.agent_id, "direction": "outbound", "state": "released",
                "reason": "hung up before an answer; the trunk is told as soon as it responds",
            }),
        });
    }
}
