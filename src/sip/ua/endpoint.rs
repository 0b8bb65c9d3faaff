//! Endpoint plumbing: transaction tables, message routing, identifiers, timers and outputs.
//! Call logic lives in `uac.rs` (outbound) and `uas.rs` (inbound and in-dialog requests).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::dialog::Dialog;
use super::keepalive::Keepalive;
use super::outcome::CallOutcome;
use super::register::Registration;
use crate::sip::hdr::{Via, BRANCH_COOKIE};
use crate::sip::message::{Message, Request, Response};
use crate::sip::negotiate::{LocalMedia, NegotiatedMedia};
use crate::sip::parse::{parse_datagram, request_head};
use crate::sip::registrar::Registrar;
use crate::sip::transaction::{
    ClientInvite, ClientNonInvite, ServerInvite, ServerNonInvite, TxKey, TxOutput,
};
use crate::sip::uri::{NameAddr, SipUri};
use crate::sip::SipError;

pub use super::types::{
    CallEvent, CallHandle, CallOptions, Credentials, EndpointConfig, EndpointOutput, Transport,
};

#[allow(clippy::large_enum_variant)] // one per transaction, stored once in a map
pub(super) enum ClientTx {
    Invite(ClientInvite),
    NonInvite(ClientNonInvite),
}

pub(super) struct ClientEntry {
    pub(super) tx: ClientTx,
    pub(super) call: Option<CallHandle>,
    pub(super) dest: SocketAddr,
}

pub(super) enum ServerTx {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

pub(super) struct ServerEntry {
    pub(super) tx: ServerTx,
    pub(super) call: Option<CallHandle>,
    pub(super) source: SocketAddr,
}

/// Where a call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Outbound INVITE sent, no final response yet.
    Calling,
    /// Inbound INVITE waiting for the application to answer.
    Incoming,
    /// Inbound: 200 sent, waiting for ACK (media may already flow).
    Answering,
    /// Established.
    Confirmed,
    /// We sent BYE.
    Terminating,
}

pub(super) struct Call {
    pub(super) outbound: bool,
    pub(super) phase: Phase,
    /// Outbound: the latest INVITE we sent; inbound: the INVITE we received.
    pub(super) invite: Request,
    pub(super) invite_key: TxKey,
    pub(super) dialog: Option<Dialog>,
    pub(super) local_media: LocalMedia,
    pub(super) media: Option<NegotiatedMedia>,
    pub(super) early_media: Option<NegotiatedMedia>,
    pub(super) auth_tried: bool,
    pub(super) got_provisional: bool,
    /// Set when we want the pending INVITE cancelled, with the outcome to report.
    pub(super) cancel: Option<CallOutcome>,
    pub(super) cancel_sent: bool,
    pub(super) ring_deadline: Option<Instant>,
    pub(super) ack: Option<(SocketAddr, Request)>,
    /// True when our last 2xx to a re-INVITE carried an offer (answer comes in the ACK).
    pub(super) offer_in_2xx: bool,
    /// Where this call's requests go instead of the outbound proxy: a desk phone's address.
    pub(super) dest: Option<SocketAddr>,
    /// The final response to the initial INVITE as it went over the wire: received for our
    /// calls, sent for calls to us. `None` while there is none (and for ever after Timer B).
    /// The call row records this, never a status inferred from the outcome (issue 21 item 13:
    /// a CANCEL that crossed the 200 is not a 487 the trunk never sent).
    pub(super) final_status: Option<u16>,
}

/// The sans-IO SIP endpoint. See the module docs.
pub struct Endpoint {
    pub(super) cfg: EndpointConfig,
    rng: StdRng,
    next_handle: u64,
    pub(super) calls: BTreeMap<CallHandle, Call>,
    pub(super) client: HashMap<TxKey, ClientEntry>,
    pub(super) server: HashMap<TxKey, ServerEntry>,
    out: VecDeque<EndpointOutput>,
    malformed: u64,
    pub(super) registration: Option<Registration>,
    pub(super) registrar: Option<Registrar>,
    pub(super) keepalive: Option<Keepalive>,
    pub(super) admission: super::admission::Admission,
    /// The trunk asked (503 Retry-After, RFC 3261 §21.5.4) for no new calls until then.
    pub(super) trunk_hold_until: Option<Instant>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("local_addr", &self.cfg.local_addr)
            .field("calls", &self.calls.len())
            .field("client_tx", &self.client.len())
            .field("server_tx", &self.server.len())
            .finish()
    }
}

