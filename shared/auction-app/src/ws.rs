//! The WebSocket API's functions: the `$connect` authorizer and the five routes.
//!
//! Each handler turns the API Gateway event into a call of a use case
//! ([`auction_core::services::Membership`]) and its answer into a reply and a status code.
//! Replies go through the Management API ([`Pusher`]), never in `$connect` (the connection is not
//! open until it returns). Called by each function's `main.rs` (through [`crate::lambda`]), by
//! `auction-local` and by tests.

use std::sync::Arc;

use auction_aws::jwt::{AuthError, TokenVerifier};
use auction_core::clock::Clock;
use auction_core::domain::{AuctionId, EpochMillis, PUBLIC_TENANT};
use auction_core::frames::{Empty, ErrorCode, Frame};
use auction_core::identity::Identity;
use auction_core::ports::{PushError, Pusher, StoreError};
use auction_core::services::{ConnectError, Membership, MembershipError};
use auction_core::telemetry;
use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse, ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest,
};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::Value;

/// How long after a reply's first attempt a retry may still start (see `reply`).
const REPLY_RETRY_WINDOW: std::time::Duration = std::time::Duration::from_secs(6);

/// What the route handlers need, built once per process ([`crate::compose::Adapters::ws`]).
#[derive(Clone)]
pub struct WsDeps {
    /// The membership use cases.
    pub membership: Arc<Membership>,
    /// The Management API, for replies.
    pub pusher: Arc<dyn Pusher>,
    /// The time, for `sentAt`.
    pub clock: Arc<dyn Clock>,
}

/// A route of the WebSocket API, each its own function in `template.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `$connect`.
    Connect,
    /// `JoinAuction`.
    JoinAuction,
    /// `LeaveAuction`.
    LeaveAuction,
    /// `$default`: anything else, `Ping` included.
    Default,
    /// `$disconnect`.
    Disconnect,
}

impl Route {
    /// The route of a route key (`$request.body.action`'s value, or a `$` key).
    #[must_use]
    pub fn for_key(route_key: &str) -> Self {
        match route_key {
            "$connect" => Self::Connect,
            "$disconnect" => Self::Disconnect,
            "JoinAuction" => Self::JoinAuction,
            "LeaveAuction" => Self::LeaveAuction,
            _ => Self::Default,
        }
    }

    /// Runs the route's handler.
    ///
    /// # Errors
    /// [`HandlerError`] as each handler documents.
    pub async fn handle(
        self,
        deps: &WsDeps,
        event: ApiGatewayWebsocketProxyRequest,
    ) -> Result<ApiGatewayProxyResponse, HandlerError> {
        match self {
            Self::Connect => connect(deps, event).await,
            Self::JoinAuction => join_auction(deps, event).await,
            Self::LeaveAuction => leave_auction(deps, event).await,
            Self::Default => default_route(deps, event).await,
            Self::Disconnect => disconnect(deps, event).await,
        }
    }
}

