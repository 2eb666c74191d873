//! The one fan-out routine (docs/architecture.md, "Fan-out"), used by the notifier and the price
//! ticker.
//!
//! API Gateway has no broadcast: one `PostToConnection` per recipient. Recipients are streamed
//! (pages of members from every shard in parallel, the next page read while the posts of the last
//! one run), at most `concurrency` posts are in flight, 429 and 5xx are retried with backoff,
//! and a 410 removes the connection with its memberships and counts. Work is O(recipients):
//! nothing is read per recipient. Each fan-out records its duration and counts through
//! [`auction_core::telemetry`].
//!
//! A group too large for one process is split among `fanout` workers ([`workers`]): the sender
//! starts the parts and returns; each worker posts its part ([`FanOut::run_task`]).

pub mod workers;

use std::collections::HashMap;

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use auction_core::domain::{AuctionId, EpochMillis, Member};
use auction_core::frames::Frame;
use auction_core::ports::{
    ConnectionStore, Departures, GroupStore, MemberPages, PushError, Pusher, StoreError,
};

use workers::{FanOutTask, Pace, TaskStarter, WorkerPool};

/// Posts in flight per fan-out unless configured otherwise.
pub const DEFAULT_CONCURRENCY: usize = 256;
/// Group members queued for posting before the next page is read: about one page of
/// `DynamoGroups` (`auction_aws::dynamo::connections_table::MEMBER_PAGE`).
const READ_AHEAD: usize = 1_000;
/// Retries of a throttled or failed post (after the first attempt).
const MAX_RETRIES: u32 = 3;

/// Who gets a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// The auction's group, except every connection of `except_user` (the buyer) when set.
    Group {
        /// The auction.
        auction_id: AuctionId,
        /// A user none of whose connections get the frame.
        except_user: Option<String>,
    },
    /// Every connection of one user.
    User {
        /// The user's tenant.
        tenant_id: String,
        /// The user.
        user_id: String,
    },
}

/// What one fan-out did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FanOutReport {
    /// Connections the frame was addressed to.
    pub recipients: u64,
    /// Posts that arrived.
    pub delivered: u64,
    /// Connections found gone (410) and removed.
    pub gone: u64,
    /// Posts that failed after their retries.
    pub failed: u64,
    /// Parts handed to `fanout` workers (their posts are counted by the workers).
    pub delegated: u64,
    /// Wall time of the whole fan-out.
    pub duration_ms: u64,
}

/// The fan-out routine and its dependencies.
#[derive(Clone)]
pub struct FanOut {
    connections: Arc<dyn ConnectionStore>,
    groups: Arc<dyn GroupStore>,
    pusher: Arc<dyn Pusher>,
    concurrency: usize,
    departures: Option<Arc<dyn Departures>>,
    workers: Option<(WorkerPool, Arc<dyn TaskStarter>)>,
    pace: Option<Arc<Pace>>,
    sizes: Arc<GroupSizes>,
}

/// Group sizes as last read or told, per auction, so that deciding whether to split a fan-out
/// costs a counter read at most every [`GroupSizes::FRESH`] per auction.
#[derive(Default)]
struct GroupSizes(std::sync::Mutex<HashMap<AuctionId, (u64, Instant)>>);

impl GroupSizes {
    const FRESH: Duration = Duration::from_secs(5);
    const CAPACITY: usize = 10_000;

    fn get(&self, auction_id: &AuctionId) -> Option<u64> {
        let sizes = self.0.lock().ok()?;
        let (size, at) = sizes.get(auction_id)?;
        (at.elapsed() < Self::FRESH).then_some(*size)
    }

    fn note(&self, auction_id: &AuctionId, size: u64) {
        if let Ok(mut sizes) = self.0.lock() {
            if sizes.len() >= Self::CAPACITY {
                sizes.retain(|_, (_, at)| at.elapsed() < Self::FRESH);
            }
            sizes.insert(auction_id.clone(), (size, Instant::now()));
        }
    }
}

#[derive(Default)]
struct Counters {
    recipients: AtomicU64,
    delivered: AtomicU64,
    gone: AtomicU64,
    failed: AtomicU64,
    delegated: AtomicU64,
}

