//! The ports: one small trait per store capability, returning domain types, with the contract an
//! implementation MUST keep. The one implementation is DynamoDB ([`crate::dynamo`]); tests run
//! it against a real DynamoDB-compatible engine, never against a hand-written imitation.
//!
//! Dispatch is `Arc<dyn Port>` throughout the workspace: handlers take their dependencies as
//! trait objects so tests and `auction-local` can wire them without generics leaking upward.

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::domain::{
    AcceptedBid, Auction, AuctionId, AuctionStatus, BidRequest, Connection, Ending, EpochMillis,
    Member, PlacedBid,
};

/// A boxed error kept as the source of an `Unknown` arm.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What can go wrong in any store call, whatever the operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The table does not exist (wrong name in the configuration, or not deployed).
    #[error("table {table} does not exist")]
    TableMissing {
        /// The table's configured name.
        table: String,
    },
    /// The service throttled the request and the SDK's retries ran out; retry later.
    #[error("throttled by the store")]
    Throttled,
    /// Concurrent transactions on the same item kept conflicting; retry later.
    #[error("too much contention on one item")]
    Contended,
    /// An item did not have the shape this code writes.
    #[error("stored item is malformed: {0}")]
    CorruptItem(String),
    /// Anything else; the source keeps the detail for logs.
    #[error("store request failed")]
    Unknown(#[source] BoxError),
}

impl StoreError {
    /// Whether retrying the same call later may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled | Self::Contended | Self::Unknown(_))
    }
}

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

/// Why an auction could not be cancelled.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    /// No such auction in the caller's tenant.
    #[error("auction not found")]
    NotFound,
    /// The caller is not the seller who created it.
    #[error("only the seller who created the auction may cancel it")]
    NotSeller,
    /// It had already ended; the auction as it ended.
    #[error("auction has already ended")]
    AlreadyEnded(Box<Auction>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a bid got no outcome (a rejection is an outcome, not an error).
#[derive(Debug, thiserror::Error)]
pub enum PlaceBidError {
    /// No such auction.
    #[error("auction not found")]
    AuctionNotFound,
    /// The auction belongs to another tenant.
    #[error("auction belongs to another tenant")]
    WrongTenant,
    /// The `bidId` was used before with a different body (auction, bidder or price).
    #[error("bidId was already used for a different bid")]
    BidIdReused,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Auctions and bids.
#[async_trait]
pub trait AuctionStore: Send + Sync {
    /// Stores a new auction.
    ///
    /// # Errors
    /// MUST return [`CreateAuctionError::AlreadyExists`] rather than overwrite an auction.
    async fn create(&self, auction: &Auction) -> Result<(), CreateAuctionError>;

    /// The auction with this id, of any tenant (callers check the tenant), or `None`.
    ///
    /// # Errors
    /// [`StoreError`] only; a missing auction is `Ok(None)`.
    async fn get(&self, auction_id: &AuctionId) -> Result<Option<Auction>, StoreError>;

    /// The tenant's auctions whose phase at `now` has `status`, oldest start first. The result is
    /// bounded (at most [`crate::dynamo::MAX_LISTED_AUCTIONS`]).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn list(
        &self,
        tenant_id: &str,
        status: AuctionStatus,
        now: EpochMillis,
    ) -> Result<Vec<Auction>, StoreError>;

    /// Cancels an auction that has not ended, on behalf of its seller, and returns it as cancelled.
    ///
    /// # Errors
    /// MUST return [`CancelError::NotFound`] for an auction of another tenant (its existence is
    /// not revealed), [`CancelError::NotSeller`] for anyone but its seller, and
    /// [`CancelError::AlreadyEnded`] when it ended before (nothing is changed then).
    async fn cancel(
        &self,
        auction_id: &AuctionId,
        tenant_id: &str,
        seller_id: &str,
        now: EpochMillis,
    ) -> Result<Auction, CancelError>;

    /// Records an end (e.g. `FloorReached` found by the ticker). Returns `true` when this call
    /// recorded it, `false` when an end was recorded before: exactly one caller gets `true`.
    ///
    /// # Errors
    /// [`StoreError`]; a missing auction is `Ok(false)`.
    async fn record_end(&self, auction: &Auction, ending: Ending) -> Result<bool, StoreError>;

    /// Decides and records a bid at `now`, atomically: an accepted bid takes exactly one item and
    /// the item count never goes below zero, whatever runs concurrently. The same `bidId` sent
    /// again returns the first outcome with `replayed: true` and takes nothing. A bid on a sold-out
    /// or ended auction is rejected from a read, without any write.
    ///
    /// # Errors
    /// MUST return [`PlaceBidError::BidIdReused`] when the `bidId` was recorded with another
    /// body, [`PlaceBidError::AuctionNotFound`] and [`PlaceBidError::WrongTenant`] before any
    /// write.
    async fn place_bid(
        &self,
        bid: &BidRequest,
        now: EpochMillis,
    ) -> Result<PlacedBid, PlaceBidError>;

    /// [`AuctionStore::place_bid`] with the auction as the caller just read it (possibly
    /// eventually consistent), saving a read; the same contract.
    ///
    /// # Errors
    /// As [`AuctionStore::place_bid`].
    async fn place_bid_on(
        &self,
        auction: &Auction,
        bid: &BidRequest,
        now: EpochMillis,
    ) -> Result<PlacedBid, PlaceBidError>;

    /// Every tenant's auctions without a recorded end (scheduled, active, or past their end by
    /// the clock and not yet recorded), oldest start first: the price ticker's work list. Bounded
    /// like [`AuctionStore::list`].
    ///
    /// # Errors
    /// [`StoreError`].
    async fn live(&self) -> Result<Vec<Auction>, StoreError>;

    /// Accepted bids decided before `decided_before` whose events are not yet known to be
    /// published (the outbox), oldest first, at most `limit`.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn pending_notices(
        &self,
        decided_before: EpochMillis,
        limit: usize,
    ) -> Result<Vec<PendingNotice>, StoreError>;

    /// Takes an accepted bid out of the outbox once its events are on the bus. Idempotent.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn mark_notified(&self, bid_id: &crate::domain::BidId) -> Result<(), StoreError>;
}

