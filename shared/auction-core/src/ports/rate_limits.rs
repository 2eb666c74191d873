//! Fixed-window rate limits shared by every instance of a function.

use async_trait::async_trait;

use super::StoreError;
use crate::rate::Window;

/// Whose budget a call spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateSubject<'a> {
    /// One WebSocket connection (Join/Leave).
    Connection(&'a str),
    /// One user of one tenant (bids).
    User {
        /// The tenant.
        tenant_id: &'a str,
        /// The user.
        user_id: &'a str,
    },
    /// One seller of one tenant creating auctions (a budget of its own, apart from bids).
    Creator {
        /// The tenant.
        tenant_id: &'a str,
        /// The seller.
        user_id: &'a str,
    },
}

/// Budgets per subject and window.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Takes one call from `subject`'s budget of `max_calls` in `window`, in one conditional
    /// write. Returns `false`, changing nothing, when the budget is spent. Windows are
    /// independent: the first call of a new window always has a budget, however close to the
    /// last one it comes.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn take(
        &self,
        subject: RateSubject<'_>,
        window: Window,
        max_calls: u32,
    ) -> Result<bool, StoreError>;
}