impl FanOut {
    /// A fan-out over these stores with at most `concurrency` posts in flight.
    #[must_use]
    pub fn new(
        connections: Arc<dyn ConnectionStore>,
        groups: Arc<dyn GroupStore>,
        pusher: Arc<dyn Pusher>,
        concurrency: usize,
    ) -> Self {
        Self {
            connections,
            groups,
            pusher,
            concurrency: concurrency.max(1),
            departures: None,
            workers: None,
            pace: None,
            sizes: Arc::default(),
        }
    }

    /// Splits the fan-out of a group of at least `pool.group_viewers` members among workers
    /// started by `starter`.
    #[must_use]
    pub fn with_workers(mut self, pool: WorkerPool, starter: Arc<dyn TaskStarter>) -> Self {
        self.workers = Some((pool, starter));
        self
    }

    /// Spends at most `posts_per_second` posts a second (a `fanout` worker's share of its pool).
    #[must_use]
    pub fn with_post_rate(mut self, posts_per_second: u32) -> Self {
        self.pace = Some(Arc::new(Pace::per_second(posts_per_second)));
        self
    }

    /// Tells the fan-out a group's size as just read (the ticker reads every group's counter),
    /// which saves it a read when it decides whether to split that group's next fan-out.
    pub fn note_group_size(&self, auction_id: &AuctionId, members: u64) {
        if self.workers.is_some() {
            self.sizes.note(auction_id, members);
        }
    }

    /// Notes the departure of a signed-in member found gone, as `$disconnect` does: a 410 can
    /// remove the connection before its `$disconnect` runs, which then finds nothing to note.
    #[must_use]
    pub fn with_departures(mut self, departures: Arc<dyn Departures>) -> Self {
        self.departures = Some(departures);
        self
    }

