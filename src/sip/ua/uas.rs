//! Requests we receive (UAS side): new INVITEs, re-INVITEs (hold), ACK, BYE, CANCEL, OPTIONS.

use std::net::SocketAddr;
use std::time::Instant;

use super::dialog::Dialog;
use super::endpoint::{Call, CallEvent, CallHandle, Endpoint, Phase, ServerEntry, ServerTx};
use super::outcome::{CallOutcome, Party};
use crate::sip::message::{Method, Request, Response};
use crate::sip::negotiate::{negotiate, LocalMedia, NegotiatedMedia};
use crate::sip::registrar::InviteAuth;
use crate::sip::sdp::SessionDescription;
use crate::sip::transaction::{ServerInvite, ServerNonInvite, TxKey, TxState};
use crate::sip::SipError;

pub(super) const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE";

impl Endpoint {
    pub(super) fn handle_request(&mut self, req: Request, from: SocketAddr, now: Instant) {
        let Ok(key) = TxKey::for_server_request(&req) else {
            return;
        };
        match req.method {
            Method::Ack => return self.on_ack(&req, &key, now),
            Method::Cancel => return self.on_cancel(req, from, now),
            _ => {}
        }
        let mut agent = None;
        if req.method == Method::Invite && !self.server.contains_key(&key) && !has_to_tag(&req) {
            if self.is_from_agent_extension(&req) {
                // an agent's desk phone must prove who it is; its challenge or refusal is
                // sent statelessly, so INVITEs that merely name an extension keep no state
                let auth = self
                    .registrar
                    .as_mut()
                    .map(|r| r.authenticate_invite(&req, from, now));
                match auth {
                    Some(InviteAuth::Agent(id)) => agent = Some(id),
                    Some(InviteAuth::Refused(r)) => return self.transmit(from, r.to_bytes()),
                    Some(InviteAuth::NotAgent) | None => {}
                }
            } else {
                // a patient's call: only from the trunk, within its limits (admission.rs)
                let inbound = self
                    .calls
                    .values()
                    .filter(|c| !c.outbound && c.dest.is_none())
                    .count();
                if let Err(refusal) = self.admission.check(from, inbound, now) {
                    return self.refuse_statelessly(&req, from, refusal);
                }
            }
        }
        if let Some(entry) = self.server.get_mut(&key) {
            // A retransmission: the transaction repeats its last response.
            match &mut entry.tx {
                ServerTx::Invite(t) => t.handle_request(&req, now),
                ServerTx::NonInvite(t) => t.handle_request(&req, now),
            }
            self.pump_server(&key, now);
            return;
        }
        let tx = if req.method == Method::Invite {
            ServerTx::Invite(ServerInvite::new(req.clone(), self.cfg.timers))
        } else {
            ServerTx::NonInvite(ServerNonInvite::new(req.clone(), self.cfg.timers))
        };
        self.server.insert(
            key.clone(),
            ServerEntry {
                tx,
                call: None,
                source: from,
            },
        );
        match (&req.method, has_to_tag(&req)) {
            (Method::Invite, false) => self.on_new_invite(req, key, from, agent, now),
            (Method::Invite, true) => self.on_reinvite(req, key, now),
            (Method::Bye, _) => self.on_bye(req, key, now),
            (Method::Options, _) => {
                let tag = self.new_tag();
                let mut r = Response::for_request(&req, 200, Some(&tag));
                r.headers.push("Allow", ALLOW);
                r.headers.push("Accept", "application/sdp");
                self.respond(&key, r, now);
            }
            (Method::Info, true) => self.respond_in_dialog(&req, &key, 200, now),
            (Method::Update, true) => self.on_update(req, key, now),
            (Method::Register, _) if self.registrar.is_some() => {
                if let Some(registrar) = self.registrar.as_mut() {
                    let r = registrar.handle_register(&req, from, now);
                    self.respond(&key, r, now);
                }
            }
            _ => {
                let tag = self.new_tag();
                let mut r = Response::for_request(&req, 405, Some(&tag));
                r.headers.push("Allow", ALLOW);
                self.respond(&key, r, now);
            }
        }
    }

    /// Whether the INVITE's From names an agent's extension (desk phones authenticate with
    /// digest in `on_new_invite` instead of coming from the trunk).
    fn is_from_agent_extension(&self, req: &Request) -> bool {
        let user = req.from_addr().ok().and_then(|f| f.uri.user);
        match (&self.registrar, user) {
            (Some(registrar), Some(user)) => registrar.is_extension(&user),
            _ => false,
        }
    }

