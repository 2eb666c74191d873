//! The WebSocket API's REQUEST authorizer on `$connect`: verifies the JWT (`?token=` or
//! `Authorization: Bearer`) and passes the identity on in the context.
//! Wiring only; the handler is [`shared::ws::authorize`].

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::auth::TokenVerifier;
use shared::telemetry::run;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::bootstrap::init_tracing();
    let metrics = shared::telemetry::lambda_metrics(None)?;
    let verifier = TokenVerifier::new(shared::config::auth_from_env()?);
    run(
        metrics,
        service_fn(
            |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| async {
                // The error's message is exactly "Unauthorized" for a refused token: API Gateway's 401.
                shared::ws::authorize(&verifier, event.payload)
                    .await
                    .map_err(Error::from)
            },
        ),
    )
    .await
}
