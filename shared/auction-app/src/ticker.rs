//! The price ticker (docs/protocol.md section 4, docs/architecture.md "Fan-out"). EventBridge
//! starts the dispatcher every minute, which starts one run per shard of the live index
//! ([`dispatch`]); a run ticks its shard's auctions once a second and stops before its timeout.
//! No run ticks the whole platform: shards are ticked side by side, each within its share of the
//! post budget, and a shard that overruns its second delays only its own auctions. A lease row
//! per shard keeps two runs from ticking one shard together and carries the shard's push state
//! from one run to the next, so throttling holds across the minute boundary.
//!
//! Per tick and per auction without a recorded end:
//! - `PriceUpdated` when the price changed and the last push is at least the price-update
//!   interval old; a change still waiting when the auction ends is pushed before the end.
//! - `ViewerCountUpdated` at most once per viewer-count interval, when the counter changed (a
//!   counter read per auction per interval: O(auctions), never O(viewers²)).
//! - Pushes carry news ([`PushCadence`]): a large group (`large_group_viewers`) gets its
//!   `PriceUpdated` only every `large_group_push_interval`, with the viewer count riding along
//!   and no `ViewerCountUpdated` of its own; every `PriceUpdated` says the cadence that follows.
//! - A scheduled auction's first push is at `startsAt`: that is its Scheduled → Active moment.
//! - An auction past its end by the clock is read (the live list carries no item count, so that
//!   sales never write it) and recorded `FloorReached` (or `SoldOut` when nothing was available:
//!   every item held or paid, or the last confirmation's own record failed) and `AuctionEnded` is
//!   published; if publishing fails, the end is kept in the state and published on a later tick.
//! - Each shard's run releases its lapsed holds, one auction's together (docs/design/reservations.md).
//!
//! Shard 0's ticks also sweep the bid outbox ([`auction_core::services::announce::sweep_outbox`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use auction_core::clock::Clock;
use auction_core::domain::{
    Auction, AuctionId, EndReason, Ending, EpochMillis, Phase, PushCadence,
};
use auction_core::events::{AuctionEndedDetail, DomainEvent};
use auction_core::frames::{Frame, PriceUpdated, ViewerCountUpdated};
use auction_core::ports::reservations::{DueHold, MAX_HOLDS_PER_RELEASE, ReservationStore};
use auction_core::ports::{
    AuctionStore, EventPublisher, GroupStore, Outbox, StoreError, TickerLease,
};
use auction_core::services::announce::{sweep_outbox, sweep_releases};

use crate::fanout::{Audience, FanOut};

/// Starts shard runs of the ticker without waiting for them: Lambda's asynchronous invoke of the
/// ticker function itself ([`auction_aws::invoke::AsyncInvoker`]).
#[async_trait::async_trait]
pub trait ShardStarter: Send + Sync {
    /// Starts one run of `shard`.
    ///
    /// # Errors
    /// Why it could not be started.
    async fn start(&self, shard: u32) -> Result<(), auction_core::ports::BoxError>;
}

#[async_trait::async_trait]
impl ShardStarter for auction_aws::invoke::AsyncInvoker {
    async fn start(&self, shard: u32) -> Result<(), auction_core::ports::BoxError> {
        Ok(self.invoke_async(&ShardRun { shard }.to_event()).await?)
    }
}

/// The event that starts one shard's run (`{"shard": N}`); any other event (the schedule's)
/// starts the dispatcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRun {
    /// The shard, `0..shards`.
    pub shard: u32,
}

impl ShardRun {
    /// The invocation payload.
    #[must_use]
    pub fn to_event(self) -> serde_json::Value {
        serde_json::json!({ "shard": self.shard })
    }

    /// The shard an event names: `Ok(None)` for an event without `shard` (the schedule's),
    /// an error for a `shard` that is not a number below `shards`.
    ///
    /// # Errors
    /// A message saying what is wrong with `shard`.
    pub fn from_event(event: &serde_json::Value, shards: u32) -> Result<Option<Self>, String> {
        let Some(value) = event.get("shard") else {
            return Ok(None);
        };
        match value.as_u64().and_then(|s| u32::try_from(s).ok()) {
            Some(shard) if shard < shards => Ok(Some(Self { shard })),
            _ => Err(format!(
                "shard must be an integer in 0..{shards}, not {value}"
            )),
        }
    }
}

/// What the dispatcher did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DispatchReport {
    /// Shards whose run was started.
    pub started: Vec<u32>,
    /// Shards whose run could not be started (logged; the next minute's dispatch tries again).
    pub failed: Vec<u32>,
}

