//! Server-to-client frames (docs/protocol.md section 4), one typed enum: every frame is the
//! envelope `{"type", "data", "sentAt"}` with camelCase fields, and no frame is built from a
//! string name anywhere else.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::money::MajorUnits;
use crate::domain::{AuctionId, AuctionSnapshot, EndReason, EpochMillis};

/// A frame the server sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "data")]
pub enum Frame {
    /// To the caller, right after a successful `JoinAuction`.
    AuctionState(AuctionSnapshot),
    /// To the group: the price changed.
    PriceUpdated(PriceUpdated),
    /// To the group: the viewer count changed (coalesced).
    ViewerCountUpdated(ViewerCountUpdated),
    /// To every connection of the winner.
    BidAccepted(BidAccepted),
    /// To the group except the buyer's connections.
    ItemSold(ItemSold),
    /// To every connection of the buyer: the hold is paid for (final).
    ReservationConfirmed(ReservationConfirmed),
    /// The buyer's hold lapsed.
    ReservationExpired(ReservationExpired),
    /// A lapsed hold's item is available again.
    ItemReleased(ItemReleased),
    /// To the group.
    AuctionEnded(AuctionEnded),
    /// To the caller: its request failed.
    Error(ErrorData),
    /// To the caller, after `Ping`.
    Pong(Empty),
}

/// `PriceUpdated`'s data.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceUpdated {
    /// The auction.
    pub auction_id: AuctionId,
    /// The price now.
    pub current_price: MajorUnits,
    /// ISO 4217 code.
    pub currency: &'static str,
    /// Drops left until the floor.
    pub drops_remaining: i64,
    /// The cadence the ticker keeps for this auction from now on (as the snapshot's
    /// `pushIntervalSeconds`): it grows when the group becomes large.
    pub push_interval_seconds: u32,
    /// The viewer count, carried along for a large group, whose count has no frame of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_viewers: Option<u64>,
}

/// `ViewerCountUpdated`'s data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewerCountUpdated {
    /// The auction.
    pub auction_id: AuctionId,
    /// Connections watching.
    pub active_viewers: u64,
}

/// `BidAccepted`'s data.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BidAccepted {
    /// The bid.
    pub bid_id: String,
    /// The auction.
    pub auction_id: String,
    /// What the buyer pays.
    pub winning_price: MajorUnits,
    /// The hold on the item.
    pub reservation_id: String,
    /// When the hold lapses.
    pub expires_at: EpochMillis,
}

/// `ItemSold`'s data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemSold {
    /// The auction.
    pub auction_id: String,
    /// The counts after the sale: keep the largest `soldItems` and `releasedItems` seen.
    #[serde(flatten)]
    pub items: crate::domain::hold::ItemTally,
}

/// `ReservationExpired`'s data: the buyer's hold lapsed (its item went back to the room, or is
/// unsold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationExpired {
    /// The reservation.
    pub reservation_id: String,
    /// The auction.
    pub auction_id: String,
}

/// `ReservationConfirmed`'s data: the buyer's hold is paid for, so every tab and device of the
/// buyer stops counting it down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationConfirmed {
    /// The reservation.
    pub reservation_id: String,
    /// The auction.
    pub auction_id: String,
}

/// `ItemReleased`'s data: a lapsed hold's item is available again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemReleased {
    /// The auction.
    pub auction_id: String,
    /// The counts after the release: keep the largest `soldItems` and `releasedItems` seen.
    #[serde(flatten)]
    pub items: crate::domain::hold::ItemTally,
}

/// `AuctionEnded`'s data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuctionEnded {
    /// The auction.
    pub auction_id: String,
    /// Why it ended.
    pub reason: EndReason,
}

/// `Error.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ErrorCode {
    /// Malformed frame or field.
    BadRequest,
    /// No such auction.
    NotFound,
    /// The auction belongs to another tenant.
    Unauthorized,
    /// Too many calls.
    RateLimited,
    /// An action with no route.
    UnknownAction,
    /// Our fault; details are in the logs only.
    InternalError,
}

