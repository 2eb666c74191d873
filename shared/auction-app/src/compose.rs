//! The composition root: the one place the adapters are built and wired into the handlers'
//! dependencies. The Lambda functions reach it through [`Adapters::from_env`]; `auction-local`
//! builds the same [`Adapters`] over its local clients with [`Adapters::new`] and then asks for
//! the same parts, so local wiring cannot drift from the cloud's.

use std::sync::Arc;

use auction_aws::dynamo::{
    DynamoAuctions, DynamoBids, DynamoConnections, DynamoDepartures, DynamoGroups, DynamoOutbox,
    DynamoRateLimits, DynamoReservations, DynamoTickerLease,
};
use auction_aws::eventbridge::EventBridgePublisher;
use auction_aws::invoke::AsyncInvoker;
use auction_aws::jwt::TokenVerifier;
use auction_aws::push::SignedPusher;
use auction_core::clock::Clock;
use auction_core::domain::PushCadence;
use auction_core::ports::reservations::ReservationStore;
use auction_core::ports::{
    AuctionStore, BidStore, ConnectionStore, Departures, EventPublisher, GroupStore, Outbox,
    Pusher, RateLimiter, TickerLease,
};
use auction_core::rate::RateLimit;
use auction_core::services::{
    Bidding, BiddingDeps, Catalog, CatalogLimits, Checkout, Membership, MembershipLimits,
};

use crate::clock::SystemClock;
use crate::config::{self, ConfigError};
use crate::fanout::FanOut;
use crate::fanout::workers::{TaskStarter, WorkerPool};
use crate::http::HttpDeps;
use crate::notifier::Notifier;
use crate::ticker::{TickerConfig, TickerDeps};
use crate::ws::WsDeps;

/// The two tables and the sharding of groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// The connections table's name.
    pub connections: String,
    /// The auctions table's name.
    pub auctions: String,
    /// Membership shards per auction (fixed while connections exist).
    pub membership_shards: u32,
    /// Partitions of the live-auctions index (may grow while auctions are live, never shrink).
    pub live_index_shards: u32,
}

/// Every adapter of the ports, built once per process.
#[derive(Clone)]
pub struct Adapters {
    /// Auctions.
    pub auctions: Arc<dyn AuctionStore>,
    /// Bid records and sales.
    pub bids: Arc<dyn BidStore>,
    /// Reservations (holds).
    pub reservations: Arc<dyn ReservationStore>,
    /// The outbox of announcements.
    pub outbox: Arc<dyn Outbox>,
    /// The ticker's lease.
    pub lease: Arc<dyn TickerLease>,
    /// Connections.
    pub connections: Arc<dyn ConnectionStore>,
    /// Groups and viewer counts.
    pub groups: Arc<dyn GroupStore>,
    /// Rate-limit budgets.
    pub rate_limits: Arc<dyn RateLimiter>,
    /// Departures.
    pub departures: Arc<dyn Departures>,
    /// The event bus.
    pub publisher: Arc<dyn EventPublisher>,
    /// The Management API.
    pub pusher: Arc<dyn Pusher>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The ticker's cadence, which snapshots announce (default: the ticker's default interval;
    /// set it with [`Adapters::with_cadence`] to the interval the ticker really runs).
    pub cadence: PushCadence,
    /// The fan-out workers large groups are split among, when there are
    /// ([`Adapters::with_fanout_workers`]).
    pub fanout_workers: Option<(WorkerPool, Arc<dyn TaskStarter>)>,
}

impl Adapters {
    /// These adapters with snapshots announcing `cadence`.
    #[must_use]
    pub fn with_cadence(mut self, cadence: PushCadence) -> Self {
        self.cadence = cadence;
        self
    }

    /// These adapters with large groups' fan-outs split among workers that `starter` starts.
    #[must_use]
    pub fn with_fanout_workers(mut self, pool: WorkerPool, starter: Arc<dyn TaskStarter>) -> Self {
        self.fanout_workers = Some((pool, starter));
        self
    }

