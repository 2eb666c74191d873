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
                let left = Duration::from_millis(event.context.deadline.saturating_sub(now_ms));
                let report = deps.run(tokio::time::Instant::now() + left).await?;
                Ok::<_, Error>(serde_json::to_value(report)?)
            }
        }),
    )
    .await
}
