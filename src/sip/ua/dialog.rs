//! Dialog state (RFC 3261 §12) and the in-dialog requests built from it.

use crate::sip::hdr::Via;
use crate::sip::message::{Method, Request, Response};
use crate::sip::uri::{NameAddr, SipUri};
use crate::sip::SipError;

/// Everything needed to send requests within a dialog and to recognise requests for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    /// Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// Their tag (empty for an early dialog without one).
    pub remote_tag: String,
    /// Our From/To address (with our tag).
    pub local: NameAddr,
    /// Their From/To address (with their tag).
    pub remote: NameAddr,
    /// Last CSeq number we used (§12.2.1.1).
    pub local_seq: u32,
    /// Highest CSeq number seen from them, to reject out-of-order requests (§12.2.2).
    pub remote_seq: Option<u32>,
    /// Where in-dialog requests go: their Contact (§12.1.2).
    pub remote_target: SipUri,
    /// Route set from Record-Route, in the order to put in Route headers.
    pub route_set: Vec<String>,
}

impl Dialog {
    /// Builds the dialog of a UAC from the 1xx/2xx that carries a To tag (§12.1.2):
    /// route set is Record-Route reversed, remote target is the response's Contact.
    pub fn from_uac_response(invite: &Request, resp: &Response) -> Result<Self, SipError> {
        let local = invite.from_addr()?;
        let remote = resp.to_addr()?;
        let remote_target = match resp.headers.values("Contact").first() {
            Some(c) => NameAddr::parse(c)?.uri,
            None => invite.uri.clone(),
        };
        let mut route_set: Vec<String> = resp
            .headers
            .values("Record-Route")
            .into_iter()
            .map(str::to_owned)
            .collect();
        route_set.reverse();
        Ok(Self {
            call_id: invite.call_id()?.to_owned(),
            local_tag: local.tag().unwrap_or_default().to_owned(),
            remote_tag: remote.tag().unwrap_or_default().to_owned(),
            local,
            remote,
            local_seq: invite.cseq()?.seq,
            remote_seq: None,
            remote_target,
            route_set,
        })
    }

    /// Builds the dialog of a UAS from the INVITE it answers with `local_tag` (§12.1.1):
    /// route set is Record-Route in order, remote target is the request's Contact.
    pub fn from_uas_request(invite: &Request, local_tag: &str) -> Result<Self, SipError> {
        let remote = invite.from_addr()?;
        let mut local = invite.to_addr()?;
        local.set_tag(local_tag);
        let remote_target = match invite.headers.values("Contact").first() {
            Some(c) => NameAddr::parse(c)?.uri,
            None => return Err(SipError::MissingHeader("Contact")),
        };
        Ok(Self {
            call_id: invite.call_id()?.to_owned(),
            local_tag: local_tag.to_owned(),
            remote_tag: remote.tag().unwrap_or_default().to_owned(),
            local,
            remote,
            local_seq: 0,
            remote_seq: Some(invite.cseq()?.seq),
            remote_target,
            route_set: invite
                .headers
                .values("Record-Route")
                .into_iter()
                .map(str::to_owned)
                .collect(),
        })
    }

    /// True when `req` belongs to this dialog (Call-ID and both tags, §12.2.2).
    pub fn matches_request(&self, req: &Request) -> bool {
        let (Ok(call_id), Ok(from), Ok(to)) = (req.call_id(), req.from_addr(), req.to_addr())
        else {
            return false;
        };
        call_id == self.call_id
            && to.tag() == Some(self.local_tag.as_str())
            && from.tag().unwrap_or_default() == self.remote_tag
    }

    /// Checks and records the CSeq of an incoming in-dialog request (§12.2.2: lower than the
    /// last one → 500). ACK and CANCEL reuse their INVITE's number and are not checked.
    pub fn accept_remote_seq(&mut self, req: &Request) -> bool {
        if matches!(req.method, Method::Ack | Method::Cancel) {
            return true;
        }
        let Ok(cseq) = req.cseq() else { return false };
        if self.remote_seq.is_some_and(|s| cseq.seq <= s) {
            return false;
        }
        self.remote_seq = Some(cseq.seq);
        true
    }

    /// A new in-dialog request with the next CSeq (§12.2.1.1); `via` carries a fresh branch.
    pub fn request(&mut self, method: Method, via: &Via, max_forwards: u8) -> Request {
        let seq = if method == Method::Ack {
            self.local_seq
        } else {
            self.local_seq += 1;
            self.local_seq
        };
        self.request_with_seq(method, seq, via, max_forwards)
    }

