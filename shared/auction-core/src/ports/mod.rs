//! The ports: one small trait per capability, returning domain types, with the contract an
//! implementation MUST keep. The implementations are DynamoDB, EventBridge and API Gateway's
//! Management API (the `auction-aws` crate); tests run them against a real DynamoDB-compatible
//! engine and the local gateway, never against a hand-written imitation.
//!
//! Each store method is one atomic operation; a conflict it can detect is a typed answer (for
//! example [`bids::Commit::Conflict`]), and the decision what to do next belongs to the use case
//! in [`crate::services`].
//!
//! Dispatch is `Arc<dyn Port>` throughout the workspace: services take their dependencies as
//! trait objects, so the composition root can wire them without generics leaking upward.

pub mod auctions;
pub mod bids;
pub mod connections;
pub mod departures;
pub mod events;
pub mod groups;
pub mod lease;
pub mod outbox;
pub mod push;
pub mod rate_limits;
pub mod reservations;

pub use auctions::{AuctionStore, CancelOutcome, CreateAuctionError};
pub use bids::{BidStore, Commit, Recorded, StoredBid};
pub use connections::{Admission, ConnectionStore};
pub use departures::Departures;
pub use events::{EventPublisher, PublishError};
pub use groups::{GroupStore, JoinError, JoinOutcome, LeaveOutcome, MemberPages};
pub use lease::TickerLease;
pub use outbox::{Outbox, PendingNotice};
pub use push::{PushError, Pusher};
pub use rate_limits::{RateLimiter, RateSubject};

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
