//! Engine events: call progress, answer, DTMF, recordings, the end of a call.

use serde_json::json;

use super::*;

impl Center {
    pub(super) async fn engine_event(&mut self, event: EngineEvent) {
        let silent = self.engine.media_counters().silent_legs();
        self.status.send_if_modified(|s| {
            let changed = s.silent_legs != silent;
            s.silent_legs = silent;
            changed
        });
        let result = match event {
            EngineEvent::Call { call, event } => self.call_event(call, event).await,
            EngineEvent::Dtmf { call, digit } if self.desk.contains_key(&call) => {
                // the nurse pressed a key on her desk phone: it goes on to the patient
                if let Some(key) = digit.digit {
                    self.desk_dtmf(call, key).await;
                }
                Ok(())
            }
            EngineEvent::Registrar(e) => self.registrar_event(e).await,
            EngineEvent::TransportFailed { peer, error } => {
                // the engine logged it too; the calls it carried end as unreachable
                tracing::error!(%peer, %error, "SIP connection to the trunk failed");
                Ok(())
            }
            EngineEvent::Dtmf { call, digit } => {
                let Some(c) = self.calls.get(&call) else {
                    return;
                };
                if let (Some(robot), Some(key), None) = (&c.robot, digit.digit, c.agent_id) {
                    // the robot's answer (until a nurse took the call); the key is also
                    // logged below like any call's
                    let _ = robot.try_send(super::super::robot::RobotInput::Key(key));
                }
                let d = digit
                    .digit
                    .map_or_else(|| format!("event {}", digit.event), String::from);
                let (id, now) = (c.id.clone(), self.now());
                let publish = json!({ "call_id": c.id, "digit": d, "task_id": c.task_id });
                let audience = audience(c.agent_id);
                self.state.events.publish(LiveEvent {
                    name: "call.dtmf".into(),
                    audience,
                    data: publish,
                });
                self.state
                    .store
                    .write(move |tx| db::log(tx, &id, "dtmf", Some(&d), now))
                    .await
                    .map(|_| ())
            }
            EngineEvent::RecordingStarted { call, path } => {
                let Some(id) = self.calls.get(&call).map(|c| c.id.clone()) else {
                    return;
                };
                let (now, root) = (self.now(), self.state.recordings.clone());
                self.state
                    .store
                    .write(move |tx| db::recording_started(tx, &root, &id, &path, now))
                    .await
                    .map(|_| ())
            }
            EngineEvent::Recording { call: _, info } => {
                // the call may be gone already: find it by the file name
                let id = info
                    .path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_owned();
                let now = self.now();
                let ms = i64::try_from(info.duration.as_millis()).unwrap_or(i64::MAX);
                let root = self.state.recordings.clone();
                tracing::info!(call = %id, seconds = ms / 1000, path = %info.path.display(), "recording closed");
                self.state
                    .store
                    .write(move |tx| {
                        db::recording_finished(
                            tx,
                            &root,
                            &id,
                            &info.path,
                            &info.sha256,
                            ms,
                            "complete",
                            now,
                        )
                    })
                    .await
                    .map(|_| ())
                    // transcribe it now rather than at the pipeline's next poll
                    .inspect(|()| self.state.transcription.wake())
            }
            EngineEvent::TrunkHealth(health) => {
                let reachable = matches!(health, TrunkHealth::Reachable { .. });
                let was = self.status.borrow().trunk_reachable;
                match (was, health) {
                    (Some(false) | None, TrunkHealth::Reachable { status, round_trip }) => {
                        tracing::info!(
                            status,
                            rtt_ms = round_trip.as_millis() as u64,
                            "SIP trunk answers OPTIONS"
                        )
                    }
                    (Some(true) | None, TrunkHealth::Unreachable) => tracing::warn!(
                        "SIP trunk does not answer OPTIONS: outbound calls will fail until it does"
                    ),
                    _ => {}
                }
                self.status.send_modify(|s| {
                    s.trunk_reachable = Some(reachable);
                    if let TrunkHealth::Reachable { status, round_trip } = health {
                        s.trunk_rtt_ms = Some(round_trip.as_millis() as u64);
                        s.trunk_ping_status = Some(status);
                    }
                });
                Ok(())
            }
            EngineEvent::Registration(reg) => {
                let text = match reg {
                    RegistrationState::Registered { expires } => {
                        format!("registered ({} s)", expires.as_secs())
                    }
                    other => format!("{other:?}").to_lowercase(),
                };
                self.status.send_modify(|s| s.registration = Some(text));
                Ok(())
            }
            EngineEvent::RecordingFailed { call, path, error } => {
                self.recording_failed(call, path, error).await
            }
            EngineEvent::MediaFailed { call, error } => {
                tracing::error!(?call, %error, "call media failed");
                let Some(id) = self.calls.get(&call).map(|c| c.id.clone()) else {
                    return;
                };
                let now = self.now();
                self.state
                    .store
                    .write(move |tx| db::log(tx, &id, "media_failed", Some(&error), now))
                    .await
                    .map(|_| ())
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "call center could not record an event");
        }
    }

