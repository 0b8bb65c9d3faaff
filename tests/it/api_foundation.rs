//! Foundation acceptance against the real binary: RBAC matrix, bad input → 4xx with the field,
//! masked phones, audit tamper detection, CSV import all-or-nothing, migrations.

use suifang::api::access::{Access, ROUTES};
use suifang::auth::role::Role;

use crate::common::{run, run_with_stdin, Client, Server};

const LOGINS: &[(Role, &str, &str)] = &[
    (Role::Nurse, "nurse", "nurse-demo-1"),
    (Role::Supervisor, "supervisor", "supervisor-demo-1"),
    (Role::Doctor, "doctor", "doctor-demo-1"),
    (Role::Admin, "admin", "admin-demo-1"),
];

fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{code}", "heart-failure")
        .replace("{question}", "weight")
        .replace("{department}", "cardiology")
        .replace("{slot}", "backup")
}

#[test]
fn rbac_matrix_over_every_route_and_role() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "demo", &[]);
    let anonymous = Client::anonymous(&server);
    let clients: Vec<(Role, Client)> = LOGINS
        .iter()
        .map(|(role, u, p)| (*role, Client::login(&server, u, p)))
        .collect();
    // The account lifecycle routes end sessions: aimed at user 1 (the nurse) they would log
    // out the client the rest of the matrix uses, so they act on a user made for the purpose.
    let target = clients[3]
        .1
        .post(
            "/api/v1/users",
            serde_json::json!({"username": "rbac-target", "display_name": "RBAC target",
                "role": "nurse", "password": "rbac-target-1"}),
        )
        .body["user"]["id"]
        .as_i64()
        .expect("throwaway user");
    let mut checked = 0;
    for route in ROUTES {
        // logging out would end the session the rest of the matrix uses: check it last
        if route.method == "DELETE" && route.path == "/api/v1/session" {
            continue;
        }
        let path = match route.path {
            "/api/v1/users/{id}/active"
            | "/api/v1/users/{id}/password"
            | "/api/v1/users/{id}/sessions" => route.path.replace("{id}", &target.to_string()),
            _ => concrete(route.path),
        };
        let body = (route.method != "GET").then_some("{}");
        let anon = anonymous.request(route.method, &path, body, "application/json");
        match route.access {
            Access::Public => assert!(
                ![401, 403].contains(&anon.status),
                "{} {path} public but {}",
                route.method,
                anon.status
            ),
            _ => assert_eq!(
                anon.status, 401,
                "{} {path} without a session",
                route.method
            ),
        }
        for (role, client) in &clients {
            let reply = client.request(route.method, &path, body, "application/json");
            let allowed = match route.access {
                Access::Public | Access::Authenticated => true,
                Access::Roles(roles) => roles.contains(role),
            };
            if allowed {
                assert!(
                    ![401, 403].contains(&reply.status),
                    "{role:?} must reach {} {path}, got {} {}",
                    route.method,
                    reply.status,
                    reply.body
                );
                assert!(
                    reply.status < 500,
                    "{role:?} {} {path}: {} {}",
                    route.method,
                    reply.status,
                    reply.body
                );
            } else {
                assert_eq!(
                    reply.status, 403,
                    "{role:?} must be refused {} {path}",
                    route.method
                );
                assert_eq!(reply.body["error"]["code"], "forbidden");
            }
            checked += 1;
        }
    }
    assert!(checked >= 4 * 20, "matrix too small: {checked}");
    let (_, nurse) = &clients[0];
    assert_eq!(
        nurse.request("DELETE", "/api/v1/session", None, "").status,
        204
    );
    assert_eq!(
        nurse.get("/api/v1/me").status,
        401,
        "logged-out session must not work"
    );
}

