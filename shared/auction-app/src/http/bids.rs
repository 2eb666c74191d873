//! `POST /api/auctions/{id}/bids`: the bid body in, the outcome out (`201`/`200` accepted,
//! `409` rejected).

use auction_core::domain::money::{JsonDecimal, MajorUnits};
use auction_core::domain::{BidId, BidOutcome, EpochMillis, PlacedBid, RejectReason};
use auction_core::services::{BidError, PlaceBid};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::problem::Problem;
use super::{HttpDeps, auction_id, json_body, signed_in};

/// The bid body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BidBody {
    bid_price: Option<JsonDecimal>,
    bid_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AcceptedBody {
    bid_id: String,
    status: &'static str,
    winning_price: MajorUnits,
    reservation_id: String,
    expires_at: EpochMillis,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RejectedBody {
    bid_id: String,
    status: &'static str,
    reason: RejectReason,
    current_price: MajorUnits,
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

pub(super) async fn place(
    State(deps): State<HttpDeps>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let identity = signed_in(&deps, &headers).await?;
    let auction_id = auction_id(&id)?;
    let body: BidBody = json_body(&body)?;
    let bid_id = match body.bid_id.as_deref() {
        None => None,
        Some(text) => {
            Some(BidId::parse(text).map_err(|_| Problem::bad_request("bidId must be a UUID"))?)
        }
    };
    let Some(bid_price) = body.bid_price else {
        return Err(Problem::bad_request("bidPrice is required"));
    };
    let bid = PlaceBid {
        auction_id,
        bid_id,
        bid_price,
    };
    match deps.bidding.place(&identity, bid).await {
        Ok(placed) => Ok(bid_response(&placed)),
        Err(BidError::SignInRequired) => Err(Problem::unauthorized("a bearer token is required")),
        Err(BidError::AuctionNotFound) => Err(Problem::auction_not_found()),
        Err(BidError::WrongTenant) => {
            Err(Problem::forbidden("the auction belongs to another tenant"))
        }
        Err(BidError::InvalidPrice(e)) => Err(Problem::bad_request(format!("bidPrice: {e}"))),
        Err(BidError::RateLimited {
            retry_after_seconds,
        }) => Err(Problem::rate_limited(
            "too many bids; retry after the time in Retry-After",
            retry_after_seconds,
        )),
        Err(BidError::BidIdReused) => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "BidIdReused",
            "this bidId was already used for a different bid",
        )),
        Err(BidError::Store(e)) => Err(e.into()),
    }
}
