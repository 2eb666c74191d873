//! One connection's life once upgraded: frames in are routed to their function, the limits are
//! enforced, the closing handshake is made, and `$disconnect` runs exactly once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

use super::{Gateway, Live, close, ending, new_connection_id};
use auction_app::ws::Route;

use crate::invoke::Function;

/// One connection's life: reads frames, enforces the limits, then `$disconnect`. Posted frames are
/// written by the `@connections` handler through the shared sink.
pub(super) async fn serve(
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
    // One laptop runs every function and one engine: a socket may have only so many messages in
    // its functions at once, and is not read meanwhile, so a flooder slows itself, not the others
    // (docs/local.md). API Gateway has no such bound; Lambda concurrency and route throttling
    // bound a flooder there (docs/security.md).
    let in_flight = Arc::new(Semaphore::new(MAX_MESSAGES_IN_FLIGHT));
    // Why it ended, and how the socket's closing handshake goes.
    let (code, reason, handshake): (u16, &str, Handshake) = loop {
        tokio::select! {
            (permit, frame) = next_with_permit(&mut stream, &in_flight) => match frame {
                Some(Ok(Message::Text(text))) => {
                    live.touch();
                    let gateway = Arc::clone(&gateway);
                    let event = message_event(&gateway, &connection_id, &live, &authorizer, text.as_str());
                    let route = event.0;
                    tokio::spawn(async move {
                        gateway.invoke_route(Function::Route(Route::for_key(route)), event.1).await;
                        drop(permit);
                    });
                }
                Some(Ok(Message::Binary(_))) => break (close::UNSUPPORTED_DATA, "Binary frames are not supported", Handshake::Send),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => live.touch(),
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.as_ref().map_or(close::NORMAL, |f| f.code);
                    break (code, "Client closed the connection", Handshake::Echo);
                }
                Some(Err(e)) if is_too_big(&e) => break (close::TOO_BIG, "Message too big", Handshake::Send),
                Some(Err(e)) if is_not_utf8(&e) => break (close::INVALID_PAYLOAD, "Text frame is not UTF-8", Handshake::Send),
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
                let idle_ms = crate::now().0 - live.last_active_ms.load(Ordering::Relaxed);
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

/// Messages of one socket being handled by their functions at once.
const MAX_MESSAGES_IN_FLIGHT: usize = 4;

/// The next frame, read once a message slot is free (the slot goes with the frame).
async fn next_with_permit(
    stream: &mut SplitStream<WebSocket>,
    in_flight: &Arc<Semaphore>,
) -> (
    Option<OwnedSemaphorePermit>,
    Option<Result<Message, axum::Error>>,
) {
    let permit = Arc::clone(in_flight).acquire_owned().await.ok();
    (permit, stream.next().await)
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

fn is_not_utf8(error: &axum::Error) -> bool {
    // As above: tungstenite's `Error::Utf8`, seen through axum's wrapper.
    format!("{error:?}").contains("Utf8(")
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
    gateway
        .invoke_route(Function::Route(Route::Disconnect), event)
        .await;
}
