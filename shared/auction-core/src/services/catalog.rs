//! The auctions of a tenant: creating, reading, listing and cancelling them (the HTTP API's
//! auction routes). Every read is scoped to the caller's tenant: another tenant's auction is
//! reported as missing, so its existence is not revealed.

use std::sync::Arc;

use crate::clock::Clock;
use crate::domain::{
    Auction, AuctionId, AuctionSnapshot, AuctionStatus, CreateAuctionRequest, EpochMillis,
    FieldError, Phase, PushCadence,
};
use crate::events::DomainEvent;
use crate::identity::{Identity, SELLER_ROLE};
use crate::ports::{
    AuctionStore, CancelOutcome, CreateAuctionError, EventPublisher, GroupStore, RateLimiter,
    RateSubject, StoreError,
};
use crate::rate::RateLimit;

/// Why a create failed; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// Anonymous callers may not create auctions.
    #[error("a signed-in user is required")]
    SignInRequired,
    /// Only sellers may.
    #[error("only sellers may create auctions")]
    NotSeller,
    /// The body broke these rules (all of them, at once).
    #[error("the auction is invalid")]
    Invalid(Vec<FieldError>),
    /// The generated id exists already (practically never).
    #[error("the auction exists already")]
    AlreadyExists,
    /// The tenant already has the most auctions without an end that it may have.
    #[error("the tenant already has {0} auctions that have not ended; wait for one to end")]
    TooManyLiveAuctions(u32),
    /// The seller spent its create budget.
    #[error("too many auctions created; retry after {retry_after_seconds} s")]
    RateLimited {
        /// Seconds until the window ends.
        retry_after_seconds: u32,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a cancellation failed; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    /// Anonymous callers may not cancel.
    #[error("a signed-in user is required")]
    SignInRequired,
    /// No such auction in the caller's tenant.
    #[error("auction not found")]
    NotFound,
    /// The caller is not the seller who created it.
    #[error("only the seller who created the auction may cancel it")]
    NotSeller,
    /// It had already ended.
    #[error("the auction has already ended")]
    AlreadyEnded,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A read that found nothing in the caller's tenant.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No such auction in the caller's tenant.
    #[error("auction not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The catalog use cases and what they need.
pub struct Catalog {
    /// Auctions.
    pub auctions: Arc<dyn AuctionStore>,
    /// Viewer counts for the snapshots.
    pub groups: Arc<dyn GroupStore>,
    /// `AuctionCreated` and `AuctionCancelled`.
    pub publisher: Arc<dyn EventPublisher>,
    /// The create budgets.
    pub rate_limits: Arc<dyn RateLimiter>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The caps on creating.
    pub limits: CatalogLimits,
    /// The ticker's cadence, announced in snapshots.
    pub cadence: PushCadence,
}

/// The caps on creating auctions: one tenant's auctions are work for every tenant's ticker and
/// fan-out, so neither one tenant nor one seller may create without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogLimits {
    /// Auctions without a recorded end one tenant may have.
    pub max_live_auctions_per_tenant: u32,
    /// Creations per seller per window.
    pub create_rate: RateLimit,
    /// How long a winner's hold lasts when the create body does not say
    /// (`RESERVATION_TTL_SECONDS`; 1–86,400).
    pub default_reservation_ttl_seconds: u32,
}

impl Default for CatalogLimits {
    fn default() -> Self {
        Self {
            max_live_auctions_per_tenant: 100,
            create_rate: RateLimit {
                max_calls: 30,
                window_seconds: 3600,
            },
            default_reservation_ttl_seconds:
                crate::domain::create::limits::DEFAULT_RESERVATION_TTL_SECONDS,
        }
    }
}

impl Catalog {
    async fn snapshot(
        &self,
        auction: &Auction,
        now: EpochMillis,
    ) -> Result<AuctionSnapshot, StoreError> {
        let viewers = self.groups.viewer_count(&auction.id, now).await?;
        Ok(auction.snapshot(now, viewers, self.cadence))
    }

