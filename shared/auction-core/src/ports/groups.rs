//! Auction groups: who watches an auction, and how many.

use async_trait::async_trait;
use futures::stream::BoxStream;

use super::StoreError;
use crate::domain::{AuctionId, Connection, EpochMillis, Member};

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

/// Auction groups and their viewer counts.
#[async_trait]
pub trait GroupStore: Send + Sync {
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

    /// The members of an auction's group that have not expired at `now`, page by page. Each
    /// member appears exactly once.
    fn members<'a>(&'a self, auction_id: &'a AuctionId, now: EpochMillis) -> MemberPages<'a>;

    /// How many shards each group's members are kept in (`MembershipShards`, fixed while
    /// connections exist): the parts a large group's fan-out is split into.
    fn member_shards(&self) -> u32;

    /// The members of the group kept in `shards` (each below [`GroupStore::member_shards`]) that
    /// have not expired at `now`, page by page: one fan-out worker's part. Each member is in
    /// exactly one shard, so parts over disjoint shards never share a member.
    fn members_in<'a>(
        &'a self,
        auction_id: &'a AuctionId,
        shards: &'a [u32],
        now: EpochMillis,
    ) -> MemberPages<'a>;

    /// How many connections are in the auction's group.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn viewer_count(
        &self,
        auction_id: &AuctionId,
        now: EpochMillis,
    ) -> Result<u64, StoreError>;
}
