//! The registrar (RFC 3261 §10.3) for agents' SIP desk phones, sans-IO: REGISTER requests are
//! authenticated with server-side digest ([`digest`]), their Contacts become bindings with a
//! lifetime, and INVITEs from agent extensions are challenged (407) the same way. Fed
//! requests with `now`; changes come out as [`RegistrarEvent`]s for the shell to persist and
//! audit.
//!
//! suifang is the registrar of one domain, so an address of record is keyed by its user part,
//! the agent's extension (`sip:1001@10.0.0.5` and `sip:1001@suifang.hospital` are the same
//! AOR). A phone may only register its own extension: the digest user must be the AOR's user.
//! Calls to a desk phone go to where its REGISTER came from (the source address, which also
//! works through NAT), with the registered Contact as Request-URI.

mod bindings;
mod digest;
mod failures;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use digest::DigestServer;
pub use digest::{DigestFailure, Ha1};

use crate::sip::auth::Algorithm;
use crate::sip::message::{Method, Request, Response};
use crate::sip::transport::Transport;
use crate::sip::uri::SipUri;

/// Settings of the registrar (`[sip] registrar_*`).
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// Digest realm; HA1 values are computed for it.
    pub realm: String,
    /// Algorithms offered, in preference order.
    pub algorithms: Vec<Algorithm>,
    /// How long a nonce may be used before it is stale.
    pub nonce_lifetime: Duration,
    /// Shortest binding accepted (shorter: 423 Interval Too Brief).
    pub min_expires: u32,
    /// Longest binding granted (longer requests are cut to this).
    pub max_expires: u32,
    /// Lifetime when the phone asks for none.
    pub default_expires: u32,
    /// Contacts per extension; a new one beyond this replaces the oldest.
    pub max_contacts: usize,
    /// Wrong passwords per user and source address within `failure_window` before further
    /// attempts are refused unchecked.
    pub max_failures: usize,
    /// See `max_failures`.
    pub failure_window: Duration,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            realm: "suifang".into(),
            // SHA-256 only on request: baresip 1.0 (libre) refuses the whole challenge when
            // one of the offers is an algorithm it lacks, and it lacks SHA-256
            algorithms: vec![Algorithm::Md5],
            nonce_lifetime: Duration::from_secs(300),
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts: 3,
            max_failures: 5,
            failure_window: Duration::from_secs(900),
        }
    }
}

/// An agent who may register: their extension and digest hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentAccount {
    /// The user (`users.id`).
    pub user_id: i64,
    /// Extension = digest user name = AOR user part.
    pub extension: String,
    /// Digest hashes for the registrar's realm.
    pub ha1: Ha1,
}

/// Who an authenticated request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentIdentity {
    /// The user (`users.id`).
    pub user_id: i64,
    /// Their extension.
    pub extension: String,
}

/// One registered contact of an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The extension (AOR user part).
    pub extension: String,
    /// Its user.
    pub user_id: i64,
    /// The registered Contact URI (Request-URI of calls to the phone).
    pub contact: SipUri,
    /// Where the REGISTER came from (calls to the phone are sent here).
    pub source: SocketAddr,
    /// Transport the REGISTER came over (its top Via).
    pub transport: Transport,
    /// Call-ID and CSeq of the REGISTER that last changed it (§10.3 step 7).
    pub call_id: String,
    /// See `call_id`.
    pub cseq: u32,
    /// The phone's User-Agent header.
    pub user_agent: Option<String>,
    /// When it runs out.
    pub expires_at: Instant,
}

/// Why a binding went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnbindReason {
    /// The phone removed it (Expires: 0 or `*`).
    Unregistered,
    /// Not refreshed in time.
    Expired,
    /// A newer contact took its place (more than `max_contacts`).
    Replaced,
    /// The agent's SIP credentials were removed or changed.
    CredentialsChanged,
}

