//! `/@connections/{id}`: the Management API. POST writes its frame into the socket itself before
//! answering (200; 410 `GoneException` for an unknown or closed connection; 413 over 128 KB); a
//! reader that stopped reading (a frame not taken within [`super::Limits::stalled_reader_timeout`])
//! is cut and the post answers 410. GET describes the connection; DELETE closes it (204).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use auction_core::domain::EpochMillis;
use axum::body::Bytes;
use axum::extract::ws::Message;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::SinkExt;
use serde_json::{Value, json};

use super::{Gateway, Live, MAX_MESSAGE_BYTES, ending};

/// An error in the Management API's shape: `{"message"}` and its `x-amzn-ErrorType`.
pub(crate) fn api_error(status: StatusCode, kind: &'static str, message: Value) -> Response {
    let mut response = (status, axum::Json(json!({ "message": message }))).into_response();
    response
        .headers_mut()
        .insert("x-amzn-ErrorType", HeaderValue::from_static(kind));
    response
}

fn gone() -> Response {
    api_error(StatusCode::GONE, "GoneException", Value::Null)
}

/// The answer of an injected fault ([`crate::faults`]), or `None` to serve the call (after an
/// injected timeout's delay).
async fn injected(gateway: &Gateway, operation: &str) -> Option<Response> {
    use crate::faults::{Fault, Service};
    let injected = gateway.faults.take(Service::Management, operation)?;
    let (status, kind) = match injected.fault {
        Fault::Throttle => (StatusCode::TOO_MANY_REQUESTS, "LimitExceededException"),
        Fault::Gone => return Some(gone()),
        Fault::Timeout => {
            tokio::time::sleep(injected.delay).await;
            return None;
        }
        Fault::ServerError | Fault::LostResponse | Fault::Partial => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerErrorException",
        ),
    };
    Some(api_error(status, kind, json!("injected fault")))
}

fn find(gateway: &Gateway, id: &str) -> Option<Arc<Live>> {
    gateway.live.read().ok().and_then(|l| l.get(id).cloned())
}

pub(super) async fn post_to_connection(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    gateway
        .stats
        .post_to_connection
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Some(response) = injected(&gateway, "PostToConnection").await {
        return response;
    }
    if body.len() > MAX_MESSAGE_BYTES {
        return api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeException",
            json!("Message too long"),
        );
    }
    let Some(live) = find(&gateway, &id) else {
        return gone();
    };
    let message = match axum::extract::ws::Utf8Bytes::try_from(body.clone()) {
        Ok(text) => Message::Text(text),
        Err(_) => Message::Binary(body),
    };
    // Concurrent posts to one connection queue on the lock in arrival order (it is fair).
    let mut sink = live.sink.lock().await;
    let Some(socket) = sink.as_mut() else {
        return gone();
    };
    let send = socket.send(message);
    tokio::pin!(send);
    // Almost every frame goes straight into the kernel's buffer, so the first poll finishes it
    // and no timer is armed; only a full socket buffer waits, for at most the stall limit.
    let sent = match futures::poll!(send.as_mut()) {
        std::task::Poll::Ready(result) => result.is_ok(),
        std::task::Poll::Pending => {
            matches!(
                tokio::time::timeout(gateway.limits.stalled_reader_timeout, send).await,
                Ok(Ok(()))
            )
        }
    };
    if !sent {
        // Broken, or a reader that stopped reading: this frame is not delivered, later posts get
        // 410 at once, and the connection's task cuts the socket and runs `$disconnect`.
        sink.take();
        live.end(ending::CUT);
        return gone();
    }
    drop(sink);
    live.touch();
    StatusCode::OK.into_response()
}

pub(super) async fn get_connection(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> Response {
    if let Some(response) = injected(&gateway, "GetConnection").await {
        return response;
    }
    let Some(live) = find(&gateway, &id) else {
        return gone();
    };
    axum::Json(json!({
        "connectedAt": live.connected_at.to_rfc3339(),
        "lastActiveAt": EpochMillis(live.last_active_ms.load(Ordering::Relaxed)).to_rfc3339(),
        "identity": {"sourceIp": live.source_ip, "userAgent": live.user_agent},
    }))
    .into_response()
}

pub(super) async fn delete_connection(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> Response {
    if let Some(response) = injected(&gateway, "DeleteConnection").await {
        return response;
    }
    let Some(live) = find(&gateway, &id) else {
        return gone();
    };
    live.end(ending::DELETED);
    StatusCode::NO_CONTENT.into_response()
}
