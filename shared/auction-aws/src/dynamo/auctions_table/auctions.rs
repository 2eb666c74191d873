//! [`DynamoAuctions`]: the auction rows, their listings and their recorded ends.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use infra::tables::{
    BY_LIVE_INDEX, BY_TENANT_PHASE_INDEX, LIVE_KEY, PK, STARTS_AT_MS, TENANT_PHASE,
};

use super::codec::{
    LEGACY_LIVE, auction_from, auction_item, auction_key, live_listing_from, tenant_phase,
};
use crate::dynamo::item::{n, s};
use crate::dynamo::table::{Table, condition_failed};
use auction_core::domain::{Auction, AuctionId, AuctionStatus, EndReason, Ending, EpochMillis};
use auction_core::ports::auctions::MAX_LISTED_AUCTIONS;
use auction_core::ports::{AuctionStore, CancelOutcome, CreateAuctionError, StoreError};

/// Auctions in the auctions table.
#[derive(Debug, Clone)]
pub struct DynamoAuctions {
    table: Table,
    live_shards: u32,
}

impl DynamoAuctions {
    /// The adapter over `table` (the stack's `AuctionsTable`), with one live-index partition.
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            table: Table::new(client, table),
            live_shards: 1,
        }
    }

    /// New auctions go to `shards` partitions of the live index (clamped to
    /// 1..=[`crate::dynamo::MAX_LIVE_INDEX_SHARDS`]). Every reader must use the same count; it
    /// may grow while auctions are live, never shrink (docs/data-model.md).
    #[must_use]
    pub fn with_live_shards(mut self, shards: u32) -> Self {
        self.live_shards = shards.clamp(1, crate::dynamo::MAX_LIVE_INDEX_SHARDS);
        self
    }

    /// Every auction of one live-index partition (the SDK's paginator reads it to the end).
    async fn live_partition(&self, partition: String) -> Result<Vec<Auction>, StoreError> {
        let items = self
            .table
            .client
            .query()
            .table_name(&self.table.name)
            .index_name(BY_LIVE_INDEX)
            .key_condition_expression("#live = :live")
            .expression_attribute_names("#live", LIVE_KEY)
            .expression_attribute_values(":live", s(&partition))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.table.error(e))?;
        items.iter().map(live_listing_from).collect()
    }

    async fn read(&self, id: &AuctionId, consistent: bool) -> Result<Option<Auction>, StoreError> {
        self.table
            .get(auction_key(id), consistent)
            .await?
            .map(|item| auction_from(&item))
            .transpose()
    }

    /// One index partition of `tenantPhase`, optionally bounded by start time, into `into`.
    async fn query_phase(
        &self,
        tenant_id: &str,
        live: bool,
        starts: Option<(&str, EpochMillis)>,
        newest_first: bool,
        into: &mut Vec<Auction>,
    ) -> Result<(), StoreError> {
        let mut start_key = None;
        loop {
            let mut query = self
                .table
                .client
                .query()
                .table_name(&self.table.name)
                .index_name(BY_TENANT_PHASE_INDEX)
                .expression_attribute_names("#tp", TENANT_PHASE)
                .expression_attribute_values(":tp", s(tenant_phase(tenant_id, live)))
                .scan_index_forward(!newest_first)
                .set_exclusive_start_key(start_key.take());
            query = match starts {
                None => query.key_condition_expression("#tp = :tp"),
                Some((op, at)) => query
                    .key_condition_expression(format!("#tp = :tp AND #starts {op} :at"))
                    .expression_attribute_names("#starts", STARTS_AT_MS)
                    .expression_attribute_values(":at", n(at.0)),
            };
            let page = query.send().await.map_err(|e| self.table.error(e))?;
            for item in page.items() {
                into.push(auction_from(item)?);
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() || into.len() >= MAX_LISTED_AUCTIONS * 2 {
                return Ok(());
            }
        }
    }
}

#[async_trait]
impl AuctionStore for DynamoAuctions {
    async fn create(&self, auction: &Auction) -> Result<(), CreateAuctionError> {
        let result = self
            .table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(auction_item(auction, self.live_shards)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(CreateAuctionError::AlreadyExists),
            Err(e) => Err(self.table.error(e).into()),
        }
    }

    async fn get(&self, auction_id: &AuctionId) -> Result<Option<Auction>, StoreError> {
        // Eventually consistent: the snapshot is read by every poller, and replicas share the load.
        self.read(auction_id, false).await
    }

    async fn get_latest(&self, auction_id: &AuctionId) -> Result<Option<Auction>, StoreError> {
        self.read(auction_id, true).await
    }

