//! Account lifecycle: an admin (API or CLI) can take access away at once, every change is
//! audited, and a production `serve` refuses the demo's published logins.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{command, run, run_with_stdin, Client, Server};

fn audit_actions(admin: &Client) -> Vec<String> {
    admin.get("/api/v1/audit").body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str().map(String::from))
        .collect()
}

fn user_id(admin: &Client, username: &str) -> i64 {
    admin.get("/api/v1/users").body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .and_then(|u| u["id"].as_i64())
        .unwrap()
}

fn login_status(server: &Server, username: &str, password: &str) -> u16 {
    Client::anonymous(server)
        .post(
            "/api/v1/session",
            json!({"username": username, "password": password}),
        )
        .status
}

#[test]
fn a_departed_users_sessions_end_when_an_admin_disables_her() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "demo", &[]);
    let admin = Client::login(&server, "admin", "admin-demo-1");
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let id = user_id(&admin, "nurse");
    let r = admin.put(
        &format!("/api/v1/users/{id}/active"),
        json!({"active": false}),
    );
    assert_eq!(
        (r.status, &r.body["user"]["active"]),
        (200, &json!(false)),
        "{}",
        r.body
    );
    assert_eq!(
        nurse.get("/api/v1/me").status,
        401,
        "her open session ended"
    );
    assert_eq!(login_status(&server, "nurse", "nurse-demo-1"), 401);
    // an admin cannot lock herself out
    let me = user_id(&admin, "admin");
    let r = admin.put(
        &format!("/api/v1/users/{me}/active"),
        json!({"active": false}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    let r = admin.put(
        &format!("/api/v1/users/{id}/active"),
        json!({"active": true}),
    );
    assert_eq!(r.status, 200);
    Client::login(&server, "nurse", "nurse-demo-1");
    let actions = audit_actions(&admin);
    assert!(
        actions.contains(&"user_disabled".to_string()),
        "{actions:?}"
    );
    assert!(actions.contains(&"user_enabled".to_string()), "{actions:?}");
}

#[test]
fn a_stolen_session_ends_with_a_password_reset_or_a_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "demo", &[]);
    let admin = Client::login(&server, "admin", "admin-demo-1");
    let id = user_id(&admin, "doctor");
    let stolen = Client::login(&server, "doctor", "doctor-demo-1");
    let r = admin.put(
        &format!("/api/v1/users/{id}/password"),
        json!({"password": "a-new-secret-9"}),
    );
    assert_eq!(
        (r.status, &r.body["sessions_ended"]),
        (200, &json!(1)),
        "{}",
        r.body
    );
    assert_eq!(stolen.get("/api/v1/me").status, 401);
    assert_eq!(login_status(&server, "doctor", "doctor-demo-1"), 401);
    let short = admin.put(
        &format!("/api/v1/users/{id}/password"),
        json!({"password": "x"}),
    );
    assert_eq!(
        (short.status, &short.body["error"]["field"]),
        (422, &json!("password"))
    );

    let laptop = Client::login(&server, "doctor", "a-new-secret-9");
    let phone = Client::login(&server, "doctor", "a-new-secret-9");
    let r = admin.request("DELETE", &format!("/api/v1/users/{id}/sessions"), None, "");
    assert_eq!(
        (r.status, &r.body["sessions_ended"]),
        (200, &json!(2)),
        "{}",
        r.body
    );
    assert_eq!(laptop.get("/api/v1/me").status, 401);
    assert_eq!(phone.get("/api/v1/me").status, 401);
    let actions = audit_actions(&admin);
    for a in ["password_reset", "sessions_revoked"] {
        assert!(actions.contains(&a.to_string()), "{a}: {actions:?}");
    }
    // only admins
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    assert_eq!(
        nurse
            .request("DELETE", &format!("/api/v1/users/{id}/sessions"), None, "")
            .status,
        403
    );
}

/// Runs `suifang serve` and returns its exit status and stderr, failing if it is still
/// running after 30 s (it started instead of refusing).
fn serve_refusal(dir: &std::path::Path) -> (bool, String) {
    let mut child = command(dir)
        .arg("serve")
        .env("SUIFANG_HTTP_ADDR", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("suifang serve started with the demo logins still working");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    (status.success(), err)
}

#[test]
fn serve_refuses_to_start_with_the_published_demo_logins() {
    let dir = tempfile::tempdir().unwrap();
    drop(Server::start(dir.path(), "demo", &[]));
    let (ok, err) = serve_refusal(dir.path());
    assert!(!ok);
    assert!(
        err.contains("demo logins") && err.contains("admin") && err.contains("allow_demo_logins"),
        "{err}"
    );
    // the CLI takes them out of service: disable all but the admin, new admin password
    let others: Vec<&str> = suifang::demo::DEMO_USERS
        .iter()
        .map(|u| u.0)
        .filter(|name| *name != "admin")
        .collect();
    for name in &others {
        let out = run(dir.path(), &["user", "disable", "--username", name]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run_with_stdin(
        dir.path(),
        &["user", "password", "--username", "admin"],
        "hospital-admin-7\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        dir.path(),
        &["user", "revoke-sessions", "--username", "admin"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start(dir.path(), "serve", &[]);
    assert_eq!(login_status(&server, "admin", "admin-demo-1"), 401);
    let admin = Client::login(&server, "admin", "hospital-admin-7");
    let actions = audit_actions(&admin);
    assert_eq!(
        actions.iter().filter(|a| *a == "user_disabled").count(),
        others.len(),
        "{actions:?}"
    );
    assert!(actions.contains(&"password_reset".to_string()));
    assert!(actions.contains(&"sessions_revoked".to_string()));
}

#[test]
fn serve_on_a_demo_database_starts_when_explicitly_allowed() {
    let dir = tempfile::tempdir().unwrap();
    drop(Server::start(dir.path(), "demo", &[]));
    let server = Server::start(
        dir.path(),
        "serve",
        &[("SUIFANG_ALLOW_DEMO_LOGINS", "true")],
    );
    Client::login(&server, "nurse", "nurse-demo-1");
}
