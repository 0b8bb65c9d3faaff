//! Prometheus metrics (`GET /metrics`, text exposition format 0.0.4) on a separate address,
//! `http.metrics_addr`: what an operator alerts on at the edge — INVITEs refused by reason,
//! desk-phone credentials refused and lock-outs, calls up, RTP in/out and dropped by the
//! latch, legs gone silent, recordings that failed. It has no login, so it listens only where
//! it is told to (loopback or the management network), never on the console's address.

use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;

use crate::telephony::CallCenter;

/// The figures one scrape shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    pub refused_untrusted: u64,
    pub refused_too_many_calls: u64,
    pub refused_rate_limited: u64,
    pub auth_failures: u64,
    pub lockouts: u64,
    pub active_calls: u64,
    pub rtp_in: u64,
    pub rtp_out: u64,
    pub rtp_latch_dropped: u64,
    pub silent_legs: u64,
    pub recording_failures: u64,
}

impl Figures {
    /// Reads the call center's tallies now.
    pub fn of(calls: &CallCenter) -> Figures {
        let status = calls.status();
        let media = calls.media_counters();
        let m = media.snapshot();
        let (auth_failures, lockouts, recording_failures) = calls.sip_counters().edge();
        Figures {
            refused_untrusted: status.refused_invites.untrusted_source,
            refused_too_many_calls: status.refused_invites.too_many_calls,
            refused_rate_limited: status.refused_invites.rate_limited,
            auth_failures,
            lockouts,
            active_calls: status.live_calls as u64,
            rtp_in: m.rtp_in,
            rtp_out: m.rtp_out,
            rtp_latch_dropped: media.latch_dropped_total(),
            silent_legs: media.silent_legs(),
            recording_failures,
        }
    }

    /// The Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, rows: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in rows {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        metric(
            "suifang_sip_invites_refused_total",
            "counter",
            "New INVITEs refused at the door (sip.trunk / sip.trunk_allow, caps).",
            &[
                ("{reason=\"untrusted_source\"}", self.refused_untrusted),
                ("{reason=\"too_many_calls\"}", self.refused_too_many_calls),
                ("{reason=\"rate_limited\"}", self.refused_rate_limited),
            ],
        );
        metric(
            "suifang_sip_auth_failures_total",
            "counter",
            "Desk-phone credentials refused by the registrar.",
            &[("", self.auth_failures)],
        );
        metric(
            "suifang_sip_lockouts_total",
            "counter",
            "Desk-phone attempts refused unchecked during a lock-out.",
            &[("", self.lockouts)],
        );
        metric(
            "suifang_calls_active",
            "gauge",
            "Calls up now.",
            &[("", self.active_calls)],
        );
        metric(
            "suifang_rtp_packets_total",
            "counter",
            "RTP packets taken in (after the latch) and sent.",
            &[
                ("{direction=\"in\"}", self.rtp_in),
                ("{direction=\"out\"}", self.rtp_out),
            ],
        );
        metric(
            "suifang_rtp_latch_dropped_total",
            "counter",
            "RTP packets dropped for coming from another address than the SDP named.",
            &[("", self.rtp_latch_dropped)],
        );
        metric(
            "suifang_calls_silent_legs_total",
            "counter",
            "Answered calls whose patient side stayed silent past sip.silence_alert_seconds.",
            &[("", self.silent_legs)],
        );
        metric(
            "suifang_recording_failures_total",
            "counter",
            "Recordings stopped before their call (disk full, I/O error).",
            &[("", self.recording_failures)],
        );
        out
    }
}

/// Serves `/metrics` on `addr` until `shutdown` resolves; returns the bound address at once.
pub async fn serve(
    addr: SocketAddr,
    calls: CallCenter,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let calls = calls.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    Figures::of(&calls).render(),
                )
            }
        }),
    );
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "metrics listener failed");
        }
    });
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_has_help_type_and_labelled_samples() {
        let text = Figures {
            refused_untrusted: 5000,
            lockouts: 2,
            active_calls: 3,
            ..Figures::default()
        }
        .render();
        assert!(text.contains("# TYPE suifang_sip_invites_refused_total counter\n"));
        assert!(
            text.contains("suifang_sip_invites_refused_total{reason=\"untrusted_source\"} 5000\n")
        );
        assert!(text.contains("suifang_sip_lockouts_total 2\n"));
        assert!(text.contains("# TYPE suifang_calls_active gauge\nsuifang_calls_active 3\n"));
        // every sample line is `name{labels} value` or `name value`
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').expect("name value");
            assert!(name.starts_with("suifang_"), "{line}");
            value.parse::<u64>().expect("an integer value");
        }
    }
}
