//! Registration with the trunk or PBX (RFC 3261 §10): REGISTER with digest retry, refresh
//! before expiry, 423 Interval Too Brief handling, and retry after failures.
//!
//! Many hospital PBXs only route calls to a registered trunk user; registration is optional
//! and off unless [`Endpoint::register`] is called.

use std::time::{Duration, Instant};

use super::endpoint::{Endpoint, EndpointOutput};
use crate::sip::auth::Challenge;
use crate::sip::message::{Method, Request, Response};
use crate::sip::transaction::TxKey;
use crate::sip::uri::{NameAddr, SipUri};
use crate::sip::SipError;

/// Retry delay after a failed registration.
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// Registration status reported by [`EndpointOutput::Registration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    /// The registrar accepted us for this long; a refresh is scheduled before it runs out.
    Registered {
        /// Granted binding lifetime.
        expires: Duration,
    },
    /// The registrar refused or did not answer (`status` is `None` on timeout); retrying.
    Failed {
        /// Final status, if any.
        status: Option<u16>,
    },
    /// Our binding was removed (after [`Endpoint::unregister`]).
    Unregistered,
}

pub(super) struct Registration {
    registrar: SipUri,
    aor: NameAddr,
    call_id: String,
    cseq: u32,
    expires: u32,
    auth_tried: bool,
    pub(super) refresh_at: Option<Instant>,
    key: Option<TxKey>,
}

impl Endpoint {
    /// Registers our From user at `registrar` (e.g. `sip:pbx.hospital.example`) for `expires`
    /// seconds and keeps the binding refreshed.
    pub fn register(
        &mut self,
        registrar: SipUri,
        expires: u32,
        now: Instant,
    ) -> Result<(), SipError> {
        let mut aor = NameAddr::new(SipUri::new(
            Some(&self.cfg.from_user),
            &self.cfg.from_domain,
            None,
        ));
        aor.set_tag(&self.new_tag());
        let call_id = self.new_call_id(); // one Call-ID for all refreshes (§10.2)
        self.registration = Some(Registration {
            registrar,
            aor,
            call_id,
            cseq: 0,
            expires,
            auth_tried: false,
            refresh_at: None,
            key: None,
        });
        self.send_register(None, now)
    }

    /// Removes our binding (REGISTER with Expires: 0) and stops refreshing.
    pub fn unregister(&mut self, now: Instant) -> Result<(), SipError> {
        match self.registration.as_mut() {
            Some(r) => {
                r.expires = 0;
                r.auth_tried = false;
                self.send_register(None, now)
            }
            None => Ok(()),
        }
    }

    fn send_register(
        &mut self,
        auth: Option<(&str, String)>,
        now: Instant,
    ) -> Result<(), SipError> {
        let via = self.new_via();
        let contact = self.contact();
        let ua = self.cfg.user_agent.clone();
        let Some(reg) = self.registration.as_mut() else {
            return Ok(());
        };
        reg.cseq += 1;
        reg.refresh_at = None;
        let mut req = Request::new(Method::Register, reg.registrar.clone());
        req.headers.push("Via", via.to_string());
        req.headers.push("Max-Forwards", "70");
        req.headers.push("From", reg.aor.to_string());
        let mut to = reg.aor.clone();
        to.params.clear();
        req.headers.push("To", to.to_string());
        req.headers.push("Call-ID", reg.call_id.clone());
        req.headers.push("CSeq", format!("{} REGISTER", reg.cseq));
        req.headers.push("Contact", contact);
        req.headers.push("Expires", reg.expires.to_string());
        req.headers.push("User-Agent", ua);
        if let Some((name, value)) = auth {
            req.headers.push(name, value);
        }
        let dest = self.next_hop(&req)?;
        let key = self.start_client(req, None, dest, now)?;
        if let Some(reg) = self.registration.as_mut() {
            reg.key = Some(key);
        }
        Ok(())
    }