/// The dispatcher: starts one run per shard, all at once. A shard whose start failed is
/// reported (and left to the next minute); the others run regardless.
pub async fn dispatch(shards: u32, starter: &dyn ShardStarter) -> DispatchReport {
    let results = futures::future::join_all(
        (0..shards).map(|shard| async move { (shard, starter.start(shard).await) }),
    )
    .await;
    let mut report = DispatchReport::default();
    for (shard, result) in results {
        match result {
            Ok(()) => report.started.push(shard),
            Err(e) => {
                tracing::error!(shard, error = %e, "could not start the shard's ticker run");
                report.failed.push(shard);
            }
        }
    }
    report
}

/// Timing of the ticker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickerConfig {
    /// Minimum time between two `PriceUpdated` of one auction.
    pub price_update_interval: Duration,
    /// Minimum time between two `ViewerCountUpdated` of one auction.
    pub viewer_count_interval: Duration,
    /// Time between ticks.
    pub tick: Duration,
    /// How long one run ticks (the schedule starts the next one).
    pub run_for: Duration,
    /// Auctions handled at once within a tick.
    pub auction_concurrency: usize,
    /// `PriceUpdated` posts per second the ticker may spend over all auctions (API Gateway
    /// allows the account 10,000 requests/s in all). A group too large for it is pushed less
    /// often; clients extrapolate the price from the schedule meanwhile.
    pub post_budget_per_second: u32,
    /// From this many viewers a group is large.
    pub large_group_viewers: u64,
    /// Minimum time between two `PriceUpdated` of a large group (whose viewer count rides along).
    pub large_group_push_interval: Duration,
    /// The fan-out workers, when there are: a group they post spends their budget, not the
    /// shard's.
    pub workers: Option<crate::fanout::workers::WorkerPool>,
}

impl TickerConfig {
    /// The cadence these settings give over `shards` ticker shards (each spends its share of
    /// the post budget), as snapshots announce it.
    #[must_use]
    pub fn cadence(&self, shards: u32) -> PushCadence {
        let seconds = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX).max(1);
        PushCadence {
            price_update_seconds: seconds(self.price_update_interval),
            large_group_viewers: self.large_group_viewers,
            large_group_seconds: seconds(self.large_group_push_interval),
            shard_posts_per_second: (u64::from(self.post_budget_per_second)
                / u64::from(shards.max(1)))
            .max(1),
            worker_group_viewers: self.workers.map_or(u64::MAX, |w| w.group_viewers.max(1)),
            worker_posts_per_second: self
                .workers
                .map_or(1, |w| u64::from(w.posts_per_second).max(1)),
        }
    }
}

impl Default for TickerConfig {
    fn default() -> Self {
        Self {
            price_update_interval: Duration::from_secs(5),
            viewer_count_interval: Duration::from_secs(5),
            tick: Duration::from_secs(1),
            run_for: Duration::from_secs(60),
            auction_concurrency: 16,
            post_budget_per_second: 5_000,
            large_group_viewers: PushCadence::default().large_group_viewers,
            large_group_push_interval: Duration::from_secs(u64::from(
                PushCadence::default().large_group_seconds,
            )),
            workers: None,
        }
    }
}

/// Lapsed holds one shard releases per tick at most: 100 a second per shard, 6,000 a minute.
pub const RELEASES_PER_TICK: usize = 100;
/// How long a lease holds without renewal: a crashed run blocks the next one at most this long.
const LEASE_HOLD_MS: i64 = 10_000;
/// The lease is renewed (and the state saved) every this many ticks.
const RENEW_EVERY_TICKS: u64 = 3;
/// A run stops this long before its deadline, leaving time to release the lease.
const DEADLINE_MARGIN: Duration = Duration::from_secs(3);

/// What the ticker pushed last for one auction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushState {
    /// The last pushed price (minor units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    /// When it was pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_at: Option<i64>,
    /// The last pushed viewer count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewers: Option<u64>,
    /// When the counter was last read (pushed or not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewers_read_at: Option<i64>,
    /// Whether the group is pushed as a large one ([`PushCadence::is_large`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub large: bool,
}

/// The state a run hands to the next through the lease row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickerState {
    /// Per auction id.
    #[serde(default)]
    pub auctions: BTreeMap<String, PushState>,
    /// Recorded ends whose `AuctionEnded` could not be published yet.
    #[serde(default)]
    pub unpublished_ends: Vec<AuctionEndedDetail>,
    /// The post budget's balance (a token bucket; negative after a group larger than a tick's
    /// budget, paid back before the next push).
    #[serde(default)]
    pub post_tokens: i64,
}

