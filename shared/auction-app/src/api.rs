//! The HTTP API (PROTOCOL.md section 5) as an axum router: the `http-api` function serves it
//! through `lambda_http`, and `auction-local` through API Gateway v2 payload events.
//!
//! Errors are `application/problem+json` (`type, title, status, detail, code`) and never carry
//! internals; the detail of a store failure goes to the logs only.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::announce::announce;
use crate::auth::{AuthError, Identity, TokenVerifier};
use crate::config::RateLimit;
use crate::domain::{
    AuctionId, AuctionStatus, BidId, BidOutcome, BidRequest, CreateAuctionRequest, EpochMillis,
    PlacedBid,
};
use crate::events::{DomainEvent, EventPublisher};
use crate::ports::{
    AuctionStore, CancelError, ConnectionStore, CreateAuctionError, PlaceBidError, StoreError,
};

/// What the HTTP API needs, built once per process.
#[derive(Clone)]
pub struct ApiDeps {
    /// Auctions and bids.
    pub auctions: Arc<dyn AuctionStore>,
    /// Viewer counts for snapshots.
    pub connections: Arc<dyn ConnectionStore>,
    /// Token verification.
    pub verifier: TokenVerifier,
    /// Domain events (bids, creation, cancellation).
    pub publisher: Arc<dyn EventPublisher>,
    /// Bids per user per window.
    pub bid_rate: RateLimit,
    /// Auctions this instance has seen end (see [`FinishedAuctions`]).
    pub finished: Arc<FinishedAuctions>,
}

/// Auctions known to have ended, per process. An end is final (items only go down, a recorded
/// end is never removed, tenant and currency never change), so once an instance has read an
/// ended auction it rejects later bids on it without reading it again: a bid storm on a sold-out
/// auction costs no auction reads.
#[derive(Debug, Default)]
pub struct FinishedAuctions {
    auctions: std::sync::Mutex<std::collections::HashMap<AuctionId, crate::domain::Auction>>,
}

impl FinishedAuctions {
    /// How many ended auctions one instance remembers (then it starts over).
    const CAPACITY: usize = 10_000;

    fn get(&self, id: &AuctionId) -> Option<crate::domain::Auction> {
        self.auctions.lock().ok()?.get(id).cloned()
    }

    fn remember_if_ended(&self, auction: &crate::domain::Auction, now: EpochMillis) {
        if !matches!(auction.phase_at(now), crate::domain::Phase::Ended(_)) {
            return;
        }
        if let Ok(mut auctions) = self.auctions.lock() {
            if auctions.len() >= Self::CAPACITY {
                auctions.clear();
            }
            auctions.insert(auction.id.clone(), auction.clone());
        }
    }
}

/// The role that may create auctions.
pub const SELLER_ROLE: &str = "seller";

/// An RFC 9457 problem.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    code: &'static str,
    detail: String,
    retry_after_seconds: Option<u32>,
}

impl Problem {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            retry_after_seconds: None,
        }
    }

    fn rate_limited(retry_after_seconds: u32) -> Self {
        Self {
            retry_after_seconds: Some(retry_after_seconds.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RateLimited",
                "too many bids; retry after the time in Retry-After",
            )
        }
    }

    fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", detail)
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", "no such auction")
    }

    fn internal(error: &dyn std::error::Error) -> Self {
        tracing::error!(error = ?error, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "the request could not be processed; try again",
        )
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Throttled | StoreError::Contended => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "the service is busy; try again",
            ),
            other => Self::internal(&other),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({
            "type": format!("/problems/{}", self.code),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        let retry_after = match self.status {
            StatusCode::SERVICE_UNAVAILABLE => Some(1),
            _ => self.retry_after_seconds,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

/// The router, paths as PROTOCOL.md section 5 names them.
pub fn router(deps: ApiDeps) -> Router {
    Router::new()
        .route("/api/auctions", post(create_auction).get(list_auctions))
        .route(
            "/api/auctions/{auction_id}",
            get(get_auction).delete(cancel_auction),
        )
        .route("/api/auctions/{auction_id}/bids", post(place_bid))
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "NotFound", "no such route") })
        .with_state(deps)
}

fn bearer(headers: &HeaderMap) -> Result<Option<&str>, Problem> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let unauthorized = || {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "the Authorization header must be `Bearer <token>`",
        )
    };
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
async fn caller(deps: &ApiDeps, headers: &HeaderMap) -> Result<Identity, Problem> {
    match deps.verifier.identify(bearer(headers)?).await {
        Ok(identity) => Ok(identity),
        Err(AuthError::KeysUnavailable(e)) => Err(Problem::internal(&*e)),
        Err(AuthError::Missing) => Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "a bearer token is required",
        )),
        Err(AuthError::Invalid(_)) => Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "the token is invalid or expired",
        )),
    }
}

