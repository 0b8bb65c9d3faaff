//! Patients calling back: routed to a free nurse's line, or to voicemail.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::*;

impl Center {
    /// A patient calls back: offer the call to their nurse, else any free nurse with a
    /// connected line, else take a voicemail.
    pub(super) async fn inbound(
        &mut self,
        handle: CallHandle,
        caller: String,
    ) -> Result<(), StoreError> {
        let who = caller.clone();
        let route = self
            .state
            .store
            .read(move |conn| routing::inbound_route(conn, &who))
            .await?;
        let call_id = new_call_id(self.state.clock.now());
        let mut agent = None;
        for candidate in &route.candidates {
            if self.agent_busy(*candidate) {
                continue;
            }
            if let Ok(media) = self.state.lines.attach(*candidate, true).await {
                agent = Some((*candidate, media));
                break;
            }
        }
        let now = self.now();
        let row = (
            call_id.clone(),
            route.clone(),
            agent.as_ref().map(|(id, _)| *id),
        );
        self.state
            .store
            .write(move |tx| {
                let (id, r, agent_id) = &row;
                db::insert(
                    tx,
                    &NewCall {
                        id,
                        task_id: None,
                        patient_id: r.patient_id,
                        agent_id: *agent_id,
                        direction: "inbound",
                        remote_number: r.number.as_deref(),
                        contact: None,
                        state: "ringing",
                    },
                    now,
                )
            })
            .await?;
        let mut live = LiveCall {
            id: call_id.clone(),
            task_id: None,
            patient_id: route.patient_id,
            agent_id: None,
            inbound: true,
            state: "ringing",
            bridge: None,
            deadline: None,
            monitors: Vec::new(),
            released: false,
        };
        let leg = match agent {
            Some((agent_id, media)) => {
                let (leg, ends) = SipSide::recorded(&call_id).split();
                let (control, control_rx) = mpsc::channel(8);
                tokio::spawn(bridge::run(
                    ends,
                    media,
                    self.prompts.consent.clone(),
                    control_rx,
                ));
                live.agent_id = Some(agent_id);
                live.bridge = Some(control);
                tracing::info!(call = %call_id, caller = %caller, agent = agent_id, "call-back routed");
                leg
            }
            None => {
                let max = Duration::from_secs(self.state.config.sip.voicemail_max_seconds.max(5));
                live.deadline = Some(Instant::now() + max);
                tracing::info!(call = %call_id, caller = %caller, "nobody free: voicemail");
                LegAudio {
                    recording_id: Some(call_id.clone()),
                    source: AgentSource::Samples(self.voicemail_greeting()),
                    tap: None,
                }
            }
        };
        self.calls.insert(handle, live);
        if let Err(e) = self.engine.answer_leg(handle, leg).await {
            tracing::error!(call = %call_id, error = %e, "cannot answer the call-back");
            let _ = self.engine.reject(handle, 480).await;
        }
        self.publish_state(handle, None);
        Ok(())
    }

    pub(super) fn voicemail_greeting(&self) -> std::sync::Arc<Vec<i16>> {
        let mut pcm: Vec<i16> = Vec::new();
        for part in [&self.prompts.voicemail, &self.prompts.beep]
            .into_iter()
            .flatten()
        {
            pcm.extend_from_slice(part);
        }
        std::sync::Arc::new(pcm)
    }

    pub(super) async fn expire_voicemails(&mut self) {
        let now = Instant::now();
        let due: Vec<CallHandle> = self
            .calls
            .iter()
            .filter(|(_, c)| c.deadline.is_some_and(|d| d <= now))
            .map(|(h, _)| *h)
            .collect();
        for handle in due {
            if let Some(c) = self.calls.get_mut(&handle) {
                c.deadline = Some(now + Duration::from_secs(3600)); // once
            }
            let _ = self.engine.hangup(handle).await;
        }
    }
}
