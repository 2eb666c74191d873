//! `auction-local`: the whole stack in one process, for laptops and end-to-end tests.
//!
//! An embedded DynamoDB-compatible engine (or an external one), the tables created from
//! `infra::tables`, a faithful API Gateway WebSocket emulator with the `@connections` API, and
//! the same handler code the Lambda functions run, reached through the real SDK clients.

pub mod demo;
pub mod eventbridge;
pub mod faults;
pub mod fixtures;
pub mod gateway;
pub mod guard;
pub mod http_api;
pub mod invoke;
pub mod prometheus;
pub mod stats;

use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use auction_app::clock::SystemClock;
use auction_app::compose::{Adapters, Tables};
use auction_app::fanout::workers::WorkerPool;
use auction_app::ticker::TickerConfig;
use auction_aws::eventbridge::EventBridgePublisher;
use auction_aws::jwt::{AuthConfig, TokenVerifier};
use auction_aws::push::SignedPusher;
use auction_core::clock::Clock;
use auction_core::domain::EpochMillis;
use auction_core::rate::RateLimit;
use auction_core::services::{CatalogLimits, MembershipLimits};
use aws_config::{BehaviorVersion, Region};
use aws_sdk_apigatewaymanagement::config::{Credentials, SharedCredentialsProvider};
use infra::embedded::{EmbeddedDynamo, LOCAL_REGION, local_client};
use infra::tables::{AUCTIONS, CONNECTIONS};
use tokio::sync::oneshot;

pub use gateway::Limits;

/// The local tables' names.
pub const CONNECTIONS_TABLE: &str = "auction-local-connections";
/// The local tables' names.
pub const AUCTIONS_TABLE: &str = "auction-local-auctions";
/// The local event bus.
pub const EVENT_BUS: &str = "auction-local-events";
/// The price ticker's function timeout, as in `template.yaml`.
pub const TICKER_TIMEOUT: Duration = Duration::from_secs(70);
/// The price ticker's schedule, `rate(1 minute)`.
pub const TICKER_PERIOD: Duration = Duration::from_secs(60);

/// The wall clock, for what the emulated AWS services stamp (event times, connection times).
pub(crate) fn now() -> EpochMillis {
    SystemClock.now()
}

/// How to run the local stack.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Interface to listen on.
    pub host: String,
    /// Port (0 picks a free one).
    pub port: u16,
    /// An external DynamoDB-compatible endpoint instead of the embedded engine.
    pub dynamodb_endpoint: Option<String>,
    /// Persist the embedded engine here instead of in memory.
    pub data_dir: Option<std::path::PathBuf>,
    /// Create (and keep replacing) the demo auction.
    pub demo: bool,
    /// Token verification.
    pub auth: AuthConfig,
    /// Join/Leave rate limit per connection.
    pub join_rate: RateLimit,
    /// Live WebSocket connections one signed-in user may hold.
    pub max_connections_per_user: u32,
    /// The caps on creating auctions.
    pub catalog: CatalogLimits,
    /// Membership shards per auction.
    pub membership_shards: u32,
    /// Partitions of the live-auctions index.
    pub live_index_shards: u32,
    /// Seconds between `PriceUpdated` pushes per auction (docs/protocol.md section 4).
    pub price_update_interval_seconds: u32,
    /// Seconds between `ViewerCountUpdated` pushes per auction.
    pub viewer_count_interval_seconds: u32,
    /// From this many viewers a group is large (pushed every `large_group_push_interval_seconds`,
    /// its viewer count riding along).
    pub large_group_viewers: u64,
    /// Seconds between `PriceUpdated` pushes to a large group.
    pub large_group_push_interval_seconds: u32,
    /// Bids per user per window.
    pub bid_rate: RateLimit,
    /// `PostToConnection` calls in flight per fan-out.
    pub fanout_concurrency: usize,
    /// The `fanout` workers large groups are split among (in process, or through
    /// `--invoke-url`).
    pub fanout_pool: WorkerPool,
    /// The gateway's idle and lifetime limits.
    pub limits: Limits,
    /// Invoke the functions through this Lambda invoke API (e.g. `cargo lambda watch`'s
    /// `http://127.0.0.1:9000`) instead of in this process.
    pub invoke_url: Option<String>,
    /// Create the auction the events in `tests/events/` refer to.
    pub fixtures: bool,
    /// Allow a `host` that is not a loopback address (the stack has no real secrets).
    pub allow_remote: bool,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 3000,
            dynamodb_endpoint: None,
            data_dir: None,
            demo: true,
            auth: AuthConfig::local_development(),
            join_rate: RateLimit::JOIN_DEFAULT,
            max_connections_per_user: MembershipLimits::default().max_connections_per_user,
            catalog: CatalogLimits::default(),
            membership_shards: 1,
            live_index_shards: 4,
            price_update_interval_seconds: 5,
            viewer_count_interval_seconds: 5,
            large_group_viewers: 1_000,
            large_group_push_interval_seconds: 30,
            bid_rate: RateLimit::BID_DEFAULT,
            fanout_concurrency: auction_app::fanout::DEFAULT_CONCURRENCY,
            fanout_pool: WorkerPool::default(),
            limits: Limits::default(),
            invoke_url: None,
            fixtures: false,
            allow_remote: false,
        }
    }
}