/// What the ticker needs ([`crate::compose::Adapters::ticker`]).
#[derive(Clone)]
pub struct TickerDeps {
    /// Auctions (the live list, recorded ends).
    pub auctions: Arc<dyn AuctionStore>,
    /// The outbox it sweeps.
    pub outbox: Arc<dyn Outbox>,
    /// The holds it releases when they lapse (each shard its own `HOLD#{shard}`).
    pub reservations: Arc<dyn ReservationStore>,
    /// Viewer counters.
    pub groups: Arc<dyn GroupStore>,
    /// The lease.
    pub lease: Arc<dyn TickerLease>,
    /// `AuctionEnded` and outbox events.
    pub publisher: Arc<dyn EventPublisher>,
    /// Pushes.
    pub fanout: FanOut,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Timing.
    pub config: TickerConfig,
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// Whether this run held the lease.
    pub led: bool,
    /// Ticks made.
    pub ticks: u64,
    /// `PriceUpdated` fan-outs.
    pub price_pushes: u64,
    /// `ViewerCountUpdated` fan-outs.
    pub viewer_pushes: u64,
    /// Ends recorded.
    pub ends: u64,
    /// Ticks that took longer than the tick period.
    pub overruns: u64,
    /// Lapsed holds released.
    pub releases: u64,
}

/// Whether a price push is due: the price changed, and the throttle allows it (or the auction is
/// ending, when the last change is never swallowed).
#[must_use]
pub fn price_push_due(
    state: &PushState,
    price: i64,
    now: EpochMillis,
    interval: Duration,
    ending: bool,
) -> bool {
    if state.price == Some(price) {
        return false;
    }
    let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    ending || state.price_at.is_none_or(|at| now.0 - at >= interval_ms)
}

/// Grants due price pushes under the post budget: refills `tokens` by `refill` (up to
/// `capacity`), then, in priority order, grants each push whose turn comes while the balance is
/// positive and charges its cost (its group's size). A group larger than the balance still goes
/// out and leaves a debt, so every group is pushed, a large one at most every `cost / budget`
/// seconds, and the long-run post rate stays under the budget.
#[must_use]
pub fn grant_pushes(tokens: &mut i64, refill: i64, capacity: i64, costs: &[u64]) -> Vec<bool> {
    *tokens = (*tokens + refill).min(capacity);
    costs
        .iter()
        .map(|cost| {
            // A push that costs the shard nothing (posted by the fan-out workers) always goes.
            if *tokens <= 0 && *cost > 0 {
                return false;
            }
            *tokens -= i64::try_from(*cost).unwrap_or(i64::MAX);
            true
        })
        .collect()
}

/// A price push waiting for budget: its auction's tenant, when the auction was last pushed, the
/// auction, and what the push costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuePush<'a> {
    /// The auction's tenant.
    pub tenant: &'a str,
    /// When its price was last pushed (`None`: never, which comes first).
    pub pushed_at: Option<i64>,
    /// The auction.
    pub auction_id: &'a str,
    /// Posts the push costs (its group's size).
    pub cost: u64,
}

/// The order in which due pushes get budget: tenants take turns, each turn giving every tenant
/// its longest-waiting push, so one tenant's many auctions cannot starve another tenant's; within
/// a turn the longest-waiting push goes first.
#[must_use]
pub fn tenant_round_robin<'a>(mut due: Vec<DuePush<'a>>) -> Vec<DuePush<'a>> {
    fn waiting<'a>(d: &DuePush<'a>) -> (Option<i64>, &'a str) {
        (d.pushed_at, d.auction_id)
    }
    due.sort_by(|a, b| (a.tenant, waiting(a)).cmp(&(b.tenant, waiting(b))));
    let mut turn = 0_usize;
    let mut tenant = None;
    let mut turns: Vec<(usize, DuePush<'a>)> = due
        .into_iter()
        .map(|d| {
            if tenant == Some(d.tenant) {
                turn += 1;
            } else {
                tenant = Some(d.tenant);
                turn = 0;
            }
            (turn, d)
        })
        .collect();
    turns.sort_by(|(ta, a), (tb, b)| (ta, waiting(a)).cmp(&(tb, waiting(b))));
    turns.into_iter().map(|(_, d)| d).collect()
}

impl TickerDeps {
    /// The shards there are to tick (the live index's partitions).
    #[must_use]
    pub fn shards(&self) -> u32 {
        self.auctions.live_shards().max(1)
    }

