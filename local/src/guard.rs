//! The locks on `auction-local`'s control plane: what AWS asks of a caller, this server asks too,
//! so that a page in the developer's browser cannot drive it and a test cannot pass here that
//! would fail against AWS.
//!
//! - **SigV4** on the Management API (`/@connections/…`) and on EventBridge's `PutEvents`: an
//!   `Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request,
//!   SignedHeaders=…, Signature=HEX` header and an `X-Amz-Date`. Any key id and signature are
//!   accepted (this server knows no secret keys); a request without them, or with a malformed
//!   one, is refused `403` as AWS refuses it. The functions and the SDK clients sign every call.
//! - **Host**: on a loopback address, a request must name this server (`127.0.0.1:PORT`,
//!   `localhost:PORT`, `[::1]:PORT`); any other `Host` is `421`. A web page that re-points its
//!   own domain name at 127.0.0.1 (DNS rebinding) sends its own name, so it reads nothing.
//! - **`/_local/*`** (counters, fault injection, the functions' environment with the JWT
//!   secret) answers loopback callers only, whatever address the server listens on.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Which AWS service a signed request addresses (the fourth part of its credential scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The API Gateway Management API.
    ExecuteApi,
    /// EventBridge.
    Events,
    /// Lambda's Invoke API.
    Lambda,
}

impl Service {
    fn scope_name(self) -> &'static str {
        match self {
            Self::ExecuteApi => "execute-api",
            Self::Events => "events",
            Self::Lambda => "lambda",
        }
    }
}

/// Why a request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Authorization` header (AWS: "Missing Authentication Token").
    #[error("Missing Authentication Token")]
    Missing,
    /// A header that is not a SigV4 authorization.
    #[error("the Authorization header is not a SigV4 signature: {0}")]
    Malformed(&'static str),
}

/// Checks that `headers` carry a well-formed SigV4 signature for `service`.
///
/// # Errors
/// [`SignatureError`] when they do not.
pub fn check_signature(headers: &HeaderMap, service: Service) -> Result<(), SignatureError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(SignatureError::Missing);
    };
    let value = value
        .to_str()
        .map_err(|_| SignatureError::Malformed("not ASCII"))?;
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or(SignatureError::Malformed(
            "the algorithm must be AWS4-HMAC-SHA256",
        ))?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim) {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => return Err(SignatureError::Malformed("unknown component")),
        }
    }
    let scope: Vec<&str> = credential
        .ok_or(SignatureError::Malformed("no Credential"))?
        .split('/')
        .collect();
    let well_formed_scope = matches!(
        scope.as_slice(),
        [key, date, region, scope_service, "aws4_request"]
            if !key.is_empty()
                && date.len() == 8
                && date.bytes().all(|b| b.is_ascii_digit())
                && !region.is_empty()
                && *scope_service == service.scope_name()
    );
    if !well_formed_scope {
        return Err(SignatureError::Malformed(
            "Credential must be KEY/YYYYMMDD/REGION/SERVICE/aws4_request for this service",
        ));
    }
    let signed_headers = signed_headers.ok_or(SignatureError::Malformed("no SignedHeaders"))?;
    if !signed_headers.split(';').any(|h| h == "host") {
        return Err(SignatureError::Malformed("SignedHeaders must include host"));
    }
    let signature = signature.ok_or(SignatureError::Malformed("no Signature"))?;
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignatureError::Malformed("Signature must be 64 hex digits"));
    }
    let dated = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|d| d.len() == 16 && d.as_bytes()[8] == b'T' && d.ends_with('Z'));
    if !dated {
        return Err(SignatureError::Malformed(
            "X-Amz-Date is missing or malformed",
        ));
    }
    Ok(())
}

/// Middleware: the Management API's signature check.
pub async fn signed_management(request: Request, next: Next) -> Response {
    match check_signature(request.headers(), Service::ExecuteApi) {
        Ok(()) => next.run(request).await,
        Err(e) => crate::gateway::management::api_error(
            StatusCode::FORBIDDEN,
            "ForbiddenException",
            json!(e.to_string()),
        ),
    }
}

/// Middleware: EventBridge's signature check (its errors in the JSON protocol's shape).
pub async fn signed_events(request: Request, next: Next) -> Response {
    match check_signature(request.headers(), Service::Events) {
        Ok(()) => next.run(request).await,
        Err(e) => {
            let kind = match e {
                SignatureError::Missing => "MissingAuthenticationTokenException",
                SignatureError::Malformed(_) => "IncompleteSignatureException",
            };
            let body = json!({"__type": kind, "message": e.to_string()});
            let mut response = (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/x-amz-json-1.1"),
            );
            response
        }
    }
}

