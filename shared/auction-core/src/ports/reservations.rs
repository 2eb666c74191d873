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

/// An open hold as the sweep's index lists it: enough to release it and to announce the release
/// without reading its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueHold {
    /// The reservation.
    pub reservation_id: String,
    /// Its auction.
    pub auction_id: AuctionId,
    /// The auction's tenant.
    pub tenant_id: String,
    /// The buyer.
    pub user_id: String,
}

impl From<&StoredReservation> for DueHold {
    fn from(r: &StoredReservation) -> Self {
        Self {
            reservation_id: r.reservation_id.clone(),
            auction_id: r.auction_id.clone(),
            tenant_id: r.tenant_id.clone(),
            user_id: r.user_id.clone(),
        }
    }
}

/// What releasing some lapsed holds of one auction together did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasedHolds {
    /// The holds this call released (those confirmed or released meanwhile are left out).
    pub released: Vec<DueHold>,
    /// Where their items went.
    pub to: Release,
    /// The auction's counts right after (as read; default when nothing was released).
    pub items: ItemTally,
}

/// Most holds [`ReservationStore::release_due`] releases in one call: one transaction holds at
/// most 100 items, one of them the auction's counts.
pub const MAX_HOLDS_PER_RELEASE: usize = 99;

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

    /// At most `limit` open holds of `shard` (`0..` the live index's shard count) that expired at
    /// or before `now`, soonest first: the sweep's work list.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn due(
        &self,
        shard: u32,
        now: EpochMillis,
        limit: usize,
    ) -> Result<Vec<DueHold>, StoreError>;

    /// Releases lapsed holds of one auction (at most [`MAX_HOLDS_PER_RELEASE`] of `holds`, all
    /// of `auction_id`) in one write with the auction's counts moved by their number, as
    /// [`Self::release`] does for one: a hold confirmed or released meanwhile is left out, the
    /// rest go back to the room together or are unsold together. Concurrent releases of one
    /// auction's holds conflict on its row; releasing them together is what lets a sweep keep up
    /// when holds won together lapse together (docs/design/reservations.md).
    ///
    /// # Errors
    /// [`StoreError`]; then nothing was released.
    async fn release_due(
        &self,
        auction_id: &AuctionId,
        holds: &[DueHold],
        now: EpochMillis,
    ) -> Result<ReleasedHolds, StoreError>;
}
