//! [`DynamoTickerLease`]: the price ticker's lease rows, one per shard (`TICKER#{shard}` /
//! `LEASE`), with `owner`, `leaseUntilMs` and the `state` the holder saved.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;

use crate::dynamo::item::{Item, ItemExt, n, s};
use crate::dynamo::table::{Table, condition_failed};
use auction_core::domain::EpochMillis;
use auction_core::ports::{StoreError, TickerLease};

/// The lease in the auctions table.
#[derive(Debug, Clone)]
pub struct DynamoTickerLease {
    table: Table,
}

/// A shard's lease row: `TICKER#{shard}` / `LEASE`. (Before the ticker ran per shard one row,
/// `TICKER`, leased the whole platform; it is no longer read.)
fn lease_key(shard: u32) -> Item {
    Table::key(format!("TICKER#{shard}"), "LEASE")
}

impl DynamoTickerLease {
    /// The adapter over `table` (the stack's `AuctionsTable`).
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            table: Table::new(client, table),
        }
    }
}

#[async_trait]
impl TickerLease for DynamoTickerLease {
    async fn acquire(
        &self,
        shard: u32,
        owner: &str,
        now: EpochMillis,
        hold_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        let result = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(lease_key(shard)))
            .update_expression("SET #owner = :owner, leaseUntilMs = :until")
            .condition_expression(
                "attribute_not_exists(leaseUntilMs) OR leaseUntilMs <= :now OR #owner = :owner",
            )
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", n(now.0 + hold_ms))
            .expression_attribute_values(":now", n(now.0))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(
                output
                    .attributes
                    .and_then(|item| item.opt_string("state"))
                    .unwrap_or_default(),
            )),
            Err(e) if condition_failed(&e) => Ok(None),
            Err(e) => Err(self.table.error(e)),
        }
    }

    async fn renew(
        &self,
        shard: u32,
        owner: &str,
        now: EpochMillis,
        hold_ms: i64,
        state: &str,
    ) -> Result<bool, StoreError> {
        self.save(shard, owner, now.0 + hold_ms, state).await
    }

    async fn release(&self, shard: u32, owner: &str, state: &str) -> Result<bool, StoreError> {
        self.save(shard, owner, 0, state).await
    }
}

impl DynamoTickerLease {
    /// Sets the lease's expiry and state if `owner` holds it.
    async fn save(
        &self,
        shard: u32,
        owner: &str,
        until_ms: i64,
        state: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(lease_key(shard)))
            .update_expression("SET leaseUntilMs = :until, #state = :state")
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", n(until_ms))
            .expression_attribute_values(":state", s(state))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(self.table.error(e)),
        }
    }
}
