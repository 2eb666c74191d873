//! A faithful local API Gateway WebSocket API (PROTOCOL.md sections 3 and 7).
//!
//! - `GET /ws` upgrades after the REQUEST authorizer allows (a refusal is HTTP 401, a deny 403)
//!   and `$connect` returns 2xx; only then is the connection registered and postable.
//! - Each text frame is routed on `$request.body.action` (`JoinAuction`, `LeaveAuction`, else
//!   `$default`) and its function invoked with the exact MESSAGE event JSON.
//! - Limits: 32 KB frames and 128 KB messages close with 1009, binary frames with 1003; an idle
//!   connection closes after the idle timeout, any connection after the maximum lifetime.
//! - `$disconnect` runs once per connection, with `disconnectStatusCode`/`disconnectReason`.
//! - `/@connections/{id}`: POST (200, 410 `GoneException`, 413), GET, DELETE (204). Signatures are
//!   not required: PROTOCOL.md section 7 lists these answers and no other. A POST writes its frame
//!   into the socket itself before answering; a reader that stopped reading (a frame not taken
//!   within [`Limits::stalled_reader_timeout`]) is cut and the post answers 410.
//! - Fault injection (local only): `POST /_local/faults/websocket` `{"outage": true}` drops every
//!   socket without a close frame (as a network cut does; `$disconnect` runs with 1006) and answers
//!   upgrades with 503 until `{"outage": false}`; the HTTP API stays up, as in a partial outage.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use shared::domain::EpochMillis;
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

use crate::invoke::{Function, Invoker};

/// API Gateway's frame limit.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;
/// API Gateway's message limit (also the `PostToConnection` payload limit).
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// Close codes (RFC 6455).
mod close {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const UNSUPPORTED_DATA: u16 = 1003;
    pub const ABNORMAL: u16 = 1006;
    pub const TOO_BIG: u16 = 1009;
}

/// The gateway's timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Close a connection with no traffic for this long (API Gateway: 10 minutes).
    pub idle_timeout: Duration,
    /// Close any connection after this long (API Gateway: 2 hours).
    pub max_connection_duration: Duration,
    /// A posted frame the client's socket has not taken in this long means a reader that stopped
    /// reading: the post answers 410 and the connection is cut (`$disconnect` with 1006), so
    /// frames never pile up in the gateway.
    pub stalled_reader_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(10 * 60),
            max_connection_duration: Duration::from_secs(2 * 60 * 60),
            stalled_reader_timeout: Duration::from_secs(3),
        }
    }
}

/// How a connection must end, when something other than its own task decides it ([`Live::end`]).
mod ending {
    pub const NONE: u8 = 0;
    /// `DELETE @connections/{id}`: a close frame, 1000.
    pub const DELETED: u8 = 1;
    /// No close frame, 1006: a simulated network cut, or a write that failed or stalled.
    pub const CUT: u8 = 2;
}

/// The socket's write half; `None` before the upgrade completes and once the socket is closed.
type Sink = Arc<Mutex<Option<SplitSink<WebSocket, Message>>>>;

// Kept small: one of these lives per open connection.
struct Live {
    /// `@connections` posts write their frame into the socket themselves, in the request's own
    /// task: handing it to the connection's task cost a wake-up per post (10,000 per broadcast),
    /// and a queue allocated per connection.
    sink: Sink,
    /// One of [`ending`]; set once, then `ended` wakes the connection's task.
    ending: AtomicU8,
    ended: Notify,
    connected_at: EpochMillis,
    last_active_ms: AtomicI64,
    source_ip: String,
    user_agent: String,
}

/// The gateway's shared state.
pub struct Gateway {
    invoker: Arc<dyn Invoker>,
    live: RwLock<HashMap<String, Arc<Live>>>,
    limits: Limits,
    domain_name: String,
    stats: Arc<crate::stats::Stats>,
    /// A simulated WebSocket outage (see the module docs).
    outage: AtomicBool,
}

const STAGE: &str = "local";
const API_ID: &str = "local";

/// A connection id in API Gateway's shape: 12 random bytes, base64 (`L0SM9cOFvHcCIhw=`).
fn new_connection_id() -> String {
    let random = uuid::Uuid::new_v4();
    base64::engine::general_purpose::STANDARD.encode(&random.as_bytes()[..11])
}

