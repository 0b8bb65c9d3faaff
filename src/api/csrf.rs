//! Cross-site request forgery defence for every state-changing API request.
//!
//! The session cookie is `SameSite=Strict`, which already keeps it off cross-site requests in
//! current browsers; this is the second lock, for older browsers, for a sibling site on the
//! same registrable domain (SameSite treats it as same-site), and for the login form itself
//! (login CSRF needs no cookie). Browsers send `Origin` on every POST, PUT, PATCH and DELETE,
//! and `Sec-Fetch-Site` when they support Fetch Metadata; tools (curl, the tests' ureq, the
//! CLI) send neither and are let through, since a forged request always comes from a browser.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;

/// Middleware: refuses state-changing requests a browser made on behalf of another site.
pub async fn same_origin_writes(req: Request, next: Next) -> Result<Response, ApiError> {
    let writes = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if writes {
        if let Some(site) = req
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
        {
            // "same-origin" (our pages), "none" (typed by the user); never "cross-site"
            if site.eq_ignore_ascii_case("cross-site") {
                return Err(refused("Sec-Fetch-Site says cross-site"));
            }
        }
        same_origin(req.headers())?;
    }
    Ok(next.run(req).await)
}

/// When the request carries `Origin`, it must name the host the request was sent to (the
/// host our pages were served from). No `Origin`: not a browser, allowed.
pub fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("");
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    // `Origin: null` (sandboxed frames, file: pages) has no host and is refused
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    match (origin_host, host) {
        (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => Ok(()),
        _ => Err(refused(&format!(
            "Origin {origin} is not this server ({})",
            host.unwrap_or("no Host header")
        ))),
    }
}

fn refused(why: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "cross_site_request",
        format!(
            "refused: this request was sent from another site ({why}); \
             use the console served by this server"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_must_match_host() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h).is_ok(), "no Origin: not a browser");
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h).is_ok());
        for bad in [
            "https://evil.example",
            "http://127.0.0.1:8081",
            "null",
            "http://127.0.0.1:8080.evil.example",
        ] {
            h.insert(header::ORIGIN, bad.parse().unwrap());
            let err = same_origin(&h).unwrap_err();
            assert_eq!(
                (err.status, err.code),
                (StatusCode::FORBIDDEN, "cross_site_request")
            );
        }
    }
}
