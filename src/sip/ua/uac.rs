//! Outbound calls (UAC side): INVITE with offer, provisional/early media, 2xx → ACK, digest
//! retry, CANCEL on hang-up or ring timeout, BYE, and outcome mapping.

use std::time::Instant;

use super::dialog::Dialog;
use super::endpoint::{Call, CallEvent, CallHandle, CallOptions, Endpoint, Phase};
use super::outcome::{CallOutcome, Party};
use crate::sip::auth::Challenge;
use crate::sip::message::{Method, Request, Response};
use crate::sip::negotiate::{negotiate, LocalMedia, NegotiatedMedia};
use crate::sip::sdp::SessionDescription;
use crate::sip::transaction::TxKey;
use crate::sip::uri::{NameAddr, SipUri};
use crate::sip::SipError;

impl Endpoint {
    /// Calls `target` (e.g. `sip:+8613800000000@trunk`) offering `local_media`.
    pub fn place_call(
        &mut self,
        target: SipUri,
        local_media: LocalMedia,
        now: Instant,
    ) -> Result<CallHandle, SipError> {
        self.place_call_with(target, local_media, CallOptions::default(), now)
    }

    /// [`Endpoint::place_call`] with per-call options (a desk phone's address, the caller name
    /// it shows, a shorter ring timeout).
    pub fn place_call_with(
        &mut self,
        target: SipUri,
        local_media: LocalMedia,
        options: CallOptions,
        now: Instant,
    ) -> Result<CallHandle, SipError> {
        if let (None, Some(until)) = (options.dest, self.trunk_hold_until) {
            if now < until {
                let seconds = until.saturating_duration_since(now).as_secs_f64().ceil() as u64;
                return Err(SipError::TrunkHolding { seconds });
            }
            self.trunk_hold_until = None;
        }
        let handle = self.new_handle();
        let tag = self.new_tag();
        let call_id = self.new_call_id();
        let via = self.new_via();
        let mut from = NameAddr::new(SipUri::new(
            Some(&self.cfg.from_user),
            &self.cfg.from_domain,
            None,
        ));
        from.set_tag(&tag);
        from.display = options.display_name.clone();
        let mut invite = Request::new(Method::Invite, target.clone());
        invite.headers.push("Via", via.to_string());
        invite.headers.push("Max-Forwards", "70");
        invite.headers.push("From", from.to_string());
        invite.headers.push("To", NameAddr::new(target).to_string());
        invite.headers.push("Call-ID", call_id);
        invite.headers.push("CSeq", "1 INVITE");
        invite.headers.push("Contact", self.contact());
        invite
            .headers
            .push("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO");
        invite
            .headers
            .push("User-Agent", self.cfg.user_agent.clone());
        invite.headers.push("Content-Type", "application/sdp");
        invite.body = local_media.offer().to_string().into_bytes();
        let dest = match options.dest {
            Some(d) => d,
            None => self.next_hop(&invite)?,
        };
        let key = TxKey::for_client_request(&invite)?;
        self.calls.insert(
            handle,
            Call {
                outbound: true,
                phase: Phase::Calling,
                invite: invite.clone(),
                invite_key: key,
                dialog: None,
                local_media,
                media: None,
                early_media: None,
                auth_tried: false,
                got_provisional: false,
                cancel: None,
                cancel_sent: false,
                ring_deadline: Some(now + options.ring_timeout.unwrap_or(self.cfg.ring_timeout)),
                ack: None,
                offer_in_2xx: false,
                dest: options.dest,
                final_status: None,
            },
        );
        self.start_client(invite, Some(handle), dest, now)?;
        Ok(handle)
    }

