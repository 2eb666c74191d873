//! What every function's `main.rs` shares: tracing, metrics, the dependencies from the
//! environment, and the Lambda runtime loop. A main names its function and nothing else.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayWebsocketProxyRequest,
};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

use crate::compose::Adapters;
use crate::config;
use crate::telemetry::{init_tracing, lambda_metrics, run, run_http};
use crate::ticker::{ShardRun, dispatch};
use crate::ws::Route;

/// Serves one WebSocket route (`$connect`, `JoinAuction`, `LeaveAuction`, `$default`,
/// `$disconnect`).
///
/// # Errors
/// A configuration error at start, or the runtime's.
pub async fn serve_ws_route(route: Route) -> Result<(), Error> {
    init_tracing();
    let metrics = lambda_metrics(None)?;
    let deps = Adapters::from_env().await?.ws(config::membership_limits()?);
    run(
        metrics,
        service_fn(
            |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async {
                route
                    .handle(&deps, event.payload)
                    .await
                    .map_err(Error::from)
            },
        ),
    )
    .await
}

/// Serves the `$connect` authorizer.
///
/// # Errors
/// A configuration error at start, or the runtime's.
pub async fn serve_authorizer() -> Result<(), Error> {
    init_tracing();
    let metrics = lambda_metrics(None)?;
    let verifier = auction_aws::jwt::TokenVerifier::new(config::auth()?);
    run(
        metrics,
        service_fn(
            |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| async {
                // The error's message is exactly "Unauthorized" for a refused token: API
                // Gateway's 401.
                crate::ws::authorize(&verifier, event.payload)
                    .await
                    .map_err(Error::from)
            },
        ),
    )
    .await
}

/// Serves the HTTP API behind API Gateway's HTTP API (payload v2).
///
/// # Errors
/// A configuration error at start, or the runtime's.
pub async fn serve_http_api() -> Result<(), Error> {
    init_tracing();
    let metrics = lambda_metrics(None)?;
    let verifier = auction_aws::jwt::TokenVerifier::new(config::auth()?);
    let deps = Adapters::from_env().await?.http_with(
        verifier,
        config::bid_rate()?,
        config::catalog_limits()?,
    );
    run_http(metrics, crate::http::router(deps)).await
}

/// Serves the notifier, the EventBridge rule's target.
///
/// # Errors
/// A configuration error at start, or the runtime's.
pub async fn serve_notifier() -> Result<(), Error> {
    init_tracing();
    let metrics = lambda_metrics(None)?;
    let notifier = Adapters::from_env_with_fanout_workers()
        .await?
        .notifier(config::fanout_concurrency()?);
    run(
        metrics,
        service_fn(
            |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| async {
                notifier.handle(event.payload).await.map_err(Error::from)
            },
        ),
    )
    .await
}

/// Serves the `fanout` worker: one part of a large group's fan-out per invocation
/// ([`crate::fanout::workers::FanOutTask`]), posted at the worker's share of the pool's budget.
///
/// # Errors
/// A configuration error at start, or the runtime's.
pub async fn serve_fanout() -> Result<(), Error> {
    init_tracing();
    let metrics = lambda_metrics(None)?;
    let pool = config::fanout_workers()?
        .map(|(pool, _)| pool)
        .unwrap_or_default();
    let fanout = Adapters::from_env()
        .await?
        .worker_fanout(config::fanout_concurrency()?)
        .with_post_rate(pool.per_worker());
    run(
        metrics,
        service_fn(|event: LambdaEvent<crate::fanout::workers::FanOutTask>| {
            let fanout = &fanout;
            async move {
                let report = fanout.run_task(&event.payload).await?;
                Ok::<_, Error>(serde_json::to_value(report)?)
            }
        }),
    )
    .await
}

/// Serves the price ticker. The EventBridge schedule's event (every minute) makes it the
/// dispatcher: it starts one run per shard of the live index by invoking itself asynchronously
/// with `{"shard": N}` (the Lambda Invoke API at `LAMBDA_ENDPOINT`, or Lambda's own). A shard's
/// run ticks that shard once a second until shortly before the invocation's deadline.
///
/// # Errors
/// A configuration error at start, or the runtime's.
pub async fn serve_price_ticker() -> Result<(), Error> {
    init_tracing();
    // Flushed every second too: a run lasts a minute, and CloudWatch takes at most 100 values
    // of one metric per line.
    let metrics = lambda_metrics(Some(Duration::from_secs(1)))?;
    let deps = Adapters::from_env_with_fanout_workers()
        .await?
        .ticker(config::ticker()?, config::fanout_concurrency()?);
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .map_err(|_| config::ConfigError::Missing("AWS_LAMBDA_FUNCTION_NAME"))?;
    let endpoint = config::lambda_endpoint();
    let starter = auction_aws::invoke::AsyncInvoker::new(
        &auction_aws::sdk::from_env().await,
        endpoint.as_deref(),
        &function,
    )?;
    run(
        metrics,
        service_fn(|event: LambdaEvent<serde_json::Value>| {
            let (deps, starter) = (&deps, &starter);
            async move {
                let shard = match ShardRun::from_event(&event.payload, deps.shards())? {
                    Some(run) => run.shard,
                    None => {
                        let report = dispatch(deps.shards(), starter).await;
                        if !report.failed.is_empty() {
                            return Err(Error::from(format!(
                                "shard runs not started: {:?}",
                                report.failed
                            )));
                        }
                        return Ok(serde_json::to_value(report)?);
                    }
                };
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
                let report = deps.run(shard, tokio::time::Instant::now() + left).await?;
                Ok::<_, Error>(serde_json::to_value(report)?)
            }
        }),
    )
    .await
}