/// A signed-in caller (anonymous callers are refused with 401).
async fn signed_in(deps: &ApiDeps, headers: &HeaderMap) -> Result<(Identity, String), Problem> {
    let identity = caller(deps, headers).await?;
    match identity.user_id.clone() {
        Some(user_id) => Ok((identity, user_id)),
        None => Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "a bearer token is required",
        )),
    }
}

fn auction_id(text: &str) -> Result<AuctionId, Problem> {
    AuctionId::parse(text).map_err(|_| Problem::bad_request("auctionId must be a UUID"))
}

/// Parses a JSON body whatever its `Content-Type` says (`curl -d` sends a form type).
fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Problem> {
    serde_json::from_slice(body)
        .map_err(|e| Problem::bad_request(format!("the body must be a JSON object: {e}")))
}

async fn snapshot(
    deps: &ApiDeps,
    auction: &crate::domain::Auction,
    now: EpochMillis,
) -> Result<Value, Problem> {
    let viewers = deps.connections.viewer_count(&auction.id, now).await?;
    Ok(serde_json::to_value(auction.snapshot(now, viewers)).unwrap_or_default())
}

async fn create_auction(
    State(deps): State<ApiDeps>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let (identity, user_id) = signed_in(&deps, &headers).await?;
    if !identity.has_role(SELLER_ROLE) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "only sellers may create auctions",
        ));
    }
    let request: CreateAuctionRequest = json_body(&body)?;
    let now = EpochMillis::now();
    let auction = request
        .validate(&identity.tenant_id, &user_id, now)
        .map_err(|errors| {
            let detail = errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            Problem::bad_request(detail)
        })?;
    match deps.auctions.create(&auction).await {
        Ok(()) => {}
        Err(CreateAuctionError::AlreadyExists) => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "Conflict",
                "the auction exists already",
            ));
        }
        Err(CreateAuctionError::Store(e)) => return Err(e.into()),
    }
    // Nothing is pushed for a creation; the event is for other consumers, so a failure is logged.
    if let Err(e) = deps
        .publisher
        .publish(&[DomainEvent::auction_created(&auction)])
        .await
    {
        tracing::error!(error = ?e, auction_id = %auction.id, "AuctionCreated not published");
    }
    let body = serde_json::to_value(auction.snapshot(now, 0)).unwrap_or_default();
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
}

async fn list_auctions(
    State(deps): State<ApiDeps>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, Problem> {
    let identity = caller(&deps, &headers).await?;
    let status = match query.status.as_deref().unwrap_or("Active") {
        "Active" => AuctionStatus::Active,
        "Scheduled" => AuctionStatus::Scheduled,
        "Ended" => AuctionStatus::Ended,
        _ => {
            return Err(Problem::bad_request(
                "status must be Active, Scheduled or Ended",
            ));
        }
    };
    let now = EpochMillis::now();
    let auctions = deps.auctions.list(&identity.tenant_id, status, now).await?;
    let mut items = Vec::with_capacity(auctions.len());
    for auction in &auctions {
        items.push(snapshot(&deps, auction, now).await?);
    }
    Ok(Json(json!({ "items": items })).into_response())
}

async fn get_auction(
    State(deps): State<ApiDeps>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let identity = caller(&deps, &headers).await?;
    let id = auction_id(&id)?;
    // Another tenant's auction is reported as missing: its existence is not revealed.
    let auction = match deps.auctions.get(&id).await? {
        Some(auction) if auction.tenant_id == identity.tenant_id => auction,
        _ => return Err(Problem::not_found()),
    };
    Ok(Json(snapshot(&deps, &auction, EpochMillis::now()).await?).into_response())
}

async fn cancel_auction(
    State(deps): State<ApiDeps>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let (identity, user_id) = signed_in(&deps, &headers).await?;
    let id = auction_id(&id)?;
    let now = EpochMillis::now();
    match deps
        .auctions
        .cancel(&id, &identity.tenant_id, &user_id, now)
        .await
    {
        Ok(auction) => {
            // The group learns of it through the notifier; the seller has the response already.
            if let Err(e) = deps
                .publisher
                .publish(&[DomainEvent::auction_cancelled(&auction)])
                .await
            {
                tracing::error!(error = ?e, auction_id = %auction.id, "AuctionCancelled not published");
            }
            Ok(Json(snapshot(&deps, &auction, now).await?).into_response())
        }
        Err(CancelError::NotFound) => Err(Problem::not_found()),
        Err(CancelError::NotSeller) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "only the seller who created the auction may cancel it",
        )),
        Err(CancelError::AlreadyEnded(_)) => Err(Problem::new(
            StatusCode::CONFLICT,
            "Conflict",
            "the auction has already ended",
        )),
        Err(CancelError::Store(e)) => Err(e.into()),
    }
}

