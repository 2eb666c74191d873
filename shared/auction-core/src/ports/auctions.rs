//! Auctions: the aggregate's row, its listings, and the recorded end.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{Auction, AuctionId, AuctionStatus, Ending, EpochMillis};

/// The most auctions one [`AuctionStore::list`] call returns.
pub const MAX_LISTED_AUCTIONS: usize = 500;

/// Why an auction could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateAuctionError {
    /// An auction with that id exists already.
    #[error("auction already exists")]
    AlreadyExists,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a cancellation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Cancelled now; the auction as it is after.
    Cancelled(Auction),
    /// It had ended (sold out, reached its end, or cancelled) before; nothing changed. The
    /// auction as it was read, when it still exists.
    AlreadyEnded(Option<Auction>),
}

/// Auctions.
#[async_trait]
pub trait AuctionStore: Send + Sync {
    /// Stores a new auction.
    ///
    /// # Errors
    /// MUST return [`CreateAuctionError::AlreadyExists`] rather than overwrite an auction.
    async fn create(&self, auction: &Auction) -> Result<(), CreateAuctionError>;

    /// The auction with this id, of any tenant (callers check the tenant), or `None`. The read
    /// may be eventually consistent: items and ends only move one way, so a stale copy is safe
    /// wherever a conditional write decides.
    ///
    /// # Errors
    /// [`StoreError`] only; a missing auction is `Ok(None)`.
    async fn get(&self, auction_id: &AuctionId) -> Result<Option<Auction>, StoreError>;

    /// [`AuctionStore::get`], strongly consistent: every write acknowledged before is seen.
    ///
    /// # Errors
    /// [`StoreError`] only; a missing auction is `Ok(None)`.
    async fn get_latest(&self, auction_id: &AuctionId) -> Result<Option<Auction>, StoreError>;

    /// The tenant's auctions whose phase at `now` has `status`, oldest start first, at most
    /// [`MAX_LISTED_AUCTIONS`].
    ///
    /// # Errors
    /// [`StoreError`].
    async fn list(
        &self,
        tenant_id: &str,
        status: AuctionStatus,
        now: EpochMillis,
    ) -> Result<Vec<Auction>, StoreError>;

    /// How many of the tenant's auctions have no recorded end (scheduled, active, or past their
    /// end by the clock and not yet recorded): what the tenant's live-auction cap counts.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn count_unended(&self, tenant_id: &str) -> Result<u32, StoreError>;

    /// Records the end `Cancelled` at `now`, if the auction has no recorded end, has items left
    /// and its schedule has not run out at `now`: one conditional write, whatever the caller's
    /// copy of `auction` says (only its id and tenant, which never change, are used).
    ///
    /// # Errors
    /// [`StoreError`]; a missing auction is [`CancelOutcome::AlreadyEnded`]`(None)`.
    async fn cancel(
        &self,
        auction: &Auction,
        now: EpochMillis,
    ) -> Result<CancelOutcome, StoreError>;

    /// Records an end (`FloorReached` found by the ticker, `SoldOut` after the last sale).
    /// Returns `true` when this call recorded it, `false` when an end was recorded before:
    /// exactly one caller gets `true`.
    ///
    /// # Errors
    /// [`StoreError`]; a missing auction is `Ok(false)`.
    async fn record_end(&self, auction: &Auction, ending: Ending) -> Result<bool, StoreError>;

    /// Every tenant's auctions without a recorded end (scheduled, active, or past their end by
    /// the clock and not yet recorded), oldest start first: the price ticker's work list. All of
    /// them, however many: an auction left out would never be pushed nor ended.
    ///
    /// The list is read from an index that sales never write, so it carries each auction's
    /// schedule but not its count: every copy's `remaining_items` is its `total_items`, and its
    /// phase never reads `SoldOut` (the sale that empties an auction records that end, and the
    /// outbox sweep records it when that sale's caller died first). Read the auction
    /// ([`AuctionStore::get_latest`]) for the count.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn live(&self) -> Result<Vec<Auction>, StoreError>;

    /// How many shards the live list is kept in (`LiveIndexShards`).
    fn live_shards(&self) -> u32;

    /// The part of [`AuctionStore::live`] in `shard` (`0..live_shards()`), oldest start first:
    /// one price-ticker shard's work list. Shard 0 also holds rows written before the list was
    /// sharded. Like [`AuctionStore::live`], the copies carry no count of the items left.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn live_in_shard(&self, shard: u32) -> Result<Vec<Auction>, StoreError>;
}
