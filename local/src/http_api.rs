//! The local API Gateway HTTP API: each request under `/api` becomes the payload-v2 event API
//! Gateway sends, the `http-api` function is invoked with it (in process through `lambda_http`'s
//! own adapter, or through an invoke API), and its response is turned back into HTTP.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use crate::invoke::{Function, Invoker};

/// API Gateway HTTP APIs accept payloads up to 10 MB.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// The function's invoker and the gateway's host name.
#[derive(Clone)]
pub struct HttpApi {
    /// Runs the `http-api` function.
    pub invoker: std::sync::Arc<dyn Invoker>,
    /// `host:port`, the event's `domainName`.
    pub domain_name: String,
}

/// Forwards one request through the v2 event shape.
pub async fn forward(
    State(api): State<HttpApi>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(json!({"message": "Request Entity Too Large"})),
        )
            .into_response();
    };
    let now = crate::now();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        let value = value.to_str().unwrap_or_default().to_owned();
        if name == axum::http::header::COOKIE {
            cookies.extend(value.split("; ").map(str::to_owned));
            continue;
        }
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    if let Ok(axum::extract::Query(pairs)) =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
    {
        for (k, v) in pairs {
            query
                .entry(k)
                .and_modify(|old| {
                    old.push(',');
                    old.push_str(&v);
                })
                .or_insert(v);
        }
    }
    let (body_text, is_base64) = match std::str::from_utf8(&body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&body),
            true,
        ),
    };
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.uri.path(),
        "rawQueryString": parts.uri.query().unwrap_or_default(),
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": api.domain_name,
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": user_agent,
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.to_rfc3339(),
            "timeEpoch": now.0,
        },
        "isBase64Encoded": is_base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = json!(query);
    }
    if !body.is_empty() {
        event["body"] = Value::String(body_text);
    }
    match api.invoker.invoke(Function::HttpApi, event).await {
        Ok(response) => to_http(&response),
        Err(e) => {
            tracing::error!(error = %e, "http-api failed");
            // What API Gateway answers when the integration fails.
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"message": "Internal Server Error"})),
            )
                .into_response()
        }
    }
}

/// A payload-v2 response back into HTTP.
fn to_http(response: &Value) -> Response {
    let status = response["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match response["body"].as_str() {
        None => Bytes::new(),
        Some(text) if response["isBase64Encoded"] == true => {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(Bytes::from)
                .unwrap_or_default()
        }
        Some(text) => Bytes::from(text.to_owned()),
    };
    let mut http = Response::new(Body::from(body));
    *http.status_mut() = status;
    if let Some(headers) = response["headers"].as_object() {
        for (name, value) in headers {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::try_from(name.as_str()),
                value.as_str().map(HeaderValue::from_str),
            ) {
                http.headers_mut().append(name, value);
            }
        }
    }
    if let Some(cookies) = response["cookies"].as_array() {
        for cookie in cookies.iter().filter_map(Value::as_str) {
            if let Ok(value) = HeaderValue::from_str(cookie) {
                http.headers_mut()
                    .append(axum::http::header::SET_COOKIE, value);
            }
        }
    }
    http
}