/// Why a handler failed. Clients never see these; they get an `Error` frame or a status code.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event lacks something API Gateway always sends.
    #[error("malformed event: {0}")]
    MalformedEvent(&'static str),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
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

/// Roles, as the authorizer context carries them (context values must be strings).
#[must_use]
pub fn roles_to_context(roles: &[String]) -> String {
    roles.join(",")
}

/// Roles back from the authorizer context: sorted, without repeats.
#[must_use]
pub fn roles_from_context(value: &str) -> Vec<String> {
    let mut roles: Vec<String> = value
        .split(',')
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// The subprotocol a client offers to be served this protocol; `$connect` selects it.
pub const SUBPROTOCOL: &str = "auction.v1";
/// The prefix of the offered subprotocol that carries the token (`bearer.<JWT>`): a browser can
/// set no other header on a WebSocket upgrade, and a URL's `?token=` ends up in logs and consoles.
pub const BEARER_SUBPROTOCOL_PREFIX: &str = "bearer.";

/// The subprotocols a request offers (`Sec-WebSocket-Protocol`, comma-separated, maybe repeated).
fn offered_subprotocols(headers: &http::HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// The token: the `bearer.<JWT>` subprotocol, else `?token=`, else `Authorization: Bearer`.
fn bearer(event: &ApiGatewayCustomAuthorizerRequestTypeRequest) -> Option<String> {
    if let Some(token) =
        offered_subprotocols(&event.headers).find_map(|p| p.strip_prefix(BEARER_SUBPROTOCOL_PREFIX))
    {
        return Some(token.to_owned());
    }
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

/// The `$connect` REQUEST authorizer: verifies the token (the `bearer.<JWT>` subprotocol,
/// `?token=` or `Authorization: Bearer`) and allows the connection with the identity in the context.
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

/// `$connect`: records the connection with its identity and expiry. Never posts. A user who
/// already holds the most connections allowed is refused with 429 (the handshake's status). A
/// client that offered the [`SUBPROTOCOL`] gets it selected in the response's
/// `Sec-WebSocket-Protocol` (API Gateway passes the header on; a browser that offered
/// subprotocols fails a handshake that selects none).
///
/// # Errors
/// [`HandlerError`] when the store fails (the handshake then fails).
pub async fn connect(
    deps: &WsDeps,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, HandlerError> {
    let id = connection_id(&event)?;
    let connected_at = EpochMillis(event.request_context.connected_at);
    match deps
        .membership
        .connect(id, identity_of(&event), connected_at)
        .await
    {
        Ok(_) => {
            let mut response = respond(200);
            if offered_subprotocols(&event.headers).any(|p| p == SUBPROTOCOL) {
                response.headers.insert(
                    http::header::SEC_WEBSOCKET_PROTOCOL,
                    http::HeaderValue::from_static(SUBPROTOCOL),
                );
            }
            Ok(response)
        }
        Err(ConnectError::TooManyConnections(max)) => {
            tracing::info!(
                connection = id,
                max,
                "connection refused: too many for the user"
            );
            let mut response = respond(429);
            response.body = Some(Body::Text(format!(
                "this user already holds {max} connections; close one first"
            )));
            Ok(response)
        }
        Err(ConnectError::Store(e)) => Err(e.into()),
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
    deps.membership.disconnect(connection_id(&event)?).await?;
    Ok(respond(200))
}

/// The frame's JSON object, if it is one.
fn body_of(event: &ApiGatewayWebsocketProxyRequest) -> Option<serde_json::Map<String, Value>> {
    auction_core::frames::message_object(event.body.as_deref()?)
}

/// Posts `frame` to the caller; a caller that is already gone is not an error.
async fn reply(deps: &WsDeps, connection_id: &str, frame: &Frame) -> Result<(), HandlerError> {
    // A reconnect storm can hold a post past its timeout: retried, a reply is late rather than
    // an `InternalError` after the work was done. Retries start within REPLY_RETRY_WINDOW so
    // that two timed-out attempts still end inside the routes' 15 s timeout (template.yaml).
    let retry_until = tokio::time::Instant::now() + REPLY_RETRY_WINDOW;
    let payload = frame.encode(deps.clock.now());
    match crate::fanout::post_with_retries(
        &*deps.pusher,
        connection_id,
        &payload,
        Some(retry_until),
    )
    .await
    {
        Ok(()) => {
            metrics::counter!(telemetry::MESSAGES_SENT, "Frame" => "Reply").increment(1);
            Ok(())
        }
        Err(PushError::Gone) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Sends the caller an `Error` frame and answers with the status that goes with its code.
async fn reply_error(
    deps: &WsDeps,
    connection_id: &str,
    action: &str,
    code: ErrorCode,
    message: &str,
    auction_id: Option<&AuctionId>,
) -> Result<ApiGatewayProxyResponse, HandlerError> {
    let frame = Frame::error(action, code, message, auction_id);
    reply(deps, connection_id, &frame).await?;
    Ok(respond(match code {
        ErrorCode::InternalError => 500,
        ErrorCode::RateLimited => 429,
        ErrorCode::NotFound => 404,
        ErrorCode::Unauthorized => 403,
        ErrorCode::BadRequest | ErrorCode::UnknownAction => 400,
    }))
}

/// Answers a refused Join or Leave. An `Error` names the auction whenever the frame named a
/// valid one.
async fn refuse(
    deps: &WsDeps,
    connection_id: &str,
    action: &str,
    refusal: MembershipError,
    auction_id: Option<&AuctionId>,
) -> Result<ApiGatewayProxyResponse, HandlerError> {
    let message = refusal.to_string();
    let (code, auction_id) = match refusal {
        MembershipError::RateLimited => (ErrorCode::RateLimited, auction_id),
        MembershipError::BadRequest(_) => (ErrorCode::BadRequest, None),
        MembershipError::NotRegistered => (ErrorCode::InternalError, auction_id),
        MembershipError::AuctionNotFound => (ErrorCode::NotFound, auction_id),
        MembershipError::WrongTenant => (ErrorCode::Unauthorized, auction_id),
        MembershipError::ConnectionGone => return Ok(respond(410)),
        MembershipError::Store(e) => return Err(e.into()),
    };
    reply_error(deps, connection_id, action, code, &message, auction_id).await
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

/// `JoinAuction`: joins the group and sends `AuctionState` to the caller, or an `Error`
/// (`RateLimited`, `BadRequest`, `NotFound`, `Unauthorized` for another tenant's auction).
///
/// # Errors
/// [`HandlerError`] only when not even an `Error` frame can be posted.
pub async fn join_auction(
    deps: &WsDeps,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, HandlerError> {
    let id = connection_id(&event)?;
    let auction_id = auction_core::frames::auction_id_of(body_of(&event).as_ref());
    let named = auction_id.as_ref().ok().cloned();
    guarded(deps, id, "JoinAuction", async {
        match deps.membership.join(id, auction_id).await {
            Ok(snapshot) => {
                reply(deps, id, &Frame::AuctionState(snapshot)).await?;
                Ok(respond(200))
            }
            Err(refusal) => refuse(deps, id, "JoinAuction", refusal, named.as_ref()).await,
        }
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
    let auction_id = auction_core::frames::auction_id_of(body_of(&event).as_ref());
    let named = auction_id.as_ref().ok().cloned();
    guarded(deps, id, "LeaveAuction", async {
        match deps.membership.leave(id, auction_id).await {
            Ok(_) => Ok(respond(200)),
            Err(refusal) => refuse(deps, id, "LeaveAuction", refusal, named.as_ref()).await,
        }
    })
    .await
}

/// The actions with a route of their own; anything else reaches `$default`.
pub const ROUTED_ACTIONS: &[&str] = &["JoinAuction", "LeaveAuction"];

/// `$default`: `Ping` gets `Pong`; anything else (not JSON, no action, an unknown action) gets
/// an `Error` frame and the connection stays open. Each spends the connection's message budget
/// first; past it, nothing is answered.
///
/// # Errors
/// [`HandlerError`] only when not even an `Error` frame can be posted.
pub async fn default_route(
    deps: &WsDeps,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, HandlerError> {
    let id = connection_id(&event)?;
    if !deps.membership.admit_message(id).await? {
        tracing::debug!(connection = id, "message budget spent: not answered");
        return Ok(respond(200));
    }
    let Some(body) = body_of(&event) else {
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
            reply(deps, id, &Frame::Pong(Empty {})).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_survive_the_authorizer_context() {
        let roles = vec!["seller".to_owned(), "admin".to_owned(), "seller".to_owned()];
        assert_eq!(
            roles_from_context(&roles_to_context(&roles)),
            ["admin", "seller"]
        );
        assert!(roles_from_context("").is_empty());
    }
}