/// The `Host` values a request to `listening` may carry: on a loopback address, this server's
/// own names; `None` (any) on another address, where the machine's names are not known.
#[must_use]
pub fn allowed_hosts(listening: SocketAddr) -> Option<Vec<String>> {
    if !listening.ip().is_loopback() {
        return None;
    }
    let port = listening.port();
    let mut hosts = vec![
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        listening.to_string(),
    ];
    if port == 80 {
        hosts.extend(["localhost", "127.0.0.1", "[::1]"].map(str::to_owned));
    }
    Some(hosts)
}

/// Middleware: refuses a request whose `Host` is not one of `allowed` (421), and a `/_local/`
/// request from a caller that is not on this machine (403).
pub async fn host_and_caller(
    axum::extract::State(allowed): axum::extract::State<std::sync::Arc<Option<Vec<String>>>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(allowed) = allowed.as_ref() {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| request.uri().authority().map(|a| a.as_str()));
        let known = host.is_some_and(|h| allowed.iter().any(|a| a.eq_ignore_ascii_case(h)));
        if !known {
            return (
                StatusCode::MISDIRECTED_REQUEST,
                "auction-local answers only requests addressed to it by its own address \
                 (127.0.0.1, localhost or [::1] with its port)",
            )
                .into_response();
        }
    }
    if request.uri().path().starts_with("/_local/") {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        if !peer.is_some_and(is_loopback) {
            return (
                StatusCode::FORBIDDEN,
                "/_local/ answers callers on this machine only",
            )
                .into_response();
        }
    }
    next.run(request).await
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Middleware: the Lambda Invoke API's signature check (its errors as Lambda's JSON).
pub async fn signed_lambda(request: Request, next: Next) -> Response {
    match check_signature(request.headers(), Service::Lambda) {
        Ok(()) => next.run(request).await,
        Err(e) => crate::invoke::lambda_error(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            e.to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: Option<&str>, date: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(a) = authorization {
            headers.insert(header::AUTHORIZATION, a.parse().unwrap());
        }
        if let Some(d) = date {
            headers.insert("x-amz-date", d.parse().unwrap());
        }
        headers
    }

    const SIGNATURE: &str = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024";

    fn authorization(scope_service: &str, signed: &str, signature: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261206/eu-west-1/{scope_service}/aws4_request, \
             SignedHeaders={signed}, Signature={signature}"
        )
    }

    #[test]
    fn any_well_formed_signature_passes_and_nothing_else_does() {
        let date = Some("20261206T105300Z");
        let good = authorization("execute-api", "host;x-amz-date", SIGNATURE);
        assert_eq!(
            check_signature(&headers(Some(&good), date), Service::ExecuteApi),
            Ok(())
        );
        assert_eq!(
            check_signature(&headers(None, date), Service::ExecuteApi),
            Err(SignatureError::Missing)
        );
        for (bad, date) in [
            (good.clone(), None),
            (good.clone(), Some("yesterday")),
            ("Bearer abc".to_owned(), date),
            (authorization("events", "host;x-amz-date", SIGNATURE), date),
            (authorization("execute-api", "x-amz-date", SIGNATURE), date),
            (authorization("execute-api", "host", "abc"), date),
            (
                good.replace("Credential=AKIDEXAMPLE/", "Credential=AKIDEXAMPLE/x/"),
                date,
            ),
            (good.replace("/aws4_request", ""), date),
        ] {
            assert!(
                matches!(
                    check_signature(&headers(Some(&bad), date), Service::ExecuteApi),
                    Err(SignatureError::Malformed(_))
                ),
                "{bad} {date:?}"
            );
        }
        let events = authorization("events", "host", SIGNATURE);
        assert_eq!(
            check_signature(&headers(Some(&events), date), Service::Events),
            Ok(())
        );
    }

    #[test]
    fn hosts_are_checked_on_loopback_only() {
        let hosts = allowed_hosts("127.0.0.1:3000".parse().unwrap()).unwrap();
        assert!(hosts.contains(&"localhost:3000".to_owned()));
        assert!(!hosts.contains(&"evil.example:3000".to_owned()));
        assert_eq!(allowed_hosts("0.0.0.0:3000".parse().unwrap()), None);
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_loopback("192.168.1.2".parse().unwrap()));
    }
}
