//! UPDATE (RFC 3311) and session-timer refreshes (RFC 4028) from the other side of a dialog.
//!
//! Carriers refresh long calls every 90 s to 30 min with a re-INVITE or an UPDATE carrying
//! `Session-Expires`; a call center that answers UPDATE with 405 (as suifang did) gets its calls
//! torn down mid-conversation by the carrier's session timer. An UPDATE may also carry a new
//! SDP offer that moves the media, like a re-INVITE, without the three-way handshake.

use std::time::Instant;

use super::endpoint::{CallEvent, Endpoint};
use super::uas::unusable_offer;
use crate::sip::message::{Request, Response};
use crate::sip::transaction::TxKey;

impl Endpoint {
    /// An UPDATE inside a dialog: 200 (with an SDP answer when it offered one), the media moved
    /// if the offer names new media; the session timer's headers echoed.
    pub(super) fn on_update(&mut self, req: Request, key: TxKey, now: Instant) {
        let Some(call) = self.find_dialog_call(&req) else {
            return self.respond(&key, Response::for_request(&req, 481, None), now);
        };
        let ordered = self
            .calls
            .get_mut(&call)
            .and_then(|c| c.dialog.as_mut())
            .is_some_and(|d| d.accept_remote_seq(&req));
        if !ordered {
            return self.respond(&key, Response::for_request(&req, 500, None), now);
        }
        let media = match self.remote_media(&req.body, self.call_srtp(call)) {
            Ok(m) => m,
            Err(e) => return self.respond(&key, unusable_offer(&req, &e), now),
        };
        let contact = self.contact();
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let mut r = Response::for_request(&req, 200, None);
        r.headers.push("Contact", contact);
        r.headers.push("Allow", super::uas::ALLOW);
        echo_session_timer(&req, &mut r);
        if let Some(m) = &media {
            c.local_media.session_version += 1;
            r.headers.push("Content-Type", "application/sdp");
            r.body = c.local_media.answer(m).to_string().into_bytes();
            c.media = Some(m.clone());
        }
        self.respond(&key, r, now);
        if let Some(m) = media {
            self.emit(call, CallEvent::MediaChanged { media: m });
        }
    }
}

/// Puts the session timer a refresh asked for into our 2xx (RFC 4028 §9): the same
/// `Session-Expires` (the other side refreshes unless it named us), and `Require: timer` when
/// it said it supports timers.
pub(super) fn echo_session_timer(req: &Request, r: &mut Response) {
    let Some(expires) = req.headers.get("Session-Expires").map(str::trim) else {
        return;
    };
    let value = if expires.contains("refresher=") {
        expires.to_owned()
    } else {
        format!("{expires};refresher=uac")
    };
    r.headers.push("Session-Expires", value);
    let supports_timer = req
        .headers
        .values("Supported")
        .iter()
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("timer")));
    if supports_timer {
        r.headers.push("Require", "timer");
    }
}