    /// One run of `shard`: take its lease, tick its auctions until `deadline` (or `run_for`),
    /// hand its state over.
    ///
    /// # Errors
    /// [`StoreError`] when the lease cannot be read or written at all.
    pub async fn run(&self, shard: u32, deadline: Instant) -> Result<RunReport, StoreError> {
        let started = Instant::now();
        let stop_at = (started + self.config.run_for)
            .min(deadline.checked_sub(DEADLINE_MARGIN).unwrap_or(started));
        let owner = uuid::Uuid::new_v4().to_string();
        let mut report = RunReport::default();

        // The previous run may still be finishing its last tick: wait for its lease.
        let state = loop {
            if let Some(state) = self
                .lease
                .acquire(shard, &owner, self.clock.now(), LEASE_HOLD_MS)
                .await?
            {
                break state;
            }
            if Instant::now() + self.config.tick >= stop_at {
                tracing::info!(shard, "another run holds the shard's lease; this run ends");
                return Ok(report);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        report.led = true;
        let mut state: TickerState = serde_json::from_str(&state).unwrap_or_default();

        let mut ticker = tokio::time::interval(self.config.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            if Instant::now() >= stop_at {
                break;
            }
            let began = Instant::now();
            if let Err(e) = self
                .tick(shard, &mut state, self.clock.now(), &mut report)
                .await
            {
                tracing::error!(error = ?e, "tick failed; the next tick retries");
            }
            report.ticks += 1;
            let took = began.elapsed();
            #[allow(clippy::cast_precision_loss)] // milliseconds stay far below 2^52
            metrics::histogram!(auction_core::telemetry::TICK_DURATION)
                .record(took.as_millis() as f64);
            if took > self.config.tick {
                // Every auction was still ticked; the next tick is skipped, so all are late.
                report.overruns += 1;
                metrics::counter!(auction_core::telemetry::TICK_OVERRUNS).increment(1);
                tracing::warn!(shard, took_ms = took.as_millis(), "tick overran its period");
            }
            if report.ticks.is_multiple_of(RENEW_EVERY_TICKS) {
                let saved = serde_json::to_string(&state).unwrap_or_default();
                match self
                    .lease
                    .renew(shard, &owner, self.clock.now(), LEASE_HOLD_MS, &saved)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!("ticker lease lost; this run stops");
                        return Ok(report);
                    }
                    Err(e) => tracing::warn!(error = ?e, "ticker lease not renewed"),
                }
            }
        }
        let saved = serde_json::to_string(&state).unwrap_or_default();
        self.lease.release(shard, &owner, &saved).await?;
        Ok(report)
    }