/// An accepted bid in the outbox: its events may not have reached the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingNotice {
    /// The auction's tenant.
    pub tenant_id: String,
    /// The bid as it was accepted.
    pub bid: AcceptedBid,
}

/// The price ticker's lease: one run ticks at a time, and hands its state to the next.
#[async_trait]
pub trait TickerLease: Send + Sync {
    /// Takes the lease for `owner` until `now + hold_ms` when it is free or expired, and returns
    /// the state the last holder left (empty when none); `None` when another owner holds it.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn acquire(
        &self,
        owner: &str,
        now: EpochMillis,
        hold_ms: i64,
    ) -> Result<Option<String>, StoreError>;

    /// Extends `owner`'s lease to `now + hold_ms` and saves `state`; `false` when the lease was
    /// lost (another owner took it after it expired): the caller MUST stop ticking.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn renew(
        &self,
        owner: &str,
        now: EpochMillis,
        hold_ms: i64,
        state: &str,
    ) -> Result<bool, StoreError>;

    /// Saves `state` and frees the lease at once, if `owner` still holds it.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn release(&self, owner: &str, state: &str) -> Result<bool, StoreError>;
}

/// Whether a join added a membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    /// Newly joined; the viewer was counted.
    Joined,
    /// Already a member; nothing changed.
    AlreadyMember,
}

/// Whether a leave removed a membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveOutcome {
    /// Left; the viewer count went down by one.
    Left,
    /// Was not a member; nothing changed.
    NotMember,
}

/// Why a join failed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The connection is gone (disconnected or expired).
    #[error("connection is gone")]
    ConnectionGone,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A stream of pages of group members.
pub type MemberPages<'a> = BoxStream<'a, Result<Vec<Member>, StoreError>>;

/// Connections, auction groups and viewer counts.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Stores a new connection (at `$connect`).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn put(&self, connection: &Connection) -> Result<(), StoreError>;

    /// The connection, or `None` when unknown or expired at `now`.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn get(
        &self,
        connection_id: &str,
        now: EpochMillis,
    ) -> Result<Option<Connection>, StoreError>;

    /// Adds the connection to the auction's group and counts it once: a second join of the same
    /// connection changes nothing and returns [`JoinOutcome::AlreadyMember`].
    ///
    /// # Errors
    /// MUST return [`JoinError::ConnectionGone`] when the connection no longer exists or has
    /// expired at `now`; nothing is written then.
    async fn join(
        &self,
        connection: &Connection,
        auction_id: &AuctionId,
        now: EpochMillis,
    ) -> Result<JoinOutcome, JoinError>;

    /// Removes the connection from the auction's group and uncounts it, once.
    ///
    /// # Errors
    /// [`StoreError`]; not being a member is [`LeaveOutcome::NotMember`].
    async fn leave(
        &self,
        connection_id: &str,
        auction_id: &AuctionId,
    ) -> Result<LeaveOutcome, StoreError>;

    /// Removes the connection, all its memberships and their counts (at `$disconnect`, or when a
    /// post finds it gone). Idempotent: returns the connection as it was the first time, `None`
    /// after. Works on expired rows too, so counts are corrected whenever a connection is found
    /// dead.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn remove(&self, connection_id: &str) -> Result<Option<Connection>, StoreError>;

    /// The members of an auction's group that have not expired at `now`, page by page, read from
    /// every shard in parallel. Each member appears exactly once.
    fn members<'a>(&'a self, auction_id: &'a AuctionId, now: EpochMillis) -> MemberPages<'a>;

    /// The user's connections that have not expired at `now` (send-to-user, group-except).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn connections_of_user(
        &self,
        tenant_id: &str,
        user_id: &str,
        now: EpochMillis,
    ) -> Result<Vec<String>, StoreError>;

    /// Takes one call from the connection's fixed-window budget: `window` numbers the current
    /// window, `max_calls` is the budget per window. Returns `false` (and changes nothing) when
    /// the budget is spent or the connection is gone.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn take_rate_token(
        &self,
        connection_id: &str,
        window: i64,
        max_calls: u32,
    ) -> Result<bool, StoreError>;

    /// Takes one call from the user's fixed-window budget (the bid rate limit): like
    /// [`ConnectionStore::take_rate_token`], keyed by tenant and user instead of a connection.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn take_user_token(
        &self,
        tenant_id: &str,
        user_id: &str,
        window: i64,
        window_seconds: u32,
        max_calls: u32,
    ) -> Result<bool, StoreError>;

    /// How many connections are in the auction's group.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn viewer_count(
        &self,
        auction_id: &AuctionId,
        now: EpochMillis,
    ) -> Result<u64, StoreError>;

    /// Notes that a signed-in user lost, at `at`, a connection that had joined auctions; the
    /// note lasts [`crate::telemetry::RECONNECT_WINDOW`] (for the reconnection metric).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn note_departure(
        &self,
        tenant_id: &str,
        user_id: &str,
        at: EpochMillis,
    ) -> Result<(), StoreError>;

    /// Takes (removes and returns) the user's noted departure, if any.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn take_departure(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<Option<EpochMillis>, StoreError>;
}
