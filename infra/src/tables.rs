//! The two tables, their keys, indexes and settings (docs/architecture.md, "Data").
//!
//! - Connections: ephemeral, TTL on `expiresAt`. Rows: a connection (`CONN#id` / `META`),
//!   a group membership (`GROUP#auction#shard` / `CONN#id`) and a per-shard viewer counter
//!   (`GROUP#auction#shard` / `#COUNT`). The sparse `byUser` index finds a user's connections.
//! - Auctions: durable, point-in-time recovery. Rows: an auction (`AUCTION#id` / `AUCTION`) and a
//!   bid (`BID#id` / `BID`, its own partition so a bid storm spreads its writes; a rejected bid's
//!   row expires a day after its decision through TTL on `expiresAt`), and the price
//!   ticker's lease (`TICKER` / `LEASE`). The sparse `byTenantPhase` index lists a tenant's live
//!   or ended auctions by start time; the sparse `byLiveSchedule` index lists every tenant's
//!   auctions that have not ended with their schedules (the ticker's work list; sales never write
//!   it); the sparse `byPendingNotice` index lists
//!   accepted bids whose events are not yet known to be published (the outbox).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

/// The partition key of every table and index row.
pub const PK: &str = "pk";
/// The sort key of both tables.
pub const SK: &str = "sk";
/// The TTL attribute of both tables (epoch seconds).
pub const EXPIRES_AT: &str = "expiresAt";
/// The connections index by user: `USER#tenant#user` on connection rows of signed-in users.
pub const BY_USER_INDEX: &str = "byUser";
/// The partition key attribute of [`BY_USER_INDEX`].
pub const USER_KEY: &str = "userKey";
/// The auctions index by tenant and phase: `TENANT#tenant#LIVE` or `…#ENDED`.
pub const BY_TENANT_PHASE_INDEX: &str = "byTenantPhase";
/// The partition key attribute of [`BY_TENANT_PHASE_INDEX`].
pub const TENANT_PHASE: &str = "tenantPhase";
/// The sort key attribute of [`BY_TENANT_PHASE_INDEX`] and [`BY_LIVE_INDEX`] (epoch milliseconds).
pub const STARTS_AT_MS: &str = "startsAtMs";
/// The auctions index of every tenant's auctions that have not ended, by start time, with their
/// schedule and nothing a sale changes ([`LIVE_SCHEDULE_ATTRIBUTES`]). It replaced `byLive`
/// (every attribute), which every sale wrote (docs/data-model.md, "Changing an index").
pub const BY_LIVE_INDEX: &str = "byLiveSchedule";
/// What [`BY_LIVE_INDEX`] carries besides its keys: what the price ticker needs, and only what
/// never changes while the auction is live, so a sale (`remainingItems`, `version`) writes no
/// index partition.
pub const LIVE_SCHEDULE_ATTRIBUTES: &[&str] = &[
    "auctionId",
    "tenantId",
    "sellerId",
    "title",
    "currency",
    "startPrice",
    "floorPrice",
    "priceDrop",
    "dropIntervalSeconds",
    "endsAtMs",
    "totalItems",
    "reservationTtlSeconds",
    "createdAtMs",
];
/// The partition key attribute of [`BY_LIVE_INDEX`]: `LIVE` while the auction has no recorded end.
pub const LIVE_KEY: &str = "liveKey";
/// The open holds, by expiry: reservations not yet confirmed nor released (the sweep's work
/// list, docs/design/reservations.md).
pub const BY_HOLD_INDEX: &str = "byHold";
/// The partition key attribute of [`BY_HOLD_INDEX`]: `HOLD#{shard}` while the hold is open.
pub const HOLD_KEY: &str = "holdKey";
/// What [`BY_HOLD_INDEX`] carries besides its keys: what the sweep needs to release a hold and
/// announce it without reading its row (the auction, to release one auction's holds in one
/// transaction; the tenant and buyer, for `ReservationExpired`). None of them ever changes.
pub const HOLD_ATTRIBUTES: &[&str] = &["auctionId", "tenantId", "userId"];
/// The sort key attribute of [`BY_HOLD_INDEX`]: when the hold lapses (epoch milliseconds).
pub const HOLD_EXPIRES_AT_MS: &str = "expiresAtMs";
/// The outbox index: accepted bids whose events are not yet known to be on the bus.
pub const BY_PENDING_NOTICE_INDEX: &str = "byPendingNotice";
/// The partition key attribute of [`BY_PENDING_NOTICE_INDEX`]: `PENDING#{shard}` until published.
pub const NOTICE_KEY: &str = "noticeKey";
/// The sort key attribute of [`BY_PENDING_NOTICE_INDEX`] (epoch milliseconds of the decision).
pub const DECIDED_AT_MS: &str = "decidedAtMs";

/// A key attribute's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `S`.
    String,
    /// `N`.
    Number,
}

impl KeyKind {
    /// CloudFormation's and DynamoDB's letter for it.
    #[must_use]
    pub fn letter(self) -> &'static str {
        match self {
            Self::String => "S",
            Self::Number => "N",
        }
    }
}

/// What an index copies of its rows besides their keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexProjection {
    /// Every attribute: every write to a row in the index writes the index too.
    All,
    /// These attributes: a write that changes none of them (nor a key) leaves the index alone.
    Include(&'static [&'static str]),
    /// Only the keys.
    KeysOnly,
}

/// A global secondary index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSpec {
    /// The index name.
    pub name: &'static str,
    /// Its partition key attribute.
    pub hash_key: &'static str,
    /// Its sort key attribute, if any.
    pub range_key: Option<&'static str>,
    /// What it copies.
    pub projection: IndexProjection,
}

