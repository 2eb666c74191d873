//! [`DynamoReservations`]: reservation rows (`RESERVATION#{id}` / `RESERVATION`), written in the
//! sale's transaction ([`super::DynamoBids`]), and the two moves that end a hold: confirm and
//! release, each one `TransactWriteItems` of the reservation (conditioned on its state and
//! expiry) and its auction's counts (docs/design/reservations.md). Open holds carry
//! `holdKey = HOLD#{shard}`, the partition key of the sparse `byHold` index the sweep reads.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use infra::tables::{BY_HOLD_INDEX, HOLD_EXPIRES_AT_MS, HOLD_KEY, NOTICE_KEY};

use super::codec::{auction_from, auction_key, pending_key_of, reservation_from, reservation_key};
use crate::dynamo::item::{ItemExt, n, s};
use crate::dynamo::table::{Table, cancellation_reasons, condition_failed_at};
use auction_core::domain::AuctionId;
use auction_core::domain::EpochMillis;
use auction_core::domain::hold::{
    ConfirmDecision, HoldState, ItemTally, Release, decide_confirm, may_release,
};
use auction_core::ports::StoreError;
use auction_core::ports::reservations::{
    ConfirmOutcome, DueHold, MAX_HOLDS_PER_RELEASE, ReleaseOutcome, ReleasedHolds,
    ReservationStore, StoredReservation,
};

/// Reservations in the auctions table.
#[derive(Debug, Clone)]
pub struct DynamoReservations {
    table: Table,
}

fn build_error(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unknown(Box::new(e))
}

/// A hold state's name in the row.
#[must_use]
pub fn state_name(state: HoldState) -> &'static str {
    match state {
        HoldState::Held => "Held",
        HoldState::Confirmed => "Confirmed",
        HoldState::Released => "Released",
    }
}

/// How a transaction of [reservation, auction] ended.
enum Moved {
    Committed,
    /// The reservation's condition failed (no longer held, or the expiry side changed).
    ReservationRefused,
    /// The auction's condition failed.
    AuctionRefused,
    /// Another transaction was under way on one of the rows.
    Conflict,
}

impl DynamoReservations {
    /// The adapter over `table` (the stack's `AuctionsTable`).
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            table: Table::new(client, table),
        }
    }

    /// Moves a hold out of `Held`: `reservation` updates its row under "held, and the expiry is
    /// (not) over", `auction` its auction's counts.
    async fn transact(&self, reservation: Update, auction: Update) -> Result<Moved, StoreError> {
        let result = self
            .table
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(reservation).build())
            .transact_items(TransactWriteItem::builder().update(auction).build())
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(Moved::Committed),
            Err(error) => error,
        };
        let Some(reasons) = cancellation_reasons(&error).map(<[_]>::to_vec) else {
            return match self.table.error(error) {
                StoreError::Contended => Ok(Moved::Conflict),
                other => Err(other),
            };
        };
        // Reasons come in the order of the transaction's items: [reservation, auction].
        if condition_failed_at(&reasons, 0) {
            return Ok(Moved::ReservationRefused);
        }
        if reasons
            .iter()
            .any(|r| r.code() == Some("TransactionConflict"))
        {
            return Ok(Moved::Conflict);
        }
        if condition_failed_at(&reasons, 1) {
            return Ok(Moved::AuctionRefused);
        }
        Err(StoreError::Unknown(Box::new(error)))
    }

    /// The reservation's update that ends its hold: `SET` the new state (and what `extra` adds)
    /// and `REMOVE holdKey`, under `holdState = Held` and the expiry `condition`.
    fn end_hold(
        &self,
        reservation_id: &str,
        state: HoldState,
        now: EpochMillis,
        expiry: &str,
        extra: &[(&str, aws_sdk_dynamodb::types::AttributeValue)],
    ) -> Result<Update, StoreError> {
        let mut set = vec![
            "holdState = :state".to_owned(),
            "decidedAtMs = :now".to_owned(),
        ];
        let mut update = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(reservation_key(reservation_id)))
            .condition_expression(format!("holdState = :held AND #expires {expiry} :now"))
            .expression_attribute_names("#expires", HOLD_EXPIRES_AT_MS)
            .expression_attribute_names("#hold", HOLD_KEY)
            .expression_attribute_values(":state", s(state_name(state)))
            .expression_attribute_values(":held", s(state_name(HoldState::Held)))
            .expression_attribute_values(":now", n(now.0))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (name, value) in extra {
            set.push(format!("{name} = :{name}"));
            update = update.expression_attribute_values(format!(":{name}"), value.clone());
        }
        update
            .update_expression(format!("SET {} REMOVE #hold", set.join(", ")))
            .build()
            .map_err(build_error)
    }

    /// The auction's counts after a hold ends: `update` (an `ADD`-free `SET`), under `condition`.
    fn auction_counts(
        &self,
        auction_id: &AuctionId,
        update: &str,
        condition: &str,
        now: EpochMillis,
    ) -> Result<Update, StoreError> {
        let mut builder = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(auction_key(auction_id)))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0));
        if condition.contains(":now") {
            builder = builder.expression_attribute_values(":now", n(now.0));
        }
        builder.build().map_err(build_error)
    }

    async fn read(&self, reservation_id: &str) -> Result<Option<StoredReservation>, StoreError> {
        self.table
            .get(reservation_key(reservation_id), true)
            .await?
            .map(|item| reservation_from(&item))
            .transpose()
    }

    /// The auction's counts after `count` of its holds were released `to` the room or unsold;
    /// back to the room only while the schedule runs and no end is recorded. One release and a
    /// sweep's batch share it.
    fn released_counts(
        &self,
        auction_id: &AuctionId,
        count: usize,
        to: Release,
        now: EpochMillis,
    ) -> Result<Update, StoreError> {
        let (update, condition) = match to {
            Release::Returned => (
                "SET heldItems = heldItems - :n, remainingItems = remainingItems + :n, \
                 releasedItems = if_not_exists(releasedItems, :zero) + :n, \
                 version = version + :one",
                "heldItems >= :n AND attribute_not_exists(endReason) AND endsAtMs > :now",
            ),
            Release::Unsold => (
                "SET heldItems = heldItems - :n, \
                 unsoldItems = if_not_exists(unsoldItems, :zero) + :n",
                "heldItems >= :n",
            ),
        };
        let mut builder = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(auction_key(auction_id)))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_values(":n", n(count))
            .expression_attribute_values(":zero", n(0));
        if to == Release::Returned {
            builder = builder
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(now.0));
        }
        builder.build().map_err(build_error)
    }

    /// The auction's counts as they are now.
    async fn tally(&self, auction_id: &AuctionId) -> Result<ItemTally, StoreError> {
        Ok(self
            .table
            .get(auction_key(auction_id), true)
            .await?
            .map(|item| auction_from(&item))
            .transpose()?
            .map(|a| a.tally())
            .unwrap_or_default())
    }
}

