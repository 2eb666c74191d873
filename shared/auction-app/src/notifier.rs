//! The notifier: the EventBridge rule's target. It turns each domain event into frames and
//! pushes them through the fan-out (PROTOCOL.md section 4, "sent to"):
//! `BidAccepted`/`BidRejected` to every connection of the bidder, `ItemSold` to the group except
//! every connection of the buyer, `AuctionEnded` (and a cancellation, as `AuctionEnded
//! Cancelled`) to the group. It reads no auction: the event carries what the frame needs.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Serialize;
use serde_json::Value;

use crate::domain::{Amount, AuctionId, Currency, EndReason, EpochMillis};
use crate::events::{DomainEvent, UnknownEvent};
use crate::fanout::{Audience, FanOut, FanOutReport};
use crate::frames::encode;
use crate::ports::StoreError;

/// Why an event was not pushed. EventBridge retries the invocation on error, then dead-letters it.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The event is not one of ours, or malformed: retrying cannot help, so it is dead-lettered.
    #[error(transparent)]
    Unknown(#[from] UnknownEvent),
    /// The recipients could not be read.
    #[error("recipients could not be read")]
    Store(#[from] StoreError),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BidAcceptedData<'a> {
    bid_id: &'a str,
    auction_id: &'a str,
    winning_price: crate::domain::money::MajorUnits,
    reservation_id: &'a str,
    expires_at: EpochMillis,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BidRejectedData<'a> {
    bid_id: &'a str,
    auction_id: &'a str,
    reason: &'a str,
    current_price: crate::domain::money::MajorUnits,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemSoldData<'a> {
    auction_id: &'a str,
    remaining_items: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuctionEndedData<'a> {
    auction_id: &'a str,
    reason: EndReason,
}

fn money(currency: &str, minor: i64) -> Result<crate::domain::money::MajorUnits, UnknownEvent> {
    let currency = Currency::from_code(currency).map_err(|e| UnknownEvent::Detail {
        detail_type: "currency".into(),
        source: serde::de::Error::custom(e.to_string()),
    })?;
    Ok(currency.major(Amount(minor)))
}

fn group(auction_id: &str, except_user: Option<&str>) -> Result<Audience, UnknownEvent> {
    let auction_id = AuctionId::parse(auction_id).map_err(|_| UnknownEvent::Detail {
        detail_type: "auctionId".into(),
        source: serde::de::Error::custom("auctionId is not a UUID"),
    })?;
    Ok(Audience::Group {
        auction_id,
        except_user: except_user.map(str::to_owned),
    })
}

/// The frame type, its audience and its payload for an event; `None` when nothing is pushed.
///
/// # Errors
/// [`UnknownEvent`] when the detail cannot be turned into a frame.
pub fn frame_for(
    event: &DomainEvent,
    now: EpochMillis,
) -> Result<Option<(&'static str, Audience, String)>, UnknownEvent> {
    Ok(Some(match event {
        DomainEvent::BidAccepted(d) => {
            let data = BidAcceptedData {
                bid_id: &d.bid_id,
                auction_id: &d.auction_id,
                winning_price: money(&d.currency, d.winning_price_minor)?,
                reservation_id: &d.reservation_id,
                expires_at: EpochMillis(d.expires_at_ms),
            };
            let audience = Audience::User {
                tenant_id: d.tenant_id.clone(),
                user_id: d.user_id.clone(),
            };
            ("BidAccepted", audience, encode("BidAccepted", &data, now))
        }
        DomainEvent::BidRejected(d) => {
            let data = BidRejectedData {
                bid_id: &d.bid_id,
                auction_id: &d.auction_id,
                reason: &d.reason,
                current_price: money(&d.currency, d.current_price_minor)?,
            };
            let audience = Audience::User {
                tenant_id: d.tenant_id.clone(),
                user_id: d.user_id.clone(),
            };
            ("BidRejected", audience, encode("BidRejected", &data, now))
        }
        DomainEvent::ItemSold(d) => {
            let data = ItemSoldData {
                auction_id: &d.auction_id,
                remaining_items: d.remaining_items,
            };
            let audience = group(&d.auction_id, Some(&d.buyer_id))?;
            ("ItemSold", audience, encode("ItemSold", &data, now))
        }
        DomainEvent::AuctionEnded(d) => {
            let data = AuctionEndedData {
                auction_id: &d.auction_id,
                reason: d.reason,
            };
            let audience = group(&d.auction_id, None)?;
            ("AuctionEnded", audience, encode("AuctionEnded", &data, now))
        }
        DomainEvent::AuctionCancelled(d) => {
            let data = AuctionEndedData {
                auction_id: &d.auction_id,
                reason: EndReason::Cancelled,
            };
            let audience = group(&d.auction_id, None)?;
            ("AuctionEnded", audience, encode("AuctionEnded", &data, now))
        }
        DomainEvent::AuctionCreated(_) => return Ok(None),
    }))
}

/// Pushes the frame of one domain event.
///
/// # Errors
/// [`NotifyError`].
pub async fn notify(
    fanout: &FanOut,
    event: &DomainEvent,
    now: EpochMillis,
) -> Result<Option<FanOutReport>, NotifyError> {
    notify_at(fanout, event, None, now).await
}

/// [`notify`], recording the latency from `published_at` (the event's publication) to `now`
/// (the frame's `sentAt`).
///
/// # Errors
/// [`NotifyError`] as [`notify`].
pub async fn notify_at(
    fanout: &FanOut,
    event: &DomainEvent,
    published_at: Option<EpochMillis>,
    now: EpochMillis,
) -> Result<Option<FanOutReport>, NotifyError> {
    let Some((frame, audience, payload)) = frame_for(event, now)? else {
        return Ok(None);
    };
    if let Some(at) = published_at {
        crate::telemetry::event_latency(frame, at, now);
    }
    Ok(Some(fanout.send(frame, &audience, &payload, now).await?))
}

/// The Lambda handler: one EventBridge event in.
///
/// # Errors
/// [`NotifyError`]; EventBridge retries (then dead-letters) the event.
pub async fn handle(fanout: &FanOut, event: EventBridgeEvent<Value>) -> Result<(), NotifyError> {
    let published_at = crate::events::published_at(&event.detail);
    let domain = DomainEvent::from_parts(&event.detail_type, event.detail)?;
    if let Some(report) = notify_at(fanout, &domain, published_at, EpochMillis::now()).await? {
        // Debug, not info: the fan-out's metrics (EMF in Lambda) already carry these counts, and
        // a line per event is a log write per bid in a bid storm.
        tracing::debug!(
            event = domain.detail_type(),
            auction_id = domain.auction_id(),
            recipients = report.recipients,
            delivered = report.delivered,
            gone = report.gone,
            failed = report.failed,
            "pushed"
        );
    }
    Ok(())
}
