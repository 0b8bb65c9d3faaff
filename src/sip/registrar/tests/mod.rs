//! Registrar tests: requests built by hand, answers computed by our own client side
//! ([`Challenge`]) and once by hand, time injected.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::sip::auth::Challenge;
use crate::sip::uri::{find_param, NameAddr};

mod auth;
mod bindings;

const PASSWORD: &str = "desk-phone-1001";

struct Rig {
    reg: Registrar,
    now: Instant,
    phone: SocketAddr,
    cseq: u32,
}

fn account(user_id: i64, ext: &str, password: &str) -> AgentAccount {
    AgentAccount {
        user_id,
        extension: ext.into(),
        ha1: Ha1::compute(ext, "suifang", password),
    }
}

impl Rig {
    fn new() -> Rig {
        Self::with(RegistrarConfig::default())
    }

    /// Both algorithms are offered in these tests (SHA-256 first), unless `cfg` says otherwise.
    fn with(mut cfg: RegistrarConfig) -> Rig {
        if cfg.algorithms == RegistrarConfig::default().algorithms {
            cfg.algorithms = vec![Algorithm::Sha256, Algorithm::Md5];
        }
        let now = Instant::now();
        let mut reg = Registrar::with_seed(cfg, 11, now);
        reg.set_accounts(vec![
            account(7, "1001", PASSWORD),
            account(8, "1002", "other-secret-2"),
        ]);
        Rig {
            reg,
            now,
            phone: "127.0.0.1:5099".parse().expect("addr"),
            cseq: 0,
        }
    }

    /// A REGISTER for `ext` from the phone with `headers` on top of the mandatory ones.
    fn register(&mut self, ext: &str, headers: &[(&str, &str)]) -> Request {
        self.cseq += 1;
        let mut r = Request::new(
            Method::Register,
            SipUri::parse("sip:127.0.0.1").expect("uri"),
        );
        r.headers.push(
            "Via",
            format!("SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-{}", self.cseq),
        );
        r.headers
            .push("From", format!("<sip:{ext}@127.0.0.1>;tag=ph{ext}"));
        r.headers.push("To", format!("<sip:{ext}@127.0.0.1>"));
        r.headers.push("Call-ID", format!("reg-{ext}@phone"));
        r.headers.push("CSeq", format!("{} REGISTER", self.cseq));
        r.headers.push("User-Agent", "baresip v1.0.0");
        for (k, v) in headers {
            r.headers.push(k, *v);
        }
        r
    }

    fn send(&mut self, req: &Request) -> Response {
        self.reg.handle_register(req, self.phone, self.now)
    }

    fn events(&mut self) -> Vec<RegistrarEvent> {
        std::iter::from_fn(|| self.reg.poll_event()).collect()
    }

    /// Registers `ext` with `password`, answering the first challenge of `alg` (MD5 or
    /// SHA-256) with nonce-count `nc`.
    fn register_with(
        &mut self,
        ext: &str,
        password: &str,
        alg: &str,
        headers: &[(&str, &str)],
    ) -> Response {
        let first = self.register(ext, headers);
        let challenge = self.send(&first);
        assert_eq!(challenge.status, 401, "{challenge:?}");
        let req = self.answer(&challenge, ext, password, alg, 1, headers);
        self.send(&req)
    }

    /// Answers `challenge` (its `alg` offer) with a new REGISTER.
    fn answer(
        &mut self,
        challenge: &Response,
        ext: &str,
        password: &str,
        alg: &str,
        nc: u32,
        headers: &[(&str, &str)],
    ) -> Request {
        let offer = challenge
            .headers
            .values("WWW-Authenticate")
            .into_iter()
            .find(|v| v.contains(&format!("algorithm={alg},")))
            .unwrap_or_else(|| panic!("no {alg} offer in {challenge:?}"))
            .to_owned();
        let c = Challenge::parse(&offer).expect("our challenge parses");
        let mut req = self.register(ext, headers);
        let auth = c.authorization(ext, password, "REGISTER", "sip:127.0.0.1", "cn0nce", nc);
        req.headers.push("Authorization", auth);
        req
    }
}

fn contact_expires(r: &Response) -> Vec<(String, u64)> {
    r.headers
        .values("Contact")
        .iter()
        .map(|c| {
            let n = NameAddr::parse(c).expect("contact");
            let e = find_param(&n.params, "expires")
                .flatten()
                .and_then(|v| v.parse().ok())
                .expect("expires param");
            (n.uri.to_string(), e)
        })
        .collect()
}