    /// The DynamoDB adapters over `dynamo` and `tables`, with the given bus, pusher and clock.
    #[must_use]
    pub fn new(
        dynamo: &aws_sdk_dynamodb::Client,
        tables: &Tables,
        publisher: Arc<dyn EventPublisher>,
        pusher: Arc<dyn Pusher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let groups = DynamoGroups::new(
            dynamo.clone(),
            &tables.connections,
            tables.membership_shards,
        );
        Self {
            auctions: Arc::new(
                DynamoAuctions::new(dynamo.clone(), &tables.auctions)
                    .with_live_shards(tables.live_index_shards),
            ),
            bids: Arc::new(
                DynamoBids::new(dynamo.clone(), &tables.auctions)
                    .with_hold_shards(tables.live_index_shards),
            ),
            reservations: Arc::new(DynamoReservations::new(dynamo.clone(), &tables.auctions)),
            outbox: Arc::new(DynamoOutbox::new(dynamo.clone(), &tables.auctions)),
            lease: Arc::new(DynamoTickerLease::new(dynamo.clone(), &tables.auctions)),
            connections: Arc::new(DynamoConnections::new(
                dynamo.clone(),
                &tables.connections,
                groups.clone(),
            )),
            groups: Arc::new(groups),
            rate_limits: Arc::new(DynamoRateLimits::new(dynamo.clone(), &tables.connections)),
            departures: Arc::new(DynamoDepartures::new(dynamo.clone(), &tables.connections)),
            publisher,
            pusher,
            clock,
            cadence: PushCadence::default(),
            fanout_workers: None,
        }
    }

