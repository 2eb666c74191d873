//! Server-to-client frames (PROTOCOL.md section 4): every frame is the envelope
//! `{"type", "data", "sentAt"}` with camelCase fields.

use serde::Serialize;

use crate::domain::{AuctionId, EpochMillis};

/// The envelope of every server frame.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    data: &'a T,
    sent_at: i64,
}

/// Serialises a frame of `kind` carrying `data`, stamped with `sent_at`.
#[must_use]
pub fn encode<T: Serialize>(kind: &str, data: &T, sent_at: EpochMillis) -> String {
    serde_json::to_string(&Envelope {
        kind,
        data,
        sent_at: sent_at.0,
    })
    // Serialising plain structs of strings and numbers cannot fail.
    .unwrap_or_default()
}

/// `Error.code` (PROTOCOL.md section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ErrorCode {
    /// Malformed frame or field.
    BadRequest,
    /// No such auction.
    NotFound,
    /// The auction belongs to another tenant.
    Unauthorized,
    /// Too many Join/Leave calls.
    RateLimited,
    /// An action with no route.
    UnknownAction,
    /// Our fault; details are in the logs only.
    InternalError,
}

/// The `Error` frame's data.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorData {
    /// The action that failed (`$default` when the frame named none).
    pub action: String,
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong, for people; never internals.
    pub message: String,
    /// The auction, when the frame named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auction_id: Option<String>,
}

/// An `Error` frame.
#[must_use]
pub fn error(
    action: &str,
    code: ErrorCode,
    message: &str,
    auction_id: Option<&AuctionId>,
    sent_at: EpochMillis,
) -> String {
    let data = ErrorData {
        action: action.to_owned(),
        code,
        message: message.to_owned(),
        auction_id: auction_id.map(ToString::to_string),
    };
    encode("Error", &data, sent_at)
}

/// A `Pong` frame.
#[must_use]
pub fn pong(sent_at: EpochMillis) -> String {
    encode("Pong", &serde_json::json!({}), sent_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_enveloped_in_camel_case() {
        let frame: serde_json::Value = serde_json::from_str(&error(
            "JoinAuction",
            ErrorCode::NotFound,
            "no such auction",
            None,
            EpochMillis(5),
        ))
        .unwrap();
        assert_eq!(
            frame,
            serde_json::json!({"type": "Error", "data": {"action": "JoinAuction", "code": "NotFound", "message": "no such auction"}, "sentAt": 5})
        );
        assert_eq!(
            pong(EpochMillis(7)),
            r#"{"type":"Pong","data":{},"sentAt":7}"#
        );
    }
}