    /// Sends `frame`, stamped `now` and encoded once, to `audience`, and reports.
    ///
    /// # Errors
    /// [`StoreError`] when the recipients could not be read; posts to those read before the
    /// failure were made.
    pub fn send<'a>(
        &'a self,
        frame: &'a Frame,
        audience: &'a Audience,
        now: EpochMillis,
    ) -> futures::future::BoxFuture<'a, Result<FanOutReport, StoreError>> {
        // Boxed: the stream combinators' closures borrow, and a concrete `Send` future here keeps
        // callers (the Lambda runtime, the local invoker) free of higher-ranked lifetime errors.
        Box::pin(async move {
            let payload = frame.encode(now);
            self.send_inner(frame.kind(), audience, &payload, now).await
        })
    }

    async fn send_inner(
        &self,
        frame: &'static str,
        audience: &Audience,
        payload: &str,
        now: EpochMillis,
    ) -> Result<FanOutReport, StoreError> {
        let started = Instant::now();
        let counters = Counters::default();
        let deliver = |connection_id| self.deliver(now, connection_id, payload, &counters);
        // Every post of the fan-out is a future of this one task, at most `concurrency` in flight:
        // a task per post cost a spawn, a join-set entry and a wake-up each, ≈ 8% of the CPU of a
        // push (docs/performance.md); the HTTP connections run on their own tasks.
        let mut read_error = None;
        match audience {
            Audience::User { tenant_id, user_id } => {
                match self
                    .connections
                    .connections_of_user(tenant_id, user_id, now)
                    .await
                {
                    Ok(ids) => {
                        futures::stream::iter(ids)
                            .map(deliver)
                            .buffer_unordered(self.concurrency)
                            .collect::<()>()
                            .await;
                    }
                    Err(e) => read_error = Some(e),
                }
            }
            Audience::Group {
                auction_id,
                except_user,
            } => {
                let (delegated, inline) = self
                    .delegate(frame, auction_id, except_user.as_ref(), payload, now)
                    .await;
                counters.delegated.fetch_add(delegated, Ordering::Relaxed);
                let pages = match &inline {
                    None => self.groups.members(auction_id, now),
                    Some(shards) if shards.is_empty() => futures::stream::empty().boxed(),
                    Some(shards) => self.groups.members_in(auction_id, shards, now),
                };
                if let Err(e) = self.post_pages(pages, except_user.as_ref(), &deliver).await {
                    read_error = Some(e);
                }
            }
        }
        let report = counters.report(started);
        record(frame, &report);
        match read_error {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Posts every member the pages yield once, except `except_user`'s connections.
    async fn post_pages<F, Fut>(
        &self,
        mut pages: MemberPages<'_>,
        except_user: Option<&String>,
        deliver: &F,
    ) -> Result<(), StoreError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        // Group pages stream in from every shard; posts start with the first page, and the next
        // page is read while the posts of this one are under way.
        let mut read_error = None;
        // A member can be seen twice only across a shard re-read; never post twice.
        let mut seen = HashSet::new();
        let mut queued = VecDeque::new();
        let mut reading = true;
        let mut in_flight = FuturesUnordered::new();
        loop {
            while in_flight.len() < self.concurrency
                && let Some(connection_id) = queued.pop_front()
            {
                // A paced post waits for its slot inside its own future, so the posts already
                // in flight keep being driven meanwhile.
                let slot = self.pace.as_ref().map(|pace| pace.reserve());
                let post = deliver(connection_id);
                in_flight.push(async move {
                    if let Some(slot) = slot {
                        tokio::time::sleep_until(slot).await;
                    }
                    post.await;
                });
            }
            if !reading && in_flight.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
                page = pages.next(), if reading && queued.len() < READ_AHEAD => match page {
                    None => reading = false,
                    Some(Err(e)) => {
                        read_error.get_or_insert(e);
                    }
                    Some(Ok(members)) => {
                        for Member { connection_id, user_id } in members {
                            let excepted = except_user.is_some() && user_id.as_ref() == except_user;
                            if !excepted && seen.insert(connection_id.clone()) {
                                queued.push_back(connection_id);
                            }
                        }
                    }
                },
            }
        }
        read_error.map_or(Ok(()), Err)
    }

    /// Hands a large group's fan-out to workers: returns how many parts were started, and the
    /// shards this process must post itself (`None`: every shard, the group is not split;
    /// otherwise the shards of the parts that could not be started, so nothing is lost).
    async fn delegate(
        &self,
        frame: &'static str,
        auction_id: &AuctionId,
        except_user: Option<&String>,
        payload: &str,
        now: EpochMillis,
    ) -> (u64, Option<Vec<u32>>) {
        let Some((pool, starter)) = &self.workers else {
            return (0, None);
        };
        let size = match self.sizes.get(auction_id) {
            Some(size) => size,
            None => match self.groups.viewer_count(auction_id, now).await {
                Ok(size) => {
                    self.sizes.note(auction_id, size);
                    size
                }
                Err(e) => {
                    tracing::warn!(error = ?e, %auction_id, "group size not read; posting it here");
                    return (0, None);
                }
            },
        };
        if !pool.splits(size) {
            return (0, None);
        }
        let parts = workers::split(self.groups.member_shards(), size, pool.group_viewers);
        if parts.len() < 2 {
            return (0, None);
        }
        let tasks: Vec<FanOutTask> = parts
            .into_iter()
            .map(|shards| FanOutTask {
                auction_id: auction_id.clone(),
                shards,
                except_user: except_user.cloned(),
                frame: frame.to_owned(),
                payload: payload.to_owned(),
                sent_at_ms: Some(now.0),
            })
            .collect();
        let started = futures::future::join_all(tasks.iter().map(|task| starter.start(task))).await;
        let mut delegated = 0;
        let mut inline = Vec::new();
        for (task, result) in tasks.into_iter().zip(started) {
            match result {
                Ok(()) => delegated += 1,
                Err(e) => {
                    tracing::warn!(error = %e, %auction_id, shards = ?task.shards, "fan-out worker not started; posting its part here");
                    inline.extend(task.shards);
                }
            }
        }
        (delegated, Some(inline))
    }

    /// A `fanout` worker's run: posts `task`'s payload to the members of its shards, except the
    /// excepted user's connections, at this fan-out's post rate.
    ///
    /// # Errors
    /// [`StoreError`] when the members could not be read; posts to those read before were made.
    pub fn run_task<'a>(
        &'a self,
        task: &'a FanOutTask,
    ) -> futures::future::BoxFuture<'a, Result<FanOutReport, StoreError>> {
        Box::pin(async move {
            let started = Instant::now();
            let counters = Counters::default();
            let now = task.sent_at(EpochMillis::from_system_time(std::time::SystemTime::now()));
            let deliver =
                |connection_id| self.deliver(now, connection_id, &task.payload, &counters);
            let pages = self.groups.members_in(&task.auction_id, &task.shards, now);
            let read = self
                .post_pages(pages, task.except_user.as_ref(), &deliver)
                .await;
            let report = counters.report(started);
            // The metrics' frame names are static; an unknown one is counted as such.
            record(frame_name(&task.frame), &report);
            read.map(|()| report)
        })
    }
}

