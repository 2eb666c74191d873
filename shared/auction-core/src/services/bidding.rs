//! Placing a bid: the use case behind `POST /api/auctions/{id}/bids`.
//!
//! In order: the bidder must be signed in; the auction is read (or found among those this
//! instance saw end); it must belong to the bidder's tenant; the price is read in the auction's
//! currency; the bidder's rate budget is spent; then the bid is decided on the auction as read
//! and written with one atomic store operation. A write the store refuses because the auction
//! moved on (a concurrent sale, an end) or because another write was under way is decided again
//! on the auction as it is now, with a short jittered backoff, up to [`MAX_DECISIONS`] times.
//! A replayed `bidId` gets its first outcome and takes nothing. The outcome is then announced
//! ([`super::announce`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Clock;
use crate::domain::money::JsonDecimal;
use crate::domain::{
    AcceptedBid, Auction, AuctionId, BidDecision, BidId, BidOutcome, BidRequest, EndReason, Ending,
    EpochMillis, MoneyError, Phase, PlacedBid, RejectReason, RejectedBid, Reservation,
};
use crate::identity::Identity;
use crate::ports::{
    AuctionStore, BidStore, Commit, EventPublisher, Outbox, RateLimiter, RateSubject, Recorded,
    StoreError, StoredBid,
};
use crate::rate::RateLimit;
use crate::telemetry;

/// How often one bid is decided at most: the first decision and the ones after a conflict.
pub const MAX_DECISIONS: u32 = 9;

/// A bid as the caller sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceBid {
    /// The auction.
    pub auction_id: AuctionId,
    /// The client's idempotency key; `None` has the server choose one.
    pub bid_id: Option<BidId>,
    /// The price offered, as the JSON number was written (read exactly in the auction's currency).
    pub bid_price: JsonDecimal,
}