    /// ACK for a 2xx (§13.2.2.4): its own branch, the INVITE's CSeq number.
    pub fn ack(&self, invite_seq: u32, via: &Via) -> Request {
        self.request_with_seq(Method::Ack, invite_seq, via, 70)
    }

    fn request_with_seq(&self, method: Method, seq: u32, via: &Via, max_forwards: u8) -> Request {
        let mut r = Request::new(method.clone(), self.remote_target.clone());
        r.headers.push("Via", via.to_string());
        r.headers.push("Max-Forwards", max_forwards.to_string());
        r.headers.push("From", self.local.to_string());
        r.headers.push("To", self.remote.to_string());
        r.headers.push("Call-ID", self.call_id.clone());
        r.headers.push("CSeq", format!("{seq} {method}"));
        for route in &self.route_set {
            r.headers.push("Route", route.clone());
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::parse::parse_datagram;
    use crate::sip::Message;

    fn invite() -> Request {
        let text = "INVITE sip:p@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:n@10.0.0.1>;tag=L\r\nTo: <sip:p@10.0.0.2>\r\nCall-ID: c1\r\nCSeq: 5 INVITE\r\nContact: <sip:n@10.0.0.1:5060>\r\nRecord-Route: <sip:p1;lr>, <sip:p2;lr>\r\nContent-Length: 0\r\n\r\n";
        match parse_datagram(text.as_bytes()).expect("valid") {
            Message::Request(r) => r,
            Message::Response(_) => panic!("request expected"),
        }
    }

    #[test]
    fn uac_dialog_from_200() {
        let inv = invite();
        let mut ok = Response::for_request(&inv, 200, Some("R"));
        ok.headers.push("Contact", "<sip:p@10.0.0.9:5070>");
        ok.headers.push("Record-Route", "<sip:p1;lr>, <sip:p2;lr>");
        let mut d = Dialog::from_uac_response(&inv, &ok).expect("dialog");
        assert_eq!(
            (d.local_tag.as_str(), d.remote_tag.as_str(), d.local_seq),
            ("L", "R", 5)
        );
        assert_eq!(
            d.route_set,
            vec!["<sip:p2;lr>", "<sip:p1;lr>"],
            "reversed for the UAC"
        );
        let via = Via::new("UDP", "10.0.0.1", 5060, "z9hG4bKbye");
        let bye = d.request(Method::Bye, &via, 70);
        assert_eq!(bye.uri.to_string(), "sip:p@10.0.0.9:5070");
        assert_eq!(bye.cseq().expect("cseq").seq, 6);
        assert_eq!(bye.to_addr().expect("to").tag(), Some("R"));
        assert_eq!(
            bye.headers.values("Route"),
            vec!["<sip:p2;lr>", "<sip:p1;lr>"]
        );
        let ack = d.ack(5, &via);
        assert_eq!(ack.cseq().expect("cseq").to_string(), "5 ACK");
    }

    #[test]
    fn uas_dialog_matches_and_orders_cseq() {
        let inv = invite();
        let mut d = Dialog::from_uas_request(&inv, "S").expect("dialog");
        assert_eq!(d.route_set, vec!["<sip:p1;lr>", "<sip:p2;lr>"]);
        assert_eq!(d.remote_target.to_string(), "sip:n@10.0.0.1:5060");
        let mut bye = Request::new(Method::Bye, SipUri::parse("sip:x@h").expect("uri"));
        bye.headers
            .push("Via", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK2");
        bye.headers.push("From", "<sip:n@10.0.0.1>;tag=L");
        bye.headers.push("To", "<sip:p@10.0.0.2>;tag=S");
        bye.headers.push("Call-ID", "c1");
        bye.headers.push("CSeq", "6 BYE");
        assert!(d.matches_request(&bye));
        assert!(d.accept_remote_seq(&bye));
        assert!(
            !d.accept_remote_seq(&bye),
            "same CSeq again is out of order"
        );
        bye.headers.set("To", "<sip:p@10.0.0.2>;tag=OTHER");
        assert!(!d.matches_request(&bye));
        let mut no_contact = inv.clone();
        no_contact.headers.remove("Contact");
        assert!(Dialog::from_uas_request(&no_contact, "S").is_err());
    }
}
