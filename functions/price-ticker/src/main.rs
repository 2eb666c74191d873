//! Started every minute by an EventBridge schedule: ticks once a second until shortly before
//! the invocation's deadline. Wiring only; the run is [`shared::ticker::TickerDeps::run`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::telemetry::run;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::bootstrap::init_tracing();
    let metrics = shared::telemetry::lambda_metrics(Some(Duration::from_secs(1)))?;
    let deps = shared::bootstrap::ticker_deps_from_env().await?;
    run(
        metrics,
        service_fn(|event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| {
            let deps = &deps;
            async move {
                // The context's deadline is epoch milliseconds; turn it into a monotonic instant.
                let now_ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                // Lambda's deadline is always ahead; one in the past is an emulator's (cargo lambda
                // watch sends its timeout, 600000, not an epoch): then the run length decides.
                let left = match event.context.deadline.checked_sub(now_ms) {
                    Some(ms) if ms > 0 => Duration::from_millis(ms),
                    _ => deps.config.run_for + Duration::from_secs(5),
                };
                let report = deps.run(tokio::time::Instant::now() + left).await?;
                Ok::<_, Error>(serde_json::to_value(report)?)
            }
        }),
    )
    .await
}