/// A table's definition: everything but its name, which the stack or the caller chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSpec {
    /// The CloudFormation logical id in `template.yaml`.
    pub logical_id: &'static str,
    /// Partition key attribute.
    pub hash_key: &'static str,
    /// Sort key attribute.
    pub range_key: &'static str,
    /// Every key attribute of the table and its indexes, with its type.
    pub attributes: &'static [(&'static str, KeyKind)],
    /// Global secondary indexes.
    pub indexes: &'static [IndexSpec],
    /// The TTL attribute, when rows expire.
    pub ttl_attribute: Option<&'static str>,
    /// Whether point-in-time recovery is on.
    pub point_in_time_recovery: bool,
}

/// Connections, memberships and viewer counters; everything here expires.
pub const CONNECTIONS: TableSpec = TableSpec {
    logical_id: "ConnectionsTable",
    hash_key: PK,
    range_key: SK,
    attributes: &[
        (PK, KeyKind::String),
        (SK, KeyKind::String),
        (USER_KEY, KeyKind::String),
    ],
    indexes: &[IndexSpec {
        name: BY_USER_INDEX,
        hash_key: USER_KEY,
        range_key: None,
        projection: IndexProjection::All,
    }],
    ttl_attribute: Some(EXPIRES_AT),
    point_in_time_recovery: false,
};

/// Auctions and bids; durable.
pub const AUCTIONS: TableSpec = TableSpec {
    logical_id: "AuctionsTable",
    hash_key: PK,
    range_key: SK,
    attributes: &[
        (PK, KeyKind::String),
        (SK, KeyKind::String),
        (TENANT_PHASE, KeyKind::String),
        (STARTS_AT_MS, KeyKind::Number),
        (LIVE_KEY, KeyKind::String),
        (NOTICE_KEY, KeyKind::String),
        (DECIDED_AT_MS, KeyKind::Number),
        (HOLD_KEY, KeyKind::String),
        (HOLD_EXPIRES_AT_MS, KeyKind::Number),
    ],
    indexes: &[
        IndexSpec {
            name: BY_TENANT_PHASE_INDEX,
            hash_key: TENANT_PHASE,
            range_key: Some(STARTS_AT_MS),
            projection: IndexProjection::All,
        },
        IndexSpec {
            name: BY_LIVE_INDEX,
            hash_key: LIVE_KEY,
            range_key: Some(STARTS_AT_MS),
            projection: IndexProjection::Include(LIVE_SCHEDULE_ATTRIBUTES),
        },
        IndexSpec {
            name: BY_PENDING_NOTICE_INDEX,
            hash_key: NOTICE_KEY,
            range_key: Some(DECIDED_AT_MS),
            projection: IndexProjection::All,
        },
        IndexSpec {
            name: BY_HOLD_INDEX,
            hash_key: HOLD_KEY,
            range_key: Some(HOLD_EXPIRES_AT_MS),
            projection: IndexProjection::Include(HOLD_ATTRIBUTES),
        },
    ],
    ttl_attribute: Some(EXPIRES_AT),
    point_in_time_recovery: true,
};

/// Why a table could not be created.
#[derive(Debug, thiserror::Error)]
#[error("could not create table {table}")]
pub struct CreateTableError {
    /// The table's name.
    pub table: String,
    /// What the service said.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("name and key type are set")
}

impl TableSpec {
    /// Creates the table as `name` (on-demand billing, its indexes and TTL) unless it exists.
    /// Point-in-time recovery is a backup setting the template turns on; engines that only serve
    /// tests need not have it.
    ///
    /// # Errors
    /// [`CreateTableError`] with the service's error.
    pub async fn create(&self, client: &Client, name: &str) -> Result<(), CreateTableError> {
        let fail = |source: Box<dyn std::error::Error + Send + Sync>| CreateTableError {
            table: name.to_owned(),
            source,
        };
        let mut request = client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(self.hash_key, KeyType::Hash))
            .key_schema(key(self.range_key, KeyType::Range));
        for (attribute, kind) in self.attributes {
            let kind = match kind {
                KeyKind::String => ScalarAttributeType::S,
                KeyKind::Number => ScalarAttributeType::N,
            };
            request = request.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(*attribute)
                    .attribute_type(kind)
                    .build()
                    .expect("name and type are set"),
            );
        }
        for index in self.indexes {
            let projection = match index.projection {
                IndexProjection::All => Projection::builder().projection_type(ProjectionType::All),
                IndexProjection::KeysOnly => {
                    Projection::builder().projection_type(ProjectionType::KeysOnly)
                }
                IndexProjection::Include(attributes) => Projection::builder()
                    .projection_type(ProjectionType::Include)
                    .set_non_key_attributes(Some(
                        attributes.iter().map(|a| (*a).to_owned()).collect(),
                    )),
            };
            let mut gsi = GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.hash_key, KeyType::Hash))
                .projection(projection.build());
            if let Some(range) = index.range_key {
                gsi = gsi.key_schema(key(range, KeyType::Range));
            }
            request = request.global_secondary_indexes(gsi.build().expect("name and keys are set"));
        }
        match request.send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) =>
            {
                return Ok(());
            }
            Err(e) => return Err(fail(Box::new(e))),
        }
        if let Some(attribute) = self.ttl_attribute {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(attribute)
                .enabled(true)
                .build()
                .expect("name and flag are set");
            client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(|e| fail(Box::new(e)))?;
        }
        tracing::debug!(table = name, "created table");
        Ok(())
    }
}
