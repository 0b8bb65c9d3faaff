//! Answer saved → escalation pushed to a connected doctor, through the real HTTP server:
//! a nurse's autosave (PUT) and the doctor's live stream (SSE) over loopback.

use std::time::{Duration, Instant};

use super::harness::{err, BenchError, DemoServer};
use super::percentile;

pub async fn run(n: usize) -> Result<(), BenchError> {
    let server = DemoServer::start("esc", |c| c.transcription.enabled = false).await?;
    let (base, client) = (server.base.clone(), server.client.clone());
    let nurse = server.login("nurse", "nurse-demo-1").await?;
    let doctor = server.login("doctor", "doctor-demo-1").await?;

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Instant>(16);
    let mut stream = client
        .get(format!("{base}/api/v1/events"))
        .header("Cookie", &doctor)
        .send()
        .await
        .map_err(err)?;
    tokio::spawn(async move {
        let mut pending = String::new();
        while let Ok(Some(chunk)) = stream.chunk().await {
            pending.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = pending.find('\n') {
                let line: String = pending.drain(..=end).collect();
                if line.trim_end() == "event: escalation.opened"
                    && tx.send(Instant::now()).await.is_err()
                {
                    return;
                }
            }
        }
    });
    let claim: serde_json::Value = client
        .post(format!("{base}/api/v1/queue/claim"))
        .header("Cookie", &nurse)
        .send()
        .await
        .map_err(err)?
        .json()
        .await
        .map_err(err)?;
    let task = claim["task"]["id"]
        .as_i64()
        .ok_or_else(|| err(format!("claim failed: {claim}")))?;
    if claim["task"]["script_code"] != "stroke" {
        return Err(err("expected the demo's stroke task first"));
    }
    let put = |value: &'static str| {
        client
            .put(format!("{base}/api/v1/tasks/{task}/answers/balance"))
            .header("Cookie", &nurse)
            .header("Content-Type", "application/json")
            .body(format!(r#"{{"value":{value}}}"#))
            .send()
    };
    eprintln!("bench escalation: {n} answers …");
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        let saved: serde_json::Value = put("true").await.map_err(err)?.json().await.map_err(err)?;
        let id = saved["escalations"][0]["id"]
            .as_i64()
            .ok_or_else(|| err(format!("answer {i} did not escalate: {saved}")))?;
        let arrived = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .map_err(|_| err(format!("no push for answer {i}")))?
            .ok_or_else(|| err("event stream ended"))?;
        latencies.push((arrived - start).as_secs_f64() * 1000.0);
        // close it so the next abnormal answer opens a new one
        client
            .post(format!("{base}/api/v1/escalations/{id}/resolve"))
            .header("Cookie", &doctor)
            .header("Content-Type", "application/json")
            .body(r#"{"action":"call_patient","note":"bench"}"#)
            .send()
            .await
            .map_err(err)?;
        put("false").await.map_err(err)?;
    }
    latencies.sort_by(f64::total_cmp);
    println!("suifang bench escalation ({n} abnormal answers, HTTP autosave → SSE push to the on-duty doctor)");
    println!(
        "  answer saved → pushed: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (goal p99 < 100 ms)",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    server.stop().await;
    Ok(())
}
