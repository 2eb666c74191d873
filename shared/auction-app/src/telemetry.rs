//! Where the metrics go: in Lambda, [`lambda_metrics`] installs `metrics_cloudwatch_embedded`,
//! which writes them as CloudWatch Embedded Metric Format lines after each invocation;
//! `auction-local` installs `metrics-exporter-prometheus` and serves the same names at
//! `GET /metrics`. The names are [`auction_core::telemetry`]'s.

use std::io::Write;
use std::time::Duration;

use tracing::level_filters::LevelFilter;

/// The CloudWatch namespace unless `METRICS_NAMESPACE` says otherwise (the template sets it
/// per stack, so that two stages never mix their figures).
pub const DEFAULT_NAMESPACE: &str = "AuctionRealtime";

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
    let namespace =
        crate::config::metrics_namespace().unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    let mut builder = metrics_cloudwatch_embedded::Builder::new().cloudwatch_namespace(namespace);
    if let Some(interval) = flush_every {
        builder = builder.with_auto_flush_writer(interval, WholeLines::default);
    }
    let collector = builder.init().map_err(|e| MetricsError(e.to_string()))?;
    auction_core::telemetry::describe();
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

/// JSON logs to stdout (CloudWatch), at the level `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`) names:
/// `trace`, `debug`, `info` (the default), `warn`, `error` (`fatal` counts as `error`), `off`.
/// A level, not `RUST_LOG`'s per-module directives: their filter would link a regex engine into
/// every Lambda binary (`auction-local` keeps the directives).
pub fn init_tracing() {
    let setting = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG"));
    let level = setting.as_deref().map_or(Ok(LevelFilter::INFO), log_level);
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(level.unwrap_or(LevelFilter::INFO))
        .with_current_span(false)
        .without_time() // CloudWatch stamps every line
        .with_target(false)
        .try_init();
    if let (Err(()), Ok(setting)) = (level, setting) {
        tracing::warn!(setting, "log level not understood: logging at info");
    }
}

/// The level a log-level setting names.
fn log_level(setting: &str) -> Result<LevelFilter, ()> {
    if setting.trim().eq_ignore_ascii_case("fatal") {
        return Ok(LevelFilter::ERROR);
    }
    setting.trim().parse().map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use auction_core::telemetry::{FAN_OUT_DURATION, MESSAGES_SENT, RECONNECTIONS};

    #[test]
    fn log_levels_are_read_as_lambda_and_rust_log_spell_them() {
        assert_eq!(log_level("DEBUG"), Ok(LevelFilter::DEBUG));
        assert_eq!(log_level("info"), Ok(LevelFilter::INFO));
        assert_eq!(log_level(" Warn "), Ok(LevelFilter::WARN));
        assert_eq!(log_level("FATAL"), Ok(LevelFilter::ERROR));
        assert_eq!(log_level("off"), Ok(LevelFilter::OFF));
        assert_eq!(log_level("info,auction_app=debug"), Err(()));
    }

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
