//! The product's metrics: their names, units and help texts, recorded through the `metrics`
//! facade by the use cases and the fan-out. Which recorder receives them is the application's
//! choice: CloudWatch Embedded Metric Format lines in Lambda, Prometheus text in `auction-local`.
//!
//! Labels become CloudWatch dimensions, so every label here has a handful of values: `Frame` (a
//! frame type), `Reason` (a rejection or refusal reason).

use std::time::Duration;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

use crate::domain::EpochMillis;

/// Connections in auction groups: the viewer counters of the live auctions, summed by the price
/// ticker on each pass (a connection in two auctions counts twice; one in none is not counted).
pub const ACTIVE_CONNECTIONS: &str = "ActiveConnections";
/// Frames that reached a connection (`PostToConnection` answered 2xx), by `Frame`.
pub const MESSAGES_SENT: &str = "MessagesSent";
/// From the event's time (a domain event's publication, a price drop) to the frame's `sentAt`,
/// by `Frame`.
pub const EVENT_TO_CLIENT_LATENCY: &str = "EventToClientLatency";
/// Connections refused at `$connect`, by `Reason` (`Unauthorized`, `Error`).
pub const FAILED_CONNECTIONS: &str = "FailedConnections";
/// Signed-in users who connect again within [`RECONNECT_WINDOW`] of losing a connection that
/// had joined an auction.
pub const RECONNECTIONS: &str = "Reconnections";
/// Wall time of one fan-out, by `Frame`.
pub const FAN_OUT_DURATION: &str = "FanOutDuration";
/// Connections a fan-out addressed, by `Frame`.
pub const FAN_OUT_RECIPIENTS: &str = "FanOutRecipients";
/// Parts of fan-outs handed to `fanout` workers (a large group's fan-out is split), by `Frame`.
pub const FAN_OUT_PARTS: &str = "FanOutParts";
/// Connections found gone (HTTP 410) during a fan-out and removed, by `Frame`.
pub const GONE_CONNECTIONS: &str = "GoneConnections";
/// Posts that failed after their retries, by `Frame`.
pub const FAILED_POSTS: &str = "FailedPosts";
/// Bids answered `Rejected` or refused by the rate limit, by `Reason`.
pub const REJECTED_BIDS: &str = "RejectedBids";

/// Wall time of one price-ticker tick over every live auction.
pub const TICK_DURATION: &str = "TickDuration";
/// Ticks that took longer than the tick period: the next tick was skipped, so pushes and ends
/// of every auction were late. No auction is ever left out of a tick; this says ticks are slow.
pub const TICK_OVERRUNS: &str = "TickOverruns";
/// Auctions without a recorded end, as the ticker read them on its last tick.
pub const LIVE_AUCTIONS: &str = "LiveAuctions";

/// How soon after losing a connection a new one counts as a reconnection.
pub const RECONNECT_WINDOW: Duration = Duration::from_secs(60);

/// Names, units and help texts for every metric (the units reach both CloudWatch and the
/// Prometheus `# HELP` lines). Call once after installing a recorder.
pub fn describe() {
    describe_gauge!(
        ACTIVE_CONNECTIONS,
        Unit::Count,
        "connections in auction groups, summed over the live auctions"
    );
    describe_counter!(
        MESSAGES_SENT,
        Unit::Count,
        "frames delivered to a connection"
    );
    describe_histogram!(
        EVENT_TO_CLIENT_LATENCY,
        Unit::Milliseconds,
        "from the event's time to the frame's sentAt"
    );
    describe_counter!(
        FAILED_CONNECTIONS,
        Unit::Count,
        "connections refused at $connect"
    );
    describe_counter!(
        RECONNECTIONS,
        Unit::Count,
        "users connecting again within 60 s of losing a joined connection"
    );
    describe_histogram!(
        FAN_OUT_DURATION,
        Unit::Milliseconds,
        "wall time of one fan-out"
    );
    describe_counter!(
        FAN_OUT_RECIPIENTS,
        Unit::Count,
        "connections addressed by fan-outs"
    );
    describe_counter!(
        GONE_CONNECTIONS,
        Unit::Count,
        "connections found gone (410) and removed"
    );
    describe_counter!(FAILED_POSTS, Unit::Count, "posts failed after retries");
    describe_counter!(REJECTED_BIDS, Unit::Count, "bids rejected or rate-limited");
    describe_histogram!(
        TICK_DURATION,
        Unit::Milliseconds,
        "wall time of one price-ticker tick"
    );
    describe_counter!(
        TICK_OVERRUNS,
        Unit::Count,
        "ticks longer than the tick period (the next was skipped)"
    );
    describe_gauge!(
        LIVE_AUCTIONS,
        Unit::Count,
        "auctions without a recorded end, read by the ticker"
    );
}

/// Records the latency from `event_at` to `sent_at` for a `frame`.
pub fn event_latency(frame: &'static str, event_at: EpochMillis, sent_at: EpochMillis) {
    // A clock step can make it negative; that is not a latency.
    #[allow(clippy::cast_precision_loss)] // milliseconds stay far below 2^52
    let ms = (sent_at.0 - event_at.0).max(0) as f64;
    metrics::histogram!(EVENT_TO_CLIENT_LATENCY, "Frame" => frame).record(ms);
}
