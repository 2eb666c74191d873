//! [`DynamoConnections`]: connections, sharded group memberships and viewer counters.
//!
//! Rows (keys from `infra::tables`):
//! - connection `CONN#id` / `META`: user, tenant, roles, `joined` (a map auction → shard), and
//!   `userKey` for the sparse `byUser` index (signed-in users only);
//! - membership `GROUP#auction#shard` / `CONN#id`: connection and user, for the fan-out;
//! - counter `GROUP#auction#shard` / `#COUNT`: `viewers` of that shard.
//!
//! A join is one transaction over the three (the `joined` map entry is the once-only guard), so
//! a viewer is counted exactly once per connection and the count never drifts from the rows.
//! Counters are per shard so that a flash crowd spreads over N partitions (each takes 1,000
//! writes/s), and never live on the auction item, where they would conflict with bid transactions.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use futures::StreamExt;
use futures::stream;
use infra::tables::{BY_USER_INDEX, EXPIRES_AT, PK, SK, USER_KEY};

use super::errors::classify;
use super::item::{Item, ItemExt, n, s};
use super::{MAX_MEMBERSHIP_SHARDS, shard_of};
use crate::domain::{AuctionId, Connection, EpochMillis, Member};
use crate::ports::{
    ConnectionStore, JoinError, JoinOutcome, LeaveOutcome, MemberPages, StoreError,
};

/// The sort key of a shard's viewer counter; `#` sorts before `CONN#`, outside member queries.
const COUNTER_SK: &str = "#COUNT";
/// Members per group page. DynamoDB's own 1 MB page holds ≈ 10,000 members: the fan-out would
/// post nothing until all were read. Pages of 1,000 let the posts start at once and the next
/// page be read while they run (read units are the same: they count bytes, not requests).
pub const MEMBER_PAGE: i32 = 1_000;

/// Connections and groups in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoConnections {
    client: Client,
    table: String,
    shards: u32,
}

fn connection_key(connection_id: &str) -> Item {
    Item::from([
        (PK.to_owned(), s(format!("CONN#{connection_id}"))),
        (SK.to_owned(), s("META")),
    ])
}

fn group_pk(auction_id: &AuctionId, shard: u32) -> String {
    format!("GROUP#{auction_id}#{shard}")
}

fn user_key(tenant_id: &str, user_id: &str) -> String {
    format!("USER#{tenant_id}#{user_id}")
}

/// The row noting a user's last lost connection (for the reconnection metric).
fn departure_key(tenant_id: &str, user_id: &str) -> Item {
    Item::from([
        (
            PK.to_owned(),
            s(format!("LEFT#{}", user_key(tenant_id, user_id))),
        ),
        (SK.to_owned(), s("META")),
    ])
}

fn connection_from(item: &Item) -> Result<Connection, StoreError> {
    let joined = match item.get("joined") {
        Some(AttributeValue::M(map)) => map
            .iter()
            .map(|(auction, shard)| match shard {
                AttributeValue::N(v) => v
                    .parse()
                    .map(|shard| (auction.clone(), shard))
                    .map_err(|_| StoreError::CorruptItem("joined shard".into())),
                _ => Err(StoreError::CorruptItem("joined shard".into())),
            })
            .collect::<Result<BTreeMap<_, _>, _>>()?,
        _ => BTreeMap::new(),
    };
    let roles = match item.get("roles") {
        Some(AttributeValue::L(list)) => {
            list.iter().filter_map(|r| r.as_s().ok().cloned()).collect()
        }
        _ => Vec::new(),
    };
    Ok(Connection {
        connection_id: item.string("connectionId")?,
        user_id: item.opt_string("userId"),
        tenant_id: item.string("tenantId")?,
        roles,
        connected_at: EpochMillis(item.int("connectedAtMs")?),
        expires_at: EpochMillis::from_seconds(item.int(EXPIRES_AT)?),
        joined,
    })
}

