//! The printed report of `suifang bench calls`: each relay's figures, then ratios.

use super::relay::{CallsBenchOptions, RelayFigures};
use super::rtpengine;

pub(super) fn print_report(
    opts: &CallsBenchOptions,
    ours: &RelayFigures,
    theirs: Option<&Result<RelayFigures, rtpengine::RtpengineError>>,
    load_before: Option<f64>,
    load_after: Option<f64>,
) {
    println!(
        "suifang bench calls: {} calls × 2 legs, {} s window, ramp {}/s; load average {:.2} before, {:.2} after ({} CPUs)",
        opts.calls,
        opts.seconds,
        opts.rate,
        load_before.unwrap_or(f64::NAN),
        load_after.unwrap_or(f64::NAN),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    print_relay(
        "suifang (decode, jitter buffer, bridge, re-encode, stereo WAV)",
        ours,
    );
    let Some(theirs) = theirs else {
        return;
    };
    match theirs {
        Err(e) => println!("rtpengine: skipped — {e}"),
        Ok(r) => {
            print_relay("rtpengine (userspace relay, --table=-1, pcap recording)", r);
            let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
            println!(
                "ratio suifang / rtpengine: CPU per call {:.2}×, RSS per call {:.2}×, packets out {:.2}×",
                ratio(ours.cpu_per_call(), r.cpu_per_call()),
                ratio(ours.rss_per_call(), r.rss_per_call()),
                ratio(ours.packets_out as f64, r.packets_out as f64)
            );
        }
    }
}

fn print_relay(title: &str, r: &RelayFigures) {
    let pps = |p: u64| p as f64 / r.window_seconds.max(1e-9);
    println!("{title}");
    println!(
        "  calls established {}; CPU {:.2} s over {:.1} s = {:.3} % of a core per call; RSS +{:.1} MiB = {:.0} KiB per call",
        r.calls_established,
        r.cpu_seconds,
        r.window_seconds,
        100.0 * r.cpu_per_call(),
        r.rss_growth as f64 / 1_048_576.0,
        r.rss_per_call() / 1024.0
    );
    println!(
        "  RTP in {} ({:.0}/s), out {} ({:.0}/s); expected {:.0}/s each way",
        r.packets_in,
        pps(r.packets_in),
        r.packets_out,
        pps(r.packets_out),
        r.calls_established as f64 * 2.0 * 50.0
    );
    match &r.pcap {
        None => println!(
            "  recorded gaps: left {} frames in {} runs, right {} frames in {} runs, over {} recordings ({} + {} frames checked)",
            r.left.frames,
            r.left.runs,
            r.right.frames,
            r.right.runs,
            r.recordings,
            r.left.audio_frames,
            r.right.audio_frames
        ),
        Some((t, files)) => println!(
            "  recorded gaps: {} sequence jumps (20 ms frames lost or reordered) in {} streams; {} packets in {files} pcap files (packets are recorded when they arrive, not on a 20 ms clock)",
            t.missing, t.streams, t.packets
        ),
    }
    for note in &r.notes {
        println!("  {note}");
    }
}