/// Why the stack did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The port could not be bound.
    #[error("could not listen on {addr}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The embedded engine did not start.
    #[error(transparent)]
    Engine(#[from] infra::embedded::EmbeddedError),
    /// The tables could not be created.
    #[error(transparent)]
    Tables(#[from] infra::tables::CreateTableError),
    /// The Management API pusher could not be built.
    #[error(transparent)]
    Pusher(#[from] auction_aws::push::PusherConfigError),
    /// The data directory could not be created.
    #[error("could not create the data directory {0}")]
    DataDir(String, #[source] std::io::Error),
    /// A non-loopback address without `allow_remote`.
    #[error(
        "{0} is reachable from other machines, and auction-local has no real secrets (its \
         development JWT secret is published); pass --allow-remote to listen there anyway"
    )]
    NotLoopback(SocketAddr),
}

/// A running local stack. Dropping it stops serving.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Every adapter, as the functions use them (tests use the stores directly to arrange and
    /// inspect).
    pub adapters: Adapters,
    /// The gateway.
    pub gateway: Arc<gateway::Gateway>,
    /// The local event bus.
    pub bus: Arc<eventbridge::LocalEventBridge>,
    /// The injected faults ([`faults`]; also `/_local/faults`).
    pub faults: Arc<faults::FaultPlan>,
    /// The environment a function run outside this process (`cargo lambda watch`) needs to
    /// use this stack: `KEY=VALUE` lines, also served at `GET /_local/function-env`.
    pub function_env: String,
    /// Receives each demo auction id as it is created.
    pub demo_auctions: tokio::sync::mpsc::UnboundedReceiver<auction_core::domain::AuctionId>,
    _engine: Option<EmbeddedDynamo>,
    shutdown: Option<oneshot::Sender<()>>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// `http://host:port`.
    #[must_use]
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://host:port/ws`.
    #[must_use]
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// A Management API client for this gateway (the real SDK).
    #[must_use]
    pub fn management_client(&self) -> aws_sdk_apigatewaymanagement::Client {
        management_client(&self.http_url())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        for task in &self.background {
            task.abort();
        }
    }
}

/// The SDK configuration of a local endpoint: its URL, the local region, dummy credentials.
#[must_use]
pub fn local_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(LOCAL_REGION))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "local",
            "local",
            None,
            None,
            "auction-local",
        )))
        .endpoint_url(endpoint)
        .http_client(infra::http_client())
        .build()
}

/// A Management API client for a local endpoint, with dummy credentials.
#[must_use]
pub fn management_client(endpoint: &str) -> aws_sdk_apigatewaymanagement::Client {
    aws_sdk_apigatewaymanagement::Client::new(&local_sdk_config(endpoint))
}