    /// One tick over every live auction of `shard`, then (shard 0) the outbox.
    ///
    /// # Errors
    /// [`StoreError`] when the live list cannot be read.
    pub async fn tick(
        &self,
        shard: u32,
        state: &mut TickerState,
        now: EpochMillis,
        report: &mut RunReport,
    ) -> Result<(), StoreError> {
        self.publish_unpublished_ends(state).await;
        let live = self.auctions.live_in_shard(shard).await?;
        #[allow(clippy::cast_precision_loss)] // a count far below 2^52
        // Per shard (each run knows its own part); the dashboard sums the shards.
        metrics::gauge!(auction_core::telemetry::LIVE_AUCTIONS, "Shard" => shard.to_string())
            .set(live.len() as f64);
        // Forget auctions that left the live list (their end was recorded).
        state
            .auctions
            .retain(|id, _| live.iter().any(|a| a.id.as_str() == id));

        let held_back = self.budget_price_pushes(state, &live, now);

        // Boxed futures: a concrete `Send` type keeps the runtime's `Send` checks simple.
        let work: Vec<futures::future::BoxFuture<'_, (String, PushState, Outcome)>> = live
            .iter()
            .map(|auction| {
                let previous = state
                    .auctions
                    .get(auction.id.as_str())
                    .cloned()
                    .unwrap_or_default();
                let allowed = !held_back.contains(auction.id.as_str());
                let fut: futures::future::BoxFuture<'_, _> = Box::pin(async move {
                    let (next, outcome) = self.tick_auction(auction, previous, now, allowed).await;
                    (auction.id.as_str().to_owned(), next, outcome)
                });
                fut
            })
            .collect();
        let outcomes: Vec<(String, PushState, Outcome)> = futures::stream::iter(work)
            .buffer_unordered(self.config.auction_concurrency.max(1))
            .collect()
            .await;
        for (id, next, outcome) in outcomes {
            report.price_pushes += u64::from(outcome.price_pushed);
            report.viewer_pushes += u64::from(outcome.viewers_pushed);
            if let Some(ended) = outcome.ended {
                report.ends += 1;
                state.auctions.remove(&id);
                if !outcome.end_published {
                    state.unpublished_ends.push(ended);
                }
            } else {
                state.auctions.insert(id, next);
            }
        }
        let in_groups: u64 = state.auctions.values().filter_map(|p| p.viewers).sum();
        #[allow(clippy::cast_precision_loss)] // a count far below 2^52
        metrics::gauge!(auction_core::telemetry::ACTIVE_CONNECTIONS, "Shard" => shard.to_string())
            .set(in_groups as f64);

        report.releases += self.release_lapsed_holds(shard, now).await;

        // One sweeper is enough, and several would publish the same entries.
        if shard == 0 {
            if let Err(e) =
                sweep_outbox(&*self.auctions, &*self.outbox, &*self.publisher, now).await
            {
                tracing::warn!(error = ?e, "outbox sweep failed");
            }
            if let Err(e) =
                sweep_releases(&*self.auctions, &*self.outbox, &*self.publisher, now).await
            {
                tracing::warn!(error = ?e, "outbox sweep of releases failed");
            }
        }
        Ok(())
    }

    /// Releases the shard's holds that lapsed by `now`, at most [`RELEASES_PER_TICK`] (the rest
    /// next tick), and announces them: `ReservationExpired` to each buyer, one `ItemReleased` to
    /// the group per auction when the items went back to the room. One auction's holds are
    /// released together in one transaction ([`ReservationStore::release_due`]): holds won
    /// together lapse together, and released one by one they conflict on the auction's row.
    /// Different auctions go side by side. Returns how many were released.
    async fn release_lapsed_holds(&self, shard: u32, now: EpochMillis) -> u64 {
        let due = match self.reservations.due(shard, now, RELEASES_PER_TICK).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(shard, error = ?e, "lapsed holds not read; the next tick retries");
                return 0;
            }
        };
        let mut by_auction: std::collections::BTreeMap<AuctionId, Vec<DueHold>> =
            std::collections::BTreeMap::new();
        for hold in due {
            by_auction
                .entry(hold.auction_id.clone())
                .or_default()
                .push(hold);
        }
        // Auctions side by side; one auction's batches one after the other (they write one row).
        let outcomes: Vec<u64> = futures::stream::iter(by_auction)
            .map(|(auction_id, holds)| async move {
                let mut released = 0;
                for chunk in holds.chunks(MAX_HOLDS_PER_RELEASE) {
                    released += self.release_batch(&auction_id, chunk, now).await;
                }
                released
            })
            .buffer_unordered(self.config.auction_concurrency.max(1))
            .collect()
            .await;
        outcomes.iter().sum()
    }

    /// Releases and announces one batch of an auction's lapsed holds; how many were released.
    async fn release_batch(
        &self,
        auction_id: &AuctionId,
        holds: &[DueHold],
        now: EpochMillis,
    ) -> u64 {
        let batch = match self.reservations.release_due(auction_id, holds, now).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(auction_id = %auction_id, error = ?e, "holds not released; the next tick retries");
                return 0;
            }
        };
        let events = DomainEvent::released(&batch.released, batch.to, batch.items);
        if events.is_empty() {
            return 0;
        }
        match self.publisher.publish(&events).await {
            Ok(()) => {
                for hold in &batch.released {
                    if let Err(e) = self
                        .outbox
                        .mark_release_notified(&hold.reservation_id)
                        .await
                    {
                        tracing::warn!(reservation_id = %hold.reservation_id, error = ?e, "release stays in the outbox; the sweep announces it again");
                    }
                }
            }
            // The releases entered the outbox with their transaction: the outbox sweep
            // announces them after the grace period.
            Err(e) => {
                tracing::error!(auction_id = %auction_id, error = ?e, "releases not announced yet; the outbox keeps them");
            }
        }
        batch.released.len() as u64
    }

    /// The auctions whose due price push waits for budget this tick ([`tenant_round_robin`]).
    fn budget_price_pushes(
        &self,
        state: &mut TickerState,
        live: &[Auction],
        now: EpochMillis,
    ) -> std::collections::HashSet<String> {
        let due: Vec<DuePush<'_>> = live
            .iter()
            .filter(|a| a.phase_at(now) == Phase::Active)
            .filter_map(|a| {
                let push = state
                    .auctions
                    .get(a.id.as_str())
                    .cloned()
                    .unwrap_or_default();
                let price = a.current_price(now).minor_units();
                let interval = self.price_interval(&push);
                let viewers = push.viewers.unwrap_or(0);
                price_push_due(&push, price, now, interval, false).then(|| DuePush {
                    tenant: &a.tenant_id,
                    pushed_at: push.price_at,
                    auction_id: a.id.as_str(),
                    // The workers' posts are paced by their own pool's budget; the announced
                    // cadence of such a group follows that budget instead.
                    cost: if self.cadence().by_workers(viewers) {
                        0
                    } else {
                        viewers.max(1)
                    },
                })
            })
            .collect();
        let due = tenant_round_robin(due);
        // The shards run side by side: each spends its share, so their sum holds the budget.
        let budget = i64::try_from(self.cadence().shard_posts_per_second).unwrap_or(i64::MAX);
        let seconds = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX) / 1000;
        let refill = budget * seconds(self.config.tick).max(1);
        let capacity = budget * seconds(self.config.price_update_interval).max(1);
        let costs: Vec<u64> = due.iter().map(|d| d.cost).collect();
        let granted = grant_pushes(&mut state.post_tokens, refill, capacity, &costs);
        due.iter()
            .zip(granted)
            .filter(|(_, granted)| !granted)
            .map(|(d, _)| d.auction_id.to_owned())
            .collect()
    }

    async fn publish_unpublished_ends(&self, state: &mut TickerState) {
        if state.unpublished_ends.is_empty() {
            return;
        }
        let events: Vec<DomainEvent> = state
            .unpublished_ends
            .iter()
            .cloned()
            .map(DomainEvent::AuctionEnded)
            .collect();
        match self.publisher.publish(&events).await {
            Ok(()) => state.unpublished_ends.clear(),
            Err(e) => tracing::error!(error = ?e, "AuctionEnded still not published"),
        }
    }

    async fn tick_auction(
        &self,
        auction: &Auction,
        mut push: PushState,
        now: EpochMillis,
        price_allowed: bool,
    ) -> (PushState, Outcome) {
        let mut outcome = Outcome::default();
        match auction.phase_at(now) {
            Phase::Scheduled => {}
            Phase::Active => {
                // A large group's count is read, not pushed: it rides along the next price push.
                push.large = self
                    .cadence()
                    .is_large(push.viewers.unwrap_or(0), push.large);
                if push.large
                    && let Some(count) = self.read_viewers(auction, now, &mut push).await
                {
                    push.viewers = Some(count);
                }
                let price = auction.current_price(now);
                let interval = self.price_interval(&push);
                if price_allowed && price_push_due(&push, price.minor_units(), now, interval, false)
                {
                    outcome.price_pushed = self.push_price(auction, now, &mut push).await;
                }
                if !push.large {
                    outcome.viewers_pushed = self.push_viewers(auction, now, &mut push).await;
                }
            }
            Phase::Ended(_) => {
                // The listing carries no count (sales never write the live index): the row says
                // whether a sale emptied the auction first, or whether its end is recorded.
                let row = match self.auctions.get_latest(&auction.id).await {
                    Ok(Some(row)) => row,
                    Ok(None) => return (push, outcome),
                    Err(e) => {
                        tracing::warn!(error = ?e, auction_id = %auction.id, "auction not read; the next tick retries its end");
                        return (push, outcome);
                    }
                };
                let (Phase::Ended(ending), None) = (row.phase_at(now), row.ending) else {
                    // Recorded already, by whoever announced it; it leaves the list soon.
                    return (push, outcome);
                };
                let auction = &row;
                // The last change before the end is never swallowed by the throttle.
                let final_price = auction.current_price(now).minor_units();
                let interval = self.price_interval(&push);
                if ending.reason == EndReason::FloorReached
                    && price_push_due(&push, final_price, now, interval, true)
                {
                    outcome.price_pushed = self.push_price(auction, now, &mut push).await;
                }
                outcome.ended = self.record_end(auction, ending, &mut outcome).await;
            }
        }
        (push, outcome)
    }

    /// The spacing a throttle demands between two pushes, measured from tick to tick: the clock
    /// is read when a tick starts, so a tick that started late must not make the next one, on
    /// time, look early (under load that skipped every other push of a 1 s interval).
    fn on_the_tick(&self, interval: Duration) -> Duration {
        interval.saturating_sub(self.config.tick / 2)
    }

    /// The cadence of this ticker's shards.
    fn cadence(&self) -> PushCadence {
        self.config.cadence(self.shards())
    }

    /// The cadence of `auction`'s group as it is pushed now: its interval, or longer when the
    /// shard's post budget cannot push the group that often.
    fn push_interval_seconds(&self, auction: &Auction, push: &PushState) -> u32 {
        let cadence = self.cadence();
        cadence
            .interval_seconds(auction.schedule.drop_interval_seconds(), push.large)
            .max(cadence.budget_seconds(push.viewers.unwrap_or(0)))
    }

    /// [`Self::on_the_tick`] of the group's price throttle (a large group's is longer).
    fn price_interval(&self, push: &PushState) -> Duration {
        let cadence = self.cadence();
        let viewers = push.viewers.unwrap_or(0);
        let mut seconds = cadence.throttle_seconds(push.large);
        if cadence.by_workers(viewers) {
            // The shard's token bucket does not pace the workers' posts: this does, so their
            // queue never grows (a push every `viewers / pool budget` seconds at most).
            seconds = seconds.max(cadence.budget_seconds(viewers));
        }
        self.on_the_tick(Duration::from_secs(u64::from(seconds)))
    }

    async fn push_price(&self, auction: &Auction, now: EpochMillis, push: &mut PushState) -> bool {
        let price = auction.current_price(now);
        let frame = Frame::PriceUpdated(PriceUpdated {
            auction_id: auction.id.clone(),
            current_price: auction.currency.major(price),
            currency: auction.currency.code(),
            drops_remaining: auction.schedule.drops_remaining(now),
            push_interval_seconds: self.push_interval_seconds(auction, push),
            active_viewers: if push.large { push.viewers } else { None },
        });
        let audience = Audience::Group {
            auction_id: auction.id.clone(),
            except_user: None,
        };
        match self.fanout.send(&frame, &audience, now).await {
            Ok(_) => {
                // The event is the drop that set this price (or the start, before any drop).
                let schedule = &auction.schedule;
                let dropped_at = schedule.starts_at().0
                    + schedule.drops_elapsed(now)
                        * i64::from(schedule.drop_interval_seconds())
                        * 1000;
                auction_core::telemetry::event_latency(frame.kind(), EpochMillis(dropped_at), now);
                push.price = Some(price.minor_units());
                push.price_at = Some(now.0);
                true
            }
            Err(e) => {
                tracing::warn!(error = ?e, auction_id = %auction.id, "PriceUpdated not pushed");
                false
            }
        }
    }

    /// Reads the group's counter, at most once per viewer-count interval: the count when it was
    /// read this tick, `None` when it was not due or could not be read.
    async fn read_viewers(
        &self,
        auction: &Auction,
        now: EpochMillis,
        push: &mut PushState,
    ) -> Option<u64> {
        let interval = self.on_the_tick(self.config.viewer_count_interval);
        let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        if push
            .viewers_read_at
            .is_some_and(|at| now.0 - at < interval_ms)
        {
            return None;
        }
        match self.groups.viewer_count(&auction.id, now).await {
            Ok(count) => {
                push.viewers_read_at = Some(now.0);
                self.fanout.note_group_size(&auction.id, count);
                Some(count)
            }
            Err(e) => {
                tracing::warn!(error = ?e, auction_id = %auction.id, "viewer count not read");
                None
            }
        }
    }

    /// A small group's `ViewerCountUpdated`, when the count read this tick changed.
    async fn push_viewers(
        &self,
        auction: &Auction,
        now: EpochMillis,
        push: &mut PushState,
    ) -> bool {
        let Some(count) = self.read_viewers(auction, now, push).await else {
            return false;
        };
        if push.viewers.unwrap_or(0) == count {
            push.viewers = Some(count);
            return false;
        }
        let frame = Frame::ViewerCountUpdated(ViewerCountUpdated {
            auction_id: auction.id.clone(),
            active_viewers: count,
        });
        let audience = Audience::Group {
            auction_id: auction.id.clone(),
            except_user: None,
        };
        match self.fanout.send(&frame, &audience, now).await {
            Ok(_) => {
                push.viewers = Some(count);
                true
            }
            Err(e) => {
                tracing::warn!(error = ?e, auction_id = %auction.id, "ViewerCountUpdated not pushed");
                false
            }
        }
    }

    /// Records the end; when this call recorded it, publishes `AuctionEnded`.
    async fn record_end(
        &self,
        auction: &Auction,
        ending: Ending,
        outcome: &mut Outcome,
    ) -> Option<AuctionEndedDetail> {
        match self.auctions.record_end(auction, ending).await {
            Ok(true) => {
                let DomainEvent::AuctionEnded(detail) =
                    DomainEvent::auction_ended(auction, ending.reason)
                else {
                    return None;
                };
                outcome.end_published = self
                    .publisher
                    .publish(&[DomainEvent::AuctionEnded(detail.clone())])
                    .await
                    .inspect_err(|e| tracing::error!(error = ?e, auction_id = %auction.id, "AuctionEnded not published; kept for the next tick"))
                    .is_ok();
                Some(detail)
            }
            // Someone else recorded it (a sale, a cancellation) and announced it.
            Ok(false) => None,
            Err(e) => {
                tracing::warn!(error = ?e, auction_id = %auction.id, "end not recorded; the next tick retries");
                None
            }
        }
    }
}