    pub(super) async fn call_event(
        &mut self,
        handle: CallHandle,
        event: CallEvent,
    ) -> Result<(), StoreError> {
        if self.desk.contains_key(&handle) {
            return self.desk_event(handle, event).await;
        }
        match event {
            CallEvent::Incoming {
                agent: Some(agent),
                request_uri,
                ..
            } => self.desk_outbound(handle, agent, request_uri).await,
            CallEvent::Incoming { from, .. } => {
                let caller = from.uri.user.clone().unwrap_or_default();
                self.inbound(handle, caller).await
            }
            CallEvent::Progress { .. } => {
                if self
                    .calls
                    .get(&handle)
                    .is_some_and(|c| c.state == CallState::Dialing)
                {
                    self.set_state(handle, CallState::Ringing).await?;
                }
                Ok(())
            }
            CallEvent::Answered { .. } => {
                let Some(c) = self.calls.get(&handle) else {
                    return Ok(());
                };
                if let Some(b) = &c.bridge {
                    let _ = b.send(BridgeControl::Answered).await;
                }
                if let Some(r) = &c.robot {
                    let _ = r.send(super::super::robot::RobotInput::Answered).await;
                }
                self.stop_ringback(handle);
                let Some(c) = self.calls.get(&handle) else {
                    return Ok(());
                };
                let state = if c.deadline.is_some() {
                    CallState::Voicemail
                } else {
                    CallState::Answered
                };
                self.set_state(handle, state).await
            }
            CallEvent::MediaChanged { .. } => Ok(()),
            CallEvent::Ended {
                outcome,
                final_status,
            } => self.ended(handle, outcome, final_status).await,
        }
    }

    pub(super) async fn ended(
        &mut self,
        handle: CallHandle,
        outcome: CallOutcome,
        final_status: Option<u16>,
    ) -> Result<(), StoreError> {
        let Some(mut call) = self.calls.remove(&handle) else {
            return Ok(());
        };
        // the nurse's desk phone (or one rung for a transfer) is hung up with the call
        self.hang_up_desks_of(handle).await;
        let mut record = end_record(outcome, final_status);
        if call.deadline.is_some() {
            record.reason = "voicemail".into();
        }
        if call.inbound || !matches!(call.state, CallState::Dialing | CallState::Ringing) {
            record.disposition = None;
        }
        if let Some(robot) = &call.robot {
            // the robot call writes its own outcome and the task's disposition
            let ended = super::super::robot::RobotInput::Ended {
                unanswered: record.disposition,
            };
            let _ = robot.send(ended).await;
        }
        let (id, now, task, agent) = (
            call.id.clone(),
            self.state.clock.now(),
            call.task_id,
            call.agent_id,
        );
        let (policy, locale) = (self.state.config.retry.clone(), self.state.locale);
        let rec = record.clone();
        let disposed = self
            .state
            .store
            .write(move |tx| {
                let end = CallEnd {
                    reason: &rec.reason,
                    disposition: rec.disposition.map(|d| d.as_str()),
                    sip_status: rec.sip_status,
                };
                db::end(tx, &id, &end, now.timestamp())?;
                let (Some(d), Some(task_id), Some(user_id)) = (rec.disposition, task, agent) else {
                    return Ok(None);
                };
                let input = crate::store::tasks::DispositionInput {
                    task_id,
                    user_id,
                    disposition: d,
                    callback_at: None,
                    note: Some(&rec.reason),
                    call_id: Some(&id),
                };
                match crate::store::tasks::record_disposition(tx, &input, &policy, &locale, now) {
                    Ok(task) => Ok(Some(task)),
                    // the lease ran out meanwhile: the nurse records it by hand
                    Err(e) => {
                        tracing::warn!(task = task_id, error = ?e, "could not dispose the task");
                        Ok(None)
                    }
                }
            })
            .await?;
        tracing::info!(call = %call.id, reason = %record.reason, disposed = disposed.is_some(), "call ended");
        call.state = CallState::Ended;
        let data = json!({
            "call_id": call.id, "task_id": call.task_id, "patient_id": call.patient_id,
            "agent_id": call.agent_id, "direction": call.direction(),
            "state": call.state, "reason": record.reason,
            "disposition": record.disposition.map(|d| d.as_str()),
            "task": disposed,
        });
        self.state.events.publish(LiveEvent {
            name: "call.state".into(),
            audience: audience(call.agent_id),
            data,
        });
        Ok(())
    }

