//! The agent WebSocket against the real binary, without a browser: who may open it, and that
//! bad or out-of-order messages get an error back and leave the socket working.

use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::common::{Client, Server};

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

fn open(server: &Server, cookie: Option<&str>) -> Result<Socket, u16> {
    let url = server.base.replace("http://", "ws://") + "/api/v1/agent/ws";
    let mut request = url.into_client_request().expect("request");
    if let Some(c) = cookie {
        request
            .headers_mut()
            .insert("Cookie", c.parse().expect("cookie header"));
    }
    match tungstenite::connect(request) {
        Ok((socket, _)) => {
            if let MaybeTlsStream::Plain(s) = socket.get_ref() {
                s.set_read_timeout(Some(Duration::from_secs(10)))
                    .expect("timeout");
            }
            Ok(socket)
        }
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("websocket: {e}"),
    }
}

fn login(server: &Server, user: &str, password: &str) -> String {
    Client::login(server, user, password)
        .cookie
        .expect("session cookie")
}

fn next(socket: &mut Socket) -> Value {
    loop {
        match socket.read().expect("read a message within 10 s") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON message"),
            Message::Close(_) => panic!("socket closed"),
            _ => continue,
        }
    }
}

fn send(socket: &mut Socket, text: &str) {
    socket.send(Message::text(text)).expect("send");
}

fn expect_error(socket: &mut Socket, text: &str, code: &str) {
    send(socket, text);
    let reply = next(socket);
    assert_eq!(reply["type"], "error", "{text} -> {reply}");
    assert_eq!(reply["code"], code, "{text} -> {reply}");
    assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[test]
fn only_logged_in_callers_may_open_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "demo", &[]);
    assert_eq!(open(&server, None).err(), Some(401));
    let admin = login(&server, "admin", "admin-demo-1");
    assert_eq!(open(&server, Some(&admin)).err(), Some(403));
    for (user, password) in [
        ("nurse", "nurse-demo-1"),
        ("supervisor", "supervisor-demo-1"),
        ("doctor", "doctor-demo-1"),
    ] {
        let cookie = login(&server, user, password);
        let mut socket = open(&server, Some(&cookie)).expect("socket");
        let hello = next(&mut socket);
        assert_eq!(
            hello,
            json!({"type": "hello", "agent": user, "ice_servers": []})
        );
    }
}

#[test]
fn bad_and_out_of_order_messages_get_errors_and_the_socket_survives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "demo", &[]);
    let cookie = login(&server, "nurse", "nurse-demo-1");
    let mut socket = open(&server, Some(&cookie)).expect("socket");
    assert_eq!(next(&mut socket)["type"], "hello");

    expect_error(&mut socket, "not json", "bad_message");
    expect_error(&mut socket, r#"{"type":"dance"}"#, "bad_message");
    expect_error(&mut socket, r#"{"type":"offer"}"#, "bad_message");
    expect_error(
        &mut socket,
        r#"{"type":"line_check","seconds":600}"#,
        "bad_message",
    );
    // out of order: no offer yet
    expect_error(
        &mut socket,
        r#"{"type":"candidate","candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0}"#,
        "no_line",
    );
    expect_error(
        &mut socket,
        r#"{"type":"line_check","seconds":2}"#,
        "no_line",
    );
    // an offer that is not SDP a browser would send
    expect_error(
        &mut socket,
        r#"{"type":"offer","sdp":"v=0\r\nthis is not sdp\r\n"}"#,
        "bad_offer",
    );
    socket
        .send(Message::Binary(vec![1, 2, 3].into()))
        .expect("send binary");
    assert_eq!(next(&mut socket)["code"], "bad_message");

    send(&mut socket, r#"{"type":"ping"}"#);
    assert_eq!(next(&mut socket), json!({"type": "pong"}));
}

#[test]
fn logging_out_ends_the_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "demo", &[]);
    let client = Client::login(&server, "nurse", "nurse-demo-1");
    let cookie = client.cookie.clone().expect("cookie");
    let mut socket = open(&server, Some(&cookie)).expect("socket");
    assert_eq!(next(&mut socket)["type"], "hello");
    assert_eq!(
        client.request("DELETE", "/api/v1/session", None, "").status,
        204
    );
    send(&mut socket, r#"{"type":"ping"}"#);
    assert_eq!(next(&mut socket)["code"], "session_expired");
    let closed = loop {
        match socket.read() {
            Ok(Message::Close(_)) | Err(_) => break true,
            Ok(_) => continue,
        }
    };
    assert!(closed);
}

#[test]
fn a_second_socket_takes_the_line_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "demo", &[]);
    let cookie = login(&server, "nurse", "nurse-demo-1");
    let mut first = open(&server, Some(&cookie)).expect("first socket");
    assert_eq!(next(&mut first)["type"], "hello");
    let mut second = open(&server, Some(&cookie)).expect("second socket");
    assert_eq!(next(&mut second)["type"], "hello");
    assert_eq!(next(&mut first), json!({"type": "replaced"}));
    send(&mut second, r#"{"type":"ping"}"#);
    assert_eq!(next(&mut second), json!({"type": "pong"}));
}

