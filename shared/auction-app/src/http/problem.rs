//! RFC 9457 problems: every error of the HTTP API is `application/problem+json` with `type`,
//! `title`, `status`, `detail` and `code`, and never carries internals (the detail of a store
//! failure goes to the logs only).

use auction_core::ports::StoreError;
use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An RFC 9457 problem.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    code: &'static str,
    detail: String,
    retry_after_seconds: Option<u32>,
}

impl Problem {
    /// A problem with `status`, the machine-readable `code` and a `detail` for people.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            retry_after_seconds: None,
        }
    }

    /// `429 RateLimited` with `Retry-After`.
    pub fn rate_limited(detail: &str, retry_after_seconds: u32) -> Self {
        Self {
            retry_after_seconds: Some(retry_after_seconds.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "RateLimited", detail)
        }
    }

    /// `400 BadRequest`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", detail)
    }

    /// `401 Unauthorized`.
    pub fn unauthorized(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", detail)
    }

    /// `403 Forbidden`.
    pub fn forbidden(detail: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", detail)
    }

    /// `404 NotFound` for an auction (also for another tenant's: its existence is not revealed).
    pub fn auction_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", "no such auction")
    }

    /// `409 Conflict`.
    pub fn conflict(detail: &str) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", detail)
    }

    /// `500 InternalError`; the error goes to the logs.
    pub fn internal(error: &dyn std::error::Error) -> Self {
        tracing::error!(error = ?error, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "the request could not be processed; try again",
        )
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Throttled | StoreError::Contended => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "the service is busy; try again",
            ),
            other => Self::internal(&other),
        }
    }
}

/// Answers every error the router itself produces (an unsupported method, a body over the limit,
/// a query string its extractor cannot read) as a problem too, keeping headers such as `Allow`.
/// Those come with an empty or plain-text body that names Rust types; the handlers' own JSON
/// answers (problems, and a rejected bid's `409`) pass unchanged.
pub async fn errors_as_problems(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let problem = match status {
        StatusCode::METHOD_NOT_ALLOWED => Problem::new(
            status,
            "MethodNotAllowed",
            "this path does not take that method (see Allow)",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(
            status,
            "PayloadTooLarge",
            format!("the body is over {} bytes", super::MAX_BODY_BYTES),
        ),
        StatusCode::BAD_REQUEST => Problem::bad_request("the query string or body is malformed"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            Problem::new(status, "UnsupportedMediaType", "the body must be JSON")
        }
        _ if status.is_client_error() => {
            Problem::new(status, "BadRequest", "the request was refused")
        }
        _ => Problem::new(
            status,
            "InternalError",
            "the request could not be processed; try again",
        ),
    };
    let (parts, _) = response.into_parts();
    let mut answer = problem.into_response();
    for (name, value) in &parts.headers {
        if !answer.headers().contains_key(name) && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({
            "type": format!("/problems/{}", self.code),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        let retry_after = match self.status {
            StatusCode::SERVICE_UNAVAILABLE => Some(1),
            _ => self.retry_after_seconds,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}
