//! The audit anchor: rows deleted from the end of the audit log leave a valid chain behind;
//! the head exported to a signed, append-only file outside the database catches it.

use std::time::{Duration, Instant};

use crate::common::{run, Client, Server};

/// Stops the server with SIGTERM (graceful: the last head is anchored) and waits for it.
fn stop_gracefully(mut server: Server) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "server still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn verify(dir: &std::path::Path) -> (bool, String) {
    let out = run(dir, &["audit", "verify"]);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn deleting_the_newest_audit_rows_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "demo", &[]);
    let admin = Client::login(&server, "admin", "admin-demo-1");
    Client::login(&server, "nurse", "nurse-demo-1");
    let api = admin.get("/api/v1/audit/verify").body;
    assert_eq!(api["broken_at"], serde_json::Value::Null, "{api}");
    assert_eq!(api["anchor"]["status"], "holds", "{api}");
    stop_gracefully(server);

    let data = dir.path().join("data");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("audit.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is the server's alone");
    }
    let (ok, out) = verify(dir.path());
    assert!(ok && out.contains("anchor holds"), "{out}");

    // someone with the database file removes the two logins from the end of the log
    let conn = rusqlite::Connection::open(data.join("suifang.db")).unwrap();
    conn.execute_batch(
        "DROP TRIGGER audit_log_no_delete;
         DELETE FROM audit_log WHERE id > (SELECT MAX(id) - 2 FROM audit_log);",
    )
    .unwrap();
    drop(conn);
    let (ok, out) = verify(dir.path());
    assert!(!ok, "a shortened chain must not verify: {out}");
    assert!(out.contains("newest rows were deleted"), "{out}");

    // a restart does not anchor the shortened chain over the evidence
    let server = Server::start(dir.path(), "demo", &[]);
    let admin = Client::login(&server, "admin", "admin-demo-1");
    let api = admin.get("/api/v1/audit/verify").body;
    assert_eq!(api["anchor"]["status"], "broken", "{api}");
    stop_gracefully(server);
    let (ok, out) = verify(dir.path());
    assert!(!ok && out.contains("newest rows were deleted"), "{out}");
}
