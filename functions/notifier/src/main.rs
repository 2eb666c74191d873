//! The EventBridge rule's target: pushes bid outcomes, sales and ends to the right connections.
//! Wiring only; the handler is [`shared::notifier::handle`].

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::telemetry::run;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::bootstrap::init_tracing();
    let metrics = shared::telemetry::lambda_metrics(None)?;
    let fanout = shared::bootstrap::fanout_from_env().await?;
    run(
        metrics,
        service_fn(
            |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| async {
                shared::notifier::handle(&fanout, event.payload)
                    .await
                    .map_err(Error::from)
            },
        ),
    )
    .await
}
