//! `GET /ws`: the handshake. The REQUEST authorizer runs first (a refusal is HTTP 401, a deny
//! 403), then `$connect` (a non-2xx result fails the handshake with that status); only then is
//! the connection registered and postable, and the socket upgraded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::socket::serve;
use super::{
    API_ID, Gateway, Live, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES, STAGE, Sink, ending, headers_json,
    new_connection_id,
};
use auction_app::ws::Route;

use crate::invoke::Function;

pub(super) async fn upgrade(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if gateway.outage.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"message": "Service Unavailable"})),
        )
            .into_response();
    }
    let connection_id = new_connection_id();
    let connected_at = crate::now();
    let source_ip = peer.ip().to_string();
    let user_agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (headers_single, headers_multi) = headers_json(&headers);
    let query_multi: serde_json::Map<String, Value> =
        query.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
    let context = gateway.request_context(
        "$connect",
        "CONNECT",
        &connection_id,
        connected_at,
        (&source_ip, &user_agent),
    );

    // The REQUEST authorizer, with the `token` query string (and headers) as identity sources.
    let authorizer_event = json!({
        "type": "REQUEST",
        "methodArn": format!("arn:aws:execute-api:us-east-1:000000000000:{API_ID}/{STAGE}/$connect"),
        "headers": headers_single,
        "multiValueHeaders": headers_multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": query_multi,
        "stageVariables": {},
        "requestContext": context,
    });
    let authorizer_context = match gateway
        .invoker
        .invoke(Function::Authorizer, authorizer_event)
        .await
    {
        Ok(response) => {
            let allowed = response["policyDocument"]["Statement"]
                .as_array()
                .is_some_and(|s| !s.is_empty() && s.iter().all(|s| s["Effect"] == "Allow"));
            if !allowed {
                return (
                    StatusCode::FORBIDDEN,
                    axum::Json(json!({"message": "Forbidden"})),
                )
                    .into_response();
            }
            let mut context = response["context"].as_object().cloned().unwrap_or_default();
            context.insert("principalId".into(), response["principalId"].clone());
            context
        }
        Err(e) if e.error_message == "Unauthorized" => {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"message": "Unauthorized"})),
            )
                .into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "authorizer failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"message": "Internal server error"})),
            )
                .into_response();
        }
    };

    let mut context = context;
    context.insert(
        "authorizer".into(),
        Value::Object(authorizer_context.clone()),
    );
    let connect_event = json!({
        "headers": headers_single,
        "multiValueHeaders": headers_multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": query_multi,
        "requestContext": context,
        "isBase64Encoded": false,
    });
    // As API Gateway does, the handshake carries the `Sec-WebSocket-Protocol` that `$connect`
    // returned, and nothing when it returned none.
    let selected_protocol = match gateway
        .invoke_route_response(Function::Route(Route::Connect), connect_event)
        .await
    {
        Some((status, response)) if (200..300).contains(&status) => response_header(
            &response,
            axum::http::header::SEC_WEBSOCKET_PROTOCOL.as_str(),
        ),
        Some((status, _)) => {
            let status = u16::try_from(status)
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::FORBIDDEN);
            return status.into_response();
        }
        None => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };

    // Registered (postable) from here, as API Gateway's connection is once `$connect` allowed it;
    // posts that come before the socket is up wait on the sink's lock, held until then.
    let sink: Sink = Arc::default();
    let Ok(pending) = Arc::clone(&sink).try_lock_owned() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let live = Arc::new(Live {
        sink,
        ending: AtomicU8::new(ending::NONE),
        ended: Notify::new(),
        connected_at,
        last_active_ms: AtomicI64::new(connected_at.0),
        source_ip,
        user_agent,
    });
    if let Ok(mut registry) = gateway.live.write() {
        registry.insert(connection_id.clone(), Arc::clone(&live));
    }
    let upgrade = match selected_protocol {
        Some(protocol) => upgrade.protocols([protocol]),
        None => upgrade,
    };
    upgrade
        // Small buffers: an idle connection should cost a few KB (tungstenite's defaults are 128 KB).
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_frame_size(MAX_FRAME_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_failed_upgrade({
            let gateway = Arc::clone(&gateway);
            let connection_id = connection_id.clone();
            move |_| {
                if let Ok(mut registry) = gateway.live.write() {
                    registry.remove(&connection_id);
                }
            }
        })
        .on_upgrade(move |socket| {
            // Held as compact JSON text for the connection's life: a few dozen bytes, not a map.
            let authorizer = Value::Object(authorizer_context)
                .to_string()
                .into_boxed_str();
            serve(gateway, connection_id, live, authorizer, socket, pending)
        })
}

/// A header of a Lambda proxy response (`headers`, any case), as API Gateway reads it.
fn response_header(response: &Value, name: &str) -> Option<String> {
    response["headers"]
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .and_then(|(_, value)| value.as_str())
        .map(str::to_owned)
}
