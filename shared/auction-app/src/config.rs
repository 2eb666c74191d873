//! Configuration from the environment, read once per process (never per invocation). This module
//! only reads: each setting's type and default belong to the module that uses it
//! ([`crate::ticker::TickerConfig`], [`auction_core::rate::RateLimit`], …).

use std::time::Duration;

use auction_aws::jwt::{AuthConfig, KeySource};
use auction_core::domain::PushCadence;
use auction_core::rate::RateLimit;
use auction_core::services::{CatalogLimits, MembershipLimits};

/// Environment keys, as `template.yaml` sets them.
pub mod keys {
    /// The connections table's name.
    pub const CONNECTIONS_TABLE: &str = "CONNECTIONS_TABLE";
    /// The auctions table's name.
    pub const AUCTIONS_TABLE: &str = "AUCTIONS_TABLE";
    /// Membership shards per auction (default 1).
    pub const MEMBERSHIP_SHARDS: &str = "MEMBERSHIP_SHARDS";
    /// Partitions of the live-auctions index (default 1).
    pub const LIVE_INDEX_SHARDS: &str = "LIVE_INDEX_SHARDS";
    /// HS256 secret (local development). Exactly one of this and `JWKS_URL`.
    pub const JWT_SECRET: &str = "JWT_SECRET";
    /// JWKS URL for RS256/ES256 tokens (the cloud).
    pub const JWKS_URL: &str = "JWKS_URL";
    /// The tenant claim's name (default `tenant`; `custom:tenant_id` for Cognito).
    pub const JWT_TENANT_CLAIM: &str = "JWT_TENANT_CLAIM";
    /// The claim carrying the roles (default `roles`).
    pub const JWT_ROLES_CLAIM: &str = "JWT_ROLES_CLAIM";
    /// Expected issuer, when set.
    pub const JWT_ISSUER: &str = "JWT_ISSUER";
    /// Expected audience, when set.
    pub const JWT_AUDIENCE: &str = "JWT_AUDIENCE";
    /// `true` (default) lets clients without a token watch `public` auctions.
    pub const ANONYMOUS_VIEWING: &str = "ANONYMOUS_VIEWING";
    /// Join/Leave calls allowed per connection per window (default 10).
    pub const JOIN_RATE_LIMIT: &str = "JOIN_RATE_LIMIT";
    /// The window of that limit in seconds (default 10).
    pub const JOIN_RATE_WINDOW_SECONDS: &str = "JOIN_RATE_WINDOW_SECONDS";
    /// Auctions without an end one tenant may have (default 100).
    pub const MAX_LIVE_AUCTIONS_PER_TENANT: &str = "MAX_LIVE_AUCTIONS_PER_TENANT";
    /// Auctions one seller may create per window (default 30).
    pub const CREATE_RATE_LIMIT: &str = "CREATE_RATE_LIMIT";
    /// The window of that limit in seconds (default 3600).
    pub const CREATE_RATE_WINDOW_SECONDS: &str = "CREATE_RATE_WINDOW_SECONDS";
    /// A winner's hold when the create body does not say (seconds, 1–86,400).
    pub const RESERVATION_TTL_SECONDS: &str = "RESERVATION_TTL_SECONDS";
    /// Live WebSocket connections one signed-in user may hold (default 10).
    pub const MAX_CONNECTIONS_PER_USER: &str = "MAX_CONNECTIONS_PER_USER";
    /// Bids allowed per user per window (default 10).
    pub const BID_RATE_LIMIT: &str = "BID_RATE_LIMIT";
    /// The window of that limit in seconds (default 1).
    pub const BID_RATE_WINDOW_SECONDS: &str = "BID_RATE_WINDOW_SECONDS";
    /// The EventBridge bus of the domain events.
    pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
    /// Seconds between two `PriceUpdated` of one auction (default 5).
    pub const PRICE_UPDATE_INTERVAL_SECONDS: &str = "PRICE_UPDATE_INTERVAL_SECONDS";
    /// Seconds between two `ViewerCountUpdated` of one auction (default 5).
    pub const VIEWER_COUNT_INTERVAL_SECONDS: &str = "VIEWER_COUNT_INTERVAL_SECONDS";
    /// The Lambda API endpoint the ticker's dispatcher invokes its shard runs at (default:
    /// Lambda's own in the function's region; `auction-local` sets itself).
    pub const LAMBDA_ENDPOINT: &str = "LAMBDA_ENDPOINT";
    /// From this many viewers a group is large (default 1000).
    pub const LARGE_GROUP_VIEWERS: &str = "LARGE_GROUP_VIEWERS";
    /// Seconds between two `PriceUpdated` of a large group, which carries its viewer count
    /// (default 30).
    pub const LARGE_GROUP_PUSH_INTERVAL_SECONDS: &str = "LARGE_GROUP_PUSH_INTERVAL_SECONDS";
    /// `PriceUpdated` posts per second the ticker may spend over all auctions (default 5000).
    pub const TICKER_POST_BUDGET_PER_SECOND: &str = "TICKER_POST_BUDGET_PER_SECOND";
    /// `PostToConnection` calls in flight per fan-out (default 256).
    pub const FANOUT_CONCURRENCY: &str = "FANOUT_CONCURRENCY";
    /// The `fanout` worker function (name or ARN) large groups are split among; unset: every
    /// fan-out runs in the function that sends it.
    pub const FANOUT_FUNCTION: &str = "FANOUT_FUNCTION";
    /// From this many members a group's fan-out is split among workers (default 5000).
    pub const FANOUT_WORKER_MEMBERS: &str = "FANOUT_WORKER_MEMBERS";
    /// Posts per second the fan-out workers may spend in all (default 4000).
    pub const FANOUT_POST_BUDGET_PER_SECOND: &str = "FANOUT_POST_BUDGET_PER_SECOND";
    /// Fan-out workers that run at once at most: the function's reserved concurrency (default 8).
    pub const FANOUT_WORKERS: &str = "FANOUT_WORKERS";
    /// The WebSocket API's management endpoint (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`).
    pub const WEBSOCKET_MANAGEMENT_ENDPOINT: &str = "WEBSOCKET_MANAGEMENT_ENDPOINT";
    /// Seconds one price-ticker run ticks before returning (default 60; a run also stops shortly
    /// before its deadline). Shorter for invoking the function by hand.
    pub const TICKER_RUN_SECONDS: &str = "TICKER_RUN_SECONDS";
    /// The CloudWatch namespace of the metrics (default `AuctionRealtime`).
    pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";
}