    /// Answers a refused INVITE without keeping a transaction (RFC 3261 §8.2.6 allows a UAS
    /// to answer statelessly): nothing is remembered and nothing is retransmitted, so a flood
    /// costs a parse and a datagram each. The answer goes to the packet's source, never to
    /// an address its Via names (no reflection towards a third party).
    fn refuse_statelessly(
        &mut self,
        req: &Request,
        from: SocketAddr,
        refusal: super::admission::Refusal,
    ) {
        let tag = self.new_tag();
        let mut r = Response::for_request(req, refusal.status(), Some(&tag));
        if let Some(seconds) = refusal.retry_after() {
            r.headers.push("Retry-After", seconds.to_string());
        }
        self.transmit(from, r.to_bytes());
        self.push_output(super::types::EndpointOutput::InviteRefused {
            source: from,
            refusal,
        });
    }

    pub(super) fn find_dialog_call(&self, req: &Request) -> Option<CallHandle> {
        self.calls
            .iter()
            .find(|(_, c)| c.dialog.as_ref().is_some_and(|d| d.matches_request(req)))
            .map(|(h, _)| *h)
    }

    fn respond_in_dialog(&mut self, req: &Request, key: &TxKey, status: u16, now: Instant) {
        let status = if self.find_dialog_call(req).is_some() {
            status
        } else {
            481
        };
        self.respond(key, Response::for_request(req, status, None), now);
    }

    /// A new INVITE that passed the door: the trunk's (admitted in `handle_request`) or an
    /// agent's desk phone's (`agent`, authenticated there).
    fn on_new_invite(
        &mut self,
        req: Request,
        key: TxKey,
        source: SocketAddr,
        agent: Option<crate::sip::registrar::AgentIdentity>,
        now: Instant,
    ) {
        self.respond(&key, Response::for_request(&req, 100, None), now);
        let media = match self.remote_media(&req.body) {
            Ok(m) => m,
            Err(e) => return self.respond(&key, unusable_offer(&req, &e), now),
        };
        let tag = self.new_tag();
        let dialog = match Dialog::from_uas_request(&req, &tag) {
            Ok(d) => d,
            Err(_) => return self.respond(&key, Response::for_request(&req, 400, Some(&tag)), now),
        };
        let (Ok(from), Ok(to)) = (req.from_addr(), req.to_addr()) else {
            return;
        };
        let request_uri = req.uri.clone();
        let handle = self.new_handle();
        if let Some(e) = self.server.get_mut(&key) {
            e.call = Some(handle);
        }
        let ip = self.cfg.local_addr.ip();
        self.calls.insert(
            handle,
            Call {
                outbound: false,
                phase: Phase::Incoming,
                invite: req,
                invite_key: key,
                dialog: Some(dialog),
                local_media: LocalMedia::g711(ip, 0, 0),
                media: media.clone(),
                early_media: None,
                auth_tried: false,
                got_provisional: false,
                cancel: None,
                cancel_sent: false,
                ring_deadline: Some(now + self.cfg.ring_timeout),
                ack: None,
                offer_in_2xx: false,
                // our requests to a desk phone go back where it called from, not to the trunk
                dest: agent.as_ref().map(|_| source),
                final_status: None,
            },
        );
        self.emit(
            handle,
            CallEvent::Incoming {
                from,
                to,
                request_uri,
                media,
                agent,
            },
        );
    }

    pub(super) fn remote_media(&self, body: &[u8]) -> Result<Option<NegotiatedMedia>, SipError> {
        if body.is_empty() {
            return Ok(None);
        }
        let sdp = SessionDescription::parse(body)?;
        negotiate(&sdp, &self.cfg.codecs).map(Some)
    }

    fn dialog_response(&self, call: &Call, status: u16) -> Response {
        let tag = call.dialog.as_ref().map(|d| d.local_tag.clone());
        let mut r = Response::for_request(&call.invite, status, tag.as_deref());
        if (101..300).contains(&status) {
            r.headers.push("Contact", self.contact());
        }
        if (200..300).contains(&status) {
            super::update::echo_session_timer(&call.invite, &mut r);
        }
        r
    }