impl Endpoint {
    /// An endpoint with identifiers seeded from the OS.
    pub fn new(cfg: EndpointConfig) -> Self {
        Self::with_rng(cfg, StdRng::from_entropy())
    }

    /// An endpoint with a fixed seed (deterministic tags/branches for tests).
    pub fn with_seed(cfg: EndpointConfig, seed: u64) -> Self {
        Self::with_rng(cfg, StdRng::seed_from_u64(seed))
    }

    fn with_rng(cfg: EndpointConfig, rng: StdRng) -> Self {
        Self {
            admission: super::admission::Admission::new(cfg.inbound.clone()),
            trunk_hold_until: None,
            cfg,
            rng,
            next_handle: 1,
            calls: BTreeMap::new(),
            client: HashMap::new(),
            server: HashMap::new(),
            out: VecDeque::new(),
            malformed: 0,
            registration: None,
            registrar: None,
            keepalive: None,
        }
    }

    /// Settings in use.
    pub fn config(&self) -> &EndpointConfig {
        &self.cfg
    }

    /// Datagrams dropped because they did not parse.
    pub fn malformed_count(&self) -> u64 {
        self.malformed
    }

    /// Calls alive now.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// The negotiated media of a call, if any.
    pub fn media(&self, call: CallHandle) -> Option<&NegotiatedMedia> {
        self.calls.get(&call).and_then(|c| c.media.as_ref())
    }

    /// Next thing to do.
    pub fn poll_output(&mut self) -> Option<EndpointOutput> {
        self.out.pop_front().or_else(|| {
            self.registrar
                .as_mut()?
                .poll_event()
                .map(EndpointOutput::Registrar)
        })
    }

    /// Serves REGISTER with `registrar` (agents' desk phones) and has it authenticate INVITEs
    /// from agent extensions; without one REGISTER is answered 405.
    pub fn set_registrar(&mut self, registrar: Option<Registrar>) {
        self.registrar = registrar;
    }

    /// The registrar, if any.
    pub fn registrar(&self) -> Option<&Registrar> {
        self.registrar.as_ref()
    }

    /// The registrar, to change accounts or restore bindings.
    pub fn registrar_mut(&mut self) -> Option<&mut Registrar> {
        self.registrar.as_mut()
    }