/// A setting that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    /// A variable has a value that cannot be used.
    #[error("environment variable {key} is invalid: {reason}")]
    Invalid {
        /// The variable.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

fn var(key: &'static str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

fn required(key: &'static str) -> Result<String, ConfigError> {
    var(key).ok_or(ConfigError::Missing(key))
}

/// A count that must be at least 1.
fn positive(key: &'static str, default: u32) -> Result<u32, ConfigError> {
    match parsed(key, default)? {
        0 => Err(ConfigError::Invalid {
            key,
            reason: "must be positive".into(),
        }),
        n => Ok(n),
    }
}

fn parsed<T: std::str::FromStr>(key: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(key) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|e: T::Err| ConfigError::Invalid {
            key,
            reason: e.to_string(),
        }),
    }
}

/// Reads the tables and their sharding.
///
/// # Errors
/// [`ConfigError`] when a table name is missing or a shard count is not 1–100.
pub fn tables() -> Result<crate::compose::Tables, ConfigError> {
    let shards = |key: &'static str, max: u32| -> Result<u32, ConfigError> {
        let count = parsed(key, 1_u32)?;
        if (1..=max).contains(&count) {
            Ok(count)
        } else {
            Err(ConfigError::Invalid {
                key,
                reason: format!("must be from 1 to {max}"),
            })
        }
    };
    Ok(crate::compose::Tables {
        connections: required(keys::CONNECTIONS_TABLE)?,
        auctions: required(keys::AUCTIONS_TABLE)?,
        membership_shards: shards(
            keys::MEMBERSHIP_SHARDS,
            auction_aws::dynamo::MAX_MEMBERSHIP_SHARDS,
        )?,
        live_index_shards: shards(
            keys::LIVE_INDEX_SHARDS,
            auction_aws::dynamo::MAX_LIVE_INDEX_SHARDS,
        )?,
    })
}