    /// Sends 180 Ringing for an inbound call.
    pub fn ringing(&mut self, call: CallHandle, now: Instant) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if c.outbound || c.phase != Phase::Incoming {
            return;
        }
        let r = self.dialog_response(c, 180);
        let key = c.invite_key.clone();
        self.respond(&key, r, now);
    }

    /// Answers an inbound call with 200 and our SDP (an answer to their offer, or our offer
    /// when the INVITE had none).
    pub fn answer(
        &mut self,
        call: CallHandle,
        local_media: LocalMedia,
        now: Instant,
    ) -> Result<(), SipError> {
        let c = self
            .calls
            .get(&call)
            .ok_or(SipError::InvalidState("no such call"))?;
        if c.outbound || c.phase != Phase::Incoming {
            return Err(SipError::InvalidState(
                "only a ringing inbound call can be answered",
            ));
        }
        let mut r = self.dialog_response(c, 200);
        r.headers.push("Allow", ALLOW);
        r.headers.push("Content-Type", "application/sdp");
        let offer_in_2xx = c.media.is_none();
        let body = match &c.media {
            Some(m) => local_media.answer(m),
            None => local_media.offer(),
        };
        r.body = body.to_string().into_bytes();
        let key = c.invite_key.clone();
        let media = c.media.clone();
        if let Some(c) = self.calls.get_mut(&call) {
            c.phase = Phase::Answering;
            c.ring_deadline = None;
            c.local_media = local_media;
            c.offer_in_2xx = offer_in_2xx;
        }
        self.respond(&key, r, now);
        if let Some(m) = media {
            self.emit(call, CallEvent::Answered { media: m });
        }
        Ok(())
    }

    /// Refuses an inbound call (486 busy, 480 unavailable, 603 decline…).
    pub fn reject(&mut self, call: CallHandle, status: u16, now: Instant) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if c.outbound || c.phase != Phase::Incoming || !(300..=699).contains(&status) {
            return;
        }
        let r = self.dialog_response(c, status);
        let key = c.invite_key.clone();
        self.respond(&key, r, now);
        self.end_call(call, CallOutcome::from_status(status));
    }

    /// RFC 3261 §14.2: a re-INVITE changes media; we answer with the same codec set and a
    /// direction derived from theirs (sendonly → recvonly for hold, RFC 3264 §8.4).
    fn on_reinvite(&mut self, req: Request, key: TxKey, now: Instant) {
        let Some(call) = self.find_dialog_call(&req) else {
            return self.respond(&key, Response::for_request(&req, 481, None), now);
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.phase != Phase::Confirmed {
            // §14.2: a re-INVITE while ours is pending, or before our 2xx was ACKed → 491/500.
            return self.respond(&key, Response::for_request(&req, 491, None), now);
        }
        let ordered = c.dialog.as_mut().is_some_and(|d| d.accept_remote_seq(&req));
        if !ordered {
            return self.respond(&key, Response::for_request(&req, 500, None), now);
        }
        if let Some(contact) = req
            .headers
            .values("Contact")
            .first()
            .and_then(|v| crate::sip::uri::NameAddr::parse(v).ok())
        {
            if let Some(d) = c.dialog.as_mut() {
                d.remote_target = contact.uri; // §12.2.2: target refresh
            }
        }
        let media = match self.remote_media(&req.body) {
            Ok(m) => m,
            Err(e) => return self.respond(&key, unusable_offer(&req, &e), now),
        };
        let contact = self.contact();
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.local_media.session_version += 1;
        let mut r = Response::for_request(&req, 200, None);
        r.headers.push("Contact", contact);
        r.headers.push("Allow", ALLOW);
        super::update::echo_session_timer(&req, &mut r);
        r.headers.push("Content-Type", "application/sdp");
        r.body = match &media {
            Some(m) => c.local_media.answer(m),
            None => c.local_media.offer(),
        }
        .to_string()
        .into_bytes();
        c.offer_in_2xx = media.is_none();
        c.phase = Phase::Answering;
        if let Some(m) = &media {
            c.media = Some(m.clone());
        }
        if let Some(e) = self.server.get_mut(&key) {
            e.call = Some(call);
        }
        if let Some(c) = self.calls.get_mut(&call) {
            c.invite = req;
            c.invite_key = key.clone();
        }
        self.respond(&key, r, now);
        if let Some(m) = media {
            self.emit(call, CallEvent::MediaChanged { media: m });
        }
    }

    fn on_ack(&mut self, req: &Request, key: &TxKey, now: Instant) {
        // ACK for a non-2xx shares the INVITE's branch (§17.2.1).
        if let Some(e) = self.server.get_mut(key) {
            if let ServerTx::Invite(t) = &mut e.tx {
                if t.state() == TxState::Completed {
                    t.handle_request(req, now);
                    self.pump_server(key, now);
                    return;
                }
            }
        }
        // ACK for a 2xx is its own transaction, matched by dialog (§13.3.1.4).
        let Some(call) = self.find_dialog_call(req) else {
            return;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.phase != Phase::Answering {
            return;
        }
        c.phase = Phase::Confirmed;
        let invite_key = c.invite_key.clone();
        let offered = c.offer_in_2xx;
        c.offer_in_2xx = false;
        if let Some(e) = self.server.get_mut(&invite_key) {
            if let ServerTx::Invite(t) = &mut e.tx {
                t.ack_received(now);
            }
        }
        self.pump_server(&invite_key, now);
        if offered {
            if let Ok(Some(m)) = self.remote_media(&req.body) {
                let first = self.calls.get(&call).is_some_and(|c| c.media.is_none());
                if let Some(c) = self.calls.get_mut(&call) {
                    c.media = Some(m.clone());
                }
                let event = if first {
                    CallEvent::Answered { media: m }
                } else {
                    CallEvent::MediaChanged { media: m }
                };
                self.emit(call, event);
            }
        }
    }

    fn on_bye(&mut self, req: Request, key: TxKey, now: Instant) {
        let Some(call) = self.find_dialog_call(&req) else {
            return self.respond(&key, Response::for_request(&req, 481, None), now);
        };
        self.respond(&key, Response::for_request(&req, 200, None), now);
        self.end_call(call, CallOutcome::Completed { by: Party::Remote });
    }

    /// §9.2: CANCEL matches the INVITE server transaction by branch; answer 200 to the CANCEL
    /// and 487 to the INVITE if it is still pending.
    fn on_cancel(&mut self, req: Request, from: SocketAddr, now: Instant) {
        let Ok(cancel_key) = TxKey::for_server_request(&req) else {
            return;
        };
        if let Some(entry) = self.server.get_mut(&cancel_key) {
            if let ServerTx::NonInvite(t) = &mut entry.tx {
                t.handle_request(&req, now);
            }
            return self.pump_server(&cancel_key, now);
        }
        self.server.insert(
            cancel_key.clone(),
            ServerEntry {
                tx: ServerTx::NonInvite(ServerNonInvite::new(req.clone(), self.cfg.timers)),
                call: None,
                source: from,
            },
        );
        let invite_key = TxKey {
            method: Method::Invite,
            ..cancel_key.clone()
        };
        let pending = self.server.get(&invite_key).and_then(|e| match &e.tx {
            ServerTx::Invite(t) if t.state() == TxState::Proceeding => Some(e.call),
            _ => None,
        });
        let Some(call) = pending else {
            return self.respond(&cancel_key, Response::for_request(&req, 481, None), now);
        };
        self.respond(&cancel_key, Response::for_request(&req, 200, None), now);
        let r487 = match call.and_then(|h| self.calls.get(&h)) {
            Some(c) => self.dialog_response(c, 487),
            None => match self.server.get(&invite_key).map(|e| &e.tx) {
                Some(ServerTx::Invite(t)) => Response::for_request(t.request(), 487, None),
                _ => return,
            },
        };
        self.respond(&invite_key, r487, now);
        if let Some(h) = call {
            self.end_call(h, CallOutcome::CancelledByRemote);
        }
    }

    /// Timer H on our INVITE server transaction: a 2xx never ACKed ends the call with BYE.
    pub(super) fn on_server_invite_timeout(&mut self, call: CallHandle, now: Instant) {
        if self
            .calls
            .get(&call)
            .is_some_and(|c| c.phase == Phase::Answering)
        {
            self.send_bye(call, now);
            self.end_call(call, CallOutcome::AckTimeout);
        }
    }
}

/// 488 for an SDP offer we cannot use, saying why in a Warning (§20.43; quotes escaped).
pub(super) fn unusable_offer(req: &Request, e: &SipError) -> Response {
    let mut r = Response::for_request(req, 488, None);
    r.headers.push(
        "Warning",
        format!("399 suifang \"{}\"", e.to_string().replace('"', "'")),
    );
    r
}

/// A request inside a dialog carries the To tag the dialog was given (§12.2).
fn has_to_tag(req: &Request) -> bool {
    req.to_addr()
        .ok()
        .and_then(|t| t.tag().map(str::to_owned))
        .is_some()
}
