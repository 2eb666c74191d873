//! The notifier: the EventBridge rule's target. It turns each domain event into a frame and
//! pushes it through the fan-out (docs/protocol.md section 4, "sent to"):
//! `BidAccepted` to every connection of the bidder, `ItemSold` to the group except
//! every connection of the buyer, `AuctionEnded` (and a cancellation, as `AuctionEnded
//! Cancelled`) to the group. It reads no auction: the event carries what the frame needs.

use std::sync::Arc;

use auction_core::clock::Clock;
use auction_core::domain::{Amount, AuctionId, Currency, EndReason};
use auction_core::domain::{EpochMillis, money::MajorUnits};
use auction_core::events::{DomainEvent, UnknownEvent, published_at};
use auction_core::frames::{self, Frame};
use auction_core::ports::StoreError;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;

use crate::fanout::{Audience, FanOut};

/// Why an event was not pushed. EventBridge retries the invocation on error, then dead-letters it.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The event is not one of ours, or malformed: retrying cannot help, so it is dead-lettered.
    #[error(transparent)]
    Unknown(#[from] UnknownEvent),
    /// The recipients could not be read.
    #[error("recipients could not be read")]
    Store(#[from] StoreError),
    /// A frame for one user (`BidAccepted`, the reservation frames) failed to reach some of its
    /// connections after the fan-out's own retries. The invocation fails so that EventBridge
    /// delivers the event again: a user's few connections are cheap to post twice, and every frame
    /// is safe to receive twice. (A group's failures are not retried this way: re-posting a whole
    /// group for one lost post would cost more than the resync a client does anyway.)
    #[error("{failed} of the user's connections could not be reached")]
    Undelivered {
        /// Connections whose post failed.
        failed: u64,
    },
}

fn malformed(field: &str, message: &str) -> UnknownEvent {
    UnknownEvent::Detail {
        detail_type: field.to_owned(),
        source: serde::de::Error::custom(message),
    }
}

fn money(currency: &str, minor: i64) -> Result<MajorUnits, UnknownEvent> {
    let currency =
        Currency::from_code(currency).map_err(|e| malformed("currency", &e.to_string()))?;
    Ok(currency.major(Amount(minor)))
}

fn group(auction_id: &str, except_user: Option<&str>) -> Result<Audience, UnknownEvent> {
    let auction_id = AuctionId::parse(auction_id)
        .map_err(|_| malformed("auctionId", "auctionId is not a UUID"))?;
    Ok(Audience::Group {
        auction_id,
        except_user: except_user.map(str::to_owned),
    })
}

/// The frame of an event and who gets it; `None` when nothing is pushed.
///
/// # Errors
/// [`UnknownEvent`] when the detail cannot be turned into a frame.
pub fn frame_for(event: &DomainEvent) -> Result<Option<(Frame, Audience)>, UnknownEvent> {
    Ok(Some(match event {
        DomainEvent::BidAccepted(d) => (
            Frame::BidAccepted(frames::BidAccepted {
                bid_id: d.bid_id.clone(),
                auction_id: d.auction_id.clone(),
                winning_price: money(&d.currency, d.winning_price_minor)?,
                reservation_id: d.reservation_id.clone(),
                expires_at: EpochMillis(d.expires_at_ms),
            }),
            Audience::User {
                tenant_id: d.tenant_id.clone(),
                user_id: d.user_id.clone(),
            },
        ),
        DomainEvent::ItemSold(d) => (
            Frame::ItemSold(frames::ItemSold {
                auction_id: d.auction_id.clone(),
                items: d.items,
            }),
            group(&d.auction_id, Some(&d.buyer_id))?,
        ),
        DomainEvent::AuctionEnded(d) => (
            Frame::AuctionEnded(frames::AuctionEnded {
                auction_id: d.auction_id.clone(),
                reason: d.reason,
            }),
            group(&d.auction_id, None)?,
        ),
        DomainEvent::AuctionCancelled(d) => (
            Frame::AuctionEnded(frames::AuctionEnded {
                auction_id: d.auction_id.clone(),
                reason: EndReason::Cancelled,
            }),
            group(&d.auction_id, None)?,
        ),
        // The HTTP answer (`409`) tells the one caller that asked; a push to every connection
        // of the bidder turned each rejected bid into as many posts as the user has sockets.
        DomainEvent::ReservationExpired(d) => (
            Frame::ReservationExpired(frames::ReservationExpired {
                reservation_id: d.reservation_id.clone(),
                auction_id: d.auction_id.clone(),
            }),
            Audience::User {
                tenant_id: d.tenant_id.clone(),
                user_id: d.user_id.clone(),
            },
        ),
        DomainEvent::ItemReleased(d) => (
            Frame::ItemReleased(frames::ItemReleased {
                auction_id: d.auction_id.clone(),
                items: d.items,
            }),
            group(&d.auction_id, None)?,
        ),
        DomainEvent::ReservationConfirmed(d) => (
            Frame::ReservationConfirmed(frames::ReservationConfirmed {
                reservation_id: d.reservation_id.clone(),
                auction_id: d.auction_id.clone(),
            }),
            Audience::User {
                tenant_id: d.tenant_id.clone(),
                user_id: d.user_id.clone(),
            },
        ),
        DomainEvent::AuctionCreated(_) | DomainEvent::BidRejected(_) => return Ok(None),
    }))
}

/// The notifier and what it needs ([`crate::compose::Adapters::notifier`]).
#[derive(Clone)]
pub struct Notifier {
    /// The fan-out.
    pub fanout: FanOut,
    /// The time, for `sentAt` and the latency.
    pub clock: Arc<dyn Clock>,
}

impl Notifier {
    /// The Lambda handler: one EventBridge event in, its frame pushed. Records the latency from
    /// the event's publication to the frame's `sentAt`.
    ///
    /// # Errors
    /// [`NotifyError`]; EventBridge retries (then dead-letters) the event.
    pub async fn handle(&self, event: EventBridgeEvent<Value>) -> Result<(), NotifyError> {
        let published = published_at(&event.detail);
        let domain = DomainEvent::from_parts(&event.detail_type, event.detail)?;
        let Some((frame, audience)) = frame_for(&domain)? else {
            return Ok(());
        };
        let now = self.clock.now();
        if let Some(at) = published {
            auction_core::telemetry::event_latency(frame.kind(), at, now);
        }
        let for_one_user = matches!(audience, Audience::User { .. });
        let report = self.fanout.send(&frame, &audience, now).await?;
        // Debug, not info: the fan-out's metrics (EMF in Lambda) already carry these counts, and a
        // line per event is a log write per bid in a bid storm.
        tracing::debug!(
            event = domain.detail_type(),
            auction_id = domain.auction_id(),
            recipients = report.recipients,
            delivered = report.delivered,
            gone = report.gone,
            failed = report.failed,
            "pushed"
        );
        if for_one_user && report.failed > 0 {
            return Err(NotifyError::Undelivered {
                failed: report.failed,
            });
        }
        Ok(())
    }
}