/// The environment of a function run outside this process (by `cargo lambda watch`), as
/// `KEY=VALUE` lines: the same variables `template.yaml` sets, pointing at this stack.
fn function_env(config: &LocalConfig, endpoint: &str, dynamodb_endpoint: &str) -> String {
    use auction_app::config::keys;
    use auction_aws::jwt::{KeySource, LOCAL_DEV_SECRET};
    let secret = match &config.auth.keys {
        KeySource::Secret(secret) => String::from_utf8_lossy(secret).into_owned(),
        KeySource::Jwks(_) => LOCAL_DEV_SECRET.to_owned(),
    };
    let vars: Vec<(&str, String)> = vec![
        ("AWS_REGION", LOCAL_REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint.to_owned()),
        ("AWS_ENDPOINT_URL_EVENTBRIDGE", endpoint.to_owned()),
        (keys::LAMBDA_ENDPOINT, endpoint.to_owned()),
        (keys::WEBSOCKET_MANAGEMENT_ENDPOINT, endpoint.to_owned()),
        (keys::CONNECTIONS_TABLE, CONNECTIONS_TABLE.to_owned()),
        (keys::AUCTIONS_TABLE, AUCTIONS_TABLE.to_owned()),
        (keys::EVENT_BUS_NAME, EVENT_BUS.to_owned()),
        (
            keys::MEMBERSHIP_SHARDS,
            config.membership_shards.to_string(),
        ),
        (
            keys::LIVE_INDEX_SHARDS,
            config.live_index_shards.to_string(),
        ),
        (keys::JWT_SECRET, secret),
        (keys::JWT_TENANT_CLAIM, config.auth.tenant_claim.clone()),
        (keys::JWT_ROLES_CLAIM, config.auth.roles_claim.clone()),
        (
            keys::ANONYMOUS_VIEWING,
            config.auth.anonymous_viewing.to_string(),
        ),
        (
            keys::JOIN_RATE_LIMIT,
            config.join_rate.max_calls.to_string(),
        ),
        (
            keys::JOIN_RATE_WINDOW_SECONDS,
            config.join_rate.window_seconds.to_string(),
        ),
        (
            keys::MAX_CONNECTIONS_PER_USER,
            config.max_connections_per_user.to_string(),
        ),
        (
            keys::MAX_LIVE_AUCTIONS_PER_TENANT,
            config.catalog.max_live_auctions_per_tenant.to_string(),
        ),
        (
            keys::RESERVATION_TTL_SECONDS,
            config.catalog.default_reservation_ttl_seconds.to_string(),
        ),
        (
            keys::CREATE_RATE_LIMIT,
            config.catalog.create_rate.max_calls.to_string(),
        ),
        (
            keys::CREATE_RATE_WINDOW_SECONDS,
            config.catalog.create_rate.window_seconds.to_string(),
        ),
        (keys::BID_RATE_LIMIT, config.bid_rate.max_calls.to_string()),
        (
            keys::BID_RATE_WINDOW_SECONDS,
            config.bid_rate.window_seconds.to_string(),
        ),
        (
            keys::PRICE_UPDATE_INTERVAL_SECONDS,
            config.price_update_interval_seconds.to_string(),
        ),
        (
            keys::VIEWER_COUNT_INTERVAL_SECONDS,
            config.viewer_count_interval_seconds.to_string(),
        ),
        (
            keys::LARGE_GROUP_VIEWERS,
            config.large_group_viewers.to_string(),
        ),
        (
            keys::LARGE_GROUP_PUSH_INTERVAL_SECONDS,
            config.large_group_push_interval_seconds.to_string(),
        ),
        (
            keys::FANOUT_CONCURRENCY,
            config.fanout_concurrency.to_string(),
        ),
        (
            keys::FANOUT_FUNCTION,
            invoke::Function::FanOut.name().to_owned(),
        ),
        (
            keys::FANOUT_WORKER_MEMBERS,
            config.fanout_pool.group_viewers.to_string(),
        ),
        (
            keys::FANOUT_POST_BUDGET_PER_SECOND,
            config.fanout_pool.posts_per_second.to_string(),
        ),
        (keys::FANOUT_WORKERS, config.fanout_pool.workers.to_string()),
        // A hand-invoked ticker returns in seconds; auction-local's schedule still calls it every
        // minute.
        (keys::TICKER_RUN_SECONDS, "5".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ];
    vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

/// Starts the stack and returns once it is serving.
///
/// # Errors
/// [`StartError`] when the port, the engine or the tables cannot be had.
pub async fn start(config: LocalConfig) -> Result<Running, StartError> {
    let addr = format!("{}:{}", config.host, config.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    if !addr.ip().is_loopback() {
        if !config.allow_remote {
            return Err(StartError::NotLoopback(addr));
        }
        tracing::warn!(
            %addr,
            "listening beyond this machine (--allow-remote): anyone who reaches {addr} can open \
             sockets, read and create auctions with development tokens signed by the published \
             development secret, and post to connections with any signature; /_local/ stays \
             loopback-only"
        );
    }

    let (engine, dynamo) = match (&config.dynamodb_endpoint, &config.data_dir) {
        (Some(endpoint), _) => (None::<EmbeddedDynamo>, local_client(endpoint)),
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| StartError::DataDir(dir.display().to_string(), e))?;
            let path = dir.join("auction-local.sqlite");
            let engine = EmbeddedDynamo::persistent(&path.to_string_lossy()).await?;
            let client = engine.client();
            (Some(engine), client)
        }
        (None, None) => {
            let engine = EmbeddedDynamo::in_memory().await?;
            let client = engine.client();
            (Some(engine), client)
        }
    };
    let stats = Arc::new(stats::Stats::default());
    let faults = Arc::new(faults::FaultPlan::default());
    let dynamo = aws_sdk_dynamodb::Client::from_conf(
        dynamo
            .config()
            .to_builder()
            .interceptor(stats::CountDynamoRequests(Arc::clone(&stats)))
            .http_client(faults::FaultyHttpClient::new(
                dynamo
                    .config()
                    .http_client()
                    .unwrap_or_else(infra::http_client),
                Arc::clone(&faults),
            ))
            .build(),
    );
    CONNECTIONS.create(&dynamo, CONNECTIONS_TABLE).await?;
    AUCTIONS.create(&dynamo, AUCTIONS_TABLE).await?;

    let endpoint = format!("http://{addr}");
    // The functions' own wiring (auction_app::compose), over local clients: the same signed
    // `POST /@connections/{id}` the functions send in the cloud, over HTTP/2 since this server
    // speaks it, and the real EventBridge client against this server's PutEvents.
    let pusher = Arc::new(SignedPusher::with_http2_prior_knowledge(
        &local_sdk_config(&endpoint),
        &endpoint,
    )?);
    let publisher = Arc::new(EventBridgePublisher::new(
        aws_sdk_eventbridge::Client::new(&local_sdk_config(&endpoint)),
        EVENT_BUS,
    ));
    let tables = Tables {
        connections: CONNECTIONS_TABLE.to_owned(),
        auctions: AUCTIONS_TABLE.to_owned(),
        membership_shards: config.membership_shards,
        live_index_shards: config.live_index_shards,
    };
    let seconds = |s: u32| Duration::from_secs(u64::from(s.max(1)));
    let ticker_config = TickerConfig {
        price_update_interval: seconds(config.price_update_interval_seconds),
        viewer_count_interval: seconds(config.viewer_count_interval_seconds),
        large_group_viewers: config.large_group_viewers.max(1),
        large_group_push_interval: seconds(config.large_group_push_interval_seconds),
        workers: Some(config.fanout_pool),
        ..TickerConfig::default()
    };
    let adapters = Adapters::new(&dynamo, &tables, publisher, pusher, Arc::new(SystemClock))
        .with_cadence(ticker_config.cadence(config.live_index_shards));
    // The workers run in this process as tasks of their own, side by side as Lambda runs them,
    // sharing one pace at the pool's whole budget (Lambda's are paced one by one at their share);
    // under --invoke-url the functions in `cargo lambda watch` start them through this server's
    // Invoke API instead (`FANOUT_FUNCTION`, `LAMBDA_ENDPOINT`).
    let worker = adapters
        .worker_fanout(config.fanout_concurrency)
        .with_post_rate(config.fanout_pool.posts_per_second);
    let adapters = adapters.with_fanout_workers(
        config.fanout_pool,
        Arc::new(invoke::SpawnedWorkers(worker.clone())),
    );
    let invoker: Arc<dyn invoke::Invoker> = match &config.invoke_url {
        Some(url) => Arc::new(invoke::InvokeApi::new(url)),
        None => Arc::new(invoke::InProcess {
            ws: adapters.ws(MembershipLimits {
                join_rate: config.join_rate,
                max_connections_per_user: config.max_connections_per_user,
            }),
            verifier: TokenVerifier::new(config.auth.clone()),
            notifier: adapters.notifier(config.fanout_concurrency),
            ticker: adapters.ticker(ticker_config, config.fanout_concurrency),
            ticker_timeout: TICKER_TIMEOUT,
            fanout_worker: worker,
            http_router: auction_app::http::router(adapters.http_with(
                TokenVerifier::new(config.auth.clone()),
                config.bid_rate,
                config.catalog,
            )),
        }),
    };
    let dynamodb_endpoint = match (&engine, &config.dynamodb_endpoint) {
        (Some(engine), _) => engine.endpoint(),
        (None, Some(endpoint)) => endpoint.clone(),
        (None, None) => String::new(),
    };
    let function_env = function_env(&config, &endpoint, &dynamodb_endpoint);
    let gateway = gateway::Gateway::new(
        Arc::clone(&invoker),
        config.limits,
        addr.to_string(),
        Arc::clone(&stats),
        Arc::clone(&faults),
    );
    let bus = eventbridge::LocalEventBridge::new(
        EVENT_BUS,
        Arc::clone(&invoker),
        Arc::clone(&stats),
        Arc::clone(&faults),
    );
    let http_api = http_api::HttpApi {
        invoker: Arc::clone(&invoker),
        domain_name: addr.to_string(),
    };
    let api_routes = axum::Router::new()
        .route("/api", axum::routing::any(http_api::forward))
        .route("/api/{*path}", axum::routing::any(http_api::forward))
        .with_state(http_api);
    let bus_routes = axum::Router::new()
        .route("/", axum::routing::post(eventbridge::put_events))
        .route_layer(axum::middleware::from_fn(guard::signed_events))
        .with_state(Arc::clone(&bus));
    let stats_routes = axum::Router::new()
        .route("/_local/stats", axum::routing::get(stats::serve))
        .with_state(Arc::clone(&stats));
    let metrics_routes = axum::Router::new()
        .route("/metrics", axum::routing::get(prometheus::serve))
        .with_state(prometheus::handle());
    let env_text = function_env.clone();
    let env_routes = axum::Router::new().route(
        "/_local/function-env",
        axum::routing::get(|| async move { env_text }),
    );
    let app = gateway::routes(Arc::clone(&gateway))
        .merge(demo::routes(&config.auth))
        .merge(api_routes)
        .merge(bus_routes)
        .merge(stats_routes)
        .merge(metrics_routes)
        .merge(env_routes)
        .merge(faults::routes(Arc::clone(&faults)))
        .merge(invoke::lambda_api_routes(
            Arc::clone(&invoker),
            Arc::clone(&stats),
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(guard::allowed_hosts(addr)),
            guard::host_and_caller,
        ));

    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let stop = async move {
            let _ = stopped.await;
        };
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, service)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(error = %e, "server stopped");
        }
    });

    let (demo_tx, demo_auctions) = tokio::sync::mpsc::unbounded_channel();
    let mut background = vec![tokio::spawn(eventbridge::schedule_ticker(
        invoker,
        TICKER_PERIOD,
    ))];
    if config.fixtures {
        fixtures::create(&*adapters.auctions).await;
    }
    if config.demo {
        background.push(tokio::spawn(demo::keep_demo_auction(
            Arc::clone(&adapters.auctions),
            demo_tx,
            config.catalog.default_reservation_ttl_seconds,
        )));
    }
    Ok(Running {
        addr,
        adapters,
        gateway,
        bus,
        faults,
        demo_auctions,
        function_env,
        _engine: engine,
        shutdown: Some(shutdown),
        background,
    })
}