/// Attempts of one move before it reports contention.
const MAX_ATTEMPTS: u32 = 5;

#[async_trait]
impl ReservationStore for DynamoReservations {
    async fn get(&self, reservation_id: &str) -> Result<Option<StoredReservation>, StoreError> {
        self.read(reservation_id).await
    }

    async fn confirm(
        &self,
        reservation_id: &str,
        now: EpochMillis,
    ) -> Result<ConfirmOutcome, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let Some(current) = self.read(reservation_id).await? else {
                return Ok(ConfirmOutcome::NotFound);
            };
            match decide_confirm(current.state, current.expires_at, now) {
                ConfirmDecision::AlreadyConfirmed => {
                    return Ok(ConfirmOutcome::AlreadyConfirmed(current));
                }
                ConfirmDecision::Expired => return Ok(ConfirmOutcome::Expired(current)),
                ConfirmDecision::Confirm => {}
            }
            let reservation = self.end_hold(reservation_id, HoldState::Confirmed, now, ">", &[])?;
            let auction = self.auction_counts(
                &current.auction_id,
                "SET heldItems = heldItems - :one, \
                 confirmedItems = if_not_exists(confirmedItems, :zero) + :one",
                "heldItems >= :one",
                now,
            )?;
            match self.transact(reservation, auction).await? {
                Moved::Committed => {
                    return Ok(ConfirmOutcome::Confirmed(StoredReservation {
                        state: HoldState::Confirmed,
                        decided_at: Some(now),
                        ..current
                    }));
                }
                // Released (or confirmed) between the read and the write: decide again on the
                // row as it is.
                Moved::ReservationRefused | Moved::Conflict => {}
                Moved::AuctionRefused => {
                    return Err(StoreError::CorruptItem(format!(
                        "auction {} holds no item for reservation {reservation_id}",
                        current.auction_id
                    )));
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(attempt + 1))).await;
        }
        Err(StoreError::Contended)
    }

    async fn release(
        &self,
        reservation_id: &str,
        now: EpochMillis,
    ) -> Result<ReleaseOutcome, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let Some(current) = self.read(reservation_id).await? else {
                return Ok(ReleaseOutcome::NotDue);
            };
            if !may_release(current.state, current.expires_at, now) {
                return Ok(ReleaseOutcome::NotDue);
            }
            // Back to the room while the schedule runs and no end is recorded; else unsold.
            for to in [Release::Returned, Release::Unsold] {
                let reservation = self.end_hold(
                    reservation_id,
                    HoldState::Released,
                    now,
                    "<=",
                    // In the outbox in the same write: the release is announced at least once.
                    &[
                        ("releasedTo", s(release_name(to))),
                        (NOTICE_KEY, s(pending_key_of(reservation_id))),
                    ],
                )?;
                let auction = self.released_counts(&current.auction_id, 1, to, now)?;
                match self.transact(reservation, auction).await? {
                    Moved::Committed => {
                        return Ok(ReleaseOutcome::Released {
                            items: self.tally(&current.auction_id).await?,
                            reservation: StoredReservation {
                                state: HoldState::Released,
                                decided_at: Some(now),
                                released_to: Some(to),
                                ..current
                            },
                            to,
                        });
                    }
                    Moved::ReservationRefused => return Ok(ReleaseOutcome::NotDue),
                    // The schedule is over or an end is recorded: the item is unsold.
                    Moved::AuctionRefused if to == Release::Returned => {}
                    Moved::AuctionRefused => {
                        return Err(StoreError::CorruptItem(format!(
                            "auction {} holds no item for reservation {reservation_id}",
                            current.auction_id
                        )));
                    }
                    Moved::Conflict => break,
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(attempt + 1))).await;
        }
        Err(StoreError::Contended)
    }

    async fn due(
        &self,
        shard: u32,
        now: EpochMillis,
        limit: usize,
    ) -> Result<Vec<DueHold>, StoreError> {
        let page = self
            .table
            .client
            .query()
            .table_name(&self.table.name)
            .index_name(BY_HOLD_INDEX)
            .key_condition_expression("#hold = :hold AND #expires <= :now")
            .expression_attribute_names("#hold", HOLD_KEY)
            .expression_attribute_names("#expires", HOLD_EXPIRES_AT_MS)
            .expression_attribute_values(":hold", s(format!("HOLD#{shard}")))
            .expression_attribute_values(":now", n(now.0))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| self.table.error(e))?;
        page.items()
            .iter()
            .map(|item| {
                Ok(DueHold {
                    reservation_id: item
                        .string("pk")?
                        .strip_prefix("RESERVATION#")
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            StoreError::CorruptItem("byHold lists a non-reservation".into())
                        })?,
                    auction_id: AuctionId::parse(&item.string("auctionId")?)
                        .map_err(|_| StoreError::CorruptItem("byHold: auctionId".into()))?,
                    tenant_id: item.string("tenantId")?,
                    user_id: item.string("userId")?,
                })
            })
            .collect()
    }

    async fn release_due(
        &self,
        auction_id: &AuctionId,
        holds: &[DueHold],
        now: EpochMillis,
    ) -> Result<ReleasedHolds, StoreError> {
        let mut pending: Vec<DueHold> = holds
            .iter()
            .filter(|h| h.auction_id == *auction_id)
            .take(MAX_HOLDS_PER_RELEASE)
            .cloned()
            .collect();
        let mut to = Release::Returned;
        let mut conflicts = 0;
        while !pending.is_empty() {
            let mut request = self.table.client.transact_write_items();
            for hold in &pending {
                let update = self.end_hold(
                    &hold.reservation_id,
                    HoldState::Released,
                    now,
                    "<=",
                    // In the outbox in the same write: the release is announced at least once.
                    &[
                        ("releasedTo", s(release_name(to))),
                        (NOTICE_KEY, s(pending_key_of(&hold.reservation_id))),
                    ],
                )?;
                request =
                    request.transact_items(TransactWriteItem::builder().update(update).build());
            }
            let counts = self.released_counts(auction_id, pending.len(), to, now)?;
            request = request.transact_items(TransactWriteItem::builder().update(counts).build());
            let error = match request.send().await {
                Ok(_) => {
                    return Ok(ReleasedHolds {
                        items: self.tally(auction_id).await?,
                        released: pending,
                        to,
                    });
                }
                Err(error) => error,
            };
            let Some(reasons) = cancellation_reasons(&error).map(<[_]>::to_vec) else {
                match self.table.error(error) {
                    StoreError::Contended if conflicts < MAX_ATTEMPTS => {
                        conflicts += 1;
                        backoff(conflicts).await;
                        continue;
                    }
                    other => return Err(other),
                }
            };
            // Reasons come in the order of the items: the holds, then the auction.
            let refused: Vec<usize> = (0..pending.len())
                .filter(|&i| condition_failed_at(&reasons, i))
                .collect();
            if !refused.is_empty() {
                // Confirmed, released or not due meanwhile: leave them out and go again.
                pending = pending
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| !refused.contains(i))
                    .map(|(_, hold)| hold)
                    .collect();
                continue;
            }
            if reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"))
            {
                if conflicts >= MAX_ATTEMPTS {
                    return Err(StoreError::Contended);
                }
                conflicts += 1;
                backoff(conflicts).await;
                continue;
            }
            if condition_failed_at(&reasons, pending.len()) && to == Release::Returned {
                // The schedule is over or an end is recorded: the items are unsold.
                to = Release::Unsold;
                continue;
            }
            return Err(StoreError::Unknown(Box::new(error)));
        }
        Ok(ReleasedHolds {
            released: Vec::new(),
            to,
            items: ItemTally::default(),
        })
    }
}

/// Waits a little longer after each conflict (5, 10, 15 … ms).
async fn backoff(attempt: u32) {
    tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(attempt))).await;
}

/// A release's destination's name in the row.
#[must_use]
pub fn release_name(to: Release) -> &'static str {
    match to {
        Release::Returned => "Returned",
        Release::Unsold => "Unsold",
    }
}
