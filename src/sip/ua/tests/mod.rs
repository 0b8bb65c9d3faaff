//! Endpoint tests: a scripted peer on the other side of the sans-IO boundary. Time is injected,
//! so the timer-driven paths (ring timeout, timer B) run instantly.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;

mod admission;
mod desk;
mod inbound;
mod keepalive;
mod outbound;
mod register;
use crate::media::g711::G711;
use crate::sip::message::{Message, Method, Request, Response};
use crate::sip::negotiate::LocalMedia;
use crate::sip::parse::parse_datagram;
use crate::sip::uri::SipUri;

pub(super) const PEER_SDP: &str = "v=0\r\no=patient 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 16000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

pub(super) struct Harness {
    ep: Endpoint,
    now: Instant,
    peer: SocketAddr,
    sent: Vec<(SocketAddr, Message)>,
    events: Vec<(CallHandle, CallEvent)>,
    registrations: Vec<RegistrationState>,
    trunk_health: Vec<TrunkHealth>,
    registrar_events: Vec<crate::sip::registrar::RegistrarEvent>,
    refused: Vec<(SocketAddr, super::admission::Refusal)>,
}

impl Harness {
    fn new() -> Self {
        Self::with_config(|_| {})
    }

    fn with_config(f: impl FnOnce(&mut EndpointConfig)) -> Self {
        let mut cfg = EndpointConfig::new("127.0.0.1:5060".parse().expect("addr"));
        f(&mut cfg);
        Self {
            ep: Endpoint::with_seed(cfg, 7),
            now: Instant::now(),
            peer: "127.0.0.1:5070".parse().expect("addr"),
            sent: Vec::new(),
            events: Vec::new(),
            registrations: Vec::new(),
            trunk_health: Vec::new(),
            registrar_events: Vec::new(),
            refused: Vec::new(),
        }
    }

    fn media() -> LocalMedia {
        LocalMedia::g711("127.0.0.1".parse().expect("ip"), 20000, 1)
    }

    fn call(&mut self) -> CallHandle {
        let target = SipUri::parse("sip:patient@127.0.0.1:5070").expect("uri");
        let h = self
            .ep
            .place_call(target, Self::media(), self.now)
            .expect("placed");
        self.pump();
        h
    }

    fn pump(&mut self) {
        while let Some(o) = self.ep.poll_output() {
            match o {
                EndpointOutput::Transmit { to, data } => {
                    let m = parse_datagram(&data).expect("we only send valid SIP");
                    self.sent.push((to, m));
                }
                EndpointOutput::Event { call, event } => self.events.push((call, event)),
                EndpointOutput::Registration(state) => self.registrations.push(state),
                EndpointOutput::Registrar(e) => self.registrar_events.push(e),
                EndpointOutput::TrunkHealth(h) => self.trunk_health.push(h),
                EndpointOutput::InviteRefused { source, refusal } => {
                    self.refused.push((source, refusal))
                }
            }
        }
    }

    fn deliver(&mut self, m: &Message) {
        self.ep.handle_datagram(&m.to_bytes(), self.peer, self.now);
        self.pump();
    }

    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.ep.poll_timeout().filter(|t| *t <= end) {
            self.now = t.max(self.now);
            self.ep.handle_timeout(self.now);
            self.pump();
        }
        self.now = end;
    }

    fn take_requests(&mut self, method: Method) -> Vec<Request> {
        let mut out = Vec::new();
        self.sent.retain(|(_, m)| match m {
            Message::Request(r) if r.method == method => {
                out.push(r.clone());
                false
            }
            _ => true,
        });
        out
    }

    fn take_responses(&mut self) -> Vec<Response> {
        let mut out = Vec::new();
        self.sent.retain(|(_, m)| match m {
            Message::Response(r) => {
                out.push(r.clone());
                false
            }
            _ => true,
        });
        out
    }

    fn take_events(&mut self) -> Vec<CallEvent> {
        self.events.drain(..).map(|(_, e)| e).collect()
    }

    fn last_invite(&mut self) -> Request {
        self.take_requests(Method::Invite)
            .pop()
            .expect("an INVITE was sent")
    }

    fn reply(&mut self, req: &Request, status: u16, sdp: bool) {
        let mut r = Response::for_request(req, status, Some("peer"));
        if status < 300 {
            r.headers.push("Contact", "<sip:patient@127.0.0.1:5070>");
        }
        if sdp {
            r.headers.push("Content-Type", "application/sdp");
            r.body = PEER_SDP.as_bytes().to_vec();
        }
        self.deliver(&Message::Response(r));
    }

    /// Places a call and lets the peer answer it.
    fn answered(&mut self) -> (CallHandle, Request) {
        let h = self.call();
        let inv = self.last_invite();
        self.reply(&inv, 200, true);
        self.take_requests(Method::Ack);
        self.take_events();
        (h, inv)
    }

    /// A request from the peer inside the dialog of `inv`.
    fn peer_request(&self, inv: &Request, method: Method, seq: u32, sdp: Option<&str>) -> Request {
        let from = inv.from_addr().expect("from");
        let mut r = Request::new(
            method.clone(),
            SipUri::parse("sip:suifang@127.0.0.1:5060").expect("uri"),
        );
        r.headers.push(
            "Via",
            format!("SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKpeer{seq}"),
        );
        r.headers
            .push("From", "<sip:patient@127.0.0.1:5070>;tag=peer");
        r.headers.push("To", from.to_string());
        r.headers.push("Call-ID", inv.call_id().expect("call-id"));
        r.headers.push("CSeq", format!("{seq} {method}"));
        r.headers.push("Contact", "<sip:patient@127.0.0.1:5070>");
        if let Some(s) = sdp {
            r.headers.push("Content-Type", "application/sdp");
            r.body = s.as_bytes().to_vec();
        }
        r
    }
}