    /// When [`Endpoint::handle_timeout`] is next needed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let c = self.client.values().filter_map(|e| match &e.tx {
            ClientTx::Invite(t) => t.poll_timeout(),
            ClientTx::NonInvite(t) => t.poll_timeout(),
        });
        let s = self.server.values().filter_map(|e| match &e.tx {
            ServerTx::Invite(t) => t.poll_timeout(),
            ServerTx::NonInvite(t) => t.poll_timeout(),
        });
        let r = self.calls.values().filter_map(|c| c.ring_deadline);
        let reg = self.registration.as_ref().and_then(|r| r.refresh_at);
        let bindings = self.registrar.as_ref().and_then(Registrar::poll_timeout);
        let ping = self.keepalive.as_ref().and_then(|k| k.next_at);
        c.chain(s)
            .chain(r)
            .chain(reg)
            .chain(bindings)
            .chain(ping)
            .min()
    }

    /// Fires due timers of every transaction and call.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.admission.housekeeping(now);
        let due_client: Vec<TxKey> = self
            .client
            .iter()
            .filter(|(_, e)| {
                match &e.tx {
                    ClientTx::Invite(t) => t.poll_timeout(),
                    ClientTx::NonInvite(t) => t.poll_timeout(),
                }
                .is_some_and(|t| t <= now)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in due_client {
            if let Some(e) = self.client.get_mut(&key) {
                match &mut e.tx {
                    ClientTx::Invite(t) => t.handle_timeout(now),
                    ClientTx::NonInvite(t) => t.handle_timeout(now),
                }
            }
            self.pump_client(&key, now);
        }
        let due_server: Vec<TxKey> = self
            .server
            .iter()
            .filter(|(_, e)| {
                match &e.tx {
                    ServerTx::Invite(t) => t.poll_timeout(),
                    ServerTx::NonInvite(t) => t.poll_timeout(),
                }
                .is_some_and(|t| t <= now)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in due_server {
            if let Some(e) = self.server.get_mut(&key) {
                match &mut e.tx {
                    ServerTx::Invite(t) => t.handle_timeout(now),
                    ServerTx::NonInvite(t) => t.handle_timeout(now),
                }
            }
            self.pump_server(&key, now);
        }
        let ringing_too_long: Vec<CallHandle> = self
            .calls
            .iter()
            .filter(|(_, c)| c.ring_deadline.is_some_and(|t| t <= now))
            .map(|(h, _)| *h)
            .collect();
        self.registration_timer(now);
        self.keepalive_timer(now);
        if let Some(r) = self.registrar.as_mut() {
            if r.poll_timeout().is_some_and(|t| t <= now) {
                r.handle_timeout(now);
            }
        }
        for h in ringing_too_long {
            let pending_cancel = self.calls.get_mut(&h).map(|c| {
                c.ring_deadline = None;
                c.cancel
            });
            match pending_cancel {
                // §9.1: no final response 64·T1 after CANCEL — give up on the INVITE.
                Some(Some(outcome)) => self.end_call(h, outcome),
                Some(None) if self.calls.get(&h).is_some_and(|c| !c.outbound) => {
                    // Nobody took the inbound call in time (§13.3.1: the UAS may give up).
                    self.reject(h, 480, now);
                }
                Some(None) => self.cancel_outbound(h, CallOutcome::NoAnswer, now),
                None => {}
            }
        }
        self.client.retain(|_, e| match &e.tx {
            ClientTx::Invite(t) => !t.is_terminated(),
            ClientTx::NonInvite(t) => !t.is_terminated(),
        });
        self.server.retain(|_, e| match &e.tx {
            ServerTx::Invite(t) => !t.is_terminated(),
            ServerTx::NonInvite(t) => !t.is_terminated(),
        });
    }

    /// Feeds one received datagram. Malformed input is counted and dropped, or answered 400
    /// when it is a request we can still address a response to; it never panics.
    pub fn handle_datagram(&mut self, data: &[u8], from: SocketAddr, now: Instant) {
        // Bare CRLF keep-alives (RFC 5626 §4.4.1) are not messages.
        if data.iter().all(|b| b.is_ascii_whitespace()) {
            return;
        }
        let msg = match parse_datagram(data) {
            Ok(m) => m,
            Err(e) => {
                self.malformed += 1;
                tracing::debug!(%from, error = %e, "unparsable SIP datagram");
                // a request whose head is readable still gets its 400 (§18.3); the rest is dropped
                if let Some(req) = request_head(data) {
                    self.bad_request(&req, &e, from);
                }
                return;
            }
        };
        match msg {
            Message::Response(resp) => self.handle_response(resp, now),
            Message::Request(req) => {
                if let Err(e) = req.validate() {
                    self.malformed += 1;
                    tracing::debug!(%from, error = %e, "invalid SIP request");
                    self.bad_request(&req, &e, from);
                    return;
                }
                self.handle_request(req, from, now);
            }
        }
    }

    /// Answers a malformed request 400 with the reason, when it has a Via to answer to and
    /// is not an ACK (which gets no response, §17.2.1).
    fn bad_request(&mut self, req: &Request, why: &SipError, from: SocketAddr) {
        if req.top_via().is_ok() && req.method != crate::sip::Method::Ack {
            let mut r = Response::for_request(req, 400, None);
            r.reason = format!("Bad Request ({why})").replace(['\r', '\n'], " ");
            self.transmit(from, r.to_bytes());
        }
    }

    fn handle_response(&mut self, resp: Response, now: Instant) {
        if resp.validate().is_err() {
            self.malformed += 1;
            return;
        }
        let Ok(key) = TxKey::for_response(&resp) else {
            return;
        };
        let Some(entry) = self.client.get_mut(&key) else {
            tracing::debug!(status = resp.status, "response matches no transaction");
            return;
        };
        match &mut entry.tx {
            ClientTx::Invite(t) => t.handle_response(resp, now),
            ClientTx::NonInvite(t) => t.handle_response(resp, now),
        }
        self.pump_client(&key, now);
    }

    /// Drains a client transaction's outputs into transmissions and call logic.
    pub(super) fn pump_client(&mut self, key: &TxKey, now: Instant) {
        loop {
            let Some(entry) = self.client.get_mut(key) else {
                return;
            };
            let (output, invite) = match &mut entry.tx {
                ClientTx::Invite(t) => (t.poll_output(), true),
                ClientTx::NonInvite(t) => (t.poll_output(), false),
            };
            let Some(output) = output else { return };
            let (call, dest) = (entry.call, entry.dest);
            match output {
                TxOutput::SendRequest(r) => self.transmit(dest, r.to_bytes()),
                TxOutput::Response(resp) => match call {
                    Some(c) if invite => self.on_invite_response(c, resp, now),
                    Some(c) => self.on_non_invite_response(c, &key.method, resp, now),
                    None if key.method == crate::sip::Method::Register => {
                        self.on_register_response(key, resp, now)
                    }
                    None if key.method == crate::sip::Method::Options => {
                        self.on_options_response(key, &resp, now)
                    }
                    None => {}
                },
                TxOutput::Timeout => match call {
                    Some(c) => self.on_client_timeout(c, &key.method, now),
                    None if key.method == crate::sip::Method::Register => {
                        self.on_register_timeout(key, now)
                    }
                    None if key.method == crate::sip::Method::Options => {
                        self.on_options_timeout(key)
                    }
                    None => {}
                },
                TxOutput::SendResponse(_) | TxOutput::AckReceived => {}
            }
        }
    }

    /// Drains a server transaction's outputs.
    pub(super) fn pump_server(&mut self, key: &TxKey, now: Instant) {
        loop {
            let Some(entry) = self.server.get_mut(key) else {
                return;
            };
            let output = match &mut entry.tx {
                ServerTx::Invite(t) => t.poll_output(),
                ServerTx::NonInvite(t) => t.poll_output(),
            };
            let Some(output) = output else { return };
            let (call, source) = (entry.call, entry.source);
            match output {
                TxOutput::SendResponse(r) => self.transmit(source, r.to_bytes()),
                TxOutput::Timeout => {
                    if let Some(c) = call {
                        self.on_server_invite_timeout(c, now);
                    }
                }
                TxOutput::AckReceived | TxOutput::SendRequest(_) | TxOutput::Response(_) => {}
            }
        }
    }

    /// Starts a client transaction for `req` and sends it.
    pub(super) fn start_client(
        &mut self,
        req: Request,
        call: Option<CallHandle>,
        dest: SocketAddr,
        now: Instant,
    ) -> Result<TxKey, SipError> {
        let key = TxKey::for_client_request(&req)?;
        let tx = if req.method == crate::sip::Method::Invite {
            ClientTx::Invite(ClientInvite::new(req, self.cfg.timers, now))
        } else {
            ClientTx::NonInvite(ClientNonInvite::new(req, self.cfg.timers, now))
        };
        self.client
            .insert(key.clone(), ClientEntry { tx, call, dest });
        self.pump_client(&key, now);
        Ok(key)
    }

    /// Sends a response through the server transaction `key`.
    pub(super) fn respond(&mut self, key: &TxKey, resp: Response, now: Instant) {
        if resp.status >= 200 {
            if let Some(ServerEntry {
                tx: ServerTx::Invite(_),
                call: Some(h),
                ..
            }) = self.server.get(key)
            {
                let h = *h;
                if let Some(c) = self.calls.get_mut(&h) {
                    // the first final response is the one the caller acts on (§17.2.1)
                    c.final_status.get_or_insert(resp.status);
                }
            }
        }
        if let Some(e) = self.server.get_mut(key) {
            match &mut e.tx {
                ServerTx::Invite(t) => t.send_response(resp, now),
                ServerTx::NonInvite(t) => t.send_response(resp, now),
            }
        }
        self.pump_server(key, now);
    }

    pub(super) fn push_output(&mut self, out: EndpointOutput) {
        self.out.push_back(out);
    }

    pub(super) fn transmit(&mut self, to: SocketAddr, data: Vec<u8>) {
        self.out.push_back(EndpointOutput::Transmit { to, data });
    }

    pub(super) fn emit(&mut self, call: CallHandle, event: CallEvent) {
        self.out.push_back(EndpointOutput::Event { call, event });
    }

    /// Reports the end of a call once and forgets it.
    pub(super) fn end_call(&mut self, call: CallHandle, outcome: CallOutcome) {
        if let Some(c) = self.calls.remove(&call) {
            self.emit(
                call,
                CallEvent::Ended {
                    outcome,
                    final_status: c.final_status,
                },
            );
        }
    }

    pub(super) fn new_handle(&mut self) -> CallHandle {
        let h = CallHandle(self.next_handle);
        self.next_handle += 1;
        h
    }

    fn random_hex(&mut self, bytes: usize) -> String {
        (0..bytes)
            .map(|_| format!("{:02x}", self.rng.gen::<u8>()))
            .collect()
    }

    /// A fresh tag (§19.3: at least 32 bits of randomness).
    pub(super) fn new_tag(&mut self) -> String {
        self.random_hex(6)
    }

    /// A fresh Call-ID.
    pub(super) fn new_call_id(&mut self) -> String {
        format!("{}@{}", self.random_hex(12), self.cfg.local_addr.ip())
    }

    /// A Via with a fresh RFC 3261 branch.
    pub(super) fn new_via(&mut self) -> Via {
        let branch = format!("{BRANCH_COOKIE}{}", self.random_hex(8));
        Via::new(
            self.cfg.transport.via_name(),
            &self.cfg.local_addr.ip().to_string(),
            self.cfg.local_addr.port(),
            &branch,
        )
    }

    /// A fresh client nonce for digest auth.
    pub(super) fn new_cnonce(&mut self) -> String {
        self.random_hex(8)
    }

    /// Our Contact header value.
    pub(super) fn contact(&self) -> String {
        let a = self.cfg.local_addr;
        let host = match a.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        let transport = match self.cfg.transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
        };
        format!(
            "<sip:{}@{host}:{}{transport}>",
            self.cfg.from_user,
            a.port()
        )
    }

    /// Where a request of `call` goes: the call's own destination (a desk phone), else
    /// [`Endpoint::next_hop`].
    pub(super) fn call_hop(&self, call: CallHandle, req: &Request) -> Result<SocketAddr, SipError> {
        match self.calls.get(&call).and_then(|c| c.dest) {
            Some(dest) => Ok(dest),
            None => self.next_hop(req),
        }
    }

    /// Where to send a request: the outbound proxy, else the first Route, else the
    /// Request-URI — resolved only from IP literals (DNS belongs to the I/O shell).
    pub(super) fn next_hop(&self, req: &Request) -> Result<SocketAddr, SipError> {
        if let Some(p) = self.cfg.outbound_proxy {
            return Ok(p);
        }
        let uri = match req.headers.values("Route").first() {
            Some(r) => NameAddr::parse(r)?.uri,
            None => req.uri.clone(),
        };
        uri_addr(&uri).ok_or(SipError::InvalidState(
            "no outbound proxy and the target host is not an IP address",
        ))
    }
}

/// The socket address of a URI whose host is an IP literal.
pub(super) fn uri_addr(uri: &SipUri) -> Option<SocketAddr> {
    let ip: IpAddr = uri.host.parse().ok()?;
    Some(SocketAddr::new(
        ip,
        uri.port.unwrap_or(if uri.secure { 5061 } else { 5060 }),
    ))
}
