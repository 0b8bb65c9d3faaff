//! What both relays of `bench calls` (suifang's call engine and rtpengine) are measured with:
//! the options, the figures, the tones the phones stream.

use std::net::UdpSocket as StdUdpSocket;

use super::gaps::ChannelGaps;
use super::pcap::PcapTally;

/// Agent and patient tones (DTMF row/column-free, not harmonics of each other).
pub const AGENT_HZ: f64 = 425.0;
pub const PATIENT_HZ: f64 = 697.0;

/// What to run.
#[derive(Debug, Clone)]
pub struct CallsBenchOptions {
    /// Concurrent calls (each two legs).
    pub calls: usize,
    /// Length of the measured window once every call is up.
    pub seconds: u64,
    /// Calls placed per second while ramping up (SIP bursts make UDP drop INVITEs).
    pub rate: u32,
    /// Also run rtpengine under the same load.
    pub compare_rtpengine: bool,
    /// Keep the work directory (recordings, sipp logs, pcaps) instead of deleting it.
    pub keep: bool,
}

/// One relay's figures.
#[derive(Debug, Clone, Default)]
pub struct RelayFigures {
    pub calls_established: usize,
    pub window_seconds: f64,
    pub cpu_seconds: f64,
    /// Resident memory growth over the idle process, bytes.
    pub rss_growth: u64,
    /// RTP packets into / out of the relay during the window.
    pub packets_in: u64,
    pub packets_out: u64,
    /// Recorded gaps (left, right) over all recordings, and how many recordings were checked.
    pub left: ChannelGaps,
    pub right: ChannelGaps,
    pub recordings: usize,
    /// For a relay that records RTP as pcap: what the pcaps hold (instead of WAV gaps).
    pub pcap: Option<(PcapTally, usize)>,
    /// Lines to print under the figures (counters, failures).
    pub notes: Vec<String>,
}

impl RelayFigures {
    /// Fraction of one core per call.
    pub fn cpu_per_call(&self) -> f64 {
        self.cpu_seconds / self.window_seconds.max(1e-9) / self.calls_established.max(1) as f64
    }

    pub fn rss_per_call(&self) -> f64 {
        self.rss_growth as f64 / self.calls_established.max(1) as f64
    }
}

/// A UDP port that was free a moment ago.
pub fn free_udp_port() -> std::io::Result<u16> {
    Ok(StdUdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}
