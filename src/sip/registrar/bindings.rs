//! REGISTER processing (RFC 3261 §10.3 steps 5–8): Contacts checked as a whole, then bindings
//! added, refreshed or removed, and the current bindings listed in the 200.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{AgentIdentity, Binding, DigestFailure, Registrar, RegistrarEvent, UnbindReason};
use crate::sip::message::{Request, Response};
use crate::sip::transport::Transport;
use crate::sip::uri::{find_param, NameAddr, SipUri};

impl Registrar {
    /// Answers a REGISTER (§10.3): authenticate, then add, refresh or remove its Contacts,
    /// or list the bindings when it has none. The 200 lists every binding of the AOR with its
    /// remaining lifetime.
    pub fn handle_register(&mut self, req: &Request, source: SocketAddr, now: Instant) -> Response {
        let identity = match self.authenticate(req, source, now) {
            Ok(id) => id,
            Err(r) => return r,
        };
        let aor_user = req.to_addr().ok().and_then(|t| t.uri.user);
        if aor_user.as_deref() != Some(identity.extension.as_str()) {
            let claimed = Some(identity.extension.clone());
            return self.refuse(req, source, claimed, DigestFailure::UnknownUser);
        }
        match self.plan(req, now) {
            Ok(plan) => {
                self.apply(&identity, req, source, plan, now);
                self.bindings_reply(req, &identity.extension, now)
            }
            Err(PlanError::Bad(why)) => {
                let mut r = self.reply(req, 400);
                r.reason = format!("Bad Request ({why})");
                r
            }
            Err(PlanError::TooBrief) => {
                let mut r = self.reply(req, 423);
                r.headers
                    .push("Min-Expires", self.cfg.min_expires.to_string());
                r
            }
            Err(PlanError::OutOfOrder) => {
                let mut r = self.reply(req, 500);
                r.reason = "Server Internal Error (REGISTER out of order)".into();
                r
            }
        }
    }

    /// Parses and checks every Contact before anything changes: a request either applies
    /// whole or not at all.
    fn plan(&self, req: &Request, now: Instant) -> Result<Plan, PlanError> {
        let header_expires = req
            .headers
            .get("Expires")
            .map(|v| v.trim().parse::<u64>().ok());
        let contacts = req.headers.values("Contact");
        if contacts.is_empty() {
            return Ok(Plan::Query);
        }
        if contacts.iter().any(|c| c.trim() == "*") {
            if contacts.len() != 1 || header_expires != Some(Some(0)) {
                return Err(PlanError::Bad("* needs Expires: 0 and no other Contact"));
            }
            return Ok(Plan::RemoveAll);
        }
        let call_id = req.call_id().unwrap_or_default();
        let cseq = req.cseq().map(|c| c.seq).unwrap_or(0);
        let ext = req
            .to_addr()
            .ok()
            .and_then(|t| t.uri.user)
            .unwrap_or_default();
        let mut changes = Vec::new();
        for value in contacts {
            let contact =
                NameAddr::parse(value).map_err(|_| PlanError::Bad("unparsable Contact"))?;
            // a malformed value counts as absent: the param, else the header, else the default
            let requested = find_param(&contact.params, "expires")
                .flatten()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .or(header_expires.flatten())
                .unwrap_or(u64::from(self.cfg.default_expires));
            if requested != 0 && requested < u64::from(self.cfg.min_expires) {
                return Err(PlanError::TooBrief);
            }
            let granted = requested.min(u64::from(self.cfg.max_expires));
            // §10.3 step 7: the same Call-ID with a CSeq not above the binding's is out of order
            let out_of_order = self.bindings.get(&ext).is_some_and(|list| {
                list.iter().any(|b| {
                    b.contact == contact.uri
                        && b.call_id == call_id
                        && b.cseq >= cseq
                        && b.expires_at > now
                })
            });
            if out_of_order {
                return Err(PlanError::OutOfOrder);
            }
            changes.push((contact.uri, granted));
        }
        Ok(Plan::Change(changes))
    }

    fn apply(
        &mut self,
        id: &AgentIdentity,
        req: &Request,
        source: SocketAddr,
        plan: Plan,
        now: Instant,
    ) {
        let list = self.bindings.entry(id.extension.clone()).or_default();
        let mut events = Vec::new();
        match plan {
            Plan::Query => {}
            Plan::RemoveAll => {
                for binding in list.drain(..) {
                    events.push(RegistrarEvent::Unbound {
                        binding,
                        reason: UnbindReason::Unregistered,
                    });
                }
            }
            Plan::Change(changes) => {
                let transport = match req.top_via().map(|v| v.transport) {
                    Ok(t) if t == "TCP" => Transport::Tcp,
                    Ok(t) if t == "TLS" => Transport::Tls,
                    _ => Transport::Udp,
                };
                let call_id = req.call_id().map(str::to_owned).unwrap_or_default();
                let cseq = req.cseq().map(|c| c.seq).unwrap_or(0);
                let user_agent = req
                    .headers
                    .get("User-Agent")
                    .map(|u| u.chars().filter(|c| !c.is_control()).take(200).collect());
                for (contact, secs) in changes {
                    let existing = list.iter().position(|b| b.contact == contact);
                    if secs == 0 {
                        if let Some(i) = existing {
                            events.push(RegistrarEvent::Unbound {
                                binding: list.remove(i),
                                reason: UnbindReason::Unregistered,
                            });
                        }
                        continue;
                    }
                    let binding = Binding {
                        extension: id.extension.clone(),
                        user_id: id.user_id,
                        contact,
                        source,
                        transport,
                        call_id: call_id.clone(),
                        cseq,
                        user_agent: user_agent.clone(),
                        expires_at: now + Duration::from_secs(secs),
                    };
                    let refreshed = match existing {
                        Some(i) => {
                            list[i] = binding.clone();
                            true
                        }
                        None => {
                            list.push(binding.clone());
                            false
                        }
                    };
                    events.push(RegistrarEvent::Bound { binding, refreshed });
                }
                while list.len() > self.cfg.max_contacts.max(1) {
                    let oldest = list
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, b)| b.expires_at)
                        .map_or(0, |(i, _)| i);
                    events.push(RegistrarEvent::Unbound {
                        binding: list.remove(oldest),
                        reason: UnbindReason::Replaced,
                    });
                }
            }
        }
        if list.is_empty() {
            self.bindings.remove(&id.extension);
        }
        self.events.extend(events);
    }

    /// 200 with every current binding of `ext` and its remaining lifetime (§10.3 step 8).
    fn bindings_reply(&mut self, req: &Request, ext: &str, now: Instant) -> Response {
        let mut r = self.reply(req, 200);
        for b in self.bindings.get(ext).into_iter().flatten() {
            let left = b.expires_at.saturating_duration_since(now).as_secs();
            r.headers
                .push("Contact", format!("<{}>;expires={left}", b.contact));
        }
        r
    }
}

/// Why a REGISTER is refused before anything changes.
enum PlanError {
    /// 400 with this reason.
    Bad(&'static str),
    /// 423 Interval Too Brief.
    TooBrief,
    /// 500: a retransmission of an older request with the same Call-ID.
    OutOfOrder,
}

/// What a checked REGISTER will do.
enum Plan {
    /// No Contact: list the bindings.
    Query,
    /// `Contact: *`, `Expires: 0`.
    RemoveAll,
    /// Add, refresh (seconds > 0) or remove (0) each contact.
    Change(Vec<(SipUri, u64)>),
}
