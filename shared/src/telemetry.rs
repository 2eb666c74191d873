//! The product's metrics (the seed's "Monitoring" section), recorded once through the `metrics`
//! facade. In Lambda, [`lambda_metrics`] installs `metrics_cloudwatch_embedded`, which writes them
//! as CloudWatch Embedded Metric Format lines after each invocation; `auction-local` installs
//! `metrics-exporter-prometheus` and serves the same names at `GET /metrics`.
//!
//! Labels become CloudWatch dimensions, so every label here has a handful of values: `Frame` (a
//! frame type), `Reason` (a rejection or refusal reason).

use std::io::Write;
use std::time::Duration;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

use crate::domain::EpochMillis;

/// The CloudWatch namespace unless `METRICS_NAMESPACE` says otherwise (the template sets it
/// per stack, so that two stages never mix their figures).
pub const DEFAULT_NAMESPACE: &str = "AuctionRealtime";

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
/// Connections found gone (HTTP 410) during a fan-out and removed, by `Frame`.
pub const GONE_CONNECTIONS: &str = "GoneConnections";
/// Posts that failed after their retries, by `Frame`.
pub const FAILED_POSTS: &str = "FailedPosts";
/// Bids answered `Rejected` or refused by the rate limit, by `Reason`.
pub const REJECTED_BIDS: &str = "RejectedBids";

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
}

/// Records the latency from `event_at` to `sent_at` for a `frame`.
pub fn event_latency(frame: &'static str, event_at: EpochMillis, sent_at: EpochMillis) {
    // A clock step can make it negative; that is not a latency.
    #[allow(clippy::cast_precision_loss)] // milliseconds stay far below 2^52
    let ms = (sent_at.0 - event_at.0).max(0) as f64;
    metrics::histogram!(EVENT_TO_CLIENT_LATENCY, "Frame" => frame).record(ms);
}

/// The Lambda runtime with `lambda_runtime`'s tracing layer and the metrics flush after each
/// invocation (use it instead of `lambda_runtime::run`).
pub use metrics_cloudwatch_embedded::lambda::service::run;
/// [`run`] for a `lambda_http` service (use it instead of `lambda_http::run`).
pub use metrics_cloudwatch_embedded::lambda::service::run_http;

/// Why [`lambda_metrics`] failed.
#[derive(Debug, thiserror::Error)]
#[error("metrics: {0}")]
pub struct MetricsError(String);

/// Installs the EMF recorder for a Lambda function: the namespace from `METRICS_NAMESPACE`, a
/// flush after every invocation (by the runtime layer of `metrics_cloudwatch_embedded`), and
/// with `flush_every` also during a long invocation (the price ticker runs for a minute, and
/// CloudWatch takes at most 100 values of one metric per line).
///
/// # Errors
/// [`MetricsError`] when a recorder is already installed.
pub fn lambda_metrics(
    flush_every: Option<Duration>,
) -> Result<&'static metrics_cloudwatch_embedded::Collector, MetricsError> {
    let namespace = std::env::var(crate::config::keys::METRICS_NAMESPACE)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    let mut builder = metrics_cloudwatch_embedded::Builder::new().cloudwatch_namespace(namespace);
    if let Some(interval) = flush_every {
        builder = builder.with_auto_flush_writer(interval, WholeLines::default);
    }
    let collector = builder.init().map_err(|e| MetricsError(e.to_string()))?;
    describe();
    Ok(collector)
}

/// Buffers one flush and writes it to stdout in a single call, so that a log line written by
/// another task at the same moment cannot land inside a metric line.
#[derive(Default)]
struct WholeLines(Vec<u8>);

impl Write for WholeLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.0.is_empty() {
            std::io::stdout().lock().write_all(&self.0)?;
            self.0.clear();
        }
        Ok(())
    }
}

impl Drop for WholeLines {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one test of this binary that installs the global recorder: the EMF lines a fan-out's
    /// metrics become in Lambda.
    #[test]
    fn lambda_metrics_are_embedded_metric_format_lines() {
        let collector = lambda_metrics(None).unwrap();
        metrics::histogram!(FAN_OUT_DURATION, "Frame" => "PriceUpdated").record(12.0);
        metrics::counter!(MESSAGES_SENT, "Frame" => "PriceUpdated").increment(3);
        metrics::counter!(RECONNECTIONS).increment(1);
        let mut out = Vec::new();
        collector.flush(&mut out).unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let with = |name: &str| {
            lines
                .iter()
                .find(|line| line.get(name).is_some())
                .unwrap_or_else(|| panic!("{name} in {lines:?}"))
        };
        let fan_out = with(FAN_OUT_DURATION);
        let directive = &fan_out["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], DEFAULT_NAMESPACE);
        assert_eq!(directive["Dimensions"], serde_json::json!([["Frame"]]));
        assert_eq!(fan_out["Frame"], "PriceUpdated");
        assert_eq!(fan_out[FAN_OUT_DURATION], serde_json::json!([12.0]));
        assert_eq!(fan_out[MESSAGES_SENT], 3);
        let units: Vec<(&str, &str)> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["Name"].as_str().unwrap(), m["Unit"].as_str().unwrap()))
            .collect();
        assert!(
            units.contains(&(FAN_OUT_DURATION, "Milliseconds")),
            "{units:?}"
        );
        assert!(units.contains(&(MESSAGES_SENT, "Count")), "{units:?}");
        assert_eq!(
            with(RECONNECTIONS)["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([[]])
        );
    }
}
