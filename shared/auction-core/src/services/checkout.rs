//! Checkout: the use case behind `POST /api/reservations/{reservationId}/confirm` and
//! `GET /api/reservations/{reservationId}` (docs/design/reservations.md).
//!
//! The buyer, or a caller of the auction's tenant with the role [`CHECKOUT_ROLE`] (the seller's
//! checkout service), confirms a hold before it lapses; a confirmed hold is final, and a repeated
//! confirmation answers as the first. Another tenant's reservation is not revealed (`NotFound`).

use std::sync::Arc;

use crate::clock::Clock;
use crate::domain::hold::HoldState;
use crate::domain::{EndReason, Phase};
use crate::events::DomainEvent;
use crate::identity::Identity;
use crate::ports::reservations::{ConfirmOutcome, ReservationStore, StoredReservation};
use crate::ports::{AuctionStore, EventPublisher, StoreError};

/// The role that may confirm any reservation of its tenant (a seller's checkout service).
pub const CHECKOUT_ROLE: &str = "checkout";

/// Why a checkout call got no reservation.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// Anonymous callers have no reservations.
    #[error("a signed-in user is required")]
    SignInRequired,
    /// No such reservation, or another tenant's.
    #[error("reservation not found")]
    NotFound,
    /// Another user's reservation, and the caller is not the tenant's checkout.
    #[error("the reservation belongs to another user")]
    Forbidden,
    /// Too late: the hold lapsed (released, or about to be); the reservation as it is.
    #[error("the reservation expired")]
    Expired(Box<StoredReservation>),
    /// The store failed, or the confirmation could not be announced (it is kept: retry, and the
    /// repeat announces it).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The checkout use cases and what they need.
pub struct Checkout {
    /// Reservations.
    pub reservations: Arc<dyn ReservationStore>,
    /// Auctions: the last confirmation of a sold-out auction records its end.
    pub auctions: Arc<dyn AuctionStore>,
    /// The bus (`ReservationConfirmed`).
    pub publisher: Arc<dyn EventPublisher>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

impl Checkout {
    /// The reservation, for its buyer or its tenant's checkout.
    ///
    /// # Errors
    /// [`CheckoutError`].
    pub async fn get(
        &self,
        caller: &Identity,
        reservation_id: &str,
    ) -> Result<StoredReservation, CheckoutError> {
        let reservation = self
            .reservations
            .get(reservation_id)
            .await?
            .ok_or(CheckoutError::NotFound)?;
        authorize(caller, &reservation)?;
        Ok(reservation)
    }

    /// Confirms the hold at the clock's time: the first call confirms it, a repeat answers the
    /// same; a lapsed hold is [`CheckoutError::Expired`].
    ///
    /// # Errors
    /// [`CheckoutError`]; every error leaves the reservation as it was.
    pub async fn confirm(
        &self,
        caller: &Identity,
        reservation_id: &str,
    ) -> Result<StoredReservation, CheckoutError> {
        // Read and authorize first: a confirmation by the wrong caller must change nothing.
        let reservation = self.get(caller, reservation_id).await?;
        if reservation.state == HoldState::Released {
            return Err(CheckoutError::Expired(Box::new(reservation)));
        }
        let now = self.clock.now();
        match self.reservations.confirm(reservation_id, now).await? {
            ConfirmOutcome::Confirmed(confirmed) | ConfirmOutcome::AlreadyConfirmed(confirmed) => {
                let mut events = vec![DomainEvent::reservation_confirmed(&confirmed)];
                // The last hold confirmed with nothing available: the auction is sold out now
                // (a sale leaves its item held, so no sale records this end).
                if let Some(auction) = self.auctions.get_latest(&confirmed.auction_id).await?
                    && let Phase::Ended(ending) = auction.phase_at(now)
                    && ending.reason == EndReason::SoldOut
                    && auction.ending.is_none()
                    // Whoever records the end announces it (two last confirmations may race).
                    && self.auctions.record_end(&auction, ending).await?
                {
                    events.push(DomainEvent::auction_ended(&auction, EndReason::SoldOut));
                }
                // Announced on every answer, so a confirmation whose first announcement failed
                // is announced by the caller's retry (at least once, docs/events.md); the retry
                // also records a sold-out end its first call did not get to.
                self.publisher
                    .publish(&events)
                    .await
                    .map_err(|e| StoreError::Unknown(Box::new(e)))?;
                Ok(confirmed)
            }
            ConfirmOutcome::Expired(expired) => Err(CheckoutError::Expired(Box::new(expired))),
            ConfirmOutcome::NotFound => Err(CheckoutError::NotFound),
        }
    }
}

/// The buyer, or the tenant's checkout; another tenant's reservation is not revealed.
fn authorize(caller: &Identity, reservation: &StoredReservation) -> Result<(), CheckoutError> {
    let Some(user_id) = &caller.user_id else {
        return Err(CheckoutError::SignInRequired);
    };
    if caller.tenant_id != reservation.tenant_id {
        return Err(CheckoutError::NotFound);
    }
    if *user_id != reservation.user_id && !caller.has_role(CHECKOUT_ROLE) {
        return Err(CheckoutError::Forbidden);
    }
    Ok(())
}
