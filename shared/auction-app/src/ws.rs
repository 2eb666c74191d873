//! The WebSocket route handlers: the seed's `AuctionHub` as API Gateway routes.
//!
//! Plain async functions over the real Lambda event types, called by each function's `main.rs`,
//! by `auction-local` and by tests. Replies go through the Management API ([`Pusher`]), never in
//! `$connect` (the connection is not open until it returns).

use std::sync::Arc;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse, ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::Value;

use crate::auth::{AuthError, Identity, TokenVerifier, roles_from_context, roles_to_context};
use crate::config::RateLimit;
use crate::domain::{AuctionId, Connection, EpochMillis, PUBLIC_TENANT};
use crate::frames::{self, ErrorCode};
use crate::ports::{AuctionStore, ConnectionStore, JoinError};
use crate::push::{PushError, Pusher};
use crate::telemetry;

/// What the route handlers need, built once per process.
#[derive(Clone)]
pub struct WsDeps {
    /// Connections and groups.
    pub connections: Arc<dyn ConnectionStore>,
    /// Auctions.
    pub auctions: Arc<dyn AuctionStore>,
    /// The Management API.
    pub pusher: Arc<dyn Pusher>,
    /// The Join/Leave limit per connection.
    pub join_rate: RateLimit,
}

/// Why a handler failed. Clients never see these; they get an `Error` frame or a status code.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event lacks something API Gateway always sends.
    #[error("malformed event: {0}")]
    MalformedEvent(&'static str),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::ports::StoreError),
    /// A reply could not be posted.
    #[error(transparent)]
    Push(#[from] PushError),
}

/// The authorizer's refusal. API Gateway turns the exact message `Unauthorized` into HTTP 401.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizerError {
    /// No valid identity: the handshake fails with 401.
    #[error("Unauthorized")]
    Unauthorized,
    /// The keys could not be fetched: the handshake fails with 500, and it is retried.
    #[error("authorizer failed: {0}")]
    Failed(#[source] AuthError),
}

/// Authorizer context keys, as the route handlers read them.
pub mod context {
    /// The user id (absent for anonymous viewers).
    pub const USER_ID: &str = "userId";
    /// The tenant id.
    pub const TENANT_ID: &str = "tenantId";
    /// Comma-separated roles.
    pub const ROLES: &str = "roles";
}

fn bearer(event: &ApiGatewayCustomAuthorizerRequestTypeRequest) -> Option<String> {
    if let Some(token) = event.query_string_parameters.first("token") {
        return Some(token.to_owned());
    }
    let header = event
        .headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// The `$connect` REQUEST authorizer: verifies the token (`?token=` or `Authorization: Bearer`)
/// and allows the connection with the identity in the context.
///
/// # Errors
/// [`AuthorizerError::Unauthorized`] for a missing (when anonymous viewing is off), invalid,
/// expired or wrongly signed token.
pub async fn authorize(
    verifier: &TokenVerifier,
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> Result<ApiGatewayCustomAuthorizerResponse, AuthorizerError> {
    let identity = match verifier.identify(bearer(&event).as_deref()).await {
        Ok(identity) => identity,
        Err(AuthError::KeysUnavailable(e)) => {
            metrics::counter!(telemetry::FAILED_CONNECTIONS, "Reason" => "Error").increment(1);
            return Err(AuthorizerError::Failed(AuthError::KeysUnavailable(e)));
        }
        Err(e) => {
            tracing::info!(error = ?e, "connection refused");
            metrics::counter!(telemetry::FAILED_CONNECTIONS, "Reason" => "Unauthorized")
                .increment(1);
            return Err(AuthorizerError::Unauthorized);
        }
    };
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.effect = IamPolicyEffect::Allow;
    statement.resource = vec![event.method_arn.unwrap_or_else(|| "*".to_owned())];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".to_owned());
    policy.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(
        identity
            .user_id
            .clone()
            .unwrap_or_else(|| "anonymous".to_owned()),
    );
    response.policy_document = policy;
    let mut ctx = serde_json::Map::new();
    if let Some(user_id) = &identity.user_id {
        ctx.insert(context::USER_ID.into(), user_id.clone().into());
    }
    ctx.insert(context::TENANT_ID.into(), identity.tenant_id.clone().into());
    ctx.insert(
        context::ROLES.into(),
        roles_to_context(&identity.roles).into(),
    );
    response.context = Value::Object(ctx);
    Ok(response)
}

fn respond(status_code: i64) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status_code;
    response
}

fn connection_id(event: &ApiGatewayWebsocketProxyRequest) -> Result<&str, HandlerError> {
    event
        .request_context
        .connection_id
        .as_deref()
        .ok_or(HandlerError::MalformedEvent("requestContext.connectionId"))
}

/// The identity the authorizer put in the context. Without an authorizer (none configured),
/// the connection is an anonymous viewer.
fn identity_of(event: &ApiGatewayWebsocketProxyRequest) -> Identity {
    let fields = &event.request_context.authorizer.fields;
    let text = |key: &str| {
        fields
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    Identity {
        user_id: text(context::USER_ID).map(str::to_owned),
        tenant_id: text(context::TENANT_ID).unwrap_or(PUBLIC_TENANT).to_owned(),
        roles: text(context::ROLES)
            .map(roles_from_context)
            .unwrap_or_default(),
    }
}

/// How far `$connect`'s `connectedAt` may be from the clock before the clock is trusted instead.
const CONNECTED_AT_TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// `$connect`: records the connection with its identity and expiry. Never posts.
///
/// # Errors
/// [`HandlerError`] when the store fails (the handshake then fails).
pub async fn connect(
    deps: &WsDeps,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, HandlerError> {
    let id = connection_id(&event)?;
    let identity = identity_of(&event);
    // At $connect the connection opens now; a connectedAt minutes away from the clock is an
    // event replayed by hand (tests/events) or a skewed clock, and would expire the row early.
    let now = EpochMillis::now();
    let connected_at = match event.request_context.connected_at {
        at if (now.0 - at).abs() <= CONNECTED_AT_TOLERANCE_MS => EpochMillis(at),
        _ => now,
    };
    let connection = Connection::new(
        id,
        identity.user_id,
        identity.tenant_id,
        identity.roles,
        connected_at,
    );
    if let Err(e) = deps.connections.put(&connection).await {
        metrics::counter!(telemetry::FAILED_CONNECTIONS, "Reason" => "Error").increment(1);
        return Err(e.into());
    }
    if let Some(user_id) = &connection.user_id {
        count_reconnection(deps, &connection.tenant_id, user_id, connected_at).await;
    }
    Ok(respond(200))
}

/// Counts a reconnection when the user lost a joined connection within the window. Best
/// effort: the metric never fails a handshake.
async fn count_reconnection(deps: &WsDeps, tenant_id: &str, user_id: &str, now: EpochMillis) {
    match deps.connections.take_departure(tenant_id, user_id).await {
        Ok(Some(left_at)) => {
            let window = i64::try_from(telemetry::RECONNECT_WINDOW.as_millis()).unwrap_or(0);
            if now.0 - left_at.0 <= window {
                metrics::counter!(telemetry::RECONNECTIONS).increment(1);
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = ?e, "departure note not read"),
    }
}

/// `$disconnect`: removes the connection, its memberships and their counts. Idempotent.
///
/// # Errors
/// [`HandlerError`] when the store fails.
pub async fn disconnect(
    deps: &WsDeps,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, HandlerError> {
    let id = connection_id(&event)?;
    if let Some(removed) = deps.connections.remove(id).await? {
        tracing::debug!(
            connection = id,
            groups = removed.joined.len(),
            "disconnected"
        );
        if let (Some(user_id), false) = (&removed.user_id, removed.joined.is_empty()) {
            let noted = deps
                .connections
                .note_departure(&removed.tenant_id, user_id, EpochMillis::now())
                .await;
            if let Err(e) = noted {
                tracing::warn!(error = ?e, "departure not noted");
            }
        }
    }
    Ok(respond(200))
}

/// A parsed client frame: its JSON object, if it is one.
struct Request {
    body: Option<serde_json::Map<String, Value>>,
}

fn parse(event: &ApiGatewayWebsocketProxyRequest) -> Request {
    let body = event
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        });
    Request { body }
}

/// Posts `payload` to the caller; a caller that is already gone is not an error.
async fn reply(deps: &WsDeps, connection_id: &str, payload: &str) -> Result<(), HandlerError> {
    match deps.pusher.post(connection_id, payload).await {
        Ok(()) => {
            metrics::counter!(telemetry::MESSAGES_SENT, "Frame" => "Reply").increment(1);
            Ok(())
        }
        Err(PushError::Gone) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn reply_error(
    deps: &WsDeps,
    connection_id: &str,
    action: &str,
    code: ErrorCode,
    message: &str,
    auction_id: Option<&AuctionId>,
) -> Result<ApiGatewayProxyResponse, HandlerError> {
    let frame = frames::error(action, code, message, auction_id, EpochMillis::now());
    reply(deps, connection_id, &frame).await?;
    Ok(respond(match code {
        ErrorCode::InternalError => 500,
        ErrorCode::RateLimited => 429,
        ErrorCode::NotFound => 404,
        ErrorCode::Unauthorized => 403,
        ErrorCode::BadRequest | ErrorCode::UnknownAction => 400,
    }))
}

/// Runs `work`; a failure is logged in full and the caller gets an `InternalError` frame.
async fn guarded<F>(
    deps: &WsDeps,
    connection_id: &str,
    action: &str,
    work: F,
) -> Result<ApiGatewayProxyResponse, HandlerError>
where
    F: Future<Output = Result<ApiGatewayProxyResponse, HandlerError>>,
{
    match work.await {
        Ok(response) => Ok(response),
        Err(e) => {
            tracing::error!(error = ?e, connection = connection_id, action, "route failed");
            reply_error(
                deps,
                connection_id,
                action,
                ErrorCode::InternalError,
                "the request could not be processed",
                None,
            )
            .await
        }
    }
}

/// The auction id of a Join/Leave frame, or the `Error` to send.
fn auction_id_of(request: &Request) -> Result<AuctionId, &'static str> {
    let Some(body) = &request.body else {
        return Err("the message must be a JSON object");
    };
    match body.get("auctionId") {
        None | Some(Value::Null) => Err("auctionId is required"),
        Some(Value::String(id)) => AuctionId::parse(id).map_err(|_| "auctionId must be a UUID"),
        Some(_) => Err("auctionId must be a UUID string"),
    }
}

/// Whether the connection may make one more Join/Leave call now.
async fn within_rate(
    deps: &WsDeps,
    connection_id: &str,
    now: EpochMillis,
) -> Result<bool, HandlerError> {
    let window_ms = i64::from(deps.join_rate.window_seconds) * 1000;
    let window = now.0.div_euclid(window_ms);
    Ok(deps
        .connections
        .take_rate_token(connection_id, window, deps.join_rate.max_calls)
        .await?)
}

/// The common gate of Join and Leave: the rate limit, then the auction id. `Ok(Err(response))`
/// means the caller got its `Error` frame and nothing is to change.
async fn admit(
    deps: &WsDeps,
    id: &str,
    action: &str,
    request: &Request,
    now: EpochMillis,
) -> Result<Result<AuctionId, ApiGatewayProxyResponse>, HandlerError> {
    let parsed = auction_id_of(request);
    if !within_rate(deps, id, now).await? {
        // PROTOCOL.md: an Error names the auction whenever the frame named a valid one.
        let message = "too many JoinAuction/LeaveAuction calls; slow down";
        let auction_id = parsed.as_ref().ok();
        return reply_error(
            deps,
            id,
            action,
            ErrorCode::RateLimited,
            message,
            auction_id,
        )
        .await
        .map(Err);
    }
    match parsed {
        Ok(auction_id) => Ok(Ok(auction_id)),
        Err(message) => reply_error(deps, id, action, ErrorCode::BadRequest, message, None)
            .await
            .map(Err),
    }
}

/// `JoinAuction`: checks the id and the tenant (a mismatch is `Error` `Unauthorized`, not
/// joined, as the seed's `HubException`), joins the group, counts the viewer once per
/// connection, and sends `AuctionState` to the caller. Never broadcasts to the group.
///
/// # Errors
/// [`HandlerError`] only when not even an `Error` frame can be posted.
pub async fn join_auction(
    deps: &WsDeps,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, HandlerError> {
    let id = connection_id(&event)?;
    let request = parse(&event);
    guarded(deps, id, "JoinAuction", async {
        let now = EpochMillis::now();
        let auction_id = match admit(deps, id, "JoinAuction", &request, now).await? {
            Ok(auction_id) => auction_id,
            Err(refused) => return Ok(refused),
        };
        let Some(connection) = deps.connections.get(id, now).await? else {
            tracing::warn!(connection = id, "join from an unregistered connection");
            return reply_error(
                deps,
                id,
                "JoinAuction",
                ErrorCode::InternalError,
                "the connection is not registered; reconnect",
                Some(&auction_id),
            )
            .await;
        };
        let Some(auction) = deps.auctions.get(&auction_id).await? else {
            return reply_error(
                deps,
                id,
                "JoinAuction",
                ErrorCode::NotFound,
                "no such auction",
                Some(&auction_id),
            )
            .await;
        };
        if auction.tenant_id != connection.tenant_id {
            return reply_error(
                deps,
                id,
                "JoinAuction",
                ErrorCode::Unauthorized,
                "the auction belongs to another tenant",
                Some(&auction_id),
            )
            .await;
        }
        match deps.connections.join(&connection, &auction_id, now).await {
            Ok(_) => {}
            Err(JoinError::ConnectionGone) => return Ok(respond(410)),
            Err(JoinError::Store(e)) => return Err(e.into()),
        }
        let viewers = deps.connections.viewer_count(&auction_id, now).await?;
        let snapshot = auction.snapshot(EpochMillis::now(), viewers);
        reply(
            deps,
            id,
            &frames::encode("AuctionState", &snapshot, EpochMillis::now()),
        )
        .await?;
        Ok(respond(200))
    })
    .await
}

/// `LeaveAuction`: leaves the group and uncounts the viewer. Leaving a group one is not in is
/// not an error. Nothing is posted on success.
///
/// # Errors
/// [`HandlerError`] only when not even an `Error` frame can be posted.
pub async fn leave_auction(
    deps: &WsDeps,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, HandlerError> {
    let id = connection_id(&event)?;
    let request = parse(&event);
    guarded(deps, id, "LeaveAuction", async {
        let now = EpochMillis::now();
        let auction_id = match admit(deps, id, "LeaveAuction", &request, now).await? {
            Ok(auction_id) => auction_id,
            Err(refused) => return Ok(refused),
        };
        deps.connections.leave(id, &auction_id).await?;
        Ok(respond(200))
    })
    .await
}

/// The actions with a route of their own; anything else reaches `$default`.
pub const ROUTED_ACTIONS: &[&str] = &["JoinAuction", "LeaveAuction"];

/// `$default`: `Ping` gets `Pong`; anything else (not JSON, no action, an unknown action) gets
/// an `Error` frame and the connection stays open.
///
/// # Errors
/// [`HandlerError`] only when not even an `Error` frame can be posted.
pub async fn default_route(
    deps: &WsDeps,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, HandlerError> {
    let id = connection_id(&event)?;
    let request = parse(&event);
    let Some(body) = &request.body else {
        return reply_error(
            deps,
            id,
            "$default",
            ErrorCode::BadRequest,
            "the message must be a JSON object with an action",
            None,
        )
        .await;
    };
    match body.get("action") {
        Some(Value::String(action)) if action == "Ping" => {
            reply(deps, id, &frames::pong(EpochMillis::now())).await?;
            Ok(respond(200))
        }
        Some(Value::String(action)) => {
            let message = format!("unknown action; use {}, or Ping", ROUTED_ACTIONS.join(", "));
            reply_error(deps, id, action, ErrorCode::UnknownAction, &message, None).await
        }
        _ => {
            reply_error(
                deps,
                id,
                "$default",
                ErrorCode::BadRequest,
                "the message must have a string action",
                None,
            )
            .await
        }
    }
}
