//! Process start-up shared by every function's `main.rs`: tracing, configuration and SDK
//! clients, each built once per process (never per invocation).

use std::sync::Arc;

use crate::config::{self, ConfigError, StoreConfig};
use crate::dynamo::{DynamoAuctions, DynamoConnections};
use crate::events::EventBridgePublisher;
use crate::fanout::FanOut;
use crate::push::SignedPusher;
use crate::ticker::TickerDeps;
use crate::ws::WsDeps;

/// JSON logs to stdout (CloudWatch), filtered by `RUST_LOG` or Lambda's `AWS_LAMBDA_LOG_LEVEL`.
pub fn init_tracing() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into())
        .to_lowercase();
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .with_current_span(false)
        .without_time() // CloudWatch stamps every line
        .with_target(false)
        .try_init();
}

/// The AWS SDK configuration from the environment (region, credentials, and endpoint overrides
/// such as `AWS_ENDPOINT_URL_DYNAMODB`).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(infra::http_client())
        .load()
        .await
}

/// The dependencies of the WebSocket route handlers, from the environment.
///
/// # Errors
/// [`ConfigError`] naming the missing or invalid variable.
pub async fn ws_deps_from_env() -> Result<WsDeps, ConfigError> {
    let stores = StoreConfig::from_env()?;
    let join_rate = config::join_rate_limit_from_env()?;
    let endpoint = config::management_endpoint_from_env()?;
    let sdk = sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let pusher = pusher(&sdk, &endpoint)?;
    Ok(WsDeps {
        connections: Arc::new(DynamoConnections::new(
            dynamo.clone(),
            stores.connections_table,
            stores.membership_shards,
        )),
        auctions: Arc::new(DynamoAuctions::new(dynamo, stores.auctions_table)),
        pusher: Arc::new(pusher),
        join_rate,
    })
}

/// The dependencies of the HTTP API, from the environment.
///
/// # Errors
/// [`ConfigError`] naming the missing or invalid variable.
pub async fn api_deps_from_env() -> Result<crate::api::ApiDeps, ConfigError> {
    let stores = StoreConfig::from_env()?;
    let verifier = crate::auth::TokenVerifier::new(config::auth_from_env()?);
    let bid_rate = config::bid_rate_limit_from_env()?;
    let bus = config::event_bus_from_env()?;
    let sdk = sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    Ok(crate::api::ApiDeps {
        connections: Arc::new(DynamoConnections::new(
            dynamo.clone(),
            stores.connections_table,
            stores.membership_shards,
        )),
        auctions: Arc::new(DynamoAuctions::new(dynamo, stores.auctions_table)),
        verifier,
        publisher: Arc::new(EventBridgePublisher::new(
            aws_sdk_eventbridge::Client::new(&sdk),
            bus,
        )),
        bid_rate,
        finished: Arc::default(),
    })
}

/// The Management API pusher for `endpoint`, signing with `sdk`'s region and credentials.
///
/// # Errors
/// [`ConfigError`] when the endpoint is not a URL or the environment lacks a region.
pub fn pusher(sdk: &aws_config::SdkConfig, endpoint: &str) -> Result<SignedPusher, ConfigError> {
    SignedPusher::new(sdk, endpoint).map_err(|e| ConfigError::Invalid {
        key: config::keys::WEBSOCKET_MANAGEMENT_ENDPOINT,
        reason: e.to_string(),
    })
}

/// The notifier's fan-out, from the environment.
///
/// # Errors
/// [`ConfigError`] naming the missing or invalid variable.
pub async fn fanout_from_env() -> Result<FanOut, ConfigError> {
    let stores = StoreConfig::from_env()?;
    let endpoint = config::management_endpoint_from_env()?;
    let concurrency = config::fanout_concurrency_from_env()?;
    let sdk = sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    Ok(FanOut::new(
        Arc::new(DynamoConnections::new(
            dynamo,
            stores.connections_table,
            stores.membership_shards,
        )),
        Arc::new(pusher(&sdk, &endpoint)?),
        concurrency,
    ))
}

/// The price ticker's dependencies, from the environment.
///
/// # Errors
/// [`ConfigError`] naming the missing or invalid variable.
pub async fn ticker_deps_from_env() -> Result<TickerDeps, ConfigError> {
    let stores = StoreConfig::from_env()?;
    let endpoint = config::management_endpoint_from_env()?;
    let concurrency = config::fanout_concurrency_from_env()?;
    let bus = config::event_bus_from_env()?;
    let ticker = config::ticker_from_env()?;
    let sdk = sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let connections = Arc::new(DynamoConnections::new(
        dynamo.clone(),
        stores.connections_table,
        stores.membership_shards,
    ));
    let auctions = Arc::new(DynamoAuctions::new(dynamo, stores.auctions_table));
    Ok(TickerDeps {
        auctions: auctions.clone(),
        connections: connections.clone(),
        lease: auctions,
        publisher: Arc::new(EventBridgePublisher::new(
            aws_sdk_eventbridge::Client::new(&sdk),
            bus,
        )),
        fanout: FanOut::new(connections, Arc::new(pusher(&sdk, &endpoint)?), concurrency),
        config: ticker,
    })
}
