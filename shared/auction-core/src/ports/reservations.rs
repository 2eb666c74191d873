//! Reservations: a winner's hold on one item, confirmed by checkout or released by the sweep
//! (docs/design/reservations.md). Each move is one atomic write of the reservation and its
//! auction's counts, so a confirmation and a release of one hold never both happen.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::hold::{HoldState, ItemTally, Release};
use crate::domain::{Amount, AuctionId, BidId, Currency, EpochMillis};

/// A reservation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReservation {
    /// Its id (what `BidAccepted` and checkout carry).
    pub reservation_id: String,
    /// The auction of the item.
    pub auction_id: AuctionId,
    /// The auction's tenant.
    pub tenant_id: String,
    /// The buyer.
    pub user_id: String,
    /// The bid that won it.
    pub bid_id: BidId,
    /// What the buyer pays.
    pub winning_price: Amount,
    /// The price's currency.
    pub currency: Currency,
    /// When the hold lapses (it holds up to, not including, this instant).
    pub expires_at: EpochMillis,
    /// Held, confirmed or released.
    pub state: HoldState,
    /// When it was confirmed or released.
    pub decided_at: Option<EpochMillis>,
    /// Where a released hold's item went.
    pub released_to: Option<Release>,
}

/// What a confirmation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// Confirmed by this call.
    Confirmed(StoredReservation),
    /// Confirmed before: nothing changed.
    AlreadyConfirmed(StoredReservation),
    /// Its time was over (released, or lapsed and not yet swept): nothing changed.
    Expired(StoredReservation),
    /// No such reservation.
    NotFound,
}

/// What a release found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// Released by this call; its item went `to`; the auction's available items after it.
    Released {
        /// The reservation as it is now.
        reservation: StoredReservation,
        /// Where the item went.
        to: Release,
        /// The auction's counts right after the release.
        items: ItemTally,
    },
    /// Not released: confirmed, released before, or not due at `now`.
    NotDue,
}

/// Reservations.
#[async_trait]
pub trait ReservationStore: Send + Sync {
    /// The reservation with this id, or `None`.
    ///
    /// # Errors
    /// [`StoreError`] only.
    async fn get(&self, reservation_id: &str) -> Result<Option<StoredReservation>, StoreError>;

    /// Confirms the hold if it is held and `now` is before its expiry, moving its item from held
    /// to confirmed on the auction in the same write.
    ///
    /// # Errors
    /// [`StoreError`]; every outcome but [`ConfirmOutcome::Confirmed`] changed nothing.
    async fn confirm(
        &self,
        reservation_id: &str,
        now: EpochMillis,
    ) -> Result<ConfirmOutcome, StoreError>;

    /// Releases the hold if it is held and `now` is at or past its expiry: its item goes back to
    /// the auction's available items while the schedule runs and no end is recorded, and is
    /// recorded unsold otherwise; the release is entered in the outbox in the same write, so it
    /// is announced at least once.
    ///
    /// # Errors
    /// [`StoreError`]; [`ReleaseOutcome::NotDue`] changed nothing.
    async fn release(
        &self,
        reservation_id: &str,
        now: EpochMillis,
    ) -> Result<ReleaseOutcome, StoreError>;

    /// The ids of at most `limit` open holds of `shard` (`0..` the live index's shard count)
    /// that expired at or before `now`, soonest first: the sweep's work list.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn due(
        &self,
        shard: u32,
        now: EpochMillis,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
}
