//! Transcripts: a call's transcript (JSON, WebVTT, SRT), full-text search, re-transcription
//! with another model, and the recording itself (streamed with HTTP Range, so a player can seek
//! to the second a red flag was heard). Reading a transcript or a recording is audited.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, SearchQuery};
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::service::transcription::{audio_link, availability, Availability};
use crate::store::audit::append;
use crate::store::phi_access::CallReader;
use crate::store::transcript_search::search as search_segments;
use crate::store::transcripts::{self as db, JobStatus, RecordingId};
use crate::transcribe::export::{to_srt, to_vtt, Cue, Format};
use crate::transcribe::model::installed_models;

mod range;

/// A nurse asked for a call that is not hers (store::phi_access): refused, and the attempt
/// audited like a read.
async fn refuse_call(
    state: &AppState,
    user: &crate::store::users::User,
    entity: &'static str,
    id: String,
    call_id: &str,
) -> ApiError {
    let detail = format!("refused: not her call (call={call_id})");
    if let Err(e) = audit(state, user, "denied", entity, id, detail).await {
        return e;
    }
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!(
            "call {call_id}: nurses read the recordings and transcripts of calls they took, or of \
             a patient whose task they hold"
        ),
    )
}

/// Records who read what, in its own write (reads are not transactions).
async fn audit(
    state: &AppState,
    user: &crate::store::users::User,
    action: &'static str,
    entity: &'static str,
    id: String,
    detail: String,
) -> Result<(), ApiError> {
    let (who, now) = (actor(user), state.clock.now().timestamp());
    state
        .store
        .write(move |tx| append(tx, &who, action, entity, Some(&id), &detail, now))
        .await?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscriptQuery {
    #[serde(default)]
    format: Option<Format>,
    /// A specific transcript (e.g. an older model's); default: the newest finished one.
    #[serde(default)]
    transcript: Option<i64>,
}

/// `GET /calls/{id}/transcript`: segments in time order with speaker labels, or an export.
pub async fn call_transcript(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(call_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<TranscriptQuery>,
) -> Result<Response, ApiError> {
    let format = q.format.unwrap_or(Format::Json);
    let id = call_id.clone();
    let reader = CallReader::of(&user, state.clock.now().timestamp());
    if !state
        .store
        .read(move |c| reader.may_read_call(c, &id))
        .await?
    {
        return Err(refuse_call(&state, &user, "transcript", call_id.clone(), &call_id).await);
    }
    let id = call_id.clone();
    let (jobs, chosen, segments) = state
        .store
        .read(move |c| {
            if !db::call_exists(c, &id)? {
                return Err(crate::store::StoreError::NotFound(format!("call {id}")));
            }
            let jobs = db::jobs_of_call(c, &id)?;
            let chosen = jobs
                .iter()
                .find(|j| match q.transcript {
                    Some(t) => j.id.0 == t,
                    None => j.status == JobStatus::Done,
                })
                .cloned();
            let segments = match &chosen {
                Some(j) if j.status == JobStatus::Done => db::segments(c, j.id)?,
                _ => Vec::new(),
            };
            Ok((jobs, chosen, segments))
        })
        .await?;
    if q.transcript.is_some() && chosen.is_none() {
        return Err(ApiError::not_found(format!(
            "transcript {} of call {call_id}",
            q.transcript.unwrap_or_default()
        )));
    }
    let detail = chosen
        .as_ref()
        .map(|j| format!("transcript={} format={}", j.id, format.extension()))
        .unwrap_or_default();
    audit(&state, &user, "view", "transcript", call_id.clone(), detail).await?;
    let done = chosen.as_ref().filter(|j| j.status == JobStatus::Done);
    if format == Format::Json {
        let items: Vec<Value> = segments
            .iter()
            .map(|s| {
                let link = done.map(|j| audio_link(j.recording_id, s.start_ms));
                // whisper was unsure: shown as such, never alone the reason for an escalation
                let low = s
                    .confidence
                    .is_some_and(|c| c < f64::from(crate::transcribe::LOW_CONFIDENCE));
                json!({"speaker": s.speaker, "start_ms": s.start_ms, "end_ms": s.end_ms,
                       "text": s.text, "confidence": s.confidence, "low_confidence": low,
                       "audio": link})
            })
            .collect();
        let body = json!({
            "call_id": call_id,
            "transcript": chosen,
            "audio": chosen.as_ref().map(|j| format!("/api/v1/recordings/{}/audio", j.recording_id)),
            "segments": items,
            "jobs": jobs,
        });
        return Ok(axum::Json(body).into_response());
    }
    let Some(job) = done else {
        return Err(ApiError::not_found(format!(
            "finished transcript of call {call_id} (jobs: {})",
            jobs.len()
        )));
    };
    let cues: Vec<Cue> = segments
        .iter()
        .map(|s| Cue {
            speaker: if s.speaker == crate::followup::rules::Speaker::Patient {
                "patient"
            } else {
                "agent"
            },
            start_ms: s.start_ms,
            end_ms: s.end_ms,
            text: &s.text,
        })
        .collect();
    let text = match format {
        Format::Vtt => to_vtt(&cues),
        _ => to_srt(&cues),
    };
    let safe: String = call_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let filename = format!("call-{safe}-transcript-{}.{}", job.id, format.extension());
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok((headers, text).into_response())
}

/// `GET /transcripts/search?q=`: segments containing `q`, in Chinese or English. Three
/// characters or more use the trigram index; shorter queries a substring scan (`mode`).
pub async fn search(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let q = q.checked()?;
    let (text, limit) = (q.q.clone(), q.limit);
    let reader = CallReader::of(&user, state.clock.now().timestamp());
    let (mode, hits) = state
        .store
        .read(move |c| search_segments(c, &text, limit, reader))
        .await?;
    // What was looked for and which calls' words were shown: the audit answers "who searched
    // for this patient's words" as well as "who read this call".
    let mut calls: Vec<&str> = hits.iter().map(|h| h.call_id.as_str()).collect();
    calls.sort_unstable();
    calls.dedup();
    audit(
        &state,
        &user,
        "search",
        "transcript",
        String::new(),
        format!(
            "q={:?} hits={} calls={}",
            q.q.trim(),
            hits.len(),
            calls.join(",")
        ),
    )
    .await?;
    let items: Vec<Value> = hits
        .iter()
        .map(|h| {
            let mut v = json!(h);
            v["audio"] = json!(audio_link(h.recording_id, h.start_ms));
            v
        })
        .collect();
    Ok(axum::Json(json!({
        "q": q.q,
        "mode": mode,
        "note": q.mode_note(),
        "items": items,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscribeBody {
    /// An installed model (`suifang model list`), e.g. `base` or `tiny.en`.
    model: String,
}

/// `POST /recordings/{id}/transcribe`: a new job with another installed model; earlier
/// transcripts are kept.
pub async fn retranscribe(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<TranscribeBody>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let cfg = &state.config.transcription;
    if let Availability::Off(why) = availability(cfg) {
        return Err(ApiError::conflict(format!("transcription is off: {why}")));
    }
    super::retention::ensure_audio_kept(&state, id).await?;
    let installed = installed_models(&cfg.model_dir)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    if !installed.iter().any(|m| m.name == body.model) {
        let names: Vec<&str> = installed.iter().map(|m| m.name.as_str()).collect();
        return Err(ApiError::invalid(
            "model",
            format!(
                "`{}` is not installed (installed: {})",
                body.model,
                names.join(", ")
            ),
        ));
    }
    let (model, language, now) = (body.model.clone(), cfg.language.clone(), state.clock.now());
    let (who, by) = (actor(&user), user.id);
    let job = state
        .store
        .write(move |tx| {
            let job = db::request(tx, RecordingId(id), &model, &language, Some(by), now)?;
            append(
                tx,
                &who,
                "transcribe",
                "recording",
                Some(&id.to_string()),
                &format!("model={model} transcript={job}"),
                now.timestamp(),
            )?;
            Ok(job)
        })
        .await?;
    state.transcription.wake();
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(
            json!({"transcript_id": job, "recording_id": id, "model": body.model, "status": "queued"}),
        ),
    ))
}

/// `GET /recordings/{id}/audio`: the WAV, whole or one byte range (RFC 9110 §14). Every
/// request is audited with the range it read.
pub async fn audio(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let reader = CallReader::of(&user, state.clock.now().timestamp());
    let (rec, allowed) = state
        .store
        .read(move |c| {
            let rec = db::recording(c, RecordingId(id))?;
            let allowed = reader.may_read_call(c, &rec.call_id)?;
            Ok((rec, allowed))
        })
        .await?;
    if !allowed {
        return Err(refuse_call(&state, &user, "recording", id.to_string(), &rec.call_id).await);
    }
    super::retention::ensure_audio_kept(&state, id).await?;
    let path = state.recordings.resolve(&rec.path);
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        tracing::warn!(recording = id, path = %path.display(), error = %e, "recording file unreadable");
        ApiError::not_found(format!("audio of recording {id}"))
    })?;
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .len();
    let wanted = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| range::parse(v, len));
    let (status, span) = match wanted {
        None => (StatusCode::OK, 0..len),
        Some(Ok(r)) => (StatusCode::PARTIAL_CONTENT, r),
        Some(Err(range::Unsatisfiable)) => {
            let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(resp);
        }
    };
    audit(
        &state,
        &user,
        "download",
        "recording",
        id.to_string(),
        format!(
            "call={} bytes={}-{}/{len}",
            rec.call_id,
            span.start,
            span.end.saturating_sub(1)
        ),
    )
    .await?;
    let body = Body::from_stream(range::stream(file, span.clone()).await.map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    })?);
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(span.end - span.start),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "bytes {}-{}/{len}",
            span.start,
            span.end.saturating_sub(1)
        )) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(resp)
}