impl FanOut {
    /// One post of `payload` to `connection_id`, counted ([`deliver`]).
    fn deliver<'a>(
        &'a self,
        now: EpochMillis,
        connection_id: String,
        payload: &'a str,
        counters: &'a Counters,
    ) -> impl std::future::Future<Output = ()> + 'a {
        deliver(
            &*self.pusher,
            &*self.connections,
            self.departures.as_deref(),
            now,
            connection_id,
            payload,
            counters,
        )
    }
}

/// The static name of a frame type a task names.
fn frame_name(frame: &str) -> &'static str {
    auction_core::frames::FRAME_KINDS
        .into_iter()
        .find(|known| *known == frame)
        .unwrap_or("Other")
}

impl Counters {
    fn report(&self, started: Instant) -> FanOutReport {
        FanOutReport {
            recipients: self.recipients.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            gone: self.gone.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            delegated: self.delegated.load(Ordering::Relaxed),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// The fan-out's metrics and its debug line.
fn record(frame: &'static str, report: &FanOutReport) {
    use auction_core::telemetry as m;
    #[allow(clippy::cast_precision_loss)] // milliseconds stay far below 2^52
    metrics::histogram!(m::FAN_OUT_DURATION, "Frame" => frame).record(report.duration_ms as f64);
    metrics::counter!(m::FAN_OUT_RECIPIENTS, "Frame" => frame).increment(report.recipients);
    metrics::counter!(m::MESSAGES_SENT, "Frame" => frame).increment(report.delivered);
    metrics::counter!(m::GONE_CONNECTIONS, "Frame" => frame).increment(report.gone);
    metrics::counter!(m::FAILED_POSTS, "Frame" => frame).increment(report.failed);
    if report.delegated > 0 {
        metrics::counter!(m::FAN_OUT_PARTS, "Frame" => frame).increment(report.delegated);
    }
    tracing::debug!(
        frame,
        recipients = report.recipients,
        delivered = report.delivered,
        gone = report.gone,
        delegated = report.delegated,
        failed = report.failed,
        duration_ms = report.duration_ms,
        "fan-out"
    );
}

/// One post with its retries; a gone connection is removed with its memberships and counts.
async fn deliver(
    pusher: &dyn Pusher,
    connections: &dyn ConnectionStore,
    departures: Option<&dyn Departures>,
    now: EpochMillis,
    connection_id: String,
    payload: &str,
    counters: &Counters,
) {
    let connection_id = connection_id.as_str();
    counters.recipients.fetch_add(1, Ordering::Relaxed);
    match post_with_retries(pusher, connection_id, payload, None).await {
        Ok(()) => {
            counters.delivered.fetch_add(1, Ordering::Relaxed);
        }
        Err(PushError::Gone) => {
            counters.gone.fetch_add(1, Ordering::Relaxed);
            match connections.remove(connection_id).await {
                Ok(Some(removed)) => {
                    if let (Some(departures), Some(user_id), false) =
                        (departures, &removed.user_id, removed.joined.is_empty())
                        && let Err(e) = departures.note(&removed.tenant_id, user_id, now).await
                    {
                        tracing::warn!(error = ?e, "departure not noted");
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(connection_id, error = ?e, "could not remove a gone connection");
                }
            }
        }
        Err(e) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(connection_id, error = ?e, "post failed");
        }
    }
}

/// One post, and up to [`MAX_RETRIES`] retries of a throttled, failed or timed-out attempt with
/// jittered backoff; no retry starts after `retry_until`. A timed-out attempt may have been
/// delivered, so a retry can repeat a frame: every frame is safe to receive twice
/// (docs/protocol.md).
///
/// # Errors
/// The last attempt's [`PushError`].
pub(crate) async fn post_with_retries(
    pusher: &dyn Pusher,
    connection_id: &str,
    payload: &str,
    retry_until: Option<tokio::time::Instant>,
) -> Result<(), PushError> {
    let mut attempt = 0;
    loop {
        match pusher.post(connection_id, payload).await {
            Err(PushError::Retryable(e))
                if attempt < MAX_RETRIES
                    && retry_until.is_none_or(|until| tokio::time::Instant::now() < until) =>
            {
                attempt += 1;
                let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 20;
                let backoff = Duration::from_millis(25 * (1 << attempt) + jitter);
                tracing::debug!(connection_id, attempt, error = ?e, "post retried");
                tokio::time::sleep(backoff).await;
            }
            outcome => return outcome,
        }
    }
}
