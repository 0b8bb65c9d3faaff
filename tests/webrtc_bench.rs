//! CPU per agent line (ignored by default: it measures, it does not check behaviour).
//! `SUIFANG_BENCH_LINES=20 SUIFANG_BENCH_SECONDS=10 cargo test --release --test webrtc_bench -- --ignored --nocapture`

#[test]
#[ignore = "benchmark; run with --ignored"]
fn cpu_per_webrtc_line() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let lines = env("SUIFANG_BENCH_LINES", 10) as usize;
    let seconds = env("SUIFANG_BENCH_SECONDS", 10);
    let report = suifang::webrtc::bench::run(lines, seconds).expect("bench run");
    println!("{}", serde_json::to_string(&report).expect("json"));
    assert!(report.frames_heard > 0, "no audio came back: {report:?}");
}