    /// The adapters of a deployed function: tables, bus and Management API endpoint from the
    /// environment (`template.yaml` sets them for every function), the SDK's configuration
    /// from the environment, the wall clock.
    ///
    /// # Errors
    /// [`ConfigError`] naming the missing or invalid variable.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let tables = config::tables()?;
        let bus = config::event_bus()?;
        let endpoint = config::management_endpoint()?;
        let sdk = auction_aws::sdk::from_env().await;
        let pusher = SignedPusher::new(&sdk, &endpoint).map_err(|e| ConfigError::Invalid {
            key: config::keys::WEBSOCKET_MANAGEMENT_ENDPOINT,
            reason: e.to_string(),
        })?;
        Ok(Self::new(
            &aws_sdk_dynamodb::Client::new(&sdk),
            &tables,
            Arc::new(EventBridgePublisher::new(
                aws_sdk_eventbridge::Client::new(&sdk),
                bus,
            )),
            Arc::new(pusher),
            Arc::new(SystemClock),
        )
        .with_cadence(config::push_cadence()?))
    }

    /// [`Adapters::from_env`], with large groups' fan-outs split among the `fanout` workers
    /// named by `FANOUT_FUNCTION` (when set): what the notifier and the price ticker use. The
    /// other functions never fan out to a group, so they do not link the Lambda invoker.
    ///
    /// # Errors
    /// [`ConfigError`] naming the missing or invalid variable.
    pub async fn from_env_with_fanout_workers() -> Result<Self, ConfigError> {
        let adapters = Self::from_env().await?;
        let Some((pool, function)) = config::fanout_workers()? else {
            return Ok(adapters);
        };
        let sdk = auction_aws::sdk::from_env().await;
        let endpoint = config::lambda_endpoint();
        let invoker = AsyncInvoker::new(&sdk, endpoint.as_deref(), &function).map_err(|e| {
            ConfigError::Invalid {
                key: config::keys::FANOUT_FUNCTION,
                reason: e.to_string(),
            }
        })?;
        Ok(adapters.with_fanout_workers(pool, Arc::new(invoker)))
    }

    /// The membership use cases, within `limits`.
    #[must_use]
    pub fn membership(&self, limits: MembershipLimits) -> Membership {
        Membership {
            connections: Arc::clone(&self.connections),
            groups: Arc::clone(&self.groups),
            rate_limits: Arc::clone(&self.rate_limits),
            auctions: Arc::clone(&self.auctions),
            departures: Arc::clone(&self.departures),
            clock: Arc::clone(&self.clock),
            join_rate: limits.join_rate,
            max_connections_per_user: limits.max_connections_per_user,
            cadence: self.cadence,
        }
    }

    /// What the WebSocket route handlers need.
    #[must_use]
    pub fn ws(&self, limits: MembershipLimits) -> WsDeps {
        WsDeps {
            membership: Arc::new(self.membership(limits)),
            pusher: Arc::clone(&self.pusher),
            clock: Arc::clone(&self.clock),
        }
    }

    /// What the HTTP API needs, with `bid_rate` bids per user and the default caps on creating
    /// ([`Adapters::http_with`] sets those too).
    #[must_use]
    pub fn http(&self, verifier: TokenVerifier, bid_rate: RateLimit) -> HttpDeps {
        self.http_with(verifier, bid_rate, CatalogLimits::default())
    }

    /// What the HTTP API needs, within these limits.
    #[must_use]
    pub fn http_with(
        &self,
        verifier: TokenVerifier,
        bid_rate: RateLimit,
        catalog: CatalogLimits,
    ) -> HttpDeps {
        HttpDeps {
            verifier,
            catalog: Arc::new(Catalog {
                auctions: Arc::clone(&self.auctions),
                groups: Arc::clone(&self.groups),
                publisher: Arc::clone(&self.publisher),
                rate_limits: Arc::clone(&self.rate_limits),
                clock: Arc::clone(&self.clock),
                limits: catalog,
                cadence: self.cadence,
            }),
            bidding: Arc::new(Bidding::new(BiddingDeps {
                auctions: Arc::clone(&self.auctions),
                bids: Arc::clone(&self.bids),
                outbox: Arc::clone(&self.outbox),
                rate_limits: Arc::clone(&self.rate_limits),
                publisher: Arc::clone(&self.publisher),
                clock: Arc::clone(&self.clock),
                bid_rate,
            })),
            checkout: Arc::new(Checkout {
                reservations: Arc::clone(&self.reservations),
                auctions: Arc::clone(&self.auctions),
                publisher: Arc::clone(&self.publisher),
                clock: Arc::clone(&self.clock),
            }),
        }
    }

    /// The fan-out, with at most `concurrency` posts in flight, splitting large groups among
    /// the fan-out workers when there are.
    #[must_use]
    pub fn fanout(&self, concurrency: usize) -> FanOut {
        let fanout = self.worker_fanout(concurrency);
        match &self.fanout_workers {
            Some((pool, starter)) => fanout.with_workers(*pool, Arc::clone(starter)),
            None => fanout,
        }
    }

    /// A `fanout` worker's fan-out: at most `concurrency` posts in flight, never split again.
    #[must_use]
    pub fn worker_fanout(&self, concurrency: usize) -> FanOut {
        FanOut::new(
            Arc::clone(&self.connections),
            Arc::clone(&self.groups),
            Arc::clone(&self.pusher),
            concurrency,
        )
        .with_departures(Arc::clone(&self.departures))
    }

    /// The notifier, fanning out with at most `concurrency` posts in flight.
    #[must_use]
    pub fn notifier(&self, concurrency: usize) -> Notifier {
        Notifier {
            fanout: self.fanout(concurrency),
            clock: Arc::clone(&self.clock),
        }
    }

    /// The price ticker.
    #[must_use]
    pub fn ticker(&self, config: TickerConfig, fanout_concurrency: usize) -> TickerDeps {
        TickerDeps {
            auctions: Arc::clone(&self.auctions),
            outbox: Arc::clone(&self.outbox),
            reservations: Arc::clone(&self.reservations),
            groups: Arc::clone(&self.groups),
            lease: Arc::clone(&self.lease),
            publisher: Arc::clone(&self.publisher),
            fanout: self.fanout(fanout_concurrency),
            clock: Arc::clone(&self.clock),
            config,
        }
    }
}
