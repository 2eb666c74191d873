//! Bids: the record of every decided bid, keyed by its client-chosen id, and the one atomic
//! write that sells an item.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{
    AcceptedBid, Auction, BidId, BidOutcome, BidRequest, EpochMillis, RejectedBid,
};

/// A bid as recorded: the outcome, and the fingerprint of the body that produced it
/// ([`BidRequest::fingerprint`]), which tells a replay from a reuse of the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBid {
    /// The fingerprint of the body first sent with this id.
    pub fingerprint: String,
    /// The first outcome.
    pub outcome: BidOutcome,
}

/// What recording a rejection found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The rejection is now the bid's record.
    New,
    /// The id was recorded before (a replay, or a reuse with another body).
    Existing(StoredBid),
}

/// What the sale's atomic write found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commit {
    /// One item was taken and the acceptance recorded, together.
    Committed,
    /// Nothing written: the id was recorded before. The record, when the store returned it
    /// (read it with [`BidStore::find`] otherwise).
    BidExists(Option<StoredBid>),
    /// Nothing written: the auction refused (no item left, an end recorded, or outside its
    /// active window at the bid's time). The auction as it was, when the store returned it.
    AuctionRefused(Option<Auction>),
    /// Nothing written: another write to the same items was under way. Decide again.
    Conflict,
}

/// Bid records and sales.
#[async_trait]
pub trait BidStore: Send + Sync {
    /// The record of a bid id, strongly consistent, or `None`.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn find(&self, bid_id: &BidId) -> Result<Option<StoredBid>, StoreError>;

    /// Records a rejection decided at `now` unless the id is recorded already, in one
    /// conditional write.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn record_rejection(
        &self,
        bid: &BidRequest,
        rejected: &RejectedBid,
        now: EpochMillis,
    ) -> Result<Recorded, StoreError>;

    /// Sells one item of `auction` to `accepted` in one transaction: the auction's item count
    /// goes down by one only if an item is left, no end is recorded and `accepted.accepted_at`
    /// lies in the auction's active window, and the acceptance is recorded (with an outbox
    /// marker, see [`super::Outbox`]) only if the id is new. Both or neither: the count never
    /// goes below zero and no id takes two items, whatever runs concurrently.
    ///
    /// # Errors
    /// [`StoreError`] for failures; refusals are [`Commit`] answers.
    async fn commit_acceptance(
        &self,
        bid: &BidRequest,
        auction: &Auction,
        accepted: &AcceptedBid,
    ) -> Result<Commit, StoreError>;
}
