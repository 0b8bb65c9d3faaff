//! `GET /api/v1/events`: the caller's live events (from [`crate::events::EventBus`]) as
//! Server-Sent Events. Each connection filters for its user; a console that falls behind is told
//! to resynchronise instead of silently missing events; the stream ends with its session.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde_json::json;
use tokio::sync::broadcast;

use super::session_user::{session_token, CurrentUser};
use super::AppState;
use crate::auth::token_hash;
use crate::events::LiveEvent;

/// How often an open stream re-checks its session even when nobody says sessions ended (a
/// session revoked from the CLI, by another process, or one that simply expired).
const SESSION_RECHECK: Duration = Duration::from_secs(30);

/// `GET /api/v1/events`: the caller's live events as SSE, for as long as the session that
/// opened the stream stands: the stream ends at log-out, when the user is disabled or her
/// sessions are revoked, and when the session expires.
pub async fn stream(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut rx = state.events.subscribe();
    let hello = Event::default()
        .event("hello")
        .data(json!({"user": user.id, "role": user.role}).to_string());
    let mut closing = state.events.closing();
    let mut ended = state.events.sessions_ending();
    let token = session_token(&headers).map(|t| token_hash(&t));
    let stream = async_stream(hello, move |tx| async move {
        let mut recheck = tokio::time::interval(SESSION_RECHECK);
        recheck.tick().await;
        loop {
            let received = tokio::select! {
                r = rx.recv() => Wake::Event(r),
                _ = closing.wait_for(|c| *c) => Wake::Close,
                changed = ended.changed() => match changed {
                    Ok(()) => Wake::CheckSession,
                    Err(_) => Wake::Close,
                },
                _ = recheck.tick() => Wake::CheckSession,
            };
            let received = match received {
                Wake::Event(r) => r,
                Wake::Close => return,
                Wake::CheckSession => {
                    if session_stands(&state, token.as_deref()).await {
                        continue;
                    }
                    let _ = tx.send(Ok(session_ended_event())).await;
                    return;
                }
            };
            let event = match received {
                Ok(ev) if ev.visible_to(&user) => Event::default()
                    .event(ev.name.clone())
                    .data(ev.data.to_string()),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => Event::default()
                    .event("resync")
                    .data(json!({"missed": n}).to_string()),
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if tx.send(Ok(event)).await.is_err() {
                return;
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Why an event stream's task woke up.
enum Wake {
    Event(Result<LiveEvent, broadcast::error::RecvError>),
    CheckSession,
    Close,
}

/// The last event of a stream whose session ended: the console goes back to the login page.
fn session_ended_event() -> Event {
    Event::default()
        .event("session_ended")
        .data(json!({"reason": "the session that opened this stream has ended"}).to_string())
}

/// Whether the session behind `token_hash` is still valid for an active user. A store error
/// counts as "stands": a busy database must not drop every console's feed.
async fn session_stands(state: &AppState, token_hash: Option<&str>) -> bool {
    let Some(hash) = token_hash.map(str::to_owned) else {
        return false;
    };
    let now = state.clock.now().timestamp();
    match state
        .store
        .read(move |c| crate::store::users::session_user(c, &hash, now))
        .await
    {
        Ok(user) => user.is_some(),
        Err(e) => {
            tracing::warn!(error = %e, "could not re-check an event stream's session");
            true
        }
    }
}

/// A stream fed by a task through a small bounded channel (no extra crate needed).
fn async_stream<F, Fut>(first: Event, producer: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Event, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let _ = tx.try_send(Ok(first));
    tokio::spawn(producer(tx));
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}