/// `Error`'s data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorData {
    /// The action that failed (`$default` when the frame named none).
    pub action: String,
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong, for people; never internals.
    pub message: String,
    /// The auction, when the frame named a valid one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auction_id: Option<AuctionId>,
}

/// An empty object (`Pong`'s data is `{}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Empty {}

/// The envelope on the wire.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    #[serde(flatten)]
    frame: &'a Frame,
    sent_at: i64,
}

/// Every frame type's name, as [`Frame::kind`] gives it.
pub const FRAME_KINDS: [&str; 11] = [
    "AuctionState",
    "PriceUpdated",
    "ViewerCountUpdated",
    "BidAccepted",
    "ItemSold",
    "ReservationConfirmed",
    "ReservationExpired",
    "ItemReleased",
    "AuctionEnded",
    "Error",
    "Pong",
];

impl Frame {
    /// The frame's `type` (a metric label, too).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AuctionState(_) => "AuctionState",
            Self::PriceUpdated(_) => "PriceUpdated",
            Self::ViewerCountUpdated(_) => "ViewerCountUpdated",
            Self::BidAccepted(_) => "BidAccepted",
            Self::ItemSold(_) => "ItemSold",
            Self::ReservationConfirmed(_) => "ReservationConfirmed",
            Self::ReservationExpired(_) => "ReservationExpired",
            Self::ItemReleased(_) => "ItemReleased",
            Self::AuctionEnded(_) => "AuctionEnded",
            Self::Error(_) => "Error",
            Self::Pong(_) => "Pong",
        }
    }

    /// An `Error` frame.
    #[must_use]
    pub fn error(
        action: &str,
        code: ErrorCode,
        message: &str,
        auction_id: Option<&AuctionId>,
    ) -> Self {
        Self::Error(ErrorData {
            action: action.to_owned(),
            code,
            message: message.to_owned(),
            auction_id: auction_id.cloned(),
        })
    }

    /// The frame on the wire, stamped with `sent_at`.
    #[must_use]
    pub fn encode(&self, sent_at: EpochMillis) -> String {
        serde_json::to_string(&Envelope {
            frame: self,
            sent_at: sent_at.0,
        })
        // Serialising plain structs of strings and numbers cannot fail.
        .unwrap_or_default()
    }
}

/// A client's message as the routes read it: a JSON object, or `None` for anything else.
#[must_use]
pub fn message_object(text: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// The auction a `JoinAuction`/`LeaveAuction` message names, or what is wrong with it (the
/// `Error` frame's message).
///
/// # Errors
/// The reason, for a message that is not an object or has no canonical `auctionId`.
pub fn auction_id_of(body: Option<&Map<String, Value>>) -> Result<AuctionId, &'static str> {
    let Some(body) = body else {
        return Err("the message must be a JSON object");
    };
    match body.get("auctionId") {
        None | Some(Value::Null) => Err("auctionId is required"),
        Some(Value::String(id)) => AuctionId::parse(id).map_err(|_| "auctionId must be a UUID"),
        Some(_) => Err("auctionId must be a UUID string"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_enveloped_in_camel_case() {
        let auction_id = AuctionId::parse("6f1c4f4e-2a55-4c39-9e55-0d6b1e9a7c01").unwrap();
        let frame: serde_json::Value = serde_json::from_str(
            &Frame::error(
                "JoinAuction",
                ErrorCode::NotFound,
                "no such auction",
                Some(&auction_id),
            )
            .encode(EpochMillis(5)),
        )
        .unwrap();
        assert_eq!(
            frame,
            serde_json::json!({"type": "Error", "data": {"action": "JoinAuction", "code": "NotFound", "message": "no such auction", "auctionId": auction_id.as_str()}, "sentAt": 5})
        );
        assert_eq!(
            Frame::Pong(Empty {}).encode(EpochMillis(7)),
            r#"{"type":"Pong","data":{},"sentAt":7}"#
        );
        let viewers = Frame::ViewerCountUpdated(ViewerCountUpdated {
            auction_id,
            active_viewers: 3,
        });
        assert_eq!(viewers.kind(), "ViewerCountUpdated");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&viewers.encode(EpochMillis(9))).unwrap()["data"]
                ["activeViewers"],
            3
        );
    }
}
