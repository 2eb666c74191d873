//! Domain events on EventBridge: what they carry, and the publishing port with its
//! `aws-sdk-eventbridge` adapter.
//!
//! Every event has the one `source` [`infra::bus::EVENT_SOURCE`], its name as `detail-type`, and
//! a camelCase `detail` carrying what the notifier needs to push without reading any table.
//! Prices travel in integer minor units with their currency, so no consumer rounds a float.
//! Delivery is at least once (PutEvents retries, EventBridge target retries): clients recognise a
//! repeated `BidAccepted` by its `bidId`, and the other frames are idempotent.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde::{Deserialize, Serialize};

use crate::domain::{AcceptedBid, Auction, EndReason, EpochMillis, RejectedBid};
use crate::ports::BoxError;

/// `BidAccepted`: pushed to every connection of the buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BidAcceptedDetail {
    /// The auction's tenant.
    pub tenant_id: String,
    /// The auction.
    pub auction_id: String,
    /// The buyer.
    pub user_id: String,
    /// The bid.
    pub bid_id: String,
    /// ISO 4217 code.
    pub currency: String,
    /// The price paid, in minor units.
    pub winning_price_minor: i64,
    /// The buyer's hold on the item.
    pub reservation_id: String,
    /// When the hold expires (epoch milliseconds).
    pub expires_at_ms: i64,
}

/// `BidRejected`: pushed to every connection of the bidder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BidRejectedDetail {
    /// The auction's tenant.
    pub tenant_id: String,
    /// The auction.
    pub auction_id: String,
    /// The bidder.
    pub user_id: String,
    /// The bid.
    pub bid_id: String,
    /// `PriceTooLow`, `SoldOut` or `NotActive`.
    pub reason: String,
    /// ISO 4217 code.
    pub currency: String,
    /// The price when the bid was decided, in minor units.
    pub current_price_minor: i64,
}

/// `ItemSold`: pushed to the group except every connection of the buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemSoldDetail {
    /// The auction's tenant.
    pub tenant_id: String,
    /// The auction.
    pub auction_id: String,
    /// The buyer, whose connections get `BidAccepted` instead.
    pub buyer_id: String,
    /// Items left as read after the sale (only ever goes down).
    pub remaining_items: u32,
}

/// `AuctionEnded` (`SoldOut` or `FloorReached`): pushed to the group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuctionEndedDetail {
    /// The auction's tenant.
    pub tenant_id: String,
    /// The auction.
    pub auction_id: String,
    /// Why it ended.
    pub reason: EndReason,
}

/// `AuctionCreated`: for other consumers (analytics, search); nothing is pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuctionCreatedDetail {
    /// The auction's tenant.
    pub tenant_id: String,
    /// The auction.
    pub auction_id: String,
    /// Its seller.
    pub seller_id: String,
    /// Its title.
    pub title: String,
    /// When its price starts falling (epoch milliseconds).
    pub starts_at_ms: i64,
}

/// `AuctionCancelled`: the group gets `AuctionEnded` with reason `Cancelled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuctionCancelledDetail {
    /// The auction's tenant.
    pub tenant_id: String,
    /// The auction.
    pub auction_id: String,
    /// The seller who cancelled it.
    pub seller_id: String,
}

/// A domain event; its variant name is the EventBridge `detail-type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    /// A bid won an item.
    BidAccepted(BidAcceptedDetail),
    /// A bid lost.
    BidRejected(BidRejectedDetail),
    /// An item was sold.
    ItemSold(ItemSoldDetail),
    /// An auction sold out or reached its floor.
    AuctionEnded(AuctionEndedDetail),
    /// An auction was created.
    AuctionCreated(AuctionCreatedDetail),
    /// A seller cancelled an auction.
    AuctionCancelled(AuctionCancelledDetail),
}