/// Reads token verification settings from the environment.
///
/// # Errors
/// [`ConfigError`] when neither or both of `JWT_SECRET` and `JWKS_URL` are set.
pub fn auth() -> Result<AuthConfig, ConfigError> {
    let keys = match (var(keys::JWT_SECRET), var(keys::JWKS_URL)) {
        (Some(secret), None) => KeySource::Secret(secret.into_bytes()),
        (None, Some(url)) => KeySource::Jwks(url),
        (None, None) => {
            return Err(ConfigError::Invalid {
                key: keys::JWKS_URL,
                reason: format!(
                    "set {} (cloud) or {} (local)",
                    keys::JWKS_URL,
                    keys::JWT_SECRET
                ),
            });
        }
        (Some(_), Some(_)) => {
            return Err(ConfigError::Invalid {
                key: keys::JWT_SECRET,
                reason: format!(
                    "set only one of {} and {}",
                    keys::JWKS_URL,
                    keys::JWT_SECRET
                ),
            });
        }
    };
    Ok(AuthConfig {
        keys,
        tenant_claim: var(keys::JWT_TENANT_CLAIM).unwrap_or_else(|| "tenant".into()),
        roles_claim: var(keys::JWT_ROLES_CLAIM).unwrap_or_else(|| "roles".into()),
        issuer: var(keys::JWT_ISSUER),
        audience: var(keys::JWT_AUDIENCE),
        anonymous_viewing: parsed(keys::ANONYMOUS_VIEWING, true)?,
    })
}

fn rate_limit_from_env(
    limit_key: &'static str,
    window_key: &'static str,
    defaults: RateLimit,
) -> Result<RateLimit, ConfigError> {
    let limit = RateLimit {
        max_calls: parsed(limit_key, defaults.max_calls)?,
        window_seconds: parsed(window_key, defaults.window_seconds)?,
    };
    if limit.max_calls == 0 || limit.window_seconds == 0 {
        return Err(ConfigError::Invalid {
            key: limit_key,
            reason: "limit and window must be positive".into(),
        });
    }
    Ok(limit)
}

/// Reads the Join/Leave rate limit from the environment.
///
/// # Errors
/// [`ConfigError::Invalid`] for a value that is not a positive number.
pub fn join_rate() -> Result<RateLimit, ConfigError> {
    rate_limit_from_env(
        keys::JOIN_RATE_LIMIT,
        keys::JOIN_RATE_WINDOW_SECONDS,
        RateLimit::JOIN_DEFAULT,
    )
}

/// Reads the WebSocket routes' limits (the Join/Leave rate, the connections per user).
///
/// # Errors
/// [`ConfigError::Invalid`] for a value that is not a positive number.
pub fn membership_limits() -> Result<MembershipLimits, ConfigError> {
    let defaults = MembershipLimits::default();
    Ok(MembershipLimits {
        join_rate: join_rate()?,
        max_connections_per_user: positive(
            keys::MAX_CONNECTIONS_PER_USER,
            defaults.max_connections_per_user,
        )?,
    })
}

/// Reads the caps on creating auctions.
///
/// # Errors
/// [`ConfigError::Invalid`] for a value that is not a positive number.
pub fn catalog_limits() -> Result<CatalogLimits, ConfigError> {
    let defaults = CatalogLimits::default();
    Ok(CatalogLimits {
        max_live_auctions_per_tenant: positive(
            keys::MAX_LIVE_AUCTIONS_PER_TENANT,
            defaults.max_live_auctions_per_tenant,
        )?,
        create_rate: rate_limit_from_env(
            keys::CREATE_RATE_LIMIT,
            keys::CREATE_RATE_WINDOW_SECONDS,
            defaults.create_rate,
        )?,
        default_reservation_ttl_seconds: match positive(
            keys::RESERVATION_TTL_SECONDS,
            defaults.default_reservation_ttl_seconds,
        )? {
            ttl if u64::from(ttl)
                <= auction_core::domain::create::limits::MAX_RESERVATION_TTL_SECONDS =>
            {
                ttl
            }
            _ => {
                return Err(ConfigError::Invalid {
                    key: keys::RESERVATION_TTL_SECONDS,
                    reason: "must be at most 86400".into(),
                });
            }
        },
    })
}

/// Reads the per-user bid rate limit from the environment.
///
/// # Errors
/// [`ConfigError::Invalid`] for a value that is not a positive number.
pub fn bid_rate() -> Result<RateLimit, ConfigError> {
    rate_limit_from_env(
        keys::BID_RATE_LIMIT,
        keys::BID_RATE_WINDOW_SECONDS,
        RateLimit::BID_DEFAULT,
    )
}

/// Reads the event bus name.
///
/// # Errors
/// [`ConfigError::Missing`].
pub fn event_bus() -> Result<String, ConfigError> {
    required(keys::EVENT_BUS_NAME)
}