fn request_time(at: EpochMillis) -> String {
    // API Gateway's CLF-style `requestTime`: 09/Feb/2024:18:11:43 +0000.
    let rfc = at.to_rfc3339();
    let (date, time) = rfc.split_once('T').unwrap_or((&rfc, "00:00:00"));
    let mut parts = date.split('-');
    let (y, m, d) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("01"),
        parts.next().unwrap_or(""),
    );
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = m
        .parse::<usize>()
        .ok()
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .unwrap_or(&"Jan");
    format!("{d}/{month}/{y}:{} +0000", &time[..8.min(time.len())])
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn headers_json(headers: &HeaderMap) -> (Value, Value) {
    let mut single = serde_json::Map::new();
    let mut multi: serde_json::Map<String, Value> = serde_json::Map::new();
    for (name, value) in headers {
        let value = value.to_str().unwrap_or_default().to_owned();
        single.insert(name.as_str().to_owned(), Value::String(value.clone()));
        if let Some(list) = multi
            .entry(name.as_str().to_owned())
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
        {
            list.push(Value::String(value));
        }
    }
    (Value::Object(single), Value::Object(multi))
}

impl Gateway {
    /// A gateway invoking functions through `invoker`, reachable at `domain_name` (host:port),
    /// counting `PostToConnection` calls in `stats`.
    pub fn new(
        invoker: Arc<dyn Invoker>,
        limits: Limits,
        domain_name: String,
        stats: Arc<crate::stats::Stats>,
    ) -> Arc<Self> {
        Arc::new(Self {
            invoker,
            live: RwLock::new(HashMap::new()),
            limits,
            domain_name,
            stats,
            outage: AtomicBool::new(false),
        })
    }

    /// Starts or ends a simulated WebSocket outage; starting one cuts every open socket. Returns
    /// how many sockets were cut.
    pub fn set_outage(&self, outage: bool) -> usize {
        self.outage.store(outage, Ordering::SeqCst);
        if !outage {
            return 0;
        }
        let live: Vec<Arc<Live>> = self
            .live
            .read()
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default();
        live.iter().filter(|l| l.end(ending::CUT)).count()
    }

    /// How many connections are open.
    pub fn connection_count(&self) -> usize {
        self.live.read().map(|l| l.len()).unwrap_or(0)
    }

    fn request_context(
        &self,
        route_key: &str,
        event_type: &str,
        connection_id: &str,
        connected_at: EpochMillis,
        identity: (&str, &str),
    ) -> serde_json::Map<String, Value> {
        let now = EpochMillis::now();
        let mut context = json!({
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id(),
            "requestTime": request_time(now),
            "messageDirection": "IN",
            "stage": STAGE,
            "connectedAt": connected_at.0,
            "requestTimeEpoch": now.0,
            "identity": {"sourceIp": identity.0, "userAgent": identity.1},
            "requestId": request_id(),
            "domainName": self.domain_name,
            "connectionId": connection_id,
            "apiId": API_ID,
        });
        context
            .as_object_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    async fn invoke_route(&self, function: Function, event: Value) -> Option<i64> {
        match self.invoker.invoke(function, event).await {
            Ok(result) => result
                .get("statusCode")
                .and_then(Value::as_i64)
                .or(Some(200)),
            Err(e) => {
                tracing::error!(function = function.name(), error = %e, "function failed");
                None
            }
        }
    }
}

/// The router: `/ws` and `/@connections/{id}`.
pub fn routes(gateway: Arc<Gateway>) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/ws", get(upgrade))
        .route(
            "/@connections/{id}",
            get(get_connection)
                .post(post_to_connection)
                .delete(delete_connection),
        )
        .route("/_local/faults/websocket", axum::routing::post(set_outage))
        .with_state(gateway)
}

#[derive(serde::Deserialize)]
struct OutageRequest {
    outage: bool,
}

async fn set_outage(
    State(gateway): State<Arc<Gateway>>,
    axum::Json(request): axum::Json<OutageRequest>,
) -> Response {
    let cut = gateway.set_outage(request.outage);
    tracing::warn!(outage = request.outage, cut, "simulated WebSocket outage");
    axum::Json(json!({"outage": request.outage, "cut": cut})).into_response()
}

