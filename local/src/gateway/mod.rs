//! A faithful local API Gateway WebSocket API (docs/protocol.md sections 3 and 7): the handshake
//! ([`upgrade`]), each connection's life ([`socket`]), the `@connections` API ([`management`])
//! and a simulated outage ([`faults`]).
//!
//! - `GET /ws` upgrades after the REQUEST authorizer allows (a refusal is HTTP 401, a deny 403)
//!   and `$connect` returns 2xx; only then is the connection registered and postable.
//! - Each text frame is routed on `$request.body.action` (`JoinAuction`, `LeaveAuction`, else
//!   `$default`) and its function invoked with the exact MESSAGE event JSON.
//! - Limits: 32 KB frames and 128 KB messages close with 1009, binary frames with 1003; an idle
//!   connection closes after the idle timeout, any connection after the maximum lifetime.
//! - `$disconnect` runs once per connection, with `disconnectStatusCode`/`disconnectReason`.
//! - `/@connections/{id}`: POST (200, 410 `GoneException`, 413), GET, DELETE (204). Signatures are
//!   not required: docs/protocol.md section 7 lists these answers and no other. A POST writes its frame
//!   into the socket itself before answering; a reader that stopped reading (a frame not taken
//!   within [`Limits::stalled_reader_timeout`]) is cut and the post answers 410.
//! - Fault injection (local only): `POST /_local/faults/websocket` `{"outage": true}` drops every
//!   socket without a close frame (as a network cut does; `$disconnect` runs with 1006) and answers
//!   upgrades with 503 until `{"outage": false}`; the HTTP API stays up, as in a partial outage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use auction_core::domain::EpochMillis;
use axum::extract::ws::{Message, WebSocket};
use axum::http::HeaderMap;
use base64::Engine;
use futures::stream::SplitSink;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Notify};

use crate::invoke::{Function, Invoker};

mod faults;
pub(crate) mod management;
mod socket;
mod upgrade;

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
    pub const INVALID_PAYLOAD: u16 = 1007;
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
    /// Injected Management API faults ([`crate::faults`]).
    faults: Arc<crate::faults::FaultPlan>,
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
    /// counting `PostToConnection` calls in `stats`, failing Management API calls by `faults`.
    pub fn new(
        invoker: Arc<dyn Invoker>,
        limits: Limits,
        domain_name: String,
        stats: Arc<crate::stats::Stats>,
        faults: Arc<crate::faults::FaultPlan>,
    ) -> Arc<Self> {
        Arc::new(Self {
            invoker,
            live: RwLock::new(HashMap::new()),
            limits,
            domain_name,
            stats,
            faults,
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
        let now = crate::now();
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
        self.invoke_route_response(function, event)
            .await
            .map(|(status, _)| status)
    }

    /// A route's status code and response (for `$connect`, whose headers reach the handshake).
    async fn invoke_route_response(
        &self,
        function: Function,
        event: Value,
    ) -> Option<(i64, Value)> {
        match self.invoker.invoke(function, event).await {
            Ok(result) => Some((
                result
                    .get("statusCode")
                    .and_then(Value::as_i64)
                    .unwrap_or(200),
                result,
            )),
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
    let management = axum::Router::new()
        .route(
            "/@connections/{id}",
            get(management::get_connection)
                .post(management::post_to_connection)
                .delete(management::delete_connection),
        )
        .route_layer(axum::middleware::from_fn(crate::guard::signed_management));
    axum::Router::new()
        .route("/ws", get(upgrade::upgrade))
        .route(
            "/_local/faults/websocket",
            axum::routing::post(faults::set_outage),
        )
        .merge(management)
        .with_state(gateway)
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
        self.last_active_ms.store(crate::now().0, Ordering::Relaxed);
    }
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