    /// Hangs up: CANCEL while an outbound call is ringing, 480 for an unanswered inbound call,
    /// BYE once established. Unknown handles are ignored (the call already ended).
    pub fn hangup(&mut self, call: CallHandle, now: Instant) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        match (c.outbound, c.phase) {
            (true, Phase::Calling) => self.cancel_outbound(call, CallOutcome::Cancelled, now),
            (false, Phase::Incoming) => self.reject(call, 480, now),
            (_, Phase::Confirmed | Phase::Answering) => self.send_bye(call, now),
            _ => {}
        }
    }

    /// Requests CANCEL of a pending outbound INVITE (§9.1): sent once a provisional response
    /// has arrived (never before), and `outcome` is reported when the 487 comes.
    pub(super) fn cancel_outbound(&mut self, call: CallHandle, outcome: CallOutcome, now: Instant) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.phase != Phase::Calling || c.cancel.is_some() {
            return;
        }
        c.cancel = Some(outcome);
        c.ring_deadline = None;
        if c.got_provisional {
            self.send_cancel(call, now);
        }
    }

    fn send_cancel(&mut self, call: CallHandle, now: Instant) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.cancel_sent {
            return;
        }
        c.cancel_sent = true;
        c.ring_deadline = Some(now + self.cfg.timers.timeout());
        let inv = &c.invite;
        let mut cancel = Request::new(Method::Cancel, inv.uri.clone());
        if let Some(v) = inv.headers.values("Via").first() {
            cancel.headers.push("Via", *v); // same branch as the INVITE (§9.1)
        }
        cancel.headers.push("Max-Forwards", "70");
        for h in ["From", "To", "Call-ID"] {
            if let Some(v) = inv.headers.get(h) {
                cancel.headers.push(h, v);
            }
        }
        let seq = inv.cseq().map(|c| c.seq).unwrap_or(1);
        cancel.headers.push("CSeq", format!("{seq} CANCEL"));
        for r in inv.headers.values("Route") {
            cancel.headers.push("Route", r);
        }
        if let Ok(dest) = self.call_hop(call, &cancel) {
            if let Err(e) = self.start_client(cancel, Some(call), dest, now) {
                tracing::warn!(error = %e, "could not send CANCEL");
            }
        }
    }

    pub(super) fn send_bye(&mut self, call: CallHandle, now: Instant) {
        let via = self.new_via();
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(dialog) = c.dialog.as_mut() else {
            return;
        };
        c.phase = Phase::Terminating;
        let bye = dialog.request(Method::Bye, &via, 70);
        match self.call_hop(call, &bye) {
            Ok(dest) => {
                if self.start_client(bye, Some(call), dest, now).is_err() {
                    self.end_call(call, CallOutcome::Completed { by: Party::Local });
                }
            }
            Err(_) => self.end_call(call, CallOutcome::Completed { by: Party::Local }),
        }
    }

    fn media_from(&self, body: &[u8]) -> Option<Result<NegotiatedMedia, SipError>> {
        if body.is_empty() {
            return None;
        }
        Some(SessionDescription::parse(body).and_then(|sdp| negotiate(&sdp, &self.cfg.codecs)))
    }

    pub(super) fn on_invite_response(&mut self, call: CallHandle, resp: Response, now: Instant) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        match resp.status {
            100..=199 => {
                let early = match self.media_from(&resp.body) {
                    Some(Ok(m)) => Some(m),
                    _ => None,
                };
                let cancel_pending = c.cancel.is_some();
                if let Some(c) = self.calls.get_mut(&call) {
                    c.got_provisional = true;
                    if early.is_some() {
                        c.early_media.clone_from(&early);
                    }
                }
                if cancel_pending {
                    self.send_cancel(call, now);
                } else if resp.status != 100 {
                    self.emit(
                        call,
                        CallEvent::Progress {
                            status: resp.status,
                            early_media: early,
                        },
                    );
                }
            }
            200..=299 => self.on_invite_success(call, resp, now),
            _ => {
                if c.phase != Phase::Calling {
                    return;
                }
                let challenge_header = match resp.status {
                    401 => Some(("WWW-Authenticate", "Authorization")),
                    407 => Some(("Proxy-Authenticate", "Proxy-Authorization")),
                    _ => None,
                };
                let (auth_tried, cancel, via_trunk) = (c.auth_tried, c.cancel, c.dest.is_none());
                if let (Some((ch, auth)), false, None) = (challenge_header, auth_tried, cancel) {
                    if self.retry_with_auth(call, &resp, ch, auth, now) {
                        return;
                    }
                }
                if resp.status == 503 && via_trunk {
                    self.hold_trunk(&resp, now);
                }
                let outcome = match (cancel, resp.status) {
                    (Some(o), 487) => o,
                    _ => CallOutcome::from_status(resp.status),
                };
                if let Some(c) = self.calls.get_mut(&call) {
                    c.final_status = Some(resp.status);
                }
                self.end_call(call, outcome);
            }
        }
    }

    /// A 503 from the trunk with Retry-After: new calls wait that long (at most an hour), as a
    /// carrier that is shedding load asks (§21.5.4), instead of being pushed at it at once.
    fn hold_trunk(&mut self, resp: &Response, now: Instant) {
        let Some(seconds) = resp
            .headers
            .get("Retry-After")
            .and_then(|v| v.split([';', '(', ' ']).next()?.trim().parse::<u64>().ok())
        else {
            return;
        };
        let seconds = seconds.min(3600);
        tracing::warn!(
            seconds,
            "the trunk answered 503 with Retry-After: new calls wait until then"
        );
        self.trunk_hold_until = Some(now + std::time::Duration::from_secs(seconds));
    }

    fn on_invite_success(&mut self, call: CallHandle, resp: Response, now: Instant) {
        let via = self.new_via();
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        // A retransmitted 2xx means our ACK was lost: send it again (§13.2.2.4).
        if c.phase != Phase::Calling {
            if let Some((dest, ack)) = c.ack.clone() {
                self.transmit(dest, ack.to_bytes());
            }
            return;
        }
        c.final_status = Some(resp.status);
        let dialog = match Dialog::from_uac_response(&c.invite, &resp) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "2xx without usable dialog headers");
                self.end_call(
                    call,
                    CallOutcome::Failed {
                        status: resp.status,
                    },
                );
                return;
            }
        };
        let seq = c.invite.cseq().map(|s| s.seq).unwrap_or(1);
        let mut ack = dialog.ack(seq, &via);
        for h in ["Authorization", "Proxy-Authorization"] {
            if let Some(v) = c.invite.headers.get(h) {
                ack.headers.push(h, v);
            }
        }
        c.dialog = Some(dialog);
        c.ring_deadline = None;
        c.phase = Phase::Confirmed;
        let cancel = c.cancel;
        let early = c.early_media.clone();
        let Ok(dest) = self.call_hop(call, &ack) else {
            self.end_call(
                call,
                CallOutcome::Failed {
                    status: resp.status,
                },
            );
            return;
        };
        self.transmit(dest, ack.to_bytes());
        if let Some(c) = self.calls.get_mut(&call) {
            c.ack = Some((dest, ack));
        }
        if let Some(outcome) = cancel {
            // 2xx crossed our CANCEL (§9.1): the call is up, so end it with BYE.
            self.send_bye(call, now);
            self.end_call(call, outcome);
            return;
        }
        let media = match self.media_from(&resp.body) {
            Some(Ok(m)) => Ok(m),
            Some(Err(e)) => Err(e),
            None => early.ok_or(SipError::BadSdp("2xx carried no SDP answer".into())),
        };
        match media {
            Ok(m) => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.media = Some(m.clone());
                }
                self.emit(call, CallEvent::Answered { media: m });
            }
            Err(e) => {
                tracing::warn!(error = %e, "answer SDP unusable; hanging up");
                self.send_bye(call, now);
                self.end_call(call, CallOutcome::MediaFailed);
            }
        }
    }

    fn retry_with_auth(
        &mut self,
        call: CallHandle,
        resp: &Response,
        challenge: &str,
        auth: &str,
        now: Instant,
    ) -> bool {
        let Some(creds) = self.cfg.credentials.clone() else {
            return false;
        };
        let Some(ch) = resp
            .headers
            .get(challenge)
            .and_then(|v| Challenge::parse(v).ok())
        else {
            return false;
        };
        let via = self.new_via();
        let cnonce = self.new_cnonce();
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        let mut invite = c.invite.clone();
        let seq = invite.cseq().map(|s| s.seq).unwrap_or(1) + 1;
        invite.headers.set("Via", via.to_string());
        invite.headers.set("CSeq", format!("{seq} INVITE"));
        let uri = invite.uri.to_string();
        invite.headers.set(
            auth,
            ch.authorization(&creds.user, &creds.password, "INVITE", &uri, &cnonce, 1),
        );
        let Ok(key) = TxKey::for_client_request(&invite) else {
            return false;
        };
        c.auth_tried = true;
        c.invite = invite.clone();
        c.invite_key = key;
        let Ok(dest) = self.call_hop(call, &invite) else {
            return false;
        };
        self.start_client(invite, Some(call), dest, now).is_ok()
    }

    pub(super) fn on_non_invite_response(
        &mut self,
        call: CallHandle,
        method: &Method,
        resp: Response,
        _now: Instant,
    ) {
        if *method == Method::Bye && resp.status >= 200 {
            // Any final response (even 481) ends our side of the call (§15.1.1).
            self.end_call(call, CallOutcome::Completed { by: Party::Local });
        }
    }

    pub(super) fn on_client_timeout(&mut self, call: CallHandle, method: &Method, _now: Instant) {
        match method {
            Method::Invite => {
                // Timer B (§17.1.1.2) with not even a provisional response: the trunk never
                // answered, so the patient's phone never rang — whatever we meant to cancel
                // for (a ring timeout shorter than Timer B, the nurse giving up) is moot.
                let outcome = match self.calls.get(&call) {
                    Some(c) if c.got_provisional => c.cancel.unwrap_or(CallOutcome::Unreachable),
                    _ => CallOutcome::Unreachable,
                };
                self.end_call(call, outcome);
            }
            Method::Bye => self.end_call(call, CallOutcome::Completed { by: Party::Local }),
            _ => {}
        }
    }
}
