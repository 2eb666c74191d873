//! The HTTP API (docs/protocol.md section 5) as an axum router: the `http-api` function serves it
//! through `lambda_http`, and `auction-local` through API Gateway v2 payload events. Handlers
//! turn a request into a use-case call ([`auction_core::services`]) and its answer into a
//! response; errors are [`problem::Problem`]s.

mod auctions;
mod bids;
pub mod problem;
mod reservations;

use std::sync::Arc;

use auction_aws::jwt::{AuthError, TokenVerifier};
use auction_core::domain::AuctionId;
use auction_core::identity::Identity;
use auction_core::services::{Bidding, Catalog, Checkout};
use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};

use problem::Problem;

/// What the HTTP API needs, built once per process ([`crate::compose::Adapters::http`]).
#[derive(Clone)]
pub struct HttpDeps {
    /// Token verification.
    pub verifier: TokenVerifier,
    /// Creating, reading, listing and cancelling auctions.
    pub catalog: Arc<Catalog>,
    /// Placing bids.
    pub bidding: Arc<Bidding>,
    /// Confirming reservations.
    pub checkout: Arc<Checkout>,
}

/// The router, paths as docs/protocol.md section 5 names them.
pub fn router(deps: HttpDeps) -> Router {
    Router::new()
        .route("/api/auctions", post(auctions::create).get(auctions::list))
        .route(
            "/api/auctions/{auction_id}",
            get(auctions::get).delete(auctions::cancel),
        )
        .route("/api/auctions/{auction_id}/bids", post(bids::place))
        .route("/api/reservations/{reservation_id}", get(reservations::get))
        .route(
            "/api/reservations/{reservation_id}/confirm",
            post(reservations::confirm),
        )
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "NotFound", "no such route") })
        .layer(axum::middleware::map_response(problem::errors_as_problems))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(deps)
}

/// The largest request body the API reads: its bodies are a few hundred bytes (API Gateway
/// would pass up to 10 MB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

fn bearer(headers: &HeaderMap) -> Result<Option<&str>, Problem> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let unauthorized =
        || Problem::unauthorized("the Authorization header must be `Bearer <token>`");
    let value = value.to_str().map_err(|_| unauthorized())?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(unauthorized()),
    }
}

/// The caller; anonymous callers are the `public` tenant's viewers.
async fn caller(deps: &HttpDeps, headers: &HeaderMap) -> Result<Identity, Problem> {
    match deps.verifier.identify(bearer(headers)?).await {
        Ok(identity) => Ok(identity),
        Err(AuthError::KeysUnavailable(e)) => Err(Problem::internal(&*e)),
        Err(AuthError::Missing) => Err(Problem::unauthorized("a bearer token is required")),
        Err(AuthError::Invalid(_)) => Err(Problem::unauthorized("the token is invalid or expired")),
    }
}

/// A signed-in caller (anonymous callers are refused with 401 before anything else is read).
async fn signed_in(deps: &HttpDeps, headers: &HeaderMap) -> Result<Identity, Problem> {
    let identity = caller(deps, headers).await?;
    if identity.user_id.is_none() {
        return Err(Problem::unauthorized("a bearer token is required"));
    }
    Ok(identity)
}

fn auction_id(text: &str) -> Result<AuctionId, Problem> {
    AuctionId::parse(text).map_err(|_| Problem::bad_request("auctionId must be a UUID"))
}

/// Parses a JSON body whatever its `Content-Type` says (`curl -d` sends a form type).
fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Problem> {
    json_object(body)
        .map_err(|e| Problem::bad_request(format!("the body must be a JSON object: {e}")))
}

/// Reads a JSON object as `T`, and nothing else: serde's derived structs also accept an array
/// of their fields in order (`[99.99, null]` would be a bid), which no body of the protocol is.
///
/// # Errors
/// When `body` is not a JSON object that `T` reads.
pub fn json_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    use serde::de::Error as _;
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => serde_json::from_slice(body),
        _ => Err(serde_json::Error::custom("expected an object")),
    }
}