/// Issue 20 item 7: calling hours and do-not-call are checked again when the nurse dials, not
/// only when she claims, over REST and over the agent socket, with a code the console shows.
/// The nurse claims inside calling hours; the patient is then marked do-not-call (refused);
/// cleared, the server restarts with calling hours that exclude now (refused), her lease intact.
#[test]
fn dial_time_refusals_for_do_not_call_and_outside_calling_hours() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "demo", &[]);
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let claim = nurse.post("/api/v1/queue/claim", json!({}));
    assert_eq!(claim.status, 200, "{}", claim.body);
    let task = claim.body["task"]["id"].as_i64().expect("task id");
    let patient = claim.body["task"]["patient_id"].as_i64().expect("patient");
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let dnc = |on: bool| {
        let r = supervisor.put(
            &format!("/api/v1/patients/{patient}/do-not-call"),
            json!({ "do_not_call": on }),
        );
        assert!(r.status < 300, "{}", r.body);
    };
    dnc(true);
    let refused = nurse.post(&format!("/api/v1/tasks/{task}/call"), json!({}));
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(
        refused.body["error"]["code"], "do_not_call",
        "{}",
        refused.body
    );
    let mut socket = open(&server, nurse.cookie.as_deref()).expect("socket");
    assert_eq!(next(&mut socket)["type"], "hello");
    expect_error(
        &mut socket,
        &json!({"type": "dial", "task_id": task}).to_string(),
        "do_not_call",
    );
    dnc(false);
    drop(socket);
    drop(server);

    // the same data, calling hours that exclude now (tests run where it is about midday)
    let config = dir.path().join("closed-hours.toml");
    std::fs::write(&config, "[hospital]\ncalling_hours = \"00:00-06:00\"\n").expect("config");
    let server = Server::start(
        dir.path(),
        "demo",
        &[("SUIFANG_CONFIG", config.to_str().expect("utf-8 path"))],
    );
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let queue = nurse.get("/api/v1/queue").body;
    assert_eq!(queue["calling_hours_open"], false, "{queue}");
    let refused = nurse.post(&format!("/api/v1/tasks/{task}/call"), json!({}));
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(
        refused.body["error"]["code"], "outside_calling_hours",
        "{}",
        refused.body
    );
    let message = refused.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("00:00-06:00"),
        "names the hours: {message}"
    );
    let mut socket = open(&server, nurse.cookie.as_deref()).expect("socket");
    assert_eq!(next(&mut socket)["type"], "hello");
    expect_error(
        &mut socket,
        &json!({"type": "dial", "task_id": task}).to_string(),
        "outside_calling_hours",
    );
    // no call row was written for a refused dial
    let calls = nurse
        .get(&format!("/api/v1/calls?patient_id={patient}"))
        .body;
    assert_eq!(calls["items"], json!([]), "{calls}");
}