    pub(super) fn on_register_response(&mut self, key: &TxKey, resp: Response, now: Instant) {
        let Some(reg) = self.registration.as_mut() else {
            return;
        };
        if reg.key.as_ref() != Some(key) || resp.status < 200 {
            return;
        }
        match resp.status {
            200..=299 => {
                reg.auth_tried = false;
                if reg.expires == 0 {
                    self.registration = None;
                    self.push_output(EndpointOutput::Registration(
                        RegistrationState::Unregistered,
                    ));
                    return;
                }
                // §10.2.4: the granted lifetime is our Contact's expires param, else Expires.
                let granted = resp
                    .headers
                    .values("Contact")
                    .iter()
                    .filter_map(|c| NameAddr::parse(c).ok())
                    .find_map(|c| {
                        crate::sip::uri::find_param(&c.params, "expires")
                            .flatten()
                            .and_then(|v| v.parse::<u32>().ok())
                    })
                    .or_else(|| {
                        resp.headers
                            .get("Expires")
                            .and_then(|v| v.trim().parse().ok())
                    })
                    .unwrap_or(reg.expires);
                // Refresh at 90 % of the lifetime (at least 5 s from now).
                let refresh = Duration::from_secs(u64::from(granted))
                    .mul_f64(0.9)
                    .max(Duration::from_secs(5));
                reg.refresh_at = Some(now + refresh);
                let expires = Duration::from_secs(u64::from(granted));
                self.push_output(EndpointOutput::Registration(
                    RegistrationState::Registered { expires },
                ));
            }
            401 | 407 if !reg.auth_tried => {
                reg.auth_tried = true;
                let (challenge, header) = if resp.status == 401 {
                    ("WWW-Authenticate", "Authorization")
                } else {
                    ("Proxy-Authenticate", "Proxy-Authorization")
                };
                let uri = reg.registrar.to_string();
                let cnonce = self.new_cnonce();
                let answer = match (
                    &self.cfg.credentials,
                    resp.headers.get(challenge).map(Challenge::parse),
                ) {
                    (Some(c), Some(Ok(ch))) => {
                        Some(ch.authorization(&c.user, &c.password, "REGISTER", &uri, &cnonce, 1))
                    }
                    _ => None,
                };
                match answer {
                    Some(a) => {
                        if self.send_register(Some((header, a)), now).is_err() {
                            self.registration_failed(Some(resp.status), now);
                        }
                    }
                    None => self.registration_failed(Some(resp.status), now),
                }
            }
            423 => {
                // Interval Too Brief: retry with the registrar's minimum (§10.2.8).
                match resp
                    .headers
                    .get("Min-Expires")
                    .and_then(|v| v.trim().parse::<u32>().ok())
                {
                    Some(min) if min > reg.expires => {
                        reg.expires = min;
                        if self.send_register(None, now).is_err() {
                            self.registration_failed(Some(423), now);
                        }
                    }
                    _ => self.registration_failed(Some(423), now),
                }
            }
            status => self.registration_failed(Some(status), now),
        }
    }

    pub(super) fn on_register_timeout(&mut self, key: &TxKey, now: Instant) {
        if self.registration.as_ref().and_then(|r| r.key.as_ref()) == Some(key) {
            self.registration_failed(None, now);
        }
    }

    fn registration_failed(&mut self, status: Option<u16>, now: Instant) {
        if let Some(reg) = self.registration.as_mut() {
            reg.auth_tried = false;
            reg.refresh_at = Some(now + RETRY_AFTER);
        }
        self.push_output(EndpointOutput::Registration(RegistrationState::Failed {
            status,
        }));
    }

    /// Sends the refresh (or retry) when due.
    pub(super) fn registration_timer(&mut self, now: Instant) {
        let due = self
            .registration
            .as_ref()
            .and_then(|r| r.refresh_at)
            .is_some_and(|t| t <= now);
        if due && self.send_register(None, now).is_err() {
            self.registration_failed(None, now);
        }
    }
}