async fn upgrade(
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
    let connected_at = EpochMillis::now();
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
    match gateway.invoke_route(Function::Connect, connect_event).await {
        Some(status) if (200..300).contains(&status) => {}
        Some(status) => {
            let status = u16::try_from(status)
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::FORBIDDEN);
            return status.into_response();
        }
        None => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }

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

impl Live {
    /// Asks the connection's task to end the connection (`how` is one of [`ending`]); false when
    /// it was already ending.
    fn end(&self, how: u8) -> bool {
        let first = self
            .ending
            .compare_exchange(ending::NONE, how, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if first {
            self.ended.notify_one();
        }
        first
    }

    fn touch(&self) {
        self.last_active_ms
            .store(EpochMillis::now().0, Ordering::Relaxed);
    }
}

/// One connection's life: reads frames, enforces the limits, then `$disconnect`. Posted frames are
/// written by the `@connections` handler through the shared sink.
async fn serve(
    gateway: Arc<Gateway>,
    connection_id: String,
    live: Arc<Live>,
    authorizer: Box<str>,
    socket: WebSocket,
    mut pending: OwnedMutexGuard<Option<SplitSink<WebSocket, Message>>>,
) {
    let (sink, mut stream): (_, SplitStream<WebSocket>) = socket.split();
    *pending = Some(sink);
    drop(pending);
    let limits = gateway.limits;
    let started = tokio::time::Instant::now();
    let lifetime_deadline = started + limits.max_connection_duration;
    // One timer per connection, re-armed only when it fires early: traffic never touches the
    // timer wheel (creating a timer per frame costs a lock per frame across all connections).
    let timer = tokio::time::sleep_until((started + limits.idle_timeout).min(lifetime_deadline));
    tokio::pin!(timer);
    // Ending is final, so one registration serves the connection's life.
    let ended = live.ended.notified();
    tokio::pin!(ended);
    // Why it ended, and how the socket's closing handshake goes.
    let (code, reason, handshake): (u16, &str, Handshake) = loop {
        tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    live.touch();
                    let gateway = Arc::clone(&gateway);
                    let event = message_event(&gateway, &connection_id, &live, &authorizer, text.as_str());
                    let route = event.0;
                    tokio::spawn(async move { gateway.invoke_route(Function::for_route(route), event.1).await });
                }
                Some(Ok(Message::Binary(_))) => break (close::UNSUPPORTED_DATA, "Binary frames are not supported", Handshake::Send),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => live.touch(),
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.as_ref().map_or(close::NORMAL, |f| f.code);
                    break (code, "Client closed the connection", Handshake::Echo);
                }
                Some(Err(e)) if is_too_big(&e) => break (close::TOO_BIG, "Message too big", Handshake::Send),
                Some(Err(_)) | None => break (close::ABNORMAL, "Connection closed abnormally", Handshake::Cut),
            },
            () = &mut ended => {
                if live.ending.load(Ordering::SeqCst) == ending::DELETED {
                    break (close::NORMAL, "Connection deleted", Handshake::Send);
                }
                break (close::ABNORMAL, "Connection closed abnormally", Handshake::Cut);
            },
            () = &mut timer => {
                // Frames either way count as activity; posts stamp it from their own task.
                let idle_ms = EpochMillis::now().0 - live.last_active_ms.load(Ordering::Relaxed);
                let idle = Duration::from_millis(u64::try_from(idle_ms).unwrap_or(0));
                let now = tokio::time::Instant::now();
                let deadline = (now + limits.idle_timeout.saturating_sub(idle)).min(lifetime_deadline);
                if now < deadline {
                    timer.as_mut().reset(deadline);
                    continue;
                }
                let reason = if deadline == lifetime_deadline { "Connection duration exceeded" } else { "Idle timeout exceeded" };
                break (close::GOING_AWAY, reason, Handshake::Send);
            }
        }
    };
    let mut sink = live.sink.lock().await;
    if let Some(socket) = sink.as_mut() {
        // Bounded like a post: a client that stopped reading does not hold the connection open.
        let stall = limits.stalled_reader_timeout;
        match handshake {
            Handshake::Send => {
                let _ = tokio::time::timeout(stall, socket.send(close_message(code, reason))).await;
            }
            // tungstenite queued the echo of the client's close frame when it read it; closing
            // the write half flushes it (RFC 6455 section 5.5.1, and what API Gateway does).
            Handshake::Echo => {
                let _ = tokio::time::timeout(stall, socket.close()).await;
            }
            Handshake::Cut => {}
        }
    }
    // Later posts find no socket (410), and dropping both halves closes it.
    sink.take();
    drop(sink);
    drop(stream);
    finish(&gateway, &connection_id, &live, &authorizer, code, reason).await;
}

