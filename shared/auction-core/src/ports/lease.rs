//! The price ticker's leases, one per shard of the live index: one run ticks a shard at a time,
//! and hands the shard's state to the next.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::EpochMillis;

/// The lease.
#[async_trait]
pub trait TickerLease: Send + Sync {
    /// Takes `shard`'s lease for `owner` until `now + hold_ms` when it is free or expired, and returns
    /// the state the last holder left (empty when none); `None` when another owner holds it.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn acquire(
        &self,
        shard: u32,
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
        shard: u32,
        owner: &str,
        now: EpochMillis,
        hold_ms: i64,
        state: &str,
    ) -> Result<bool, StoreError>;

    /// Saves `state` and frees the lease at once, if `owner` still holds it.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn release(&self, shard: u32, owner: &str, state: &str) -> Result<bool, StoreError>;
}
