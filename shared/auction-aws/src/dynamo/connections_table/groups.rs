//! [`DynamoGroups`]: sharded group memberships and their viewer counters.
//!
//! A join is one transaction over the connection row, the membership and the shard's counter
//! (the `joined` map entry on the connection row is the once-only guard), so a viewer is counted
//! exactly once per connection and the count never drifts from the rows. Counters are per shard
//! so that a flash crowd spreads over N partitions (each takes 1,000 writes/s), and never live on
//! the auction item, where they would conflict with bid transactions.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    Delete, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use futures::StreamExt;
use futures::stream;
use infra::tables::{EXPIRES_AT, PK, SK};

use super::connections::connection_from;
use super::{connection_key, is_live};
use crate::dynamo::classify;
use crate::dynamo::item::{Item, ItemExt, n, s};
use crate::dynamo::table::{Table, cancellation_reasons, condition_failed_at};
use crate::dynamo::{MAX_MEMBERSHIP_SHARDS, shard_of};
use auction_core::domain::{AuctionId, Connection, EpochMillis, Member};
use auction_core::ports::{
    GroupStore, JoinError, JoinOutcome, LeaveOutcome, MemberPages, StoreError,
};

/// The sort key of a shard's viewer counter; `#` sorts before `CONN#`, outside member queries.
const COUNTER_SK: &str = "#COUNT";
/// Members per group page. DynamoDB's own 1 MB page holds ≈ 10,000 members: the fan-out would
/// post nothing until all were read. Pages of 1,000 let the posts start at once and the next
/// page be read while they run (read units are the same: they count bytes, not requests).
pub const MEMBER_PAGE: i32 = 1_000;

/// Groups in the connections table.
#[derive(Debug, Clone)]
pub struct DynamoGroups {
    table: Table,
    shards: u32,
}

fn group_pk(auction_id: &AuctionId, shard: u32) -> String {
    format!("GROUP#{auction_id}#{shard}")
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
    match cancellation_reasons(&error) {
        Some(reasons) => Ok(reasons
            .iter()
            .map(|r| r.code().map(str::to_owned))
            .collect()),
        None => Err(classify(error, table)),
    }
}

