//! Domain events: what they carry. They travel on the bus ([`crate::ports::EventPublisher`]; on
//! AWS, EventBridge) with their name as `detail-type` and a camelCase `detail` carrying what the
//! notifier needs to push without reading any table.
//! Prices travel in integer minor units with their currency, so no consumer rounds a float.
//! Delivery is at least once (PutEvents retries, EventBridge target retries): clients recognise a
//! repeated `BidAccepted` by its `bidId`, and the other frames are idempotent.

use serde::{Deserialize, Serialize};

use crate::domain::hold::ItemTally;
use crate::domain::{AcceptedBid, Auction, EndReason, EpochMillis, RejectedBid};

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
    /// The counts as read after the sale.
    #[serde(flatten)]
    pub items: ItemTally,
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

/// `ReservationConfirmed`: checkout confirmed a hold; for other consumers (fulfilment), nothing
/// is pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationConfirmedDetail {
    /// The auction's tenant.
    pub tenant_id: String,
    /// The auction.
    pub auction_id: String,
    /// The reservation.
    pub reservation_id: String,
    /// The buyer.
    pub user_id: String,
    /// The bid that won the item.
    pub bid_id: String,
    /// ISO 4217 code.
    pub currency: String,
    /// The price paid, in minor units.
    pub winning_price_minor: i64,
    /// When it was confirmed (epoch milliseconds).
    pub confirmed_at_ms: i64,
}

/// `ReservationExpired`: a hold lapsed and the sweep released it; pushed to every connection of
/// the buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationExpiredDetail {
    /// The auction's tenant.
    pub tenant_id: String,
    /// The auction.
    pub auction_id: String,
    /// The reservation.
    pub reservation_id: String,
    /// The buyer who did not pay.
    pub user_id: String,
    /// `Returned` (the item is available again) or `Unsold` (the schedule had ended).
    pub released_to: crate::domain::hold::Release,
}