#[test]
fn bad_payloads_get_4xx_naming_the_field_never_500() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "demo", &[]);
    let admin = Client::login(&server, "admin", "admin-demo-1");
    let cases: &[(&str, &str, &str, u16, Option<&str>)] = &[
        ("POST", "/api/v1/patients", "{bad json", 400, None),
        (
            "POST",
            "/api/v1/patients",
            r#"{"mrn":"X1","name":"A","phone":"12345"}"#,
            422,
            Some("phone"),
        ),
        (
            "POST",
            "/api/v1/patients",
            r#"{"mrn":"X1","name":"A"}"#,
            422,
            Some("phone"),
        ),
        (
            "POST",
            "/api/v1/patients",
            r#"{"mrn":"X1","name":"A","phone":"+8613800000009","colour":"red"}"#,
            422,
            Some("colour"),
        ),
        (
            "POST",
            "/api/v1/patients",
            r#"{"mrn":"X1","name":"A","phone":"+8613800000009","birth_date":"yesterday"}"#,
            422,
            Some("birth_date"),
        ),
        (
            "POST",
            "/api/v1/patients/1/discharges",
            r#"{"discharged_at":"2026-01-01T00:00:00Z","diagnoses":[{"icd10":"heart"}]}"#,
            422,
            Some("diagnoses[0].icd10"),
        ),
        (
            "POST",
            "/api/v1/patients/1/discharges",
            r#"{"discharged_at":"2026-01-01T00:00:00Z","department":"nowhere","diagnoses":[{"icd10":"I50"}]}"#,
            422,
            Some("department"),
        ),
        (
            "POST",
            "/api/v1/patients/999999/discharges",
            r#"{"discharged_at":"2026-01-01T00:00:00Z","diagnoses":[{"icd10":"I50"}]}"#,
            404,
            None,
        ),
        (
            "POST",
            "/api/v1/users",
            r#"{"username":"x y","display_name":"X","role":"nurse","password":"longenough"}"#,
            422,
            Some("username"),
        ),
        (
            "POST",
            "/api/v1/users",
            r#"{"username":"xy","display_name":"X","role":"janitor","password":"longenough"}"#,
            422,
            Some("role"),
        ),
        (
            "POST",
            "/api/v1/users",
            r#"{"username":"xy","display_name":"X","role":"nurse","password":"short"}"#,
            422,
            Some("password"),
        ),
        ("GET", "/api/v1/patients?limit=0", "", 422, Some("limit")),
        ("GET", "/api/v1/patients?limit=abc", "", 422, Some("limit")),
        ("GET", "/api/v1/patients/abc", "", 400, None),
        (
            "POST",
            "/api/v1/patients/import",
            "mrn,name\n1,2\n",
            422,
            Some("file"),
        ),
        (
            "POST",
            "/api/v1/patients",
            "\u{0}\u{1}\u{2}binary",
            400,
            None,
        ),
    ];
    for (method, path, body, status, field) in cases {
        let body = (!body.is_empty()).then_some(*body);
        let reply = admin.request(method, path, body, "application/json");
        assert_eq!(
            reply.status, *status,
            "{method} {path} {body:?} → {}",
            reply.body
        );
        assert!(
            reply.body["error"]["code"].is_string(),
            "one error shape: {}",
            reply.body
        );
        if let Some(field) = field {
            assert_eq!(
                reply.body["error"]["field"], *field,
                "{method} {path} {body:?} → {}",
                reply.body
            );
        }
    }
    let wrong_type = admin.request("POST", "/api/v1/patients", Some("{}"), "text/plain");
    assert_eq!(wrong_type.status, 415);
}

#[test]
fn nurses_see_masked_numbers_and_views_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "demo", &[]);
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let masked = nurse.get("/api/v1/patients/1").body["phone"]
        .as_str()
        .unwrap()
        .to_string();
    let full = supervisor.get("/api/v1/patients/1").body["phone"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(full, "+8613800000001");
    assert_eq!(masked, "+861******0001");
    assert!(nurse.get("/api/v1/patients?limit=100").body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["phone"].as_str().unwrap().contains('*')));
    let admin = Client::login(&server, "admin", "admin-demo-1");
    let audit = admin.get("/api/v1/audit").body;
    let views = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "view" && e["entity"] == "patient")
        .count();
    assert_eq!(views, 2);
}

#[test]
fn login_is_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "demo", &[]);
    let anon = Client::anonymous(&server);
    let attempt = |pw: &str| {
        anon.post(
            "/api/v1/session",
            serde_json::json!({"username": "nurse", "password": pw}),
        )
        .status
    };
    for _ in 0..5 {
        assert_eq!(attempt("wrong-password"), 401);
    }
    assert_eq!(attempt("wrong-password"), 429);
    assert_eq!(
        attempt("nurse-demo-1"),
        429,
        "even the right password waits out the window"
    );
}

