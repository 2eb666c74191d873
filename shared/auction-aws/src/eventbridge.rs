//! [`EventBridgePublisher`]: the event bus port over `aws-sdk-eventbridge` `PutEvents`.
//!
//! Every event has the one `source` [`infra::bus::EVENT_SOURCE`], its name as `detail-type`, and
//! its detail stamped with the publication time ([`auction_core::events::PUBLISHED_AT_FIELD`]).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use auction_core::domain::EpochMillis;
use auction_core::events::DomainEvent;
use auction_core::ports::{BoxError, EventPublisher, PublishError};

/// PutEvents accepts at most this many entries per call.
pub const MAX_ENTRIES_PER_PUT: usize = 10;
/// Attempts per batch (the first and the retries of the entries that failed).
const MAX_ATTEMPTS: u32 = 4;

/// [`EventPublisher`] over `aws-sdk-eventbridge` `PutEvents`.
#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    client: Client,
    bus_name: String,
}

impl EventBridgePublisher {
    /// Publishes to `bus_name` (the stack's bus) through `client`.
    #[must_use]
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
        }
    }

    fn entry(&self, event: &DomainEvent, now: EpochMillis) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(infra::bus::EVENT_SOURCE)
            .detail_type(event.detail_type())
            .detail(event.detail(Some(now)).to_string())
            .build()
    }

    /// One batch of at most ten: send, then resend only the entries that failed, with backoff.
    async fn publish_batch(&self, batch: &[DomainEvent]) -> Result<(), PublishError> {
        let now = EpochMillis::from_system_time(std::time::SystemTime::now());
        let mut pending: Vec<PutEventsRequestEntry> =
            batch.iter().map(|e| self.entry(e, now)).collect();
        let mut last: Option<BoxError> = None;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 25;
                tokio::time::sleep(Duration::from_millis(50 * (1 << attempt) + jitter)).await;
            }
            let result = self
                .client
                .put_events()
                .set_entries(Some(pending.clone()))
                .send()
                .await;
            let output = match result {
                Ok(output) => output,
                Err(error) => {
                    tracing::warn!(error = ?error, attempt, "PutEvents failed");
                    last = Some(Box::new(error));
                    continue;
                }
            };
            if output.failed_entry_count() == 0 {
                return Ok(());
            }
            // Result entries are in request order; a failed one has an error code.
            let results = output.entries();
            let mut retry = Vec::new();
            for (index, entry) in pending.into_iter().enumerate() {
                let failed = results.get(index).is_none_or(|r| r.error_code().is_some());
                if failed {
                    if let Some(r) = results.get(index) {
                        tracing::warn!(
                            code = r.error_code().unwrap_or_default(),
                            message = r.error_message().unwrap_or_default(),
                            attempt,
                            "PutEvents entry failed"
                        );
                    }
                    retry.push(entry);
                }
            }
            pending = retry;
            if pending.is_empty() {
                return Ok(());
            }
        }
        Err(PublishError {
            failed: pending.len(),
            total: batch.len(),
            last,
        })
    }
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), PublishError> {
        let mut failed = 0;
        let mut last = None;
        for batch in events.chunks(MAX_ENTRIES_PER_PUT) {
            if let Err(e) = self.publish_batch(batch).await {
                failed += e.failed;
                last = e.last.or(last);
            }
        }
        if failed == 0 {
            Ok(())
        } else {
            Err(PublishError {
                failed,
                total: events.len(),
                last,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_notifier_pattern_names_every_pushed_event() {
        let pattern: serde_json::Value =
            serde_json::from_str(&infra::bus::notifier_pattern()).unwrap();
        assert_eq!(pattern["source"][0], infra::bus::EVENT_SOURCE);
        // A rejection is the HTTP answer's, and a creation is pushed to nobody.
        assert_eq!(
            pattern["detail-type"],
            serde_json::json!([
                "BidAccepted",
                "ItemSold",
                "AuctionEnded",
                "AuctionCancelled",
                "ReservationConfirmed",
                "ReservationExpired",
                "ItemReleased"
            ])
        );
    }
}
