//! Answer saved → escalation pushed to a connected doctor, through the real HTTP server:
//! a nurse's autosave (PUT) and the doctor's live stream (SSE) over loopback.

use std::time::{Duration, Instant};

use super::percentile;
use crate::config::Config;
use crate::server::{prepare, serve};

#[derive(Debug, thiserror::Error)]
#[error("bench escalation: {0}")]
pub struct BenchError(String);

fn err(e: impl std::fmt::Display) -> BenchError {
    BenchError(e.to_string())
}

async fn login(
    client: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> Result<String, BenchError> {
    let resp = client
        .post(format!("{base}/api/v1/session"))
        .header("Content-Type", "application/json")
        .body(format!(
            r#"{{"username":"{user}","password":"{password}"}}"#
        ))
        .send()
        .await
        .map_err(err)?;
    let cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| err("no session cookie"))?;
    Ok(cookie.split(';').next().unwrap_or_default().to_string())
}

/// Runs `n` answer → push round trips and prints p50/p99.
pub async fn run(n: usize) -> Result<(), BenchError> {
    let dir = std::env::temp_dir().join(format!("suifang-bench-esc-{}", std::process::id()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(err)?
        .port();
    let mut config = Config {
        data_dir: dir.clone(),
        ..Config::default()
    };
    config.http.addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    config.auth.login_max_failures = 1000;
    let prepared = prepare(config).map_err(err)?;
    let state = prepared.state.clone();
    let seeding = state.clone();
    tokio::task::spawn_blocking(move || {
        crate::demo::seed(
            &seeding.store,
            &seeding.pathways,
            &seeding.calendar,
            seeding.clock.now(),
        )
    })
    .await
    .map_err(err)?
    .map_err(err)?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(prepared, async move {
        let _ = stop_rx.await;
    }));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if client
            .get(format!("{base}/api/v1/health"))
            .send()
            .await
            .is_ok()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !ready {
        return Err(err("server did not start"));
    }
    let nurse = login(&client, &base, "nurse", "nurse-demo-1").await?;
    let doctor = login(&client, &base, "doctor", "doctor-demo-1").await?;

    // The doctor's console: every "escalation.opened" line is timestamped on arrival.
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
    let _ = stop_tx.send(());
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