fn is_live(item: &Item, now: EpochMillis) -> bool {
    item.opt_int::<i64>(EXPIRES_AT)
        .ok()
        .flatten()
        .is_some_and(|at| at > now.as_seconds())
}

fn build_error(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unknown(Box::new(e))
}

/// The cancellation codes of a failed transaction, or the error itself when it was not one.
fn cancellation_codes(
    error: aws_sdk_dynamodb::error::SdkError<
        TransactWriteItemsError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
    table: &str,
) -> Result<Vec<Option<String>>, StoreError> {
    if let Some(TransactWriteItemsError::TransactionCanceledException(c)) = error.as_service_error()
    {
        return Ok(c
            .cancellation_reasons()
            .iter()
            .map(|r| r.code().map(str::to_owned))
            .collect());
    }
    Err(classify(error, table))
}

impl DynamoConnections {
    /// The adapter over `table` (the stack's `ConnectionsTable`), with group memberships spread
    /// over `shards` partitions per auction (clamped to 1..=[`MAX_MEMBERSHIP_SHARDS`]). Every
    /// writer and reader of one table must use the same shard count.
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>, shards: u32) -> Self {
        Self {
            client,
            table: table.into(),
            shards: shards.clamp(1, MAX_MEMBERSHIP_SHARDS),
        }
    }

    async fn raw_connection(&self, connection_id: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(connection_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(e, &self.table))?;
        Ok(output.item)
    }

    fn counter_key(&self, auction_id: &AuctionId, shard: u32) -> Item {
        Item::from([
            (PK.to_owned(), s(group_pk(auction_id, shard))),
            (SK.to_owned(), s(COUNTER_SK)),
        ])
    }

    /// Removes one membership whose shard is known, as one transaction. Conflicts are retried.
    async fn leave_shard(
        &self,
        connection_id: &str,
        auction_id: &AuctionId,
        shard: u32,
    ) -> Result<LeaveOutcome, StoreError> {
        let forget = Update::builder()
            .table_name(&self.table)
            .set_key(Some(connection_key(connection_id)))
            .update_expression("REMOVE joined.#auction")
            .condition_expression("attribute_exists(joined.#auction)")
            .expression_attribute_names("#auction", auction_id.as_str())
            .build()
            .map_err(build_error)?;
        let delete_member = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(group_pk(auction_id, shard)))
            .key(SK, s(format!("CONN#{connection_id}")))
            .build()
            .map_err(build_error)?;
        let uncount = Update::builder()
            .table_name(&self.table)
            .set_key(Some(self.counter_key(auction_id, shard)))
            .update_expression("ADD viewers :minus_one")
            .expression_attribute_values(":minus_one", n(-1))
            .build()
            .map_err(build_error)?;
        for attempt in 0..8_u64 {
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(forget.clone()).build())
                .transact_items(
                    TransactWriteItem::builder()
                        .delete(delete_member.clone())
                        .build(),
                )
                .transact_items(TransactWriteItem::builder().update(uncount.clone()).build())
                .send()
                .await;
            let codes = match result {
                Ok(_) => return Ok(LeaveOutcome::Left),
                Err(e) => cancellation_codes(e, &self.table),
            };
            match codes {
                Ok(codes)
                    if codes
                        .first()
                        .is_some_and(|c| c.as_deref() == Some("ConditionalCheckFailed")) =>
                {
                    return Ok(LeaveOutcome::NotMember);
                }
                Ok(codes)
                    if codes
                        .iter()
                        .any(|c| c.as_deref() == Some("TransactionConflict")) => {}
                Err(StoreError::Contended) => {}
                Ok(codes) => {
                    return Err(StoreError::Unknown(
                        format!("leave cancelled: {codes:?}").into(),
                    ));
                }
                Err(other) => return Err(other),
            }
            tokio::time::sleep(std::time::Duration::from_millis(5 * (attempt + 1))).await;
        }
        Err(StoreError::Contended)
    }

    /// One shard's members, page by page.
    fn shard_pages<'a>(
        &'a self,
        auction_id: &'a AuctionId,
        shard: u32,
        now: EpochMillis,
    ) -> MemberPages<'a> {
        // (next start key, finished)
        let state: (Option<Item>, bool) = (None, false);
        stream::unfold(state, move |(start_key, finished)| async move {
            if finished {
                return None;
            }
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :conn)")
                .filter_expression("#expires > :now")
                .projection_expression("connectionId, userId")
                .limit(MEMBER_PAGE)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_names("#expires", EXPIRES_AT)
                .expression_attribute_values(":pk", s(group_pk(auction_id, shard)))
                .expression_attribute_values(":conn", s("CONN#"))
                .expression_attribute_values(":now", n(now.as_seconds()))
                .set_exclusive_start_key(start_key)
                .send()
                .await;
            match page {
                Err(e) => Some((Err(classify(e, &self.table)), (None, true))),
                Ok(page) => {
                    let members = page
                        .items()
                        .iter()
                        .map(|item| {
                            Ok(Member {
                                connection_id: item.string("connectionId")?,
                                user_id: item.opt_string("userId"),
                            })
                        })
                        .collect::<Result<Vec<_>, StoreError>>();
                    let next = page.last_evaluated_key;
                    let done = next.is_none();
                    Some((members, (next, done)))
                }
            }
        })
        .boxed()
    }
}

