//! `GET /metrics`: the product's metrics ([`auction_core::telemetry`]) in Prometheus text format. The
//! handlers record through the `metrics` facade; here `metrics-exporter-prometheus` receives
//! what `metrics_cloudwatch_embedded` turns into EMF lines in Lambda.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Histogram buckets in milliseconds, from a loopback post to a slow fan-out.
const BUCKETS_MS: [f64; 12] = [
    1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0,
];

/// The process's Prometheus recorder, installed on first use: the facade has one global
/// recorder, so stacks started in one process (the tests) share it and their counts add up.
/// `None` when another recorder was installed first.
pub fn handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&BUCKETS_MS)
                .inspect_err(|e| tracing::warn!(error = %e, "histogram buckets refused"))
                .unwrap_or_else(|_| PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(handle) => {
                    auction_core::telemetry::describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed; /metrics is empty");
                    None
                }
            }
        })
        .clone()
}

/// `GET /metrics`.
pub async fn serve(State(handle): State<Option<PrometheusHandle>>) -> impl IntoResponse {
    let body = handle
        .map(|h| {
            h.run_upkeep();
            h.render()
        })
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}
