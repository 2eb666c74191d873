//! The outbox of accepted bids and released holds whose events may not have reached the bus yet.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{AcceptedBid, BidId, EpochMillis};

/// An accepted bid in the outbox: its events may not have reached the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingNotice {
    /// The auction's tenant.
    pub tenant_id: String,
    /// The bid as it was accepted.
    pub bid: AcceptedBid,
}

/// The outbox. An acceptance enters it in the sale's own transaction
/// ([`super::BidStore::commit_acceptance`]).
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Accepted bids decided before `decided_before` still in the outbox, oldest first, at most
    /// `limit`.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn pending(
        &self,
        decided_before: EpochMillis,
        limit: usize,
    ) -> Result<Vec<PendingNotice>, StoreError>;

    /// Takes an accepted bid out of the outbox once its events are on the bus. Idempotent.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn mark_notified(&self, bid_id: &BidId) -> Result<(), StoreError>;

    /// Released holds decided before `decided_before` still in the outbox (a release enters it
    /// in its own transaction, [`super::reservations::ReservationStore::release`]), oldest first,
    /// at most `limit`.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn pending_releases(
        &self,
        decided_before: EpochMillis,
        limit: usize,
    ) -> Result<Vec<super::reservations::StoredReservation>, StoreError>;

    /// Takes a released hold out of the outbox once its events are on the bus. Idempotent.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn mark_release_notified(&self, reservation_id: &str) -> Result<(), StoreError>;
}
