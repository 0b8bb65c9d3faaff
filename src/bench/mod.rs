//! `suifang bench …`: benchmarks that print figures (not tests; speed is shown, not asserted).

pub mod bencode;
pub mod calls;
mod calls_report;
pub mod dial;
pub mod escalation;
pub mod gaps;
pub mod harness;
pub mod hl7;
pub mod lines;
pub mod pcap;
pub mod procstat;
pub mod queue;
pub mod relay;
pub mod rtpengine;

/// p-th percentile (0–100) of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