/// Why a bid got no outcome (a rejection is an outcome, not an error).
#[derive(Debug, thiserror::Error)]
pub enum BidError {
    /// Anonymous callers may not bid.
    #[error("a signed-in user is required")]
    SignInRequired,
    /// No such auction.
    #[error("auction not found")]
    AuctionNotFound,
    /// The auction belongs to another tenant.
    #[error("auction belongs to another tenant")]
    WrongTenant,
    /// The price is not an amount of the auction's currency.
    #[error("bidPrice: {0}")]
    InvalidPrice(#[source] MoneyError),
    /// The bidder spent its budget; nothing was decided.
    #[error("too many bids")]
    RateLimited {
        /// Seconds until the next window.
        retry_after_seconds: u32,
    },
    /// The `bidId` was used before with a different body (auction, bidder or price).
    #[error("bidId was already used for a different bid")]
    BidIdReused,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The bidding use case and what it needs.
pub struct Bidding {
    auctions: Arc<dyn AuctionStore>,
    bids: Arc<dyn BidStore>,
    outbox: Arc<dyn Outbox>,
    rate_limits: Arc<dyn RateLimiter>,
    publisher: Arc<dyn EventPublisher>,
    clock: Arc<dyn Clock>,
    bid_rate: RateLimit,
    finished: FinishedAuctions,
}

/// What [`Bidding`] is built from.
pub struct BiddingDeps {
    /// Auctions.
    pub auctions: Arc<dyn AuctionStore>,
    /// Bid records and sales.
    pub bids: Arc<dyn BidStore>,
    /// The outbox of announcements.
    pub outbox: Arc<dyn Outbox>,
    /// The per-user budget.
    pub rate_limits: Arc<dyn RateLimiter>,
    /// The bus.
    pub publisher: Arc<dyn EventPublisher>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Bids per user per window.
    pub bid_rate: RateLimit,
}

impl Bidding {
    /// The use case over `deps`.
    #[must_use]
    pub fn new(deps: BiddingDeps) -> Self {
        Self {
            auctions: deps.auctions,
            bids: deps.bids,
            outbox: deps.outbox,
            rate_limits: deps.rate_limits,
            publisher: deps.publisher,
            clock: deps.clock,
            bid_rate: deps.bid_rate,
            finished: FinishedAuctions::default(),
        }
    }

    /// Places `bid` for `caller` at the clock's time, announces the outcome, and returns it.
    ///
    /// # Errors
    /// [`BidError`]; every error leaves the store as it was.
    pub async fn place(&self, caller: &Identity, bid: PlaceBid) -> Result<PlacedBid, BidError> {
        let Some(user_id) = caller.user_id.clone() else {
            return Err(BidError::SignInRequired);
        };
        let (bid_id, fresh_id) = match bid.bid_id {
            Some(id) => (id, false),
            None => (BidId::generate(), true),
        };
        let now = self.clock.now();
        let auction = self.auction(&bid.auction_id, now).await?;
        if auction.tenant_id != caller.tenant_id {
            return Err(BidError::WrongTenant);
        }
        let bid_price = auction
            .currency
            .parse_json_amount(&bid.bid_price)
            .map_err(BidError::InvalidPrice)?;
        let subject = RateSubject::User {
            tenant_id: &caller.tenant_id,
            user_id: &user_id,
        };
        let window = self.bid_rate.window_at(now);
        if !self
            .rate_limits
            .take(subject, window, self.bid_rate.max_calls)
            .await?
        {
            metrics::counter!(telemetry::REJECTED_BIDS, "Reason" => "RateLimited").increment(1);
            return Err(BidError::RateLimited {
                retry_after_seconds: self.bid_rate.retry_after_seconds(now),
            });
        }
        let request = BidRequest {
            auction_id: bid.auction_id,
            bid_id,
            user_id,
            tenant_id: caller.tenant_id.clone(),
            bid_price,
            fresh_id,
        };
        let placed = self.decide(&auction, &request, now).await?;
        if let (BidOutcome::Rejected(r), false) = (&placed.outcome, placed.replayed) {
            metrics::counter!(telemetry::REJECTED_BIDS, "Reason" => r.reason.as_str()).increment(1);
        }
        super::announce::announce(&*self.outbox, &*self.publisher, &auction, &placed).await;
        Ok(placed)
    }

    /// The auction, from this instance's memory of ended ones or from the store.
    async fn auction(&self, id: &AuctionId, now: EpochMillis) -> Result<Auction, BidError> {
        if let Some(ended) = self.finished.get(id) {
            return Ok(ended);
        }
        let auction = self
            .auctions
            .get(id)
            .await?
            .ok_or(BidError::AuctionNotFound)?;
        self.finished.remember_if_ended(&auction, now);
        Ok(auction)
    }

    /// Decides and records the bid at `now`, starting from `auction` as the caller read it.
    async fn decide(
        &self,
        auction: &Auction,
        bid: &BidRequest,
        now: EpochMillis,
    ) -> Result<PlacedBid, BidError> {
        // A stale read of the auction is safe: items and ends only ever move one way, and the
        // store's conditional write decides on the auction as it is.
        let mut latest = Cow::Borrowed(auction);
        for attempt in 0..MAX_DECISIONS {
            if attempt > 0 {
                // Jittered backoff: conflicting bidders spread out instead of colliding again.
                let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 10;
                self.clock
                    .sleep(Duration::from_millis(5 * u64::from(attempt) + jitter))
                    .await;
                latest = Cow::Owned(
                    self.auctions
                        .get_latest(&bid.auction_id)
                        .await?
                        .ok_or(BidError::AuctionNotFound)?,
                );
            }
            let auction = latest.as_ref();
            match auction.decide_bid(bid.bid_price, now) {
                BidDecision::Reject {
                    reason,
                    current_price,
                } => return self.reject(auction, bid, reason, current_price, now).await,
                BidDecision::Accept { winning_price } => {
                    let accepted = AcceptedBid {
                        bid_id: bid.bid_id.clone(),
                        auction_id: bid.auction_id.clone(),
                        user_id: bid.user_id.clone(),
                        winning_price,
                        currency: auction.currency,
                        reservation: Reservation::new(now, auction.reservation_ttl_seconds),
                        accepted_at: now,
                    };
                    match self.bids.commit_acceptance(bid, auction, &accepted).await? {
                        Commit::Committed => {
                            return Ok(self.after_sale(auction, accepted, now).await?);
                        }
                        Commit::BidExists(Some(stored)) => return replay(stored, bid),
                        Commit::BidExists(None) => {
                            if let Some(stored) = self.bids.find(&bid.bid_id).await? {
                                return replay(stored, bid);
                            }
                        }
                        Commit::AuctionRefused(Some(refusing)) => {
                            // Sold out or ended between the read and the write: decide on the
                            // state that refused, unless it admits the bid (a race with another
                            // write; then decide again from a fresh read).
                            if let BidDecision::Reject {
                                reason,
                                current_price,
                            } = refusing.decide_bid(bid.bid_price, now)
                            {
                                return self
                                    .reject(&refusing, bid, reason, current_price, now)
                                    .await;
                            }
                        }
                        Commit::AuctionRefused(None) | Commit::Conflict => {}
                    }
                }
            }
        }
        Err(StoreError::Contended.into())
    }

    /// A rejection: recorded so that a replay gets it, unless [`RejectReason::is_recorded`] says
    /// otherwise (the auction can never take bids again, or every item is held).
    async fn reject(
        &self,
        auction: &Auction,
        bid: &BidRequest,
        reason: RejectReason,
        current_price: crate::domain::Amount,
        now: EpochMillis,
    ) -> Result<PlacedBid, BidError> {
        let rejected = RejectedBid {
            bid_id: bid.bid_id.clone(),
            auction_id: bid.auction_id.clone(),
            user_id: bid.user_id.clone(),
            reason,
            current_price,
            currency: auction.currency,
        };
        let ended = matches!(auction.phase_at(now), Phase::Ended(_));
        if !reason.is_recorded(ended) {
            // Not recorded; but an earlier send of this id may have won before the end.
            if !bid.fresh_id
                && let Some(stored) = self.bids.find(&bid.bid_id).await?
            {
                return replay(stored, bid);
            }
            return Ok(fresh(BidOutcome::Rejected(rejected)));
        }
        match self.bids.record_rejection(bid, &rejected, now).await? {
            Recorded::New => Ok(fresh(BidOutcome::Rejected(rejected))),
            Recorded::Existing(stored) => replay(stored, bid),
        }
    }

    /// After a committed sale: read the counts, and record `SoldOut` if the auction has nothing
    /// available and nothing held (a sale leaves its item held, so only an auction whose holds
    /// were all confirmed or released meanwhile gets here; docs/design/reservations.md).
    async fn after_sale(
        &self,
        auction: &Auction,
        accepted: AcceptedBid,
        now: EpochMillis,
    ) -> Result<PlacedBid, StoreError> {
        let latest = self.auctions.get_latest(&auction.id).await?;
        let tally = latest.as_ref().map(Auction::tally);
        let mut ended = None;
        if latest.is_some_and(|a| a.remaining_items == 0 && a.held_items == 0) {
            let ending = Ending {
                reason: EndReason::SoldOut,
                at: now,
            };
            if self.auctions.record_end(auction, ending).await? {
                ended = Some(ending);
            }
        }
        Ok(PlacedBid {
            outcome: BidOutcome::Accepted(accepted),
            replayed: false,
            tally,
            ended,
        })
    }
}

fn fresh(outcome: BidOutcome) -> PlacedBid {
    PlacedBid {
        outcome,
        replayed: false,
        tally: None,
        ended: None,
    }
}

/// The first outcome of a bid id, when the stored record was made by the same body.
fn replay(stored: StoredBid, bid: &BidRequest) -> Result<PlacedBid, BidError> {
    if stored.fingerprint != bid.fingerprint() {
        return Err(BidError::BidIdReused);
    }
    Ok(PlacedBid {
        outcome: stored.outcome,
        replayed: true,
        tally: None,
        ended: None,
    })
}

/// Auctions known to have ended, per process. An end is final (nothing available and nothing held
/// stays so, a schedule's end stays past, a recorded end is never removed, tenant and currency
/// never change; an auction whose every item is only held has not ended), so once an instance has
/// read an
/// ended auction it rejects later bids on it without reading it again: a bid storm on a sold-out
/// auction costs no auction reads.
#[derive(Debug, Default)]
struct FinishedAuctions {
    auctions: Mutex<HashMap<AuctionId, Auction>>,
}

impl FinishedAuctions {
    /// How many ended auctions one instance remembers (then it starts over).
    const CAPACITY: usize = 10_000;

    fn get(&self, id: &AuctionId) -> Option<Auction> {
        self.auctions.lock().ok()?.get(id).cloned()
    }

    fn remember_if_ended(&self, auction: &Auction, now: EpochMillis) {
        if !matches!(auction.phase_at(now), Phase::Ended(_)) {
            return;
        }
        if let Ok(mut auctions) = self.auctions.lock() {
            if auctions.len() >= Self::CAPACITY {
                auctions.clear();
            }
            auctions.insert(auction.id.clone(), auction.clone());
        }
    }
}
