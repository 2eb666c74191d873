//! Large groups fan out on many workers (docs/architecture.md, "Fan-out workers").
//!
//! A group of at least [`WorkerPool::group_viewers`] members is split by membership shard into
//! parts ([`split`]); each part is one [`FanOutTask`], run by one invocation of the `fanout`
//! function, started with Lambda's asynchronous invoke ([`auction_aws::invoke::AsyncInvoker`],
//! the one the ticker's dispatcher uses). A member lives in exactly one shard, so parts over
//! disjoint shards post each member once; every part skips the excepted user (the buyer) and
//! removes the connections it finds gone, as the one-process fan-out does.
//!
//! Why asynchronous invoke and not SQS: a push is worth something for a few seconds only, and an
//! invoke starts its worker in tens of milliseconds with nothing to poll; Lambda's own event
//! queue retries a failed part (every frame is safe to receive twice), and the template bounds
//! the event's age so a late part is dropped (and counted) rather than delivered stale.
//!
//! The post budget: the pool may spend [`WorkerPool::posts_per_second`] in all, and at most
//! [`WorkerPool::workers`] run at once (the function's reserved concurrency), so each worker
//! paces itself at the budget divided by the workers ([`WorkerPool::per_worker`]): their sum
//! holds the budget however many parts are queued.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use auction_core::domain::{AuctionId, EpochMillis};

/// The `fanout` function's settings, as every function that fans out reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerPool {
    /// From this many members a group's fan-out is split among workers (`FANOUT_WORKER_MEMBERS`).
    pub group_viewers: u64,
    /// Posts per second all workers together may spend (`FANOUT_POST_BUDGET_PER_SECOND`).
    pub posts_per_second: u32,
    /// Workers that run at once at most (`FANOUT_WORKERS`, the function's reserved concurrency).
    pub workers: u32,
}

impl Default for WorkerPool {
    fn default() -> Self {
        Self {
            group_viewers: 5_000,
            posts_per_second: 4_000,
            workers: 8,
        }
    }
}

impl WorkerPool {
    /// The posts per second one worker may spend: the pool's budget over its workers, so that
    /// all of them running at once still hold the budget.
    #[must_use]
    pub fn per_worker(self) -> u32 {
        (self.posts_per_second / self.workers.max(1)).max(1)
    }

    /// Whether a group of `members` is fanned out by workers.
    #[must_use]
    pub fn splits(self, members: u64) -> bool {
        members >= self.group_viewers.max(1)
    }
}

/// The membership shards of each part of a fan-out to `members` members kept in `shards` shards,
/// at about `members_per_part` members a part: as many parts as that takes, at most one per
/// shard, shards dealt round-robin. Every shard is in exactly one part.
#[must_use]
pub fn split(shards: u32, members: u64, members_per_part: u64) -> Vec<Vec<u32>> {
    let shards = shards.max(1);
    let parts = members
        .div_ceil(members_per_part.max(1))
        .clamp(1, u64::from(shards));
    let parts = u32::try_from(parts).unwrap_or(shards);
    let mut split = vec![Vec::new(); parts as usize];
    for shard in 0..shards {
        split[(shard % parts) as usize].push(shard);
    }
    split
}

/// One worker's part of a group's fan-out: the invocation payload of the `fanout` function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FanOutTask {
    /// The auction whose group is posted.
    pub auction_id: AuctionId,
    /// The membership shards this part posts.
    pub shards: Vec<u32>,
    /// A user none of whose connections get the frame (the buyer, for `ItemSold`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub except_user: Option<String>,
    /// The frame's type, for the metrics.
    pub frame: String,
    /// The frame as sent, encoded and stamped once by the sender, so every part posts the same
    /// bytes.
    pub payload: String,
    /// The sender's time: memberships that expired before it are not posted (absent, as in a
    /// hand-written event: the worker's own time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at_ms: Option<i64>,
}

