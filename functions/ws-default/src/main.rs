//! The `$default` route: `Ping` → `Pong`, anything else → an `Error` frame.
//! Wiring only; the handler is [`shared::ws::default_route`].

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::telemetry::run;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::bootstrap::init_tracing();
    let metrics = shared::telemetry::lambda_metrics(None)?;
    let deps = shared::bootstrap::ws_deps_from_env().await?;
    run(
        metrics,
        service_fn(
            |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async {
                shared::ws::default_route(&deps, event.payload)
                    .await
                    .map_err(Error::from)
            },
        ),
    )
    .await
}