    async fn list(
        &self,
        tenant_id: &str,
        status: AuctionStatus,
        now: EpochMillis,
    ) -> Result<Vec<Auction>, StoreError> {
        let mut found = Vec::new();
        match status {
            AuctionStatus::Active => {
                self.query_phase(tenant_id, true, Some(("<=", now)), false, &mut found)
                    .await?;
            }
            AuctionStatus::Scheduled => {
                self.query_phase(tenant_id, true, Some((">", now)), false, &mut found)
                    .await?;
            }
            AuctionStatus::Ended => {
                // Ended ones are recorded (ENDED partition) or ended by the clock and not yet recorded.
                self.query_phase(tenant_id, true, Some(("<=", now)), false, &mut found)
                    .await?;
                self.query_phase(tenant_id, false, None, true, &mut found)
                    .await?;
            }
        }
        found.retain(|a| a.phase_at(now).status() == status);
        found.sort_by_key(|a| (a.schedule.starts_at(), a.id.clone()));
        found.truncate(MAX_LISTED_AUCTIONS);
        Ok(found)
    }

    async fn count_unended(&self, tenant_id: &str) -> Result<u32, StoreError> {
        let pages = self
            .table
            .client
            .query()
            .table_name(&self.table.name)
            .index_name(BY_TENANT_PHASE_INDEX)
            .key_condition_expression("#tp = :tp")
            .expression_attribute_names("#tp", TENANT_PHASE)
            .expression_attribute_values(":tp", s(tenant_phase(tenant_id, true)))
            .select(aws_sdk_dynamodb::types::Select::Count)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.table.error(e))?;
        Ok(pages.iter().fold(0_u32, |count, page| {
            count.saturating_add(u32::try_from(page.count).unwrap_or(0))
        }))
    }

    async fn cancel(
        &self,
        auction: &Auction,
        now: EpochMillis,
    ) -> Result<CancelOutcome, StoreError> {
        let result = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(auction_key(&auction.id)))
            .update_expression(
                "SET endReason = :reason, endedAtMs = :now, #tp = :ended, version = version + :one \
                 REMOVE #live",
            )
            .condition_expression(
                "attribute_exists(#pk) AND attribute_not_exists(endReason) \
                 AND remainingItems > :zero AND endsAtMs > :now",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#live", LIVE_KEY)
            .expression_attribute_names("#tp", TENANT_PHASE)
            .expression_attribute_values(":reason", s(EndReason::Cancelled.as_str()))
            .expression_attribute_values(":now", n(now.0))
            .expression_attribute_values(":ended", s(tenant_phase(&auction.tenant_id, false)))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let item = output
                    .attributes
                    .ok_or_else(|| StoreError::CorruptItem("no attributes returned".into()))?;
                Ok(CancelOutcome::Cancelled(auction_from(&item)?))
            }
            Err(e) if condition_failed(&e) => {
                let old = match e.as_service_error() {
                    Some(
                        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c),
                    ) => c.item.as_ref().map(auction_from).transpose()?,
                    _ => None,
                };
                Ok(CancelOutcome::AlreadyEnded(old))
            }
            Err(e) => Err(self.table.error(e)),
        }
    }

    async fn record_end(&self, auction: &Auction, ending: Ending) -> Result<bool, StoreError> {
        // The tenant never changes, so the caller's copy of the auction names the index key.
        let result = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(auction_key(&auction.id)))
            .update_expression(
                "SET endReason = :reason, endedAtMs = :at, #tp = :ended, version = version + :one \
                 REMOVE #live",
            )
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(endReason)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#live", LIVE_KEY)
            .expression_attribute_names("#tp", TENANT_PHASE)
            .expression_attribute_values(":reason", s(ending.reason.as_str()))
            .expression_attribute_values(":at", n(ending.at.0))
            .expression_attribute_values(":ended", s(tenant_phase(&auction.tenant_id, false)))
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(self.table.error(e)),
        }
    }

    async fn live(&self) -> Result<Vec<Auction>, StoreError> {
        // Every partition, and the one rows written before sharding still use; there is no cap:
        // an auction left out of this list is never pushed nor ended.
        let partitions = (0..self.live_shards)
            .map(|shard| format!("LIVE#{shard}"))
            .chain(std::iter::once(LEGACY_LIVE.to_owned()));
        let found =
            futures::future::try_join_all(partitions.map(|p| self.live_partition(p))).await?;
        let mut live: Vec<Auction> = found.into_iter().flatten().collect();
        by_start(&mut live);
        Ok(live)
    }

    fn live_shards(&self) -> u32 {
        self.live_shards
    }

    async fn live_in_shard(&self, shard: u32) -> Result<Vec<Auction>, StoreError> {
        let mut live = self.live_partition(format!("LIVE#{shard}")).await?;
        if shard == 0 {
            live.extend(self.live_partition(LEGACY_LIVE.to_owned()).await?);
            by_start(&mut live);
        }
        Ok(live)
    }
}

/// Oldest start first, then by id: the order the ticker works in.
fn by_start(auctions: &mut [Auction]) {
    auctions.sort_by(|a, b| {
        (a.schedule.starts_at(), a.id.as_str()).cmp(&(b.schedule.starts_at(), b.id.as_str()))
    });
}