/// An event whose `detail-type` or `detail` this code does not know.
#[derive(Debug, thiserror::Error)]
pub enum UnknownEvent {
    /// The `detail-type` names no domain event.
    #[error("unknown detail-type {0}")]
    DetailType(String),
    /// The detail does not have the event's shape.
    #[error("malformed detail of {detail_type}: {source}")]
    Detail {
        /// The `detail-type`.
        detail_type: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

impl DomainEvent {
    /// The EventBridge `detail-type`.
    #[must_use]
    pub fn detail_type(&self) -> &'static str {
        match self {
            Self::BidAccepted(_) => "BidAccepted",
            Self::BidRejected(_) => "BidRejected",
            Self::ItemSold(_) => "ItemSold",
            Self::AuctionEnded(_) => "AuctionEnded",
            Self::AuctionCreated(_) => "AuctionCreated",
            Self::AuctionCancelled(_) => "AuctionCancelled",
        }
    }

    /// The auction the event is about.
    #[must_use]
    pub fn auction_id(&self) -> &str {
        match self {
            Self::BidAccepted(d) => &d.auction_id,
            Self::BidRejected(d) => &d.auction_id,
            Self::ItemSold(d) => &d.auction_id,
            Self::AuctionEnded(d) => &d.auction_id,
            Self::AuctionCreated(d) => &d.auction_id,
            Self::AuctionCancelled(d) => &d.auction_id,
        }
    }

    /// The `detail` as JSON text.
    #[must_use]
    pub fn detail_json(&self) -> String {
        let value = match self {
            Self::BidAccepted(d) => serde_json::to_string(d),
            Self::BidRejected(d) => serde_json::to_string(d),
            Self::ItemSold(d) => serde_json::to_string(d),
            Self::AuctionEnded(d) => serde_json::to_string(d),
            Self::AuctionCreated(d) => serde_json::to_string(d),
            Self::AuctionCancelled(d) => serde_json::to_string(d),
        };
        // Plain structs of strings and numbers always serialise.
        value.unwrap_or_default()
    }

    /// The event from an EventBridge `detail-type` and `detail`.
    ///
    /// # Errors
    /// [`UnknownEvent`] for a detail-type this code does not publish or a detail of another shape.
    pub fn from_parts(detail_type: &str, detail: serde_json::Value) -> Result<Self, UnknownEvent> {
        fn parse<T: serde::de::DeserializeOwned>(
            detail_type: &str,
            detail: serde_json::Value,
        ) -> Result<T, UnknownEvent> {
            serde_json::from_value(detail).map_err(|source| UnknownEvent::Detail {
                detail_type: detail_type.to_owned(),
                source,
            })
        }
        Ok(match detail_type {
            "BidAccepted" => Self::BidAccepted(parse(detail_type, detail)?),
            "BidRejected" => Self::BidRejected(parse(detail_type, detail)?),
            "ItemSold" => Self::ItemSold(parse(detail_type, detail)?),
            "AuctionEnded" => Self::AuctionEnded(parse(detail_type, detail)?),
            "AuctionCreated" => Self::AuctionCreated(parse(detail_type, detail)?),
            "AuctionCancelled" => Self::AuctionCancelled(parse(detail_type, detail)?),
            other => return Err(UnknownEvent::DetailType(other.to_owned())),
        })
    }

    /// `BidAccepted` for an accepted bid of `tenant_id`.
    #[must_use]
    pub fn bid_accepted(tenant_id: &str, bid: &AcceptedBid) -> Self {
        Self::BidAccepted(BidAcceptedDetail {
            tenant_id: tenant_id.to_owned(),
            auction_id: bid.auction_id.as_str().to_owned(),
            user_id: bid.user_id.clone(),
            bid_id: bid.bid_id.as_str().to_owned(),
            currency: bid.currency.code().to_owned(),
            winning_price_minor: bid.winning_price.minor_units(),
            reservation_id: bid.reservation.reservation_id.clone(),
            expires_at_ms: bid.reservation.expires_at.0,
        })
    }

    /// `BidRejected` for a rejected bid of `tenant_id`.
    #[must_use]
    pub fn bid_rejected(tenant_id: &str, bid: &RejectedBid) -> Self {
        Self::BidRejected(BidRejectedDetail {
            tenant_id: tenant_id.to_owned(),
            auction_id: bid.auction_id.as_str().to_owned(),
            user_id: bid.user_id.clone(),
            bid_id: bid.bid_id.as_str().to_owned(),
            reason: bid.reason.as_str().to_owned(),
            currency: bid.currency.code().to_owned(),
            current_price_minor: bid.current_price.minor_units(),
        })
    }

    /// `ItemSold` after a sale to `buyer_id`.
    #[must_use]
    pub fn item_sold(auction: &Auction, buyer_id: &str, remaining_items: u32) -> Self {
        Self::ItemSold(ItemSoldDetail {
            tenant_id: auction.tenant_id.clone(),
            auction_id: auction.id.as_str().to_owned(),
            buyer_id: buyer_id.to_owned(),
            remaining_items,
        })
    }

    /// `AuctionEnded` with `reason`.
    #[must_use]
    pub fn auction_ended(auction: &Auction, reason: EndReason) -> Self {
        Self::AuctionEnded(AuctionEndedDetail {
            tenant_id: auction.tenant_id.clone(),
            auction_id: auction.id.as_str().to_owned(),
            reason,
        })
    }

    /// `AuctionCreated`.
    #[must_use]
    pub fn auction_created(auction: &Auction) -> Self {
        Self::AuctionCreated(AuctionCreatedDetail {
            tenant_id: auction.tenant_id.clone(),
            auction_id: auction.id.as_str().to_owned(),
            seller_id: auction.seller_id.clone(),
            title: auction.title.clone(),
            starts_at_ms: auction.schedule.starts_at().0,
        })
    }

    /// `AuctionCancelled`.
    #[must_use]
    pub fn auction_cancelled(auction: &Auction) -> Self {
        Self::AuctionCancelled(AuctionCancelledDetail {
            tenant_id: auction.tenant_id.clone(),
            auction_id: auction.id.as_str().to_owned(),
            seller_id: auction.seller_id.clone(),
        })
    }
}

/// Events that did not reach the bus after every retry.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} events were not published")]
pub struct PublishError {
    /// How many were not published.
    pub failed: usize,
    /// How many were offered.
    pub total: usize,
    /// The last failure, for logs.
    #[source]
    pub last: Option<BoxError>,
}

/// Publishes domain events.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes every event, in order within each batch, retrying what failed.
    ///
    /// # Errors
    /// [`PublishError`] when some events are still unpublished after the retries; the others are
    /// published (callers that must not lose an event keep an outbox, see `api.rs`).
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), PublishError>;
}