#[async_trait]
impl ConnectionStore for DynamoConnections {
    async fn put(&self, connection: &Connection) -> Result<(), StoreError> {
        let mut item = connection_key(&connection.connection_id);
        item.insert("connectionId".to_owned(), s(&connection.connection_id));
        item.insert("tenantId".to_owned(), s(&connection.tenant_id));
        item.insert("connectedAtMs".to_owned(), n(connection.connected_at.0));
        item.insert(EXPIRES_AT.to_owned(), n(connection.expires_at.as_seconds()));
        item.insert("joined".to_owned(), AttributeValue::M(Default::default()));
        item.insert(
            "roles".to_owned(),
            AttributeValue::L(connection.roles.iter().map(s).collect()),
        );
        if let Some(user_id) = &connection.user_id {
            item.insert("userId".to_owned(), s(user_id));
            item.insert(
                USER_KEY.to_owned(),
                s(user_key(&connection.tenant_id, user_id)),
            );
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| classify(e, &self.table))?;
        Ok(())
    }

    async fn get(
        &self,
        connection_id: &str,
        now: EpochMillis,
    ) -> Result<Option<Connection>, StoreError> {
        match self.raw_connection(connection_id).await? {
            Some(item) if is_live(&item, now) => connection_from(&item).map(Some),
            _ => Ok(None),
        }
    }