    /// Moves a live call to `state`: stored, then published. A move [`CallState::move_to`]
    /// refuses (an engine event out of order) is logged and changes nothing.
    pub(super) async fn set_state(
        &mut self,
        handle: CallHandle,
        state: CallState,
    ) -> Result<(), StoreError> {
        let Some(c) = self.calls.get_mut(&handle) else {
            return Ok(());
        };
        c.state = match c.state.move_to(state) {
            Ok(next) => next,
            Err(refused) => {
                tracing::warn!(call = %c.id, error = %refused, "call state change refused");
                return Ok(());
            }
        };
        let (id, now) = (c.id.clone(), self.state.clock.now().timestamp());
        self.state
            .store
            .write(move |tx| db::set_state(tx, &id, state.as_str(), now))
            .await?;
        self.publish_state(handle, None);
        Ok(())
    }

    pub(super) fn publish_state(&self, handle: CallHandle, reason: Option<&str>) {
        if let Some(c) = self.calls.get(&handle) {
            self.publish_live(c, reason);
        }
    }

    /// `call.state` with the call's state now, to its nurse and the floor.
    pub(super) fn publish_live(&self, c: &LiveCall, reason: Option<&str>) {
        self.state.events.publish(LiveEvent {
            name: "call.state".into(),
            audience: audience(c.agent_id),
            data: json!({
                "call_id": c.id, "task_id": c.task_id, "patient_id": c.patient_id,
                "agent_id": c.agent_id, "direction": c.direction(),
                "state": c.state, "reason": reason,
            }),
        });
    }
}

impl Center {
    /// A recording stopped mid-call (disk full, I/O error): the call goes on; the partial file
    /// is repaired up to where it stopped, its row marked with why, and supervisors told at
    /// once (a live `recording.failed` event and an error in the log).
    async fn recording_failed(
        &mut self,
        call: crate::sip::ua::CallHandle,
        path: std::path::PathBuf,
        error: String,
    ) -> Result<(), crate::store::StoreError> {
        let call_id = self
            .calls
            .get(&call)
            .map(|c| c.id.clone())
            .or_else(|| path.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
            .unwrap_or_default();
        tracing::error!(call = %call_id, %error, "recording failed; the call continues without it");
        self.state.calls.sip_counters().recording_failed();
        self.state.events.publish(LiveEvent {
            name: "recording.failed".into(),
            audience: audience(None),
            data: json!({ "call_id": call_id, "error": error }),
        });
        let file = path.clone();
        let repaired =
            tokio::task::spawn_blocking(move || crate::telephony::recovery::repair(&file))
                .await
                .ok()
                .and_then(Result::ok);
        let (root, now) = (self.state.recordings.clone(), self.now());
        self.state
            .store
            .write(move |tx| {
                let repaired = repaired.as_ref().map(|(sha, ms)| (sha.as_str(), *ms));
                db::recording_failed(tx, &root, &call_id, &path, &error, repaired, now)
            })
            .await
    }
}
