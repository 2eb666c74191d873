//! `GET /api/reservations/{id}` and `POST /api/reservations/{id}/confirm`: a hold's state, and
//! checkout saying "paid" (docs/design/reservations.md). Both answer the reservation; a repeated
//! confirmation answers as the first.

use auction_core::domain::EpochMillis;
use auction_core::domain::hold::HoldState;
use auction_core::domain::money::MajorUnits;
use auction_core::ports::reservations::StoredReservation;
use auction_core::services::CheckoutError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;

use super::problem::Problem;
use super::{HttpDeps, signed_in};

/// A reservation as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReservationBody {
    reservation_id: String,
    auction_id: String,
    bid_id: String,
    /// `Held`, `Confirmed` or `Expired` (a lapsed hold, released or about to be).
    state: &'static str,
    winning_price: MajorUnits,
    currency: &'static str,
    expires_at: EpochMillis,
    #[serde(skip_serializing_if = "Option::is_none")]
    confirmed_at: Option<EpochMillis>,
}

impl ReservationBody {
    fn of(r: &StoredReservation, now: EpochMillis) -> Self {
        let state = match r.state {
            HoldState::Held if now >= r.expires_at => "Expired",
            HoldState::Held => "Held",
            HoldState::Confirmed => "Confirmed",
            HoldState::Released => "Expired",
        };
        Self {
            reservation_id: r.reservation_id.clone(),
            auction_id: r.auction_id.as_str().to_owned(),
            bid_id: r.bid_id.as_str().to_owned(),
            state,
            winning_price: r.currency.major(r.winning_price),
            currency: r.currency.code(),
            expires_at: r.expires_at,
            confirmed_at: (r.state == HoldState::Confirmed)
                .then_some(r.decided_at)
                .flatten(),
        }
    }
}

fn problem(error: CheckoutError) -> Problem {
    match error {
        CheckoutError::SignInRequired => Problem::unauthorized("a bearer token is required"),
        CheckoutError::NotFound => {
            Problem::new(StatusCode::NOT_FOUND, "NotFound", "no such reservation")
        }
        CheckoutError::Forbidden => Problem::forbidden("the reservation belongs to another user"),
        CheckoutError::Expired(_) => Problem::new(
            StatusCode::CONFLICT,
            "Expired",
            "the reservation's hold is over; its item went back to the auction or is unsold",
        ),
        CheckoutError::Store(e) => e.into(),
    }
}

pub(super) async fn get(
    State(deps): State<HttpDeps>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ReservationBody>, Problem> {
    let identity = signed_in(&deps, &headers).await?;
    let reservation = deps.checkout.get(&identity, &id).await.map_err(problem)?;
    Ok(Json(ReservationBody::of(
        &reservation,
        deps.checkout.clock.now(),
    )))
}

pub(super) async fn confirm(
    State(deps): State<HttpDeps>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ReservationBody>, Problem> {
    let identity = signed_in(&deps, &headers).await?;
    let reservation = deps
        .checkout
        .confirm(&identity, &id)
        .await
        .map_err(problem)?;
    Ok(Json(ReservationBody::of(
        &reservation,
        deps.checkout.clock.now(),
    )))
}