impl FanOutTask {
    /// The sender's time, or `now` when the task does not say.
    #[must_use]
    pub fn sent_at(&self, now: EpochMillis) -> EpochMillis {
        self.sent_at_ms.map_or(now, EpochMillis)
    }
}

/// Starts a worker on one part without waiting for it.
#[async_trait::async_trait]
pub trait TaskStarter: Send + Sync {
    /// Starts `task`.
    ///
    /// # Errors
    /// Why it could not be started (the sender then posts the part itself).
    async fn start(&self, task: &FanOutTask) -> Result<(), auction_core::ports::BoxError>;
}

#[async_trait::async_trait]
impl TaskStarter for auction_aws::invoke::AsyncInvoker {
    async fn start(&self, task: &FanOutTask) -> Result<(), auction_core::ports::BoxError> {
        Ok(self.invoke_async(&serde_json::to_value(task)?).await?)
    }
}

/// Spaces posts `1 / per_second` apart on average. Each post reserves the next slot when it is
/// queued and waits for it; a slot missed by up to [`Pace::SLACK`] is still given, so the
/// timer's millisecond resolution does not cap the rate near 1,000/s. Hand-written rather than a
/// rate-limiter crate: it is these few lines, and every Lambda binary links the fan-out.
#[derive(Debug)]
pub(crate) struct Pace {
    every: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pace {
    /// How far behind the pace may catch up in one burst.
    const SLACK: Duration = Duration::from_millis(5);

    pub(crate) fn per_second(posts: u32) -> Self {
        Self {
            every: Duration::from_secs(1) / posts.max(1),
            next: Mutex::new(None),
        }
    }

    /// The time of the next free slot, reserved.
    pub(crate) fn reserve(&self) -> Instant {
        let now = Instant::now();
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let floor = now.checked_sub(Self::SLACK).unwrap_or(now);
        let slot = next.map_or(now, |n| n.max(floor));
        *next = Some(slot + self.every);
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shard_is_in_exactly_one_part_and_parts_stay_near_their_size() {
        assert_eq!(split(32, 4_000, 5_000), vec![(0..32).collect::<Vec<_>>()]);
        let parts = split(32, 30_000, 5_000);
        assert_eq!(parts.len(), 6);
        let mut all: Vec<u32> = parts.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..32).collect::<Vec<_>>());
        assert!(
            parts.iter().all(|p| (5..=6).contains(&p.len())),
            "{parts:?}"
        );
        // Never more parts than shards: a shard is the smallest part.
        assert_eq!(split(8, 1_000_000, 5_000).len(), 8);
        assert_eq!(split(0, 10, 0).len(), 1);
    }

    #[test]
    fn the_workers_together_hold_the_pool_budget() {
        let pool = WorkerPool {
            group_viewers: 5_000,
            posts_per_second: 4_000,
            workers: 8,
        };
        assert_eq!(pool.per_worker(), 500);
        assert!(u64::from(pool.per_worker()) * u64::from(pool.workers) <= 4_000);
        assert!(pool.splits(5_000) && !pool.splits(4_999));
    }

    #[test]
    fn a_task_reads_back_what_it_was_written_as_and_nothing_else() {
        let task = FanOutTask {
            auction_id: AuctionId::generate(),
            shards: vec![1, 5],
            except_user: Some("buyer".into()),
            frame: "ItemSold".into(),
            payload: "{}".into(),
            sent_at_ms: Some(7),
        };
        let value = serde_json::to_value(&task).unwrap();
        assert_eq!(serde_json::from_value::<FanOutTask>(value).unwrap(), task);
        assert!(serde_json::from_value::<FanOutTask>(serde_json::json!({"shard": 1})).is_err());
    }

    #[test]
    fn the_pace_gives_slots_its_rate_apart() {
        // Reserved at once (well within the slack), the slots are exactly 2 ms apart.
        let pace = Pace::per_second(500);
        let first = pace.reserve();
        let slots: Vec<Instant> = (0..499).map(|_| pace.reserve()).collect();
        assert_eq!(slots[498] - first, Duration::from_millis(998));
    }
}