/// The bid body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BidBody {
    bid_price: Option<serde_json::Number>,
    bid_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AcceptedBody {
    bid_id: String,
    status: &'static str,
    winning_price: crate::domain::money::MajorUnits,
    reservation_id: String,
    expires_at: EpochMillis,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RejectedBody {
    bid_id: String,
    status: &'static str,
    reason: crate::domain::RejectReason,
    current_price: crate::domain::money::MajorUnits,
}

fn bid_response(placed: &PlacedBid) -> Response {
    match &placed.outcome {
        BidOutcome::Accepted(a) => {
            let status = if placed.replayed {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            let body = AcceptedBody {
                bid_id: a.bid_id.as_str().to_owned(),
                status: "Accepted",
                winning_price: a.currency.major(a.winning_price),
                reservation_id: a.reservation.reservation_id.clone(),
                expires_at: a.reservation.expires_at,
            };
            (status, Json(body)).into_response()
        }
        BidOutcome::Rejected(r) => {
            let body = RejectedBody {
                bid_id: r.bid_id.as_str().to_owned(),
                status: "Rejected",
                reason: r.reason,
                current_price: r.currency.major(r.current_price),
            };
            (StatusCode::CONFLICT, Json(body)).into_response()
        }
    }
}

async fn place_bid(
    State(deps): State<ApiDeps>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let (identity, user_id) = signed_in(&deps, &headers).await?;
    let id = auction_id(&id)?;
    let body: BidBody = json_body(&body)?;
    let (bid_id, fresh_id) = match body.bid_id.as_deref() {
        None => (BidId::generate(), true),
        Some(text) => (
            BidId::parse(text).map_err(|_| Problem::bad_request("bidId must be a UUID"))?,
            false,
        ),
    };
    let Some(price) = body.bid_price else {
        return Err(Problem::bad_request("bidPrice is required"));
    };
    // The currency (for the price's decimals) and the tenant come from the auction.
    let auction = match deps.finished.get(&id) {
        Some(ended) => ended,
        None => match deps.auctions.get(&id).await? {
            Some(auction) => {
                deps.finished
                    .remember_if_ended(&auction, EpochMillis::now());
                auction
            }
            None => return Err(Problem::not_found()),
        },
    };
    if auction.tenant_id != identity.tenant_id {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "the auction belongs to another tenant",
        ));
    }
    let bid_price = auction
        .currency
        .parse_json_amount(&price)
        .map_err(|e| Problem::bad_request(format!("bidPrice: {e}")))?;
    let now = EpochMillis::now();
    let window_ms = i64::from(deps.bid_rate.window_seconds) * 1000;
    let window = now.0 / window_ms;
    if !deps
        .connections
        .take_user_token(
            &identity.tenant_id,
            &user_id,
            window,
            deps.bid_rate.window_seconds,
            deps.bid_rate.max_calls,
        )
        .await?
    {
        let left_ms = (window + 1) * window_ms - now.0;
        metrics::counter!(crate::telemetry::REJECTED_BIDS, "Reason" => "RateLimited").increment(1);
        return Err(Problem::rate_limited(
            u32::try_from((left_ms + 999) / 1000).unwrap_or(1),
        ));
    }
    let request = BidRequest {
        auction_id: id,
        bid_id,
        user_id,
        tenant_id: identity.tenant_id,
        bid_price,
        fresh_id,
    };
    match deps.auctions.place_bid_on(&auction, &request, now).await {
        Ok(placed) => {
            if let (BidOutcome::Rejected(r), false) = (&placed.outcome, placed.replayed) {
                metrics::counter!(crate::telemetry::REJECTED_BIDS, "Reason" => r.reason.as_str())
                    .increment(1);
            }
            announce(&*deps.auctions, &*deps.publisher, &auction, &placed).await;
            Ok(bid_response(&placed))
        }
        Err(PlaceBidError::AuctionNotFound) => Err(Problem::not_found()),
        Err(PlaceBidError::WrongTenant) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "the auction belongs to another tenant",
        )),
        Err(PlaceBidError::BidIdReused) => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "BidIdReused",
            "this bidId was already used for a different bid",
        )),
        Err(PlaceBidError::Store(e)) => Err(e.into()),
    }
}