/// How a connection's closing handshake goes.
#[derive(Clone, Copy)]
enum Handshake {
    /// The gateway closes: it sends its close frame.
    Send,
    /// The client closed: the gateway echoes its close frame.
    Echo,
    /// The socket is broken or cut: no close frame either way.
    Cut,
}

fn close_message(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

fn is_too_big(error: &axum::Error) -> bool {
    // axum wraps tungstenite's capacity errors; they are the only ones that mention the size.
    let text = format!("{error:?}");
    text.contains("Capacity") || text.contains("too long") || text.contains("too big")
}

fn message_event(
    gateway: &Gateway,
    connection_id: &str,
    live: &Live,
    authorizer: &str,
    body: &str,
) -> (&'static str, Value) {
    let route = match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(map)) => match map.get("action").and_then(Value::as_str) {
            Some("JoinAuction") => "JoinAuction",
            Some("LeaveAuction") => "LeaveAuction",
            _ => "$default",
        },
        _ => "$default",
    };
    let mut context = gateway.request_context(
        route,
        "MESSAGE",
        connection_id,
        live.connected_at,
        (&live.source_ip, &live.user_agent),
    );
    context.insert("messageId".into(), json!(new_connection_id()));
    context.insert(
        "authorizer".into(),
        serde_json::from_str(authorizer).unwrap_or_default(),
    );
    (
        route,
        json!({"requestContext": context, "body": body, "isBase64Encoded": false}),
    )
}

/// Unregisters the connection and runs `$disconnect` exactly once.
async fn finish(
    gateway: &Gateway,
    connection_id: &str,
    live: &Live,
    authorizer: &str,
    code: u16,
    reason: &str,
) {
    let removed = gateway
        .live
        .write()
        .ok()
        .and_then(|mut l| l.remove(connection_id));
    if removed.is_none() {
        return;
    }
    let mut context = gateway.request_context(
        "$disconnect",
        "DISCONNECT",
        connection_id,
        live.connected_at,
        (&live.source_ip, &live.user_agent),
    );
    context.insert("disconnectStatusCode".into(), json!(code));
    context.insert("disconnectReason".into(), json!(reason));
    context.insert(
        "authorizer".into(),
        serde_json::from_str(authorizer).unwrap_or_default(),
    );
    let event = json!({"requestContext": context, "isBase64Encoded": false, "headers": {}, "multiValueHeaders": {}});
    gateway.invoke_route(Function::Disconnect, event).await;
}

fn gone() -> Response {
    let mut response = (StatusCode::GONE, axum::Json(json!({"message": null}))).into_response();
    response.headers_mut().insert(
        "x-amzn-ErrorType",
        HeaderValue::from_static("GoneException"),
    );
    response
}

fn find(gateway: &Gateway, id: &str) -> Option<Arc<Live>> {
    gateway.live.read().ok().and_then(|l| l.get(id).cloned())
}

async fn post_to_connection(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    gateway
        .stats
        .post_to_connection
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if body.len() > MAX_MESSAGE_BYTES {
        let mut response = (
            StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(json!({"message": "Message too long"})),
        )
            .into_response();
        response.headers_mut().insert(
            "x-amzn-ErrorType",
            HeaderValue::from_static("PayloadTooLargeException"),
        );
        return response;
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

async fn get_connection(State(gateway): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
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

async fn delete_connection(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> Response {
    let Some(live) = find(&gateway, &id) else {
        return gone();
    };
    live.end(ending::DELETED);
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids_look_like_api_gateways() {
        let id = new_connection_id();
        assert_eq!(id.len(), 16);
        assert!(id.ends_with('='));
    }

    #[test]
    fn request_time_is_in_api_gateways_format() {
        let at = EpochMillis::parse_rfc3339("2024-02-09T18:11:43Z").unwrap();
        assert_eq!(request_time(at), "09/Feb/2024:18:11:43 +0000");
    }
}
