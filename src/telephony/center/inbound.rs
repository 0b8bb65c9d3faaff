//! Patients calling back: routed to a free nurse's line (her browser, else her desk phone), or
//! to voicemail.

use std::time::Duration;

use tokio::time::Instant;

use super::desk::DeskRole;
use super::*;
use crate::webrtc::LineMedia;

/// Time kept in hand when ringing a desk phone for a call-back: the caller's INVITE is refused
/// (480) after `sip.ring_timeout_seconds`, and voicemail must answer before that.
const VOICEMAIL_MARGIN: Duration = Duration::from_secs(4);

impl Center {
    /// A patient calls back: offer the call to their nurse, else any free nurse, else take a
    /// voicemail.
    pub(super) async fn inbound(
        &mut self,
        handle: CallHandle,
        caller: String,
    ) -> Result<(), StoreError> {
        let since = Instant::now();
        let who = caller.clone();
        let route = self
            .state
            .store
            .read(move |conn| routing::inbound_route(conn, &who))
            .await?;
        let call_id = self.new_call_id();
        let now = self.now();
        let row = (call_id.clone(), route.clone());
        self.state
            .store
            .write(move |tx| {
                let (id, r) = &row;
                db::insert(
                    tx,
                    &NewCall {
                        id,
                        task_id: None,
                        patient_id: r.patient_id,
                        agent_id: None,
                        direction: "inbound",
                        remote_number: r.number.as_deref(),
                        contact: None,
                        state: CallState::Ringing.as_str(),
                    },
                    now,
                )
            })
            .await?;
        self.calls
            .insert(handle, LiveCall::inbound(call_id.clone(), route.patient_id));
        // STYLE.md §9: a patient's number is never logged whole
        tracing::info!(call = %call_id, caller = %crate::followup::phone::mask(&caller), "call-back");
        self.offer_call(handle, route.candidates, since).await
    }

    /// Offers a waiting call-back to the first free nurse of `candidates`: her browser line at
    /// once, else her desk phone (the caller hears ringing meanwhile; if the phone is not
    /// answered the next nurse is tried); voicemail when nobody is left or time runs short.
    pub(super) async fn offer_call(
        &mut self,
        handle: CallHandle,
        mut candidates: Vec<i64>,
        since: Instant,
    ) -> Result<(), StoreError> {
        let ring = Duration::from_secs(self.state.config.sip.agent_ring_seconds);
        let limit = Duration::from_secs(self.state.config.sip.ring_timeout_seconds);
        while !candidates.is_empty() {
            let candidate = candidates.remove(0);
            if self.agent_busy(candidate) {
                continue;
            }
            if let Ok(media) = self.state.lines.attach(candidate, true).await {
                return self.take_call_back(handle, candidate, media, None).await;
            }
            if since.elapsed() + ring + VOICEMAIL_MARGIN > limit {
                continue; // no time to ring a phone; a browser line further down may take it
            }
            let Some(binding) = self.desk_binding(candidate).await else {
                continue;
            };
            let display = "suifang call-back".to_owned();
            let role = DeskRole::Offer {
                next: candidates.clone(),
                since,
            };
            match self
                .ring_desk(candidate, &binding, display, handle, role)
                .await
            {
                Ok(desk) => {
                    if let Some(c) = self.calls.get_mut(&handle) {
                        c.agent_id = Some(candidate);
                        c.desk = Some(desk);
                    }
                    let _ = self.engine.ringing(handle).await;
                    self.publish_state(handle, None);
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(user = candidate, error = %e, "cannot ring the desk phone")
                }
            }
        }
        self.voicemail(handle).await
    }

    /// Answers the call-back bridged to `agent_id` on `media` (her browser line, or the line of
    /// her desk phone `desk`).
    pub(super) async fn take_call_back(
        &mut self,
        handle: CallHandle,
        agent_id: i64,
        media: LineMedia,
        desk: Option<CallHandle>,
    ) -> Result<(), StoreError> {
        let Some(call_id) = self.calls.get(&handle).map(|c| c.id.clone()) else {
            // the caller hung up while the phone rang
            if let Some(d) = desk {
                let _ = self.engine.hangup(d).await;
            }
            return Ok(());
        };
        let (leg, ends) = SipSide::recorded(&call_id).split();
        let control = self.spawn_bridge(ends, media);
        if let Some(c) = self.calls.get_mut(&handle) {
            c.agent_id = Some(agent_id);
            c.bridge = Some(control);
            c.desk = desk;
        }
        let device = if desk.is_some() {
            "desk_phone"
        } else {
            "browser"
        };
        let id = call_id.clone();
        self.state
            .store
            .write(move |tx| {
                db::set_agent(tx, &id, agent_id)?;
                db::set_agent_device(tx, &id, device)
            })
            .await?;
        tracing::info!(call = %call_id, agent = agent_id, device, "call-back routed");
        if let Err(e) = self.engine.answer_leg(handle, leg).await {
            tracing::error!(call = %call_id, error = %e, "cannot answer the call-back");
            let _ = self.engine.reject(handle, 480).await;
        }
        self.publish_state(handle, None);
        Ok(())
    }

    /// Nobody can take the call-back: the caller hears the greeting and leaves a message.
    async fn voicemail(&mut self, handle: CallHandle) -> Result<(), StoreError> {
        let max = Duration::from_secs(self.state.config.sip.voicemail_max_seconds.max(5));
        let greeting = self.voicemail_greeting();
        let Some(c) = self.calls.get_mut(&handle) else {
            return Ok(());
        };
        c.deadline = Some(Instant::now() + max);
        c.agent_id = None;
        let call_id = c.id.clone();
        tracing::info!(call = %call_id, "nobody free: voicemail");
        let leg = LegAudio {
            recording_id: Some(call_id.clone()),
            source: AgentSource::Samples(greeting),
            tap: None,
        };
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