/// PutEvents accepts at most this many entries per call.
pub const MAX_ENTRIES_PER_PUT: usize = 10;
/// Attempts per batch (the first and the retries of the entries that failed).
const MAX_ATTEMPTS: u32 = 4;

/// The detail field with the publication time in epoch milliseconds. The envelope's `time` has
/// whole seconds only, too coarse for the event → client latency metric.
pub const PUBLISHED_AT_FIELD: &str = "publishedAtMs";

/// `detail` (a JSON object) with [`PUBLISHED_AT_FIELD`] set to `now`.
fn stamp(detail: &str, now: EpochMillis) -> String {
    match serde_json::from_str::<serde_json::Value>(detail) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.insert(PUBLISHED_AT_FIELD.to_owned(), now.0.into());
            serde_json::Value::Object(map).to_string()
        }
        _ => detail.to_owned(),
    }
}

/// When the event was published, from its detail (absent in events published by older code).
#[must_use]
pub fn published_at(detail: &serde_json::Value) -> Option<EpochMillis> {
    detail
        .get(PUBLISHED_AT_FIELD)
        .and_then(serde_json::Value::as_i64)
        .map(EpochMillis)
}

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
            .detail(stamp(&event.detail_json(), now))
            .build()
    }

    /// One batch of at most ten: send, then resend only the entries that failed, with backoff.
    async fn publish_batch(&self, batch: &[DomainEvent]) -> Result<(), PublishError> {
        let now = EpochMillis::now();
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
    use super::*;

    #[test]
    fn events_round_trip_through_detail_type_and_detail() {
        let event = DomainEvent::ItemSold(ItemSoldDetail {
            tenant_id: "t".into(),
            auction_id: "a".into(),
            buyer_id: "u".into(),
            remaining_items: 3,
        });
        let detail: serde_json::Value = serde_json::from_str(&event.detail_json()).unwrap();
        assert_eq!(detail["remainingItems"], 3);
        let back = DomainEvent::from_parts(event.detail_type(), detail).unwrap();
        assert_eq!(back, event);
        assert!(matches!(
            DomainEvent::from_parts("Nope", serde_json::json!({})),
            Err(UnknownEvent::DetailType(_))
        ));
        assert!(matches!(
            DomainEvent::from_parts("ItemSold", serde_json::json!({"auctionId": 1})),
            Err(UnknownEvent::Detail { .. })
        ));
    }

    #[test]
    fn the_notifier_pattern_names_every_pushed_event() {
        let pattern: serde_json::Value =
            serde_json::from_str(&infra::bus::notifier_pattern()).unwrap();
        assert_eq!(pattern["source"][0], infra::bus::EVENT_SOURCE);
        assert_eq!(pattern["detail-type"].as_array().unwrap().len(), 5);
    }
}