impl UnbindReason {
    /// As written in logs and the audit.
    pub fn as_str(self) -> &'static str {
        match self {
            UnbindReason::Unregistered => "unregistered",
            UnbindReason::Expired => "expired",
            UnbindReason::Replaced => "replaced",
            UnbindReason::CredentialsChanged => "credentials_changed",
        }
    }
}

/// What changed, for the shell to persist and audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrarEvent {
    /// A binding was created (`refreshed: false`) or refreshed.
    Bound {
        /// The binding now.
        binding: Binding,
        /// True when it existed before.
        refreshed: bool,
    },
    /// A binding went away.
    Unbound {
        /// The binding as it was.
        binding: Binding,
        /// Why.
        reason: UnbindReason,
    },
    /// A request with wrong credentials (not the normal first challenge or a stale nonce).
    AuthFailed {
        /// REGISTER or INVITE.
        method: Method,
        /// The user name it claimed, if any.
        username: Option<String>,
        /// Where it came from.
        source: SocketAddr,
        /// What was wrong.
        failure: DigestFailure,
    },
}

/// The verdict on an INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteAuth {
    /// Its From is no agent extension: a call from the trunk.
    NotAgent,
    /// An agent's desk phone, authenticated.
    Agent(AgentIdentity),
    /// Send this final response (407 challenge, 403, 400) and forget the INVITE.
    Refused(Response),
}

/// The registrar. See the module docs.
pub struct Registrar {
    cfg: RegistrarConfig,
    digest: DigestServer,
    rng: StdRng,
    accounts: HashMap<String, AgentAccount>,
    bindings: HashMap<String, Vec<Binding>>,
    failures: failures::Failures,
    events: VecDeque<RegistrarEvent>,
}

impl std::fmt::Debug for Registrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registrar")
            .field("realm", &self.cfg.realm)
            .field("accounts", &self.accounts.len())
            .field(
                "bindings",
                &self.bindings.values().map(Vec::len).sum::<usize>(),
            )
            .finish()
    }
}

impl Registrar {
    /// A registrar with a nonce key from the OS.
    pub fn new(cfg: RegistrarConfig, now: Instant) -> Registrar {
        Self::with_rng(cfg, StdRng::from_entropy(), now)
    }

    /// A registrar with a fixed seed (deterministic nonces and tags for tests).
    pub fn with_seed(cfg: RegistrarConfig, seed: u64, now: Instant) -> Registrar {
        Self::with_rng(cfg, StdRng::seed_from_u64(seed), now)
    }

    fn with_rng(cfg: RegistrarConfig, mut rng: StdRng, now: Instant) -> Registrar {
        let key: [u8; 32] = rng.gen();
        let cfg_failures = (cfg.max_failures, cfg.failure_window);
        let digest = DigestServer::new(
            cfg.realm.clone(),
            cfg.algorithms.clone(),
            cfg.nonce_lifetime,
            key,
            now,
        );
        Registrar {
            cfg,
            digest,
            rng,
            accounts: HashMap::new(),
            bindings: HashMap::new(),
            failures: failures::Failures::new(cfg_failures.0, cfg_failures.1),
            events: VecDeque::new(),
        }
    }

    /// The digest realm.
    pub fn realm(&self) -> &str {
        self.digest.realm()
    }

    /// Replaces the accounts. Bindings of an extension that is gone, moved to another user or
    /// whose password changed are removed (`CredentialsChanged`).
    pub fn set_accounts(&mut self, accounts: Vec<AgentAccount>) {
        let new: HashMap<String, AgentAccount> = accounts
            .into_iter()
            .map(|a| (a.extension.clone(), a))
            .collect();
        let stale: Vec<String> = self
            .bindings
            .keys()
            .filter(|ext| new.get(*ext) != self.accounts.get(*ext) || !new.contains_key(*ext))
            .cloned()
            .collect();
        for ext in stale {
            for binding in self.bindings.remove(&ext).unwrap_or_default() {
                self.events.push_back(RegistrarEvent::Unbound {
                    binding,
                    reason: UnbindReason::CredentialsChanged,
                });
            }
        }
        self.accounts = new;
    }

