//! The one fan-out routine (docs/architecture.md, "Fan-out"), used by the notifier and the price
//! ticker.
//!
//! API Gateway has no broadcast: one `PostToConnection` per recipient. Recipients are streamed
//! (pages of members from every shard in parallel, the next page read while the posts of the last
//! one run), at most `concurrency` posts are in flight, 429 and 5xx are retried with backoff,
//! and a 410 removes the connection with its memberships and counts. Work is O(recipients):
//! nothing is read per recipient. Each fan-out records its duration and counts through
//! [`auction_core::telemetry`].

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use auction_core::domain::{AuctionId, EpochMillis, Member};
use auction_core::frames::Frame;
use auction_core::ports::{ConnectionStore, Departures, GroupStore, PushError, Pusher, StoreError};

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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanOutReport {
    /// Connections the frame was addressed to.
    pub recipients: u64,
    /// Posts that arrived.
    pub delivered: u64,
    /// Connections found gone (410) and removed.
    pub gone: u64,
    /// Posts that failed after their retries.
    pub failed: u64,
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
}

#[derive(Default)]
struct Counters {
    recipients: AtomicU64,
    delivered: AtomicU64,
    gone: AtomicU64,
    failed: AtomicU64,
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
        let deliver = |connection_id: String| {
            deliver(
                &*self.pusher,
                &*self.connections,
                self.departures.as_deref(),
                now,
                connection_id,
                payload,
                &counters,
            )
        };
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
                // Group pages stream in from every shard; posts start with the first page, and
                // the next page is read while the posts of this one are under way.
                let mut pages = self.groups.members(auction_id, now);
                // A member can be seen twice only across a shard re-read; never post twice.
                let mut seen = HashSet::new();
                let mut queued = VecDeque::new();
                let mut reading = true;
                let mut in_flight = FuturesUnordered::new();
                loop {
                    while in_flight.len() < self.concurrency
                        && let Some(connection_id) = queued.pop_front()
                    {
                        in_flight.push(deliver(connection_id));
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
                                    let excepted = except_user.is_some() && user_id == *except_user;
                                    if !excepted && seen.insert(connection_id.clone()) {
                                        queued.push_back(connection_id);
                                    }
                                }
                            }
                        },
                    }
                }
            }
        }
        let report = FanOutReport {
            recipients: counters.recipients.load(Ordering::Relaxed),
            delivered: counters.delivered.load(Ordering::Relaxed),
            gone: counters.gone.load(Ordering::Relaxed),
            failed: counters.failed.load(Ordering::Relaxed),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        record(frame, &report);
        match read_error {
            Some(e) => Err(e),
            None => Ok(report),
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
    tracing::debug!(
        frame,
        recipients = report.recipients,
        delivered = report.delivered,
        gone = report.gone,
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
