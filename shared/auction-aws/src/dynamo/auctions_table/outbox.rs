//! [`DynamoOutbox`]: accepted bids whose events may not be on the bus yet, found through the
//! sparse `byPendingNotice` index (`noticeKey = PENDING#{shard}`, [`OUTBOX_SHARDS`] partitions,
//! each sorted by `decidedAtMs`).

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use infra::tables::{BY_PENDING_NOTICE_INDEX, DECIDED_AT_MS, NOTICE_KEY, PK};

use super::codec::{
    LEGACY_PENDING, OUTBOX_SHARDS, bid_key, reservation_from, reservation_key, stored_bid_from,
};
use crate::dynamo::item::{ItemExt, n, s};
use crate::dynamo::table::{Table, condition_failed};
use auction_core::domain::{BidId, BidOutcome, EpochMillis};
use auction_core::ports::reservations::StoredReservation;
use auction_core::ports::{Outbox, PendingNotice, StoreError};

/// The outbox in the auctions table.
#[derive(Debug, Clone)]
pub struct DynamoOutbox {
    table: Table,
}

impl DynamoOutbox {
    /// The adapter over `table` (the stack's `AuctionsTable`).
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            table: Table::new(client, table),
        }
    }

    /// The oldest `limit` entries of one outbox partition decided before `decided_before`.
    async fn oldest(
        &self,
        partition: String,
        decided_before: EpochMillis,
        limit: usize,
    ) -> Result<Vec<crate::dynamo::item::Item>, StoreError> {
        let page = self
            .table
            .client
            .query()
            .table_name(&self.table.name)
            .index_name(BY_PENDING_NOTICE_INDEX)
            .key_condition_expression("#notice = :pending AND #decided < :before")
            .expression_attribute_names("#notice", NOTICE_KEY)
            .expression_attribute_names("#decided", DECIDED_AT_MS)
            .expression_attribute_values(":pending", s(partition))
            .expression_attribute_values(":before", n(decided_before.0))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| self.table.error(e))?;
        Ok(page.items().to_vec())
    }
}

#[async_trait]
impl Outbox for DynamoOutbox {
    async fn pending(
        &self,
        decided_before: EpochMillis,
        limit: usize,
    ) -> Result<Vec<PendingNotice>, StoreError> {
        self.oldest_of_every_partition(decided_before, limit, "BID#")
            .await?
            .iter()
            .map(|item| match stored_bid_from(item)?.outcome {
                BidOutcome::Accepted(bid) => Ok(PendingNotice {
                    tenant_id: item.string("tenantId")?,
                    bid,
                }),
                BidOutcome::Rejected(_) => Err(StoreError::CorruptItem(
                    "a rejected bid in the outbox".into(),
                )),
            })
            .collect()
    }

    async fn mark_notified(&self, bid_id: &BidId) -> Result<(), StoreError> {
        self.clear(bid_key(bid_id)).await
    }

    async fn pending_releases(
        &self,
        decided_before: EpochMillis,
        limit: usize,
    ) -> Result<Vec<StoredReservation>, StoreError> {
        self.oldest_of_every_partition(decided_before, limit, "RESERVATION#")
            .await?
            .iter()
            .map(reservation_from)
            .collect()
    }

    async fn mark_release_notified(&self, reservation_id: &str) -> Result<(), StoreError> {
        self.clear(reservation_key(reservation_id)).await
    }
}

impl DynamoOutbox {
    /// The oldest `limit` rows of the kind whose `pk` starts with `kind` (`BID#`, accepted bids;
    /// `RESERVATION#`, released holds) decided before `decided_before`, over every partition.
    async fn oldest_of_every_partition(
        &self,
        decided_before: EpochMillis,
        limit: usize,
        kind: &str,
    ) -> Result<Vec<crate::dynamo::item::Item>, StoreError> {
        // The oldest `limit` of each partition, then the oldest `limit` of those. Both kinds share
        // the partitions; each sweep takes its own out, so neither waits behind the other long.
        let partitions = (0..OUTBOX_SHARDS)
            .map(|shard| format!("PENDING#{shard}"))
            .chain(std::iter::once(LEGACY_PENDING.to_owned()));
        let pages = futures::future::try_join_all(
            partitions.map(|partition| self.oldest(partition, decided_before, limit)),
        )
        .await?;
        let mut items: Vec<_> = pages
            .into_iter()
            .flatten()
            .filter(|item| item.string(PK).is_ok_and(|pk| pk.starts_with(kind)))
            .collect();
        items.sort_by_key(|item| item.int(DECIDED_AT_MS).unwrap_or(i64::MAX));
        items.truncate(limit);
        Ok(items)
    }

    /// Takes the row out of the outbox. Idempotent.
    async fn clear(&self, key: crate::dynamo::item::Item) -> Result<(), StoreError> {
        let result = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key))
            .update_expression("REMOVE #notice")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#notice", NOTICE_KEY)
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(self.table.error(e)),
        }
    }
}