/// `ItemReleased`: a lapsed hold's item is available again; pushed to the group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemReleasedDetail {
    /// The auction's tenant.
    pub tenant_id: String,
    /// The auction.
    pub auction_id: String,
    /// The counts as read after the release.
    #[serde(flatten)]
    pub items: ItemTally,
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
    /// Checkout confirmed a hold.
    ReservationConfirmed(ReservationConfirmedDetail),
    /// A hold lapsed and was released.
    ReservationExpired(ReservationExpiredDetail),
    /// A lapsed hold's item is available again.
    ItemReleased(ItemReleasedDetail),
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
            Self::ReservationConfirmed(_) => "ReservationConfirmed",
            Self::ReservationExpired(_) => "ReservationExpired",
            Self::ItemReleased(_) => "ItemReleased",
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
            Self::ReservationConfirmed(d) => &d.auction_id,
            Self::ReservationExpired(d) => &d.auction_id,
            Self::ItemReleased(d) => &d.auction_id,
        }
    }

    /// The `detail` as JSON, stamped with [`PUBLISHED_AT_FIELD`] when `published_at` is given.
    #[must_use]
    pub fn detail(&self, published_at: Option<EpochMillis>) -> serde_json::Value {
        let value = match self {
            Self::BidAccepted(d) => serde_json::to_value(d),
            Self::BidRejected(d) => serde_json::to_value(d),
            Self::ItemSold(d) => serde_json::to_value(d),
            Self::AuctionEnded(d) => serde_json::to_value(d),
            Self::AuctionCreated(d) => serde_json::to_value(d),
            Self::AuctionCancelled(d) => serde_json::to_value(d),
            Self::ReservationConfirmed(d) => serde_json::to_value(d),
            Self::ReservationExpired(d) => serde_json::to_value(d),
            Self::ItemReleased(d) => serde_json::to_value(d),
        };
        // Plain structs of strings and numbers always serialise, as JSON objects.
        let mut value = value.unwrap_or_default();
        if let (Some(at), Some(map)) = (published_at, value.as_object_mut()) {
            map.insert(PUBLISHED_AT_FIELD.to_owned(), at.0.into());
        }
        value
    }

    /// The event from a `detail-type` and a `detail` (which may carry [`PUBLISHED_AT_FIELD`]).
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
            "ReservationConfirmed" => Self::ReservationConfirmed(parse(detail_type, detail)?),
            "ReservationExpired" => Self::ReservationExpired(parse(detail_type, detail)?),
            "ItemReleased" => Self::ItemReleased(parse(detail_type, detail)?),
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

    /// `ReservationConfirmed` for a confirmed hold.
    #[must_use]
    pub fn reservation_confirmed(
        reservation: &crate::ports::reservations::StoredReservation,
    ) -> Self {
        Self::ReservationConfirmed(ReservationConfirmedDetail {
            tenant_id: reservation.tenant_id.clone(),
            auction_id: reservation.auction_id.as_str().to_owned(),
            reservation_id: reservation.reservation_id.clone(),
            user_id: reservation.user_id.clone(),
            bid_id: reservation.bid_id.as_str().to_owned(),
            currency: reservation.currency.code().to_owned(),
            winning_price_minor: reservation.winning_price.minor_units(),
            confirmed_at_ms: reservation.decided_at.map_or(0, |at| at.0),
        })
    }

    /// The events of holds of one auction released together: `ReservationExpired` for each
    /// buyer, and one `ItemReleased` for the group when the items went back to the room (`items`:
    /// the counts after the release). Nothing for no holds.
    #[must_use]
    pub fn released(
        holds: &[crate::ports::reservations::DueHold],
        to: crate::domain::hold::Release,
        items: ItemTally,
    ) -> Vec<Self> {
        let mut events: Vec<Self> = holds
            .iter()
            .map(|hold| {
                Self::ReservationExpired(ReservationExpiredDetail {
                    tenant_id: hold.tenant_id.clone(),
                    auction_id: hold.auction_id.as_str().to_owned(),
                    reservation_id: hold.reservation_id.clone(),
                    user_id: hold.user_id.clone(),
                    released_to: to,
                })
            })
            .collect();
        if let Some(first) = holds.first()
            && to == crate::domain::hold::Release::Returned
        {
            events.push(Self::ItemReleased(ItemReleasedDetail {
                tenant_id: first.tenant_id.clone(),
                auction_id: first.auction_id.as_str().to_owned(),
                items,
            }));
        }
        events
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

    /// `ItemSold` after a sale to `buyer_id`, with the counts read after it.
    #[must_use]
    pub fn item_sold(auction: &Auction, buyer_id: &str, items: ItemTally) -> Self {
        Self::ItemSold(ItemSoldDetail {
            tenant_id: auction.tenant_id.clone(),
            auction_id: auction.id.as_str().to_owned(),
            buyer_id: buyer_id.to_owned(),
            items,
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

/// The detail field with the publication time in epoch milliseconds, which the publisher stamps
/// on every event. The envelope's `time` has whole seconds only, too coarse for the
/// event → client latency metric.
pub const PUBLISHED_AT_FIELD: &str = "publishedAtMs";

/// When the event was published, from its detail (absent in events published by older code).
#[must_use]
pub fn published_at(detail: &serde_json::Value) -> Option<EpochMillis> {
    detail
        .get(PUBLISHED_AT_FIELD)
        .and_then(serde_json::Value::as_i64)
        .map(EpochMillis)
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
            items: ItemTally {
                remaining_items: 3,
                sold_items: 2,
                released_items: 0,
            },
        });
        let detail = event.detail(None);
        assert_eq!(detail["remainingItems"], 3);
        assert_eq!(detail["soldItems"], 2);
        let stamped = event.detail(Some(EpochMillis(42)));
        assert_eq!(published_at(&stamped), Some(EpochMillis(42)));
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
}
