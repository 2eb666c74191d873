//! The HTTP API of PROTOCOL.md section 5 behind API Gateway's HTTP API (payload v2).
//! Wiring only; the router is [`shared::api::router`].

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::bootstrap::init_tracing();
    let metrics = shared::telemetry::lambda_metrics(None)?;
    let deps = shared::bootstrap::api_deps_from_env().await?;
    shared::telemetry::run_http(metrics, shared::api::router(deps)).await
}
