//! Bids, their outcomes and the reservations winners get.

use serde::Serialize;

use super::auction::AuctionId;
use super::epoch::EpochMillis;
use super::money::{Amount, Currency};

/// Why a bid lost (`BidRejected.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RejectReason {
    /// The bid was below the current price.
    PriceTooLow,
    /// No items were left.
    SoldOut,
    /// The auction had not started, or had ended for another reason.
    NotActive,
    /// Every item left is held by a winner who has not paid yet; one may come back if a hold
    /// lapses, so this is not final.
    AllReserved,
}

impl RejectReason {
    /// The protocol's name for it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PriceTooLow => "PriceTooLow",
            Self::SoldOut => "SoldOut",
            Self::NotActive => "NotActive",
            Self::AllReserved => "AllReserved",
        }
    }

    /// Parses the protocol's name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "PriceTooLow" => Some(Self::PriceTooLow),
            "SoldOut" => Some(Self::SoldOut),
            "NotActive" => Some(Self::NotActive),
            "AllReserved" => Some(Self::AllReserved),
            _ => None,
        }
    }

    /// Whether the rejection is recorded, so that a replay of the same bid gets it again.
    ///
    /// Not when the auction can never take bids again (`SoldOut`, `NotActive` once ended): a
    /// replay gets the same answer anyway. Not for `AllReserved` either, though a lapsing hold may
    /// bring an item back: it is the answer to every bid of a storm once the last item is won, and
    /// recording it would cost each of them a write where a sold-out auction costs none
    /// (docs/performance.md). A replay of such a bid is decided anew and may win (protocol.md).
    #[must_use]
    pub fn is_recorded(self, auction_ended: bool) -> bool {
        match self {
            Self::SoldOut | Self::AllReserved => false,
            Self::NotActive => !auction_ended,
            Self::PriceTooLow => true,
        }
    }
}

/// The pure decision on one bid, before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BidDecision {
    /// Take an item at `winning_price` (the current price, never above the bid).
    Accept {
        /// What the buyer pays.
        winning_price: Amount,
    },
    /// Refuse it.
    Reject {
        /// Why.
        reason: RejectReason,
        /// The price at the moment of the decision.
        current_price: Amount,
    },
}

/// A client-generated bid id: a UUID, the idempotency key of the bid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BidId(String);

impl BidId {
    /// A fresh random id, for a bid sent without one.
    #[must_use]
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// Parses a client-supplied id.
    ///
    /// # Errors
    /// [`super::auction::InvalidId`] when it is not a UUID in canonical form.
    pub fn parse(text: &str) -> Result<Self, super::auction::InvalidId> {
        super::auction::canonical_uuid(text).map(Self)
    }

    /// The id's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A bid as the store receives it: who offers what, on which auction, under which id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BidRequest {
    /// The auction bid on.
    pub auction_id: AuctionId,
    /// The idempotency key.
    pub bid_id: BidId,
    /// The bidder.
    pub user_id: String,
    /// The bidder's tenant, which must be the auction's.
    pub tenant_id: String,
    /// The most the bidder will pay, in the auction's currency.
    pub bid_price: Amount,
    /// True when the server generated `bid_id` for this request: no earlier send can exist, so
    /// the store may skip looking for one.
    pub fresh_id: bool,
}

impl BidRequest {
    /// What makes two sends of one `bidId` "the same bid": same auction, bidder and price.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.auction_id,
            self.tenant_id,
            self.user_id,
            self.bid_price.minor_units()
        )
    }
}

/// A winner's hold on one item until it pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The reservation's id (what checkout uses).
    pub reservation_id: String,
    /// When the hold lapses.
    pub expires_at: EpochMillis,
}

impl Reservation {
    /// A new reservation made at `now` that holds for `ttl_seconds`.
    #[must_use]
    pub fn new(now: EpochMillis, ttl_seconds: u32) -> Self {
        Self {
            reservation_id: uuid::Uuid::new_v4().to_string(),
            expires_at: now.plus_seconds(i64::from(ttl_seconds)),
        }
    }

    /// Whether the hold has lapsed at `now` (it holds up to, not including, `expires_at`).
    #[must_use]
    pub fn is_expired(&self, now: EpochMillis) -> bool {
        now >= self.expires_at
    }
}

/// A winning bid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedBid {
    /// The bid.
    pub bid_id: BidId,
    /// The auction.
    pub auction_id: AuctionId,
    /// The buyer.
    pub user_id: String,
    /// The price paid.
    pub winning_price: Amount,
    /// The currency of the price.
    pub currency: Currency,
    /// The buyer's hold on the item.
    pub reservation: Reservation,
    /// When the bid was accepted.
    pub accepted_at: EpochMillis,
}

/// A losing bid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedBid {
    /// The bid.
    pub bid_id: BidId,
    /// The auction.
    pub auction_id: AuctionId,
    /// The bidder.
    pub user_id: String,
    /// Why it lost.
    pub reason: RejectReason,
    /// The price when it was decided.
    pub current_price: Amount,
    /// The currency of the price.
    pub currency: Currency,
}

/// What became of a bid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BidOutcome {
    /// It won an item.
    Accepted(AcceptedBid),
    /// It lost.
    Rejected(RejectedBid),
}

/// A bid's outcome, and whether it is the recorded outcome of an earlier send of the same bid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedBid {
    /// The outcome (the first one, for a replay).
    pub outcome: BidOutcome,
    /// True when this send replayed an earlier one: nothing new was taken.
    pub replayed: bool,
    /// For a new acceptance: the auction's counts as read right after it committed (concurrent
    /// sales and releases may already be counted).
    pub tally: Option<super::hold::ItemTally>,
    /// Set when this call recorded the `SoldOut` end: exactly one call of an auction gets it.
    pub ended: Option<super::auction::Ending>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_holds_until_its_expiry() {
        let now = EpochMillis(1_000_000);
        let reservation = Reservation::new(now, 600);
        assert_eq!(reservation.expires_at, EpochMillis(1_600_000));
        assert!(!reservation.is_expired(EpochMillis(1_599_999)));
        assert!(reservation.is_expired(EpochMillis(1_600_000)));
    }

    #[test]
    fn ids_must_be_uuids_in_canonical_form() {
        let id = "6f1c2c8e-9f7a-4f7e-8a8e-1b2c3d4e5f60";
        assert_eq!(BidId::parse(id).unwrap().as_str(), id);
        // One id, one spelling: another spelling could split one bid into two for a client
        // that compares ids as text.
        for other in [
            "bid-1",
            "6F1C2C8E-9F7A-4F7E-8A8E-1B2C3D4E5F60",
            "urn:uuid:6f1c2c8e-9f7a-4f7e-8a8e-1b2c3d4e5f60",
            "{6f1c2c8e-9f7a-4f7e-8a8e-1b2c3d4e5f60}",
            "6f1c2c8e9f7a4f7e8a8e1b2c3d4e5f60",
        ] {
            assert!(BidId::parse(other).is_err(), "{other}");
            assert!(AuctionId::parse(other).is_err(), "{other}");
        }
    }
}