    async fn join(
        &self,
        connection: &Connection,
        auction_id: &AuctionId,
        now: EpochMillis,
    ) -> Result<JoinOutcome, JoinError> {
        let shard = shard_of(&connection.connection_id, self.shards);
        let expires = n(connection.expires_at.as_seconds());
        let remember = Update::builder()
            .table_name(&self.table)
            .set_key(Some(connection_key(&connection.connection_id)))
            .update_expression("SET joined.#auction = :shard")
            .condition_expression("attribute_exists(#pk) AND #expires > :now AND attribute_not_exists(joined.#auction)")
            .expression_attribute_names("#auction", auction_id.as_str())
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":shard", n(shard))
            .expression_attribute_values(":now", n(now.as_seconds()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error)?;
        let mut member = Item::from([
            (PK.to_owned(), s(group_pk(auction_id, shard))),
            (
                SK.to_owned(),
                s(format!("CONN#{}", connection.connection_id)),
            ),
            ("connectionId".to_owned(), s(&connection.connection_id)),
            (EXPIRES_AT.to_owned(), expires.clone()),
        ]);
        if let Some(user_id) = &connection.user_id {
            member.insert("userId".to_owned(), s(user_id));
        }
        let add_member = Put::builder()
            .table_name(&self.table)
            .set_item(Some(member))
            .build()
            .map_err(build_error)?;
        // The counter expires with the newest member (connections only get younger), so it never
        // outlives its group by more than the margin and never dies before it.
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(self.counter_key(auction_id, shard)))
            .update_expression("ADD viewers :one SET #expires = :expires")
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":expires", expires)
            .build()
            .map_err(build_error)?;
        for attempt in 0..8_u64 {
            let result = self
                .client
                .transact_write_items()
                .transact_items(
                    TransactWriteItem::builder()
                        .update(remember.clone())
                        .build(),
                )
                .transact_items(TransactWriteItem::builder().put(add_member.clone()).build())
                .transact_items(TransactWriteItem::builder().update(count.clone()).build())
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(JoinOutcome::Joined),
                Err(e) => e,
            };
            let stored = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
                    .cancellation_reasons()
                    .first()
                    .filter(|r| r.code() == Some("ConditionalCheckFailed"))
                    .map(|r| r.item().cloned()),
                _ => None,
            };
            if let Some(stored) = stored {
                // The connection row failed its condition: gone, expired, or already joined.
                let stored = match stored {
                    Some(item) => Some(item),
                    None => self.raw_connection(&connection.connection_id).await?,
                };
                return match stored {
                    Some(item) if is_live(&item, now) => Ok(JoinOutcome::AlreadyMember),
                    _ => Err(JoinError::ConnectionGone),
                };
            }
            match cancellation_codes(error, &self.table) {
                Ok(codes)
                    if codes
                        .iter()
                        .any(|c| c.as_deref() == Some("TransactionConflict")) => {}
                Err(StoreError::Contended) => {}
                Ok(codes) => {
                    return Err(
                        StoreError::Unknown(format!("join cancelled: {codes:?}").into()).into(),
                    );
                }
                Err(other) => return Err(other.into()),
            }
            tokio::time::sleep(std::time::Duration::from_millis(5 * (attempt + 1))).await;
        }
        Err(StoreError::Contended.into())
    }

    async fn leave(
        &self,
        connection_id: &str,
        auction_id: &AuctionId,
    ) -> Result<LeaveOutcome, StoreError> {
        let Some(item) = self.raw_connection(connection_id).await? else {
            return Ok(LeaveOutcome::NotMember);
        };
        let connection = connection_from(&item)?;
        match connection.joined.get(auction_id.as_str()) {
            Some(shard) => self.leave_shard(connection_id, auction_id, *shard).await,
            None => Ok(LeaveOutcome::NotMember),
        }
    }

    async fn remove(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        let Some(item) = self.raw_connection(connection_id).await? else {
            return Ok(None);
        };
        let connection = connection_from(&item)?;
        let leaves = connection.joined.iter().map(|(auction, shard)| async move {
            let auction = AuctionId::parse(auction)
                .map_err(|_| StoreError::CorruptItem("joined auction id".into()))?;
            self.leave_shard(connection_id, &auction, *shard).await
        });
        for result in futures::future::join_all(leaves).await {
            result?;
        }
        // Only the caller that deletes the row reports the connection: removal happens once.
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(connection_id)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify(e, &self.table))?;
        Ok(deleted.attributes.is_some().then_some(connection))
    }

    fn members<'a>(&'a self, auction_id: &'a AuctionId, now: EpochMillis) -> MemberPages<'a> {
        stream::select_all((0..self.shards).map(|shard| self.shard_pages(auction_id, shard, now)))
            .boxed()
    }

    async fn connections_of_user(
        &self,
        tenant_id: &str,
        user_id: &str,
        now: EpochMillis,
    ) -> Result<Vec<String>, StoreError> {
        let mut found = Vec::new();
        let mut start_key = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_USER_INDEX)
                .key_condition_expression("#user = :user")
                .filter_expression("#expires > :now")
                .expression_attribute_names("#user", USER_KEY)
                .expression_attribute_names("#expires", EXPIRES_AT)
                .expression_attribute_values(":user", s(user_key(tenant_id, user_id)))
                .expression_attribute_values(":now", n(now.as_seconds()))
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| classify(e, &self.table))?;
            for item in page.items() {
                found.push(item.string("connectionId")?);
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                return Ok(found);
            }
        }
    }

    async fn take_rate_token(
        &self,
        connection_id: &str,
        window: i64,
        max_calls: u32,
    ) -> Result<bool, StoreError> {
        // Same window: count one more while under the budget.
        let same_window = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(connection_id)))
            .update_expression("ADD rlCount :one")
            .condition_expression("attribute_exists(#pk) AND rlWindow = :window AND rlCount < :max")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":window", n(window))
            .expression_attribute_values(":max", n(max_calls))
            .send()
            .await;
        match same_window {
            Ok(_) => return Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(classify(e, &self.table)),
        }
        // A new window: start counting again (only if the stored window is older).
        let new_window = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(connection_id)))
            .update_expression("SET rlWindow = :window, rlCount = :one")
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(rlWindow) OR rlWindow < :window)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":window", n(window))
            .send()
            .await;
        match new_window {
            Ok(_) => Ok(max_calls >= 1),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(classify(e, &self.table)),
        }
    }

    async fn take_user_token(
        &self,
        tenant_id: &str,
        user_id: &str,
        window: i64,
        window_seconds: u32,
        max_calls: u32,
    ) -> Result<bool, StoreError> {
        // One row per user and window, expiring with it: a single conditional ADD per call.
        let expires = (window + 2) * i64::from(window_seconds.max(1));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Item::from([
                (
                    PK.to_owned(),
                    s(format!("RATE#{}", user_key(tenant_id, user_id))),
                ),
                (SK.to_owned(), s(format!("WINDOW#{window}"))),
            ])))
            .update_expression("ADD calls :one SET #expires = :expires")
            .condition_expression("attribute_not_exists(calls) OR calls < :max")
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max_calls))
            .expression_attribute_values(":expires", n(expires))
            .send()
            .await;
        match result {
            Ok(_) => Ok(max_calls >= 1),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(classify(e, &self.table)),
        }
    }

    async fn viewer_count(
        &self,
        auction_id: &AuctionId,
        now: EpochMillis,
    ) -> Result<u64, StoreError> {
        let keys: Vec<Item> = (0..self.shards)
            .map(|shard| self.counter_key(auction_id, shard))
            .collect();
        let mut request = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(build_error)?,
        );
        let mut total: i64 = 0;
        let mut attempt = 0_u64;
        while let Some(keys) = request.take() {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, keys)
                .send()
                .await
                .map_err(|e| classify(e, &self.table))?;
            for item in output
                .responses()
                .and_then(|r| r.get(&self.table))
                .into_iter()
                .flatten()
            {
                if is_live(item, now) {
                    total += item.opt_int::<i64>("viewers")?.unwrap_or(0);
                }
            }
            request = output
                .unprocessed_keys
                .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                .filter(|k| !k.keys().is_empty());
            if request.is_some() {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
            }
        }
        Ok(u64::try_from(total).unwrap_or(0))
    }

    async fn note_departure(
        &self,
        tenant_id: &str,
        user_id: &str,
        at: EpochMillis,
    ) -> Result<(), StoreError> {
        let mut item = departure_key(tenant_id, user_id);
        item.insert("leftAtMs".to_owned(), n(at.0));
        let window = i64::try_from(crate::telemetry::RECONNECT_WINDOW.as_secs()).unwrap_or(60);
        item.insert(EXPIRES_AT.to_owned(), n(at.as_seconds() + window));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| classify(e, &self.table))?;
        Ok(())
    }

    async fn take_departure(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<Option<EpochMillis>, StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(departure_key(tenant_id, user_id)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify(e, &self.table))?;
        Ok(deleted
            .attributes
            .as_ref()
            .and_then(|item| item.get("leftAtMs"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .map(EpochMillis))
    }
}