impl DynamoGroups {
    /// The adapter over `table` (the stack's `ConnectionsTable`), with memberships spread over
    /// `shards` partitions per auction (clamped to 1..=[`MAX_MEMBERSHIP_SHARDS`]). Every writer
    /// and reader of one table must use the same shard count.
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>, shards: u32) -> Self {
        Self {
            table: Table::new(client, table),
            shards: shards.clamp(1, MAX_MEMBERSHIP_SHARDS),
        }
    }

    fn counter_key(auction_id: &AuctionId, shard: u32) -> Item {
        Table::key(group_pk(auction_id, shard), COUNTER_SK)
    }

    /// Removes one membership whose shard is known, as one transaction. Conflicts are retried.
    pub(super) async fn leave_shard(
        &self,
        connection_id: &str,
        auction_id: &AuctionId,
        shard: u32,
    ) -> Result<LeaveOutcome, StoreError> {
        let forget = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(connection_key(connection_id)))
            .update_expression("REMOVE joined.#auction")
            .condition_expression("attribute_exists(joined.#auction)")
            .expression_attribute_names("#auction", auction_id.as_str())
            .build()
            .map_err(build_error)?;
        let delete_member = Delete::builder()
            .table_name(&self.table.name)
            .key(PK, s(group_pk(auction_id, shard)))
            .key(SK, s(format!("CONN#{connection_id}")))
            .build()
            .map_err(build_error)?;
        let uncount = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(Self::counter_key(auction_id, shard)))
            .update_expression("ADD viewers :minus_one")
            .expression_attribute_values(":minus_one", n(-1))
            .build()
            .map_err(build_error)?;
        for attempt in 0..8_u64 {
            let result = self
                .table
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
                Err(e) => cancellation_codes(e, &self.table.name),
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
                .table
                .client
                .query()
                .table_name(&self.table.name)
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
                Err(e) => Some((Err(self.table.error(e)), (None, true))),
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
impl GroupStore for DynamoGroups {
    async fn join(
        &self,
        connection: &Connection,
        auction_id: &AuctionId,
        now: EpochMillis,
    ) -> Result<JoinOutcome, JoinError> {
        let shard = shard_of(&connection.connection_id, self.shards);
        let expires = n(connection.expires_at.as_seconds());
        let remember = Update::builder()
            .table_name(&self.table.name)
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
            .table_name(&self.table.name)
            .set_item(Some(member))
            .build()
            .map_err(build_error)?;
        // The counter expires with the newest member (connections only get younger), so it never
        // outlives its group by more than the margin and never dies before it.
        let count = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(Self::counter_key(auction_id, shard)))
            .update_expression("ADD viewers :one SET #expires = :expires")
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":expires", expires)
            .build()
            .map_err(build_error)?;
        for attempt in 0..8_u64 {
            let result = self
                .table
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
            let stored = cancellation_reasons(&error)
                .filter(|reasons| condition_failed_at(reasons, 0))
                .map(|reasons| reasons[0].item().cloned());
            if let Some(stored) = stored {
                // The connection row failed its condition: gone, expired, or already joined.
                let stored = match stored {
                    Some(item) => Some(item),
                    None => {
                        self.table
                            .get(connection_key(&connection.connection_id), true)
                            .await?
                    }
                };
                return match stored {
                    Some(item) if is_live(&item, now) => Ok(JoinOutcome::AlreadyMember),
                    _ => Err(JoinError::ConnectionGone),
                };
            }
            match cancellation_codes(error, &self.table.name) {
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
        let Some(item) = self.table.get(connection_key(connection_id), true).await? else {
            return Ok(LeaveOutcome::NotMember);
        };
        let connection = connection_from(&item)?;
        match connection.joined.get(auction_id.as_str()) {
            Some(shard) => self.leave_shard(connection_id, auction_id, *shard).await,
            None => Ok(LeaveOutcome::NotMember),
        }
    }

    fn members<'a>(&'a self, auction_id: &'a AuctionId, now: EpochMillis) -> MemberPages<'a> {
        stream::select_all((0..self.shards).map(|shard| self.shard_pages(auction_id, shard, now)))
            .boxed()
    }

    fn member_shards(&self) -> u32 {
        self.shards
    }

    fn members_in<'a>(
        &'a self,
        auction_id: &'a AuctionId,
        shards: &'a [u32],
        now: EpochMillis,
    ) -> MemberPages<'a> {
        stream::select_all(
            shards
                .iter()
                .filter(|shard| **shard < self.shards)
                .map(|shard| self.shard_pages(auction_id, *shard, now)),
        )
        .boxed()
    }

    async fn viewer_count(
        &self,
        auction_id: &AuctionId,
        now: EpochMillis,
    ) -> Result<u64, StoreError> {
        let keys: Vec<Item> = (0..self.shards)
            .map(|shard| Self::counter_key(auction_id, shard))
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
                .table
                .client
                .batch_get_item()
                .request_items(&self.table.name, keys)
                .send()
                .await
                .map_err(|e| self.table.error(e))?;
            for item in output
                .responses()
                .and_then(|r| r.get(&self.table.name))
                .into_iter()
                .flatten()
            {
                if is_live(item, now) {
                    total += item.opt_int::<i64>("viewers")?.unwrap_or(0);
                }
            }
            request = output
                .unprocessed_keys
                .and_then(|mut unprocessed| unprocessed.remove(&self.table.name))
                .filter(|k| !k.keys().is_empty());
            if request.is_some() {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
            }
        }
        Ok(u64::try_from(total).unwrap_or(0))
    }
}