#[derive(Debug, Default)]
struct Outcome {
    price_pushed: bool,
    viewers_pushed: bool,
    ended: Option<AuctionEndedDetail>,
    end_published: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the shards it was asked to start; refuses the ones in `refuse`.
    struct Recorder {
        started: std::sync::Mutex<Vec<u32>>,
        refuse: Vec<u32>,
    }

    #[async_trait::async_trait]
    impl ShardStarter for Recorder {
        async fn start(&self, shard: u32) -> Result<(), auction_core::ports::BoxError> {
            if self.refuse.contains(&shard) {
                return Err("throttled".into());
            }
            self.started.lock().unwrap().push(shard);
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_dispatcher_starts_every_shard_and_reports_the_ones_it_could_not() {
        let recorder = Recorder {
            started: std::sync::Mutex::default(),
            refuse: vec![2],
        };
        let report = dispatch(4, &recorder).await;
        assert_eq!(report.started, vec![0, 1, 3]);
        assert_eq!(report.failed, vec![2]);
        let mut started = recorder.started.lock().unwrap().clone();
        started.sort_unstable();
        assert_eq!(started, vec![0, 1, 3]);
    }

    #[test]
    fn a_shard_event_names_a_shard_and_anything_else_dispatches() {
        let scheduled = serde_json::json!({"detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(ShardRun::from_event(&scheduled, 4), Ok(None));
        assert_eq!(
            ShardRun::from_event(&ShardRun { shard: 3 }.to_event(), 4),
            Ok(Some(ShardRun { shard: 3 }))
        );
        for bad in [
            serde_json::json!({"shard": 4}),
            serde_json::json!({"shard": -1}),
            serde_json::json!({"shard": "1"}),
        ] {
            assert!(ShardRun::from_event(&bad, 4).is_err(), "{bad}");
        }
    }

    const FIVE: Duration = Duration::from_secs(5);

    #[test]
    fn tenants_take_turns_for_the_post_budget() {
        let push = |tenant, pushed_at, auction_id| DuePush {
            tenant,
            pushed_at,
            auction_id,
            cost: 1,
        };
        // A tenant with many long-waiting auctions, and two with one each.
        let due = vec![
            push("evil", Some(1), "e1"),
            push("evil", None, "e0"),
            push("evil", Some(2), "e2"),
            push("evil", Some(3), "e3"),
            push("victim", Some(9), "v"),
            push("other", Some(5), "o"),
        ];
        let order: Vec<&str> = tenant_round_robin(due)
            .iter()
            .map(|d| d.auction_id)
            .collect();
        assert_eq!(order, ["e0", "o", "v", "e1", "e2", "e3"]);
        // With budget for three pushes, every tenant gets one.
        let mut tokens = 0;
        let granted = grant_pushes(&mut tokens, 3, 3, &[1; 6]);
        assert_eq!(granted, [true, true, true, false, false, false]);
    }

    #[test]
    fn a_price_is_pushed_once_per_interval_and_only_on_change() {
        let mut state = PushState::default();
        assert!(price_push_due(&state, 100, EpochMillis(0), FIVE, false));
        state.price = Some(100);
        state.price_at = Some(0);
        assert!(
            !price_push_due(&state, 100, EpochMillis(9_000), FIVE, false),
            "unchanged"
        );
        assert!(
            !price_push_due(&state, 99, EpochMillis(4_999), FIVE, false),
            "throttled"
        );
        assert!(price_push_due(&state, 99, EpochMillis(5_000), FIVE, false));
    }

    #[test]
    fn the_last_change_before_the_end_is_never_swallowed() {
        let state = PushState {
            price: Some(21),
            price_at: Some(1_000),
            ..PushState::default()
        };
        assert!(price_push_due(&state, 20, EpochMillis(2_000), FIVE, true));
        assert!(!price_push_due(&state, 21, EpochMillis(2_000), FIVE, true));
    }

    #[test]
    fn the_post_budget_serves_every_group_and_holds_the_rate() {
        // 5,000 posts/s, 1 s ticks, 5 s interval: a bucket of 25,000.
        let mut tokens = 0;
        assert_eq!(
            grant_pushes(&mut tokens, 5_000, 25_000, &[100, 200]),
            [true, true]
        );
        assert_eq!(tokens, 4_700);
        // A 30,000-viewer group goes out once, then waits while the debt is paid back.
        let mut tokens = 0;
        assert_eq!(grant_pushes(&mut tokens, 5_000, 25_000, &[30_000]), [true]);
        let mut ticks_waited = 0;
        while grant_pushes(&mut tokens, 5_000, 25_000, &[30_000]) == [false] {
            ticks_waited += 1;
        }
        assert_eq!(ticks_waited, 5, "30,000 posts at 5,000/s: a push every 6 s");
        // Small groups behind a large one wait for the next tick, not forever.
        let mut tokens = 0;
        assert_eq!(
            grant_pushes(&mut tokens, 5_000, 25_000, &[10_000, 10]),
            [true, false]
        );
        assert_eq!(grant_pushes(&mut tokens, 5_000, 25_000, &[10]), [false]);
        assert_eq!(grant_pushes(&mut tokens, 5_000, 25_000, &[10]), [true]);
    }

    #[test]
    fn the_state_survives_the_lease_row() {
        let mut state = TickerState::default();
        state.auctions.insert(
            "a".into(),
            PushState {
                price: Some(5),
                price_at: Some(6),
                viewers: Some(7),
                viewers_read_at: None,
                large: true,
            },
        );
        let text = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<TickerState>(&text).unwrap(), state);
        assert_eq!(
            serde_json::from_str::<TickerState>("").unwrap_or_default(),
            TickerState::default()
        );
    }
}
