//! The event bus's contract (docs/architecture.md, "Cloud shape"): the one `source` of the domain events and
//! the notifier rule's event pattern. `template.yaml` declares the same pattern (a test fails when
//! they drift) and `auction-local` matches events against it with the `quamina` crate.

/// The `source` of every domain event.
pub const EVENT_SOURCE: &str = "auction.realtime";

/// The detail-types the notifier pushes to clients. `AuctionCreated` and `BidRejected` are
/// published too, for other consumers, but nothing is pushed for them (a rejection is the HTTP
/// answer's), so the rule does not invoke the notifier for them.
pub const NOTIFIER_DETAIL_TYPES: &[&str] = &[
    "BidAccepted",
    "ItemSold",
    "AuctionEnded",
    "AuctionCancelled",
    "ReservationConfirmed",
    "ReservationExpired",
    "ItemReleased",
];

/// The rule's logical id in `template.yaml`.
pub const NOTIFIER_RULE_LOGICAL_ID: &str = "NotifierRule";

/// The notifier rule's EventBridge event pattern, as JSON.
#[must_use]
pub fn notifier_pattern() -> String {
    let types: Vec<String> = NOTIFIER_DETAIL_TYPES
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect();
    format!(
        "{{\"source\":[\"{EVENT_SOURCE}\"],\"detail-type\":[{}]}}",
        types.join(",")
    )
}

/// EventBridge's retry policy on the notifier target: pushes are worthless minutes later.
pub const NOTIFIER_MAX_RETRY_ATTEMPTS: u32 = 4;
/// The age after which EventBridge stops retrying an event (seconds).
pub const NOTIFIER_MAX_EVENT_AGE_SECONDS: u32 = 300;
