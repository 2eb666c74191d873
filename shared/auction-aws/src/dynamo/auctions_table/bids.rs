//! [`DynamoBids`]: bid records, and the sale as one `TransactWriteItems`.
//!
//! A sale is a conditional decrement of `remainingItems` on the auction (no recorded end, inside
//! its active window at the bid's time, at least one item) plus a conditional put of the bid
//! keyed by its `bidId` (`attribute_not_exists`). So no item is sold twice and a retried bid
//! takes nothing. The time window is part of the condition, so correctness never waits for the
//! ticker to record an end.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use infra::tables::PK;

use super::codec::{
    auction_from, auction_key, bid_item, bid_key, reservation_item, stored_bid_from,
};
use crate::dynamo::item::{Item, n};
use crate::dynamo::table::{Table, cancellation_reasons, condition_failed, condition_failed_at};
use auction_core::domain::{
    AcceptedBid, Auction, BidId, BidOutcome, BidRequest, EpochMillis, RejectedBid,
};
use auction_core::ports::{BidStore, Commit, Recorded, StoreError, StoredBid};

/// Bids in the auctions table.
#[derive(Debug, Clone)]
pub struct DynamoBids {
    table: Table,
    hold_shards: u32,
}

fn build_error(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unknown(Box::new(e))
}

/// The item a cancelled transaction's reason carries when its condition failed.
fn failed_item(reason: Option<&CancellationReason>) -> Option<&Item> {
    reason
        .filter(|r| r.code() == Some("ConditionalCheckFailed"))
        .and_then(|r| r.item())
}

impl DynamoBids {
    /// The adapter over `table` (the stack's `AuctionsTable`).
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            table: Table::new(client, table),
            hold_shards: 1,
        }
    }

    /// Open holds go to `shards` partitions of the `byHold` index (the live index's count: each
    /// ticker shard sweeps its own).
    #[must_use]
    pub fn with_hold_shards(mut self, shards: u32) -> Self {
        self.hold_shards = shards.clamp(1, crate::dynamo::MAX_LIVE_INDEX_SHARDS);
        self
    }
}

#[async_trait]
impl BidStore for DynamoBids {
    async fn find(&self, bid_id: &BidId) -> Result<Option<StoredBid>, StoreError> {
        self.table
            .get(bid_key(bid_id), true)
            .await?
            .map(|item| stored_bid_from(&item))
            .transpose()
    }

    async fn record_rejection(
        &self,
        bid: &BidRequest,
        rejected: &RejectedBid,
        now: EpochMillis,
    ) -> Result<Recorded, StoreError> {
        let outcome = BidOutcome::Rejected(rejected.clone());
        let result = self
            .table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(bid_item(bid, &outcome, now)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Recorded::New),
            Err(e) if condition_failed(&e) => {
                let stored = match e.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(c)) => c.item.clone(),
                    _ => None,
                };
                let stored = match stored {
                    Some(item) => stored_bid_from(&item)?,
                    None => self
                        .find(&bid.bid_id)
                        .await?
                        .ok_or_else(|| StoreError::CorruptItem("bid vanished".into()))?,
                };
                Ok(Recorded::Existing(stored))
            }
            Err(e) => Err(self.table.error(e)),
        }
    }

    async fn commit_acceptance(
        &self,
        bid: &BidRequest,
        auction: &Auction,
        accepted: &AcceptedBid,
    ) -> Result<Commit, StoreError> {
        let now = accepted.accepted_at;
        let take_item = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(auction_key(&auction.id)))
            .update_expression(
                "SET remainingItems = remainingItems - :one, version = version + :one, \
                 heldItems = if_not_exists(heldItems, :zero) + :one",
            )
            .condition_expression(
                "remainingItems >= :one AND attribute_not_exists(endReason) \
                 AND startsAtMs <= :now AND endsAtMs > :now",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now.0))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error)?;
        let record_bid = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(bid_item(
                bid,
                &BidOutcome::Accepted(accepted.clone()),
                now,
            )))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error)?;
        // The hold: a fresh random id, so its put never meets an existing row.
        let hold = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(reservation_item(
                &auction.tenant_id,
                accepted,
                self.hold_shards,
            )))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(build_error)?;
        let result = self
            .table
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(take_item).build())
            .transact_items(TransactWriteItem::builder().put(record_bid).build())
            .transact_items(TransactWriteItem::builder().put(hold).build())
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(Commit::Committed),
            Err(error) => error,
        };
        let reasons = match cancellation_reasons(&error) {
            Some(reasons) => reasons.to_vec(),
            None => {
                return match self.table.error(error) {
                    StoreError::Contended => Ok(Commit::Conflict),
                    other => Err(other),
                };
            }
        };
        // Reasons come in the order of the transaction's items: [auction, bid, hold].
        if condition_failed_at(&reasons, 1) {
            return failed_item(reasons.get(1))
                .map(stored_bid_from)
                .transpose()
                .map(Commit::BidExists);
        }
        if reasons
            .iter()
            .any(|r| r.code() == Some("TransactionConflict"))
        {
            return Ok(Commit::Conflict);
        }
        if condition_failed_at(&reasons, 0) {
            return failed_item(reasons.first())
                .map(auction_from)
                .transpose()
                .map(Commit::AuctionRefused);
        }
        Err(StoreError::Unknown(Box::new(error)))
    }
}