    /// Creates an auction of the caller's tenant, sold by the caller, and announces it.
    ///
    /// # Errors
    /// [`CreateError`].
    pub async fn create(
        &self,
        caller: &Identity,
        request: &CreateAuctionRequest,
    ) -> Result<AuctionSnapshot, CreateError> {
        let Some(seller_id) = caller.user_id.as_deref() else {
            return Err(CreateError::SignInRequired);
        };
        if !caller.has_role(SELLER_ROLE) {
            return Err(CreateError::NotSeller);
        }
        let now = self.clock.now();
        let auction = request
            .validate_with_ttl(
                &caller.tenant_id,
                seller_id,
                now,
                self.limits.default_reservation_ttl_seconds,
            )
            .map_err(CreateError::Invalid)?;
        let subject = RateSubject::Creator {
            tenant_id: &caller.tenant_id,
            user_id: seller_id,
        };
        let create_rate = self.limits.create_rate;
        let window = create_rate.window_at(now);
        if !self
            .rate_limits
            .take(subject, window, create_rate.max_calls)
            .await?
        {
            return Err(CreateError::RateLimited {
                retry_after_seconds: create_rate.retry_after_seconds(now),
            });
        }
        // Counted, not reserved: concurrent creates of one tenant may pass the cap by the few
        // that race, which the per-seller budget bounds.
        let max = self.limits.max_live_auctions_per_tenant;
        if self.auctions.count_unended(&caller.tenant_id).await? >= max {
            return Err(CreateError::TooManyLiveAuctions(max));
        }
        match self.auctions.create(&auction).await {
            Ok(()) => {}
            Err(CreateAuctionError::AlreadyExists) => return Err(CreateError::AlreadyExists),
            Err(CreateAuctionError::Store(e)) => return Err(e.into()),
        }
        // Nothing is pushed for a creation; the event is for other consumers, so a failure is
        // logged, not returned.
        if let Err(e) = self
            .publisher
            .publish(&[DomainEvent::auction_created(&auction)])
            .await
        {
            tracing::error!(error = ?e, auction_id = %auction.id, "AuctionCreated not published");
        }
        Ok(auction.snapshot(now, 0, self.cadence))
    }

    /// The auction's snapshot, if it belongs to the caller's tenant.
    ///
    /// # Errors
    /// [`ReadError`].
    pub async fn get(
        &self,
        caller: &Identity,
        auction_id: &AuctionId,
    ) -> Result<AuctionSnapshot, ReadError> {
        let auction = match self.auctions.get(auction_id).await? {
            Some(auction) if auction.tenant_id == caller.tenant_id => auction,
            _ => return Err(ReadError::NotFound),
        };
        Ok(self.snapshot(&auction, self.clock.now()).await?)
    }

    /// The caller's tenant's auctions with `status`, oldest start first.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn list(
        &self,
        caller: &Identity,
        status: AuctionStatus,
    ) -> Result<Vec<AuctionSnapshot>, StoreError> {
        let now = self.clock.now();
        let auctions = self.auctions.list(&caller.tenant_id, status, now).await?;
        let mut items = Vec::with_capacity(auctions.len());
        for auction in &auctions {
            items.push(self.snapshot(auction, now).await?);
        }
        Ok(items)
    }

    /// Cancels an auction that has not ended, on behalf of the seller who created it, and
    /// announces it (the group gets `AuctionEnded` `Cancelled` through the notifier).
    ///
    /// # Errors
    /// [`CancelError`].
    pub async fn cancel(
        &self,
        caller: &Identity,
        auction_id: &AuctionId,
    ) -> Result<AuctionSnapshot, CancelError> {
        let Some(user_id) = caller.user_id.as_deref() else {
            return Err(CancelError::SignInRequired);
        };
        let now = self.clock.now();
        let current = match self.auctions.get_latest(auction_id).await? {
            Some(auction) if auction.tenant_id == caller.tenant_id => auction,
            _ => return Err(CancelError::NotFound),
        };
        if current.seller_id != user_id {
            return Err(CancelError::NotSeller);
        }
        if matches!(current.phase_at(now), Phase::Ended(_)) {
            return Err(CancelError::AlreadyEnded);
        }
        let cancelled = match self.auctions.cancel(&current, now).await? {
            CancelOutcome::Cancelled(auction) => auction,
            CancelOutcome::AlreadyEnded(_) => return Err(CancelError::AlreadyEnded),
        };
        if let Err(e) = self
            .publisher
            .publish(&[DomainEvent::auction_cancelled(&cancelled)])
            .await
        {
            tracing::error!(error = ?e, auction_id = %cancelled.id, "AuctionCancelled not published");
        }
        Ok(self.snapshot(&cancelled, now).await?)
    }
}
