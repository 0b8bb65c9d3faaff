//! A demo server started in the bench's own process (real HTTP on loopback, real SIP/RTP
//! sockets), so a bench can also reach its internals (agent lines) and measure by thread.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::api::AppState;
use crate::config::Config;
use crate::server::{prepare, serve};

#[derive(Debug, thiserror::Error)]
#[error("bench: {0}")]
pub struct BenchError(pub String);

pub fn err(e: impl std::fmt::Display) -> BenchError {
    BenchError(e.to_string())
}

/// A running demo server; [`DemoServer::stop`] ends it and removes its data.
pub struct DemoServer {
    pub state: AppState,
    pub base: String,
    pub client: reqwest::Client,
    dir: PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    join: tokio::task::JoinHandle<Result<(), crate::server::ServerError>>,
}

/// A fixed-offset zone where it is now around noon, so benches can claim tasks at any hour
/// (claims outside calling hours are refused).
pub fn midday_zone(now: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike;
    match 12 - i64::from(now.hour()) {
        0 => "Etc/GMT".into(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    }
}

impl DemoServer {
    /// Seeds the demo data and serves on a free port; `tweak` adjusts the config first.
    pub async fn start(
        name: &str,
        tweak: impl FnOnce(&mut Config),
    ) -> Result<DemoServer, BenchError> {
        let dir = std::env::temp_dir().join(format!("suifang-bench-{name}-{}", std::process::id()));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(err)?
            .port();
        let mut config = Config {
            data_dir: dir.clone(),
            ..Config::default()
        };
        config.http.addr = SocketAddr::from(([127, 0, 0, 1], port));
        config.auth.login_max_failures = 1000;
        config.hospital.time_zone = midday_zone(chrono::Utc::now());
        config.sip.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        tweak(&mut config);
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
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let join = tokio::spawn(serve(prepared, async move {
            let _ = stop_rx.await;
        }));
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client
                .get(format!("{base}/api/v1/health"))
                .send()
                .await
                .is_ok()
            {
                return Ok(DemoServer {
                    state,
                    base,
                    client,
                    dir,
                    stop,
                    join,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(err("server did not start"))
    }

    /// Logs in; returns the `Cookie` header value.
    pub async fn login(&self, user: &str, password: &str) -> Result<String, BenchError> {
        let resp = self
            .client
            .post(format!("{}/api/v1/session", self.base))
            .json(&serde_json::json!({"username": user, "password": password}))
            .send()
            .await
            .map_err(err)?;
        let cookie = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| err(format!("login {user}: no session cookie")))?;
        Ok(cookie.split(';').next().unwrap_or_default().to_string())
    }

    /// A JSON request as `cookie`; returns (status, body).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(u16, serde_json::Value), BenchError> {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("Cookie", cookie);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(err)?;
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(serde_json::Value::Null);
        Ok((status, body))
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.join.await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Timelike};

    #[test]
    fn the_midday_zone_is_at_noon_every_hour() {
        for hour in 0..24 {
            let now = chrono::Utc
                .with_ymd_and_hms(2026, 11, 25, hour, 30, 0)
                .unwrap();
            let tz: chrono_tz::Tz = super::midday_zone(now).parse().unwrap();
            assert_eq!(now.with_timezone(&tz).hour(), 12, "at {hour}:30 UTC");
        }
    }
}