/// Reads the cadence snapshots announce: the ticker's `PRICE_UPDATE_INTERVAL_SECONDS`,
/// `LARGE_GROUP_VIEWERS` and `LARGE_GROUP_PUSH_INTERVAL_SECONDS`, which `template.yaml` gives
/// every function.
///
/// # Errors
/// [`ConfigError::Invalid`] for an interval that is not a positive number of seconds.
pub fn push_cadence() -> Result<PushCadence, ConfigError> {
    Ok(ticker()?.cadence(tables()?.live_index_shards))
}

/// Reads the ticker's intervals.
///
/// # Errors
/// [`ConfigError::Invalid`] for an interval that is not a positive number of seconds.
pub fn ticker() -> Result<crate::ticker::TickerConfig, ConfigError> {
    let defaults = crate::ticker::TickerConfig::default();
    let seconds = |key: &'static str, default: Duration| -> Result<Duration, ConfigError> {
        let default = u32::try_from(default.as_secs()).unwrap_or(u32::MAX);
        let value: u32 = parsed(key, default)?;
        if value == 0 {
            return Err(ConfigError::Invalid {
                key,
                reason: "must be at least 1".into(),
            });
        }
        Ok(Duration::from_secs(u64::from(value)))
    };
    Ok(crate::ticker::TickerConfig {
        price_update_interval: seconds(
            keys::PRICE_UPDATE_INTERVAL_SECONDS,
            defaults.price_update_interval,
        )?,
        viewer_count_interval: seconds(
            keys::VIEWER_COUNT_INTERVAL_SECONDS,
            defaults.viewer_count_interval,
        )?,
        post_budget_per_second: parsed(
            keys::TICKER_POST_BUDGET_PER_SECOND,
            defaults.post_budget_per_second,
        )?
        .max(1),
        run_for: seconds(keys::TICKER_RUN_SECONDS, defaults.run_for)?,
        large_group_viewers: parsed(keys::LARGE_GROUP_VIEWERS, defaults.large_group_viewers)?
            .max(1),
        large_group_push_interval: seconds(
            keys::LARGE_GROUP_PUSH_INTERVAL_SECONDS,
            defaults.large_group_push_interval,
        )?,
        workers: fanout_workers()?.map(|(pool, _)| pool),
        ..defaults
    })
}

/// Reads the fan-out workers' pool and function: `None` when `FANOUT_FUNCTION` is unset.
///
/// # Errors
/// [`ConfigError::Invalid`] for a count that is not a positive number.
pub fn fanout_workers() -> Result<Option<(crate::fanout::workers::WorkerPool, String)>, ConfigError>
{
    let Some(function) = var(keys::FANOUT_FUNCTION) else {
        return Ok(None);
    };
    let defaults = crate::fanout::workers::WorkerPool::default();
    let members = positive(
        keys::FANOUT_WORKER_MEMBERS,
        u32::try_from(defaults.group_viewers).unwrap_or(u32::MAX),
    )?;
    let pool = crate::fanout::workers::WorkerPool {
        group_viewers: u64::from(members),
        posts_per_second: positive(
            keys::FANOUT_POST_BUDGET_PER_SECOND,
            defaults.posts_per_second,
        )?,
        workers: positive(keys::FANOUT_WORKERS, defaults.workers)?,
    };
    Ok(Some((pool, function)))
}

/// Reads the fan-out concurrency.
///
/// # Errors
/// [`ConfigError::Invalid`] for a value that is not a positive number.
pub fn fanout_concurrency() -> Result<usize, ConfigError> {
    let value = parsed(keys::FANOUT_CONCURRENCY, crate::fanout::DEFAULT_CONCURRENCY)?;
    if value == 0 {
        return Err(ConfigError::Invalid {
            key: keys::FANOUT_CONCURRENCY,
            reason: "must be at least 1".into(),
        });
    }
    Ok(value)
}

/// The Lambda API's endpoint for the ticker's dispatcher (`LAMBDA_ENDPOINT`), when not Lambda's
/// own: `auction-local` sets it to itself.
#[must_use]
pub fn lambda_endpoint() -> Option<String> {
    var(keys::LAMBDA_ENDPOINT)
}

/// Reads the management endpoint.
///
/// # Errors
/// [`ConfigError::Missing`].
pub fn management_endpoint() -> Result<String, ConfigError> {
    required(keys::WEBSOCKET_MANAGEMENT_ENDPOINT)
}

/// Reads the CloudWatch namespace of the metrics, when set.
#[must_use]
pub fn metrics_namespace() -> Option<String> {
    var(keys::METRICS_NAMESPACE)
}
