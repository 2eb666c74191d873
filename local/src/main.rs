//! `auction-local`: runs the whole stack in one process (see the crate docs), or prints a
//! development token.

use std::io::Write;
use std::time::Duration;

use auction_aws::jwt::{LOCAL_DEV_SECRET, sign_dev_token};
use auction_core::identity::Identity;
use auction_core::rate::RateLimit;
use clap::{Parser, Subcommand};

/// mimalloc: under a 10,000-viewer fan-out glibc's malloc took a quarter of the process's CPU
/// (`_int_malloc`, `malloc_consolidate`); see docs/performance.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "auction-local",
    version,
    about = "The Dutch-auction real-time stack on one machine: no AWS account, no Docker"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Interface to listen on.
    #[arg(long, env = "AUCTION_LOCAL_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Allow a `--host` other machines can reach (the stack's secrets are published ones).
    #[arg(long, env = "AUCTION_LOCAL_ALLOW_REMOTE")]
    allow_remote: bool,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "AUCTION_LOCAL_PORT", default_value_t = 3000)]
    port: u16,
    /// Use this DynamoDB-compatible endpoint instead of the embedded engine.
    #[arg(
        long,
        env = "AUCTION_LOCAL_DYNAMODB_ENDPOINT",
        conflicts_with = "data_dir"
    )]
    dynamodb_endpoint: Option<String>,
    /// Persist the embedded engine's data in this directory.
    #[arg(long, env = "AUCTION_LOCAL_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// Do not create the demo auction.
    #[arg(long, env = "AUCTION_LOCAL_NO_DEMO")]
    no_demo: bool,
    /// Membership shards per auction.
    #[arg(long, env = "AUCTION_LOCAL_MEMBERSHIP_SHARDS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    membership_shards: u32,
    /// Partitions of the live-auctions index (the price ticker reads them all).
    #[arg(long, env = "AUCTION_LOCAL_LIVE_INDEX_SHARDS", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100))]
    live_index_shards: u32,
    /// Seconds between `PriceUpdated` pushes per auction (read by the price ticker).
    #[arg(long, env = "AUCTION_LOCAL_PRICE_UPDATE_INTERVAL", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    price_update_interval: u32,
    /// Seconds between `ViewerCountUpdated` pushes per auction (read by the price ticker).
    #[arg(long, env = "AUCTION_LOCAL_VIEWER_COUNT_INTERVAL", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    viewer_count_interval: u32,
    /// From this many viewers a group is large: pushed every `--large-group-push-interval`
    /// seconds, its viewer count riding along on `PriceUpdated`.
    #[arg(long, env = "AUCTION_LOCAL_LARGE_GROUP_VIEWERS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    large_group_viewers: u64,
    /// Seconds between `PriceUpdated` pushes to a large group.
    #[arg(long, env = "AUCTION_LOCAL_LARGE_GROUP_PUSH_INTERVAL", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    large_group_push_interval: u32,
    /// `PostToConnection` calls in flight per fan-out (the functions' `FANOUT_CONCURRENCY`).
    #[arg(long, env = "AUCTION_LOCAL_FANOUT_CONCURRENCY", default_value_t = auction_app::fanout::DEFAULT_CONCURRENCY, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    fanout_concurrency: usize,
    /// From this many members a group's fan-out is split by membership shard among `fanout`
    /// workers (the functions' `FANOUT_WORKER_MEMBERS`; needs `--membership-shards` ≥ 2).
    #[arg(long, env = "AUCTION_LOCAL_FANOUT_WORKER_MEMBERS", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    fanout_worker_members: u64,
    /// Posts per second the `fanout` workers may spend in all (`FANOUT_POST_BUDGET_PER_SECOND`).
    #[arg(long, env = "AUCTION_LOCAL_FANOUT_POST_BUDGET", default_value_t = 4_000, value_parser = clap::value_parser!(u32).range(1..))]
    fanout_post_budget: u32,
    /// `fanout` workers that run at once at most; each posts at the budget over this
    /// (`FANOUT_WORKERS`).
    #[arg(long, env = "AUCTION_LOCAL_FANOUT_WORKERS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1000))]
    fanout_workers: u32,
    /// Live WebSocket connections one signed-in user may hold (`MAX_CONNECTIONS_PER_USER`).
    #[arg(long, env = "AUCTION_LOCAL_MAX_CONNECTIONS_PER_USER", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections_per_user: u32,
    /// Auctions without an end one tenant may have (`MAX_LIVE_AUCTIONS_PER_TENANT`).
    #[arg(long, env = "AUCTION_LOCAL_MAX_LIVE_AUCTIONS_PER_TENANT", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    max_live_auctions_per_tenant: u32,
    /// Auctions one seller may create per window (`CREATE_RATE_LIMIT`).
    #[arg(long, env = "AUCTION_LOCAL_CREATE_RATE_LIMIT", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    create_rate_limit: u32,
    /// A winner's hold in seconds when the create body has no `reservationTtlSeconds`
    /// (`RESERVATION_TTL_SECONDS`): e.g. 30 to watch an unpaid hold lapse and its item come back.
    #[arg(long, env = "AUCTION_LOCAL_RESERVATION_TTL_SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..=86_400))]
    reservation_ttl_seconds: u32,
    /// The window of the create limit in seconds (`CREATE_RATE_WINDOW_SECONDS`).
    #[arg(long, env = "AUCTION_LOCAL_CREATE_RATE_WINDOW_SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(u32).range(1..))]
    create_rate_window_seconds: u32,
    /// Bids allowed per user per window (the `http-api` function's `BID_RATE_LIMIT`).
    #[arg(long, env = "AUCTION_LOCAL_BID_RATE_LIMIT", default_value_t = RateLimit::BID_DEFAULT.max_calls, value_parser = clap::value_parser!(u32).range(1..))]
    bid_rate_limit: u32,
    /// The window of the bid rate limit in seconds (`BID_RATE_WINDOW_SECONDS`).
    #[arg(long, env = "AUCTION_LOCAL_BID_RATE_WINDOW_SECONDS", default_value_t = RateLimit::BID_DEFAULT.window_seconds, value_parser = clap::value_parser!(u32).range(1..))]
    bid_rate_window_seconds: u32,
    /// Close a WebSocket with no traffic after this many seconds (API Gateway: 600).
    #[arg(
        long,
        env = "AUCTION_LOCAL_IDLE_TIMEOUT_SECONDS",
        default_value_t = 600
    )]
    idle_timeout_seconds: u64,
    /// Close any WebSocket after this many seconds (API Gateway: 7200).
    #[arg(
        long,
        env = "AUCTION_LOCAL_MAX_CONNECTION_SECONDS",
        default_value_t = 7200
    )]
    max_connection_seconds: u64,
    /// Invoke the functions through this Lambda invoke API instead of in this process, e.g.
    /// `http://127.0.0.1:9000` for `cargo lambda watch` (see docs/local.md).
    #[arg(long, env = "AUCTION_LOCAL_INVOKE_URL")]
    invoke_url: Option<String>,
    /// Write the functions' environment (KEY=VALUE lines for `cargo lambda watch --env-file`)
    /// to this file once the stack is up.
    #[arg(long, env = "AUCTION_LOCAL_FUNCTION_ENV_FILE")]
    function_env_file: Option<std::path::PathBuf>,
    /// Create the auction the events in tests/events/ refer to.
    #[arg(long, env = "AUCTION_LOCAL_FIXTURES")]
    fixtures: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a signed development JWT for the local secret and exit.
    Token {
        /// The user id (`sub`).
        #[arg(long)]
        sub: String,
        /// The tenant id.
        #[arg(long)]
        tenant: String,
        /// A role (repeatable), e.g. `seller`.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    if let Some(Command::Token {
        sub,
        tenant,
        roles,
        ttl,
    }) = cli.command
    {
        let identity = Identity {
            user_id: Some(sub),
            tenant_id: tenant,
            roles,
        };
        let token = sign_dev_token(
            LOCAL_DEV_SECRET.as_bytes(),
            "tenant",
            &identity,
            auction_core::clock::Clock::now(&auction_app::clock::SystemClock).plus_seconds(ttl),
        )?;
        println!("{token}");
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = local::LocalConfig {
        host: cli.host,
        port: cli.port,
        dynamodb_endpoint: cli.dynamodb_endpoint,
        data_dir: cli.data_dir,
        demo: !cli.no_demo,
        membership_shards: cli.membership_shards,
        live_index_shards: cli.live_index_shards,
        price_update_interval_seconds: cli.price_update_interval,
        viewer_count_interval_seconds: cli.viewer_count_interval,
        large_group_viewers: cli.large_group_viewers,
        large_group_push_interval_seconds: cli.large_group_push_interval,
        fanout_concurrency: cli.fanout_concurrency,
        fanout_pool: auction_app::fanout::workers::WorkerPool {
            group_viewers: cli.fanout_worker_members,
            posts_per_second: cli.fanout_post_budget,
            workers: cli.fanout_workers,
        },
        max_connections_per_user: cli.max_connections_per_user,
        catalog: auction_core::services::CatalogLimits {
            max_live_auctions_per_tenant: cli.max_live_auctions_per_tenant,
            create_rate: RateLimit {
                max_calls: cli.create_rate_limit,
                window_seconds: cli.create_rate_window_seconds,
            },
            default_reservation_ttl_seconds: cli.reservation_ttl_seconds,
        },
        bid_rate: RateLimit {
            max_calls: cli.bid_rate_limit,
            window_seconds: cli.bid_rate_window_seconds,
        },
        limits: local::Limits {
            idle_timeout: Duration::from_secs(cli.idle_timeout_seconds),
            max_connection_duration: Duration::from_secs(cli.max_connection_seconds),
            ..local::Limits::default()
        },
        invoke_url: cli.invoke_url,
        fixtures: cli.fixtures,
        allow_remote: cli.allow_remote,
        ..local::LocalConfig::default()
    };
    let mut running = local::start(config).await?;
    if let Some(path) = &cli.function_env_file {
        std::fs::write(path, &running.function_env)
            .map_err(|e| format!("could not write {}: {e}", path.display()))?;
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {}", running.http_url())?;
    stdout.flush()?;
    loop {
        tokio::select! {
            id = running.demo_auctions.recv() => match id {
                Some(id) => {
                    writeln!(stdout, "demo auction {id}")?;
                    stdout.flush()?;
                }
                None => std::future::pending::<()>().await,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(())
}
