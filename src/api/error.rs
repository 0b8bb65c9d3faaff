//! One error body for every failure: `{"error": {"code", "message", "field"}}`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::followup::patient::FieldError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Extra structure, e.g. every bad line of an import.
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            details: None,
        }
    }
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid",
            message: message.into(),
            field: Some(field.into()),
            details: None,
        }
    }
    pub fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "log in first")
    }
    pub fn forbidden() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "your role may not do this",
        )
    }
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{} not found", what.into()),
        )
    }
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let mut body =
            json!({"error": {"code": self.code, "message": self.message, "field": self.field}});
        if let Some(details) = self.details {
            body["error"]["details"] = details;
        }
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Conflict(m) => ApiError::conflict(m),
            StoreError::Invalid(m) => match m.split_once(": ") {
                Some((field, msg)) => ApiError::invalid(field, msg),
                None => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
            },
            StoreError::Rejected(lines) => {
                let mut e = ApiError::invalid(
                    "file",
                    format!("{} bad rows; nothing was imported", lines.len()),
                );
                e.details = Some(json!(lines
                    .iter()
                    .map(|l| json!({"line": l.line, "field": l.field, "message": l.message}))
                    .collect::<Vec<_>>()));
                e
            }
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                other.to_string(),
            ),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> ApiError {
        ApiError::invalid(e.field, e.message)
    }
}

/// Extracts the field path out of serde's messages such as
/// "unknown field `foo`, expected …" or "missing field `bar`" or "… at line 1 column 9".
fn field_of(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_string())
}

/// `Json<T>` whose rejections use the one error body: malformed JSON → 400, a body of the
/// wrong shape → 422 naming the field, wrong content type → 415.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonDataError(e)) => {
                let detail = std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| e.body_text());
                let field = detail
                    .split_once(':')
                    .map(|(path, _)| path.trim().to_string())
                    .filter(|p| !p.is_empty() && !p.contains(' '))
                    .or_else(|| field_of(&detail))
                    .unwrap_or_else(|| "body".into());
                Err(ApiError::invalid(field, detail))
            }
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                e.body_text(),
            )),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            )),
            Err(other) => Err(ApiError::new(
                other.status(),
                "bad_request",
                other.body_text(),
            )),
        }
    }
}

/// `Query<T>` with the same error body.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                let text = e.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                let field = detail
                    .split_once(": ")
                    .map(|(f, _)| f.to_string())
                    .filter(|f| !f.contains(' '))
                    .or_else(|| field_of(detail));
                Err(ApiError::invalid(
                    field.unwrap_or_else(|| "query".into()),
                    text,
                ))
            }
            Err(other) => Err(ApiError::new(
                other.status(),
                "bad_request",
                other.body_text(),
            )),
        }
    }
}

/// Pagination parameters shared by list endpoints.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    #[serde(default = "default_limit")]
    pub limit: i64,
    #[serde(default)]
    pub offset: i64,
    #[serde(default)]
    pub q: Option<String>,
}

fn default_limit() -> i64 {
    50
}

impl Page {
    pub fn checked(self) -> Result<Page, ApiError> {
        if !(1..=500).contains(&self.limit) {
            return Err(ApiError::invalid("limit", "must be between 1 and 500"));
        }
        if self.offset < 0 {
            return Err(ApiError::invalid("offset", "must not be negative"));
        }
        Ok(self)
    }
}

/// `?q=&limit=` of a text search (transcripts, notes): at most 200 hits.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    pub q: String,
    #[serde(default = "default_limit")]
    pub limit: i64,
}

impl SearchQuery {
    pub fn checked(self) -> Result<SearchQuery, ApiError> {
        if !(1..=200).contains(&self.limit) {
            return Err(ApiError::invalid("limit", "must be between 1 and 200"));
        }
        if self.q.trim().is_empty() {
            return Err(ApiError::invalid("q", "must not be empty"));
        }
        Ok(self)
    }

    /// The response's word on how `q` was matched, when it was not by the index.
    pub fn mode_note(&self) -> Option<&'static str> {
        (self.q.trim().chars().count() < crate::store::transcript_search::TRIGRAM_MIN_CHARS)
            .then_some("shorter than 3 characters: substring scan instead of the trigram index")
    }
}

/// A page of results.
pub fn paged<T: serde::Serialize>(items: Vec<T>, total: i64, page: &Page) -> serde_json::Value {
    json!({"items": items, "total": total, "limit": page.limit, "offset": page.offset})
}

/// `Path<T>` with the same error body (`/patients/abc` → 400 naming the parameter).
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(e) => {
                let mut err = ApiError::new(StatusCode::BAD_REQUEST, "bad_path", e.body_text());
                err.field = Some("id".into());
                Err(err)
            }
        }
    }
}
