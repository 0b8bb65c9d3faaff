//! Logins: the attempt limit holds under concurrency, oversized credentials are refused before
//! any hashing, and `X-Forwarded-For` is believed only from a configured proxy.

use std::sync::{Arc, Barrier};

use crate::common::{Client, Server};

/// A wrong login with an explicit `X-Forwarded-For`, returning the status.
fn login_status(server: &Server, username: &str, password: &str, xff: Option<&str>) -> u16 {
    let mut req = ureq::post(&server.url("/api/v1/session"));
    if let Some(xff) = xff {
        req = req.set("X-Forwarded-For", xff);
    }
    match req.send_json(serde_json::json!({"username": username, "password": password})) {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("login: {e}"),
    }
}

#[test]
fn parallel_wrong_logins_each_count_against_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(Server::start(dir.path(), "demo", &[]));
    let start = Arc::new(Barrier::new(50));
    let statuses: Vec<u16> = (0..50)
        .map(|_| {
            let (server, start) = (server.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                login_status(&server, "nurse", "wrong-password", None)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (checked, limited),
        (5, 45),
        "auth.login_max_failures = 5 guesses, however many arrive at once: {statuses:?}"
    );
    assert_eq!(login_status(&server, "nurse", "nurse-demo-1", None), 429);
}

#[test]
fn oversized_credentials_are_refused_before_hashing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "demo", &[]);
    let anon = Client::anonymous(&server);
    let long_password = anon.post(
        "/api/v1/session",
        serde_json::json!({"username": "nurse", "password": "x".repeat(1024 * 1024)}),
    );
    assert_eq!(long_password.status, 422, "{}", long_password.body);
    assert_eq!(long_password.body["error"]["field"], "password");
    let long_name = anon.post(
        "/api/v1/session",
        serde_json::json!({"username": "n".repeat(10_000), "password": "nurse-demo-1"}),
    );
    assert_eq!(long_name.status, 422, "{}", long_name.body);
    assert_eq!(long_name.body["error"]["field"], "username");
    // neither was a guess: the real password still works
    Client::login(&server, "nurse", "nurse-demo-1");
}

#[test]
fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    // No proxy configured: a client rotating X-Forwarded-For is still one address.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "demo", &[]);
    for i in 0..5 {
        let xff = format!("198.51.100.{i}");
        assert_eq!(
            login_status(&server, &format!("nobody{i}"), "wrong-password", Some(&xff)),
            401
        );
    }
    assert_eq!(
        login_status(&server, "nobody9", "wrong-password", Some("198.51.100.9")),
        429,
        "a spoofed X-Forwarded-For must not buy a fresh allowance"
    );
    drop(server);

    // Behind a trusted proxy (the test client on loopback): one client's failures do not
    // lock out the others behind the same proxy, and the audit names the real client.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("suifang.toml");
    std::fs::write(&config, "[http]\ntrusted_proxies = [\"127.0.0.1\"]\n").unwrap();
    let config = config.to_str().unwrap().to_string();
    let server = Server::start(dir.path(), "demo", &[("SUIFANG_CONFIG", &config)]);
    for i in 0..5 {
        let user = format!("nobody{i}");
        // the client's own prepended entry is ignored; the proxy's last one counts
        let xff = "10.9.9.9, 198.51.100.1";
        assert_eq!(
            login_status(&server, &user, "wrong-password", Some(xff)),
            401
        );
    }
    assert_eq!(
        login_status(&server, "nobody9", "wrong-password", Some("198.51.100.1")),
        429
    );
    assert_eq!(
        login_status(&server, "nobody9", "wrong-password", Some("198.51.100.2")),
        401,
        "another client behind the proxy has its own allowance"
    );
    let admin = Client::login(&server, "admin", "admin-demo-1");
    let audit = admin.get("/api/v1/audit").body;
    let failed: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "login_failed")
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert!(failed.contains(&"ip=198.51.100.2"), "{failed:?}");
    assert!(failed.iter().all(|d| !d.contains("10.9.9.9")), "{failed:?}");
}