    /// Puts back a binding persisted before a restart (no event). Ignored when its account is
    /// gone, belongs to another user now, or it has run out.
    pub fn restore(&mut self, binding: Binding, now: Instant) {
        let known = self
            .accounts
            .get(&binding.extension)
            .is_some_and(|a| a.user_id == binding.user_id);
        if !known || binding.expires_at <= now {
            return;
        }
        let list = self.bindings.entry(binding.extension.clone()).or_default();
        list.retain(|b| b.contact != binding.contact);
        list.push(binding);
    }

    /// The binding calls to `extension` should use: the one refreshed last.
    pub fn binding(&self, extension: &str, now: Instant) -> Option<&Binding> {
        self.bindings
            .get(extension)?
            .iter()
            .filter(|b| b.expires_at > now)
            .max_by_key(|b| b.expires_at)
    }

    /// The account of an extension.
    pub fn account(&self, extension: &str) -> Option<&AgentAccount> {
        self.accounts.get(extension)
    }

    /// Every binding.
    pub fn bindings(&self) -> impl Iterator<Item = &Binding> {
        self.bindings.values().flatten()
    }

    /// Next change to report.
    pub fn poll_event(&mut self) -> Option<RegistrarEvent> {
        self.events.pop_front()
    }

    /// When [`Registrar::handle_timeout`] is next needed: a binding runs out, a failure
    /// stops counting, or a used nonce expires (housekeeping has its own timer, not only the
    /// bindings').
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.bindings()
            .map(|b| b.expires_at)
            .chain(self.failures.next_expiry())
            .chain(self.digest.next_expiry())
            .min()
    }

    /// Removes bindings that ran out and forgets expired nonces and old failures.
    pub fn handle_timeout(&mut self, now: Instant) {
        for list in self.bindings.values_mut() {
            let (gone, kept): (Vec<Binding>, Vec<Binding>) =
                list.drain(..).partition(|b| b.expires_at <= now);
            *list = kept;
            for binding in gone {
                self.events.push_back(RegistrarEvent::Unbound {
                    binding,
                    reason: UnbindReason::Expired,
                });
            }
        }
        self.bindings.retain(|_, l| !l.is_empty());
        self.digest.purge(now);
        self.failures.purge(now);
    }

    fn tag(&mut self) -> String {
        format!("{:012x}", self.rng.gen::<u64>() & 0xffff_ffff_ffff)
    }

    /// A response to `req` with a fresh To tag.
    fn reply(&mut self, req: &Request, status: u16) -> Response {
        let tag = self.tag();
        Response::for_request(req, status, Some(&tag))
    }

    /// Authenticates `req` (`Authorization` for REGISTER, `Proxy-Authorization` for INVITE):
    /// the identity, or the response to send instead.
    fn authenticate(
        &mut self,
        req: &Request,
        source: SocketAddr,
        now: Instant,
    ) -> Result<AgentIdentity, Response> {
        let (header, challenge_status, challenge_header) = match req.method {
            Method::Register => ("Authorization", 401, "WWW-Authenticate"),
            _ => ("Proxy-Authorization", 407, "Proxy-Authenticate"),
        };
        let value = req.headers.get(header);
        let claimed = value.and_then(DigestServer::claimed_user);
        if let Some(user) = &claimed {
            let registered_here = self
                .bindings
                .get(user)
                .is_some_and(|l| l.iter().any(|b| b.source.ip() == source.ip()));
            if self
                .failures
                .locked(user, source.ip(), registered_here, now)
                .is_some()
            {
                return Err(self.refuse(
                    req,
                    source,
                    claimed.clone(),
                    DigestFailure::TooManyFailures,
                ));
            }
        }
        let accounts = &self.accounts;
        let verdict = self.digest.verify(
            value,
            req.method.as_str(),
            &req.uri,
            |user| accounts.get(user).map(|a| &a.ha1),
            now,
        );
        let failure = match verdict {
            Ok(user) => {
                let Some(account) = self.accounts.get(&user) else {
                    return Err(self.refuse(req, source, Some(user), DigestFailure::UnknownUser));
                };
                self.failures.succeeded(&user, source.ip());
                return Ok(AgentIdentity {
                    user_id: account.user_id,
                    extension: account.extension.clone(),
                });
            }
            Err(f) => f,
        };
        match failure {
            DigestFailure::UnknownUser
            | DigestFailure::WrongPassword
            | DigestFailure::UriMismatch => {
                if let Some(user) = &claimed {
                    self.failures.record(user, source.ip(), now);
                }
                Err(self.refuse(req, source, claimed, failure))
            }
            DigestFailure::Replay | DigestFailure::Malformed => {
                self.events.push_back(RegistrarEvent::AuthFailed {
                    method: req.method.clone(),
                    username: claimed,
                    source,
                    failure,
                });
                Err(self.challenge(req, challenge_status, challenge_header, false, now))
            }
            DigestFailure::StaleNonce => {
                Err(self.challenge(req, challenge_status, challenge_header, true, now))
            }
            DigestFailure::NoCredentials
            | DigestFailure::WrongRealm
            | DigestFailure::UnsupportedAlgorithm
            | DigestFailure::NoQop
            | DigestFailure::TooManyFailures => {
                Err(self.challenge(req, challenge_status, challenge_header, false, now))
            }
        }
    }

    fn challenge(
        &mut self,
        req: &Request,
        status: u16,
        header: &str,
        stale: bool,
        now: Instant,
    ) -> Response {
        let nonce = self.digest.nonce(now, self.rng.gen());
        let mut r = self.reply(req, status);
        for value in self.digest.challenges(&nonce, stale) {
            r.headers.push(header, value);
        }
        r
    }

    /// 403 (or 400 for a digest uri that is not the Request-URI), reported as a failure.
    fn refuse(
        &mut self,
        req: &Request,
        source: SocketAddr,
        username: Option<String>,
        failure: DigestFailure,
    ) -> Response {
        self.events.push_back(RegistrarEvent::AuthFailed {
            method: req.method.clone(),
            username,
            source,
            failure,
        });
        let status = if failure == DigestFailure::UriMismatch {
            400
        } else {
            403
        };
        let mut r = self.reply(req, status);
        r.reason = match failure {
            DigestFailure::TooManyFailures => "Forbidden (too many failures, try later)".into(),
            DigestFailure::UriMismatch => "Bad Request (digest uri)".into(),
            _ => "Forbidden".into(),
        };
        r
    }

    /// Decides about a new INVITE: calls whose From is an agent extension must prove it with
    /// `Proxy-Authorization` (407 challenge first), anything else is a call from the trunk.
    /// Whether `user` is an agent's extension (its INVITEs must authenticate instead of coming
    /// from the trunk).
    pub fn is_extension(&self, user: &str) -> bool {
        self.accounts.contains_key(user)
    }

    pub fn authenticate_invite(
        &mut self,
        req: &Request,
        source: SocketAddr,
        now: Instant,
    ) -> InviteAuth {
        let from_user = req.from_addr().ok().and_then(|f| f.uri.user);
        let Some(ext) = from_user.filter(|u| self.accounts.contains_key(u)) else {
            return InviteAuth::NotAgent;
        };
        match self.authenticate(req, source, now) {
            Ok(id) if id.extension == ext => InviteAuth::Agent(id),
            Ok(id) => {
                let r = self.refuse(req, source, Some(id.extension), DigestFailure::UnknownUser);
                InviteAuth::Refused(r)
            }
            Err(r) => InviteAuth::Refused(r),
        }
    }
}