#[test]
fn audit_verify_detects_an_edited_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = run_with_stdin(
        d,
        &["user", "add", "--username", "alice", "--role", "nurse"],
        "alice-password\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_with_stdin(
        d,
        &["user", "add", "--username", "bob", "--role", "doctor"],
        "bob-password-1\n",
    );
    assert!(out.status.success());
    let ok = run(d, &["audit", "verify"]);
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).contains("2 rows verified"));
    // Someone with file access drops the guard trigger and edits history.
    let conn = rusqlite::Connection::open(d.join("data/suifang.db")).unwrap();
    assert!(
        conn.execute(
            "UPDATE audit_log SET detail = 'role=admin' WHERE id = 1",
            []
        )
        .is_err(),
        "trigger guards updates"
    );
    conn.execute_batch("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail = 'role=admin' WHERE id = 1;").unwrap();
    drop(conn);
    let bad = run(d, &["audit", "verify"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("broken at row 1"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn migrations_apply_once_and_a_newer_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for _ in 0..2 {
        let out = run(d, &["migrate"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let conn = rusqlite::Connection::open(d.join("data/suifang.db")).unwrap();
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows as usize, suifang::store::migrate::MIGRATIONS.len());
    conn.execute(
        "INSERT INTO schema_migrations VALUES (9999, 'future', 'x', 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let out = run(d, &["migrate"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("newer than this binary"));
}

#[test]
fn csv_import_reports_lines_and_imports_nothing_partial() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // departments exist once the demo has seeded; seed by starting the demo once
    drop(Server::start(d, "demo", &[]));
    let header = "mrn,name,sex,birth_date,phone,alt_phone,alt_contact_name,alt_contact_relation,language,department,discharged_at,diagnoses,visit_number,attending,summary\n";
    let bad = format!("{header}N1,A,M,,+8613900000001,,,,zh,cardiology,2026-11-20 10:00,I50.9,,,\nN2,B,M,,139,,,,zh,,,,,,\nN3,C,Q,,+8613900000003,,,,zh,,,,,,\n");
    let file = d.join("bad.csv");
    std::fs::write(&file, bad).unwrap();
    let out = run(d, &["import", "patients", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("bad.csv:line 3: phone"), "{err}");
    assert!(err.contains("bad.csv:line 4: sex"), "{err}");
    // a row the database refuses (duplicate MRN of a demo patient) also voids the whole file
    let dup = format!("{header}N1,A,M,,+8613900000001,,,,zh,cardiology,2026-11-20 10:00,I50.9,,,\nD0001,B,M,,+8613900000002,,,,zh,,,,,,\n");
    std::fs::write(&file, dup).unwrap();
    let out = run(d, &["import", "patients", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 3: mrn"));
    let conn = rusqlite::Connection::open(d.join("data/suifang.db")).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM patients WHERE mrn LIKE 'N%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0, "nothing partial");
    let good =
        format!("{header}N1,A,M,,+8613900000001,,,,zh,cardiology,2026-11-20 10:00,I50.9,,,\n");
    std::fs::write(&file, good).unwrap();
    let out = run(d, &["import", "patients", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tasks: i64 = conn
        .query_row("SELECT COUNT(*) FROM followup_tasks t JOIN patients p ON p.id = t.patient_id WHERE p.mrn = 'N1'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        tasks, 6,
        "heart-failure pathway: day 1, 3, 7, 14, 30 and the day-31 satisfaction survey"
    );
}

#[test]
fn sigterm_stops_the_server_even_with_a_live_stream_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), "demo", &[]);
    let doctor = Client::login(&server, "doctor", "doctor-demo-1");
    // an open SSE stream, as a doctor's console keeps all day
    let stream = ureq::get(&server.url("/api/v1/events"))
        .set("Cookie", doctor.cookie.as_deref().unwrap())
        .call()
        .unwrap();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            assert!(exit.success(), "clean exit: {exit}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server still running 10 s after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(stream);
}
