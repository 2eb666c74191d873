//! [`DynamoAuctions`]: auctions and bids in the auctions table.
//!
//! A bid is one `TransactWriteItems`: a conditional decrement of `remainingItems` on the auction
//! (no recorded end, inside its active window, at least one item) plus a conditional put of the
//! bid keyed by its `bidId` (`attribute_not_exists`). So no item is sold twice and a retried bid
//! takes nothing. The time window is part of the condition, so correctness never waits for the
//! ticker to flip a status. A sold-out or ended auction is rejected from a read, keeping bid
//! storms off the hot item once there is nothing left to sell.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    CancellationReason, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use infra::tables::{
    BY_LIVE_INDEX, BY_PENDING_NOTICE_INDEX, BY_TENANT_PHASE_INDEX, DECIDED_AT_MS, LIVE_KEY,
    NOTICE_KEY, PK, SK, STARTS_AT_MS, TENANT_PHASE,
};

use super::MAX_LISTED_AUCTIONS;
use super::errors::classify;
use super::item::{Item, ItemExt, n, s};
use crate::domain::BidId;
use crate::domain::{
    AcceptedBid, Amount, Auction, AuctionId, AuctionStatus, BidDecision, BidOutcome, BidRequest,
    Currency, DutchSchedule, EndReason, Ending, EpochMillis, PlacedBid, RejectReason, RejectedBid,
    Reservation,
};
use crate::ports::{
    AuctionStore, CancelError, CreateAuctionError, PendingNotice, PlaceBidError, StoreError,
    TickerLease,
};

/// `liveKey` of an auction without a recorded end.
const LIVE: &str = "LIVE";
/// `noticeKey` of an accepted bid whose events are not yet known to be published.
const PENDING: &str = "PENDING";

/// How often a bid is retried when concurrent transactions on the auction item conflict
/// (DynamoDB cancels a transaction that touches an item another transaction is writing).
const MAX_CONFLICT_RETRIES: u32 = 8;

/// Auctions and bids in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoAuctions {
    client: Client,
    table: String,
}

fn auction_key(id: &AuctionId) -> (String, String) {
    (format!("AUCTION#{id}"), "AUCTION".to_owned())
}

fn bid_key(bid_id: &BidId) -> (String, String) {
    (format!("BID#{}", bid_id.as_str()), "BID".to_owned())
}

fn tenant_phase(tenant_id: &str, live: bool) -> String {
    format!("TENANT#{tenant_id}#{}", if live { "LIVE" } else { "ENDED" })
}

fn auction_item(a: &Auction) -> Item {
    let (pk, sk) = auction_key(&a.id);
    let mut item = Item::from([
        (PK.to_owned(), s(pk)),
        (SK.to_owned(), s(sk)),
        ("auctionId".to_owned(), s(a.id.as_str())),
        ("tenantId".to_owned(), s(&a.tenant_id)),
        ("sellerId".to_owned(), s(&a.seller_id)),
        ("title".to_owned(), s(&a.title)),
        ("currency".to_owned(), s(a.currency.code())),
        (
            "startPrice".to_owned(),
            n(a.schedule.start_price().minor_units()),
        ),
        (
            "floorPrice".to_owned(),
            n(a.schedule.floor_price().minor_units()),
        ),
        (
            "priceDrop".to_owned(),
            n(a.schedule.price_drop().minor_units()),
        ),
        (
            "dropIntervalSeconds".to_owned(),
            n(a.schedule.drop_interval_seconds()),
        ),
        (STARTS_AT_MS.to_owned(), n(a.schedule.starts_at().0)),
        ("endsAtMs".to_owned(), n(a.schedule.ends_at().0)),
        ("totalItems".to_owned(), n(a.total_items)),
        ("remainingItems".to_owned(), n(a.remaining_items)),
        (
            "reservationTtlSeconds".to_owned(),
            n(a.reservation_ttl_seconds),
        ),
        ("createdAtMs".to_owned(), n(a.created_at.0)),
        ("version".to_owned(), n(1)),
        (
            TENANT_PHASE.to_owned(),
            s(tenant_phase(&a.tenant_id, a.ending.is_none())),
        ),
    ]);
    match a.ending {
        Some(ending) => {
            item.insert("endReason".to_owned(), s(ending.reason.as_str()));
            item.insert("endedAtMs".to_owned(), n(ending.at.0));
        }
        None => {
            item.insert(LIVE_KEY.to_owned(), s(LIVE));
        }
    }
    item
}

fn auction_from(item: &Item) -> Result<Auction, StoreError> {
    let corrupt = |what: &str| StoreError::CorruptItem(what.to_owned());
    let currency =
        Currency::from_code(&item.string("currency")?).map_err(|e| corrupt(&e.to_string()))?;
    let schedule = DutchSchedule::new(
        Amount(item.int("startPrice")?),
        Amount(item.int("floorPrice")?),
        Amount(item.int("priceDrop")?),
        item.int("dropIntervalSeconds")?,
        EpochMillis(item.int(STARTS_AT_MS)?),
    )
    .map_err(|e| corrupt(&e.to_string()))?;
    let ending = match item.opt_string("endReason") {
        None => None,
        Some(reason) => Some(Ending {
            reason: EndReason::from_name(&reason).ok_or_else(|| corrupt("unknown endReason"))?,
            at: EpochMillis(item.int("endedAtMs")?),
        }),
    };
    Ok(Auction {
        id: AuctionId::parse(&item.string("auctionId")?).map_err(|_| corrupt("auctionId"))?,
        tenant_id: item.string("tenantId")?,
        seller_id: item.string("sellerId")?,
        title: item.string("title")?,
        currency,
        schedule,
        total_items: item.int("totalItems")?,
        remaining_items: item.int("remainingItems")?,
        reservation_ttl_seconds: item.int("reservationTtlSeconds")?,
        ending,
        created_at: EpochMillis(item.int("createdAtMs")?),
    })
}

/// The stored record of a bid's outcome, with the fingerprint of the body that produced it.
fn bid_item(bid: &BidRequest, outcome: &BidOutcome, now: EpochMillis) -> Item {
    let (pk, sk) = bid_key(&bid.bid_id);
    let mut item = Item::from([
        (PK.to_owned(), s(pk)),
        (SK.to_owned(), s(sk)),
        ("bidId".to_owned(), s(bid.bid_id.as_str())),
        ("auctionId".to_owned(), s(bid.auction_id.as_str())),
        ("tenantId".to_owned(), s(&bid.tenant_id)),
        ("userId".to_owned(), s(&bid.user_id)),
        ("bidPrice".to_owned(), n(bid.bid_price.minor_units())),
        ("fingerprint".to_owned(), s(bid.fingerprint())),
        (DECIDED_AT_MS.to_owned(), n(now.0)),
    ]);
    match outcome {
        BidOutcome::Accepted(a) => {
            item.insert("outcome".to_owned(), s("Accepted"));
            // In the outbox until the bid's events are on the bus (`mark_notified`).
            item.insert(NOTICE_KEY.to_owned(), s(PENDING));
            item.insert("currency".to_owned(), s(a.currency.code()));
            item.insert("winningPrice".to_owned(), n(a.winning_price.minor_units()));
            item.insert("reservationId".to_owned(), s(&a.reservation.reservation_id));
            item.insert(
                "reservationExpiresAtMs".to_owned(),
                n(a.reservation.expires_at.0),
            );
        }
        BidOutcome::Rejected(r) => {
            item.insert("outcome".to_owned(), s("Rejected"));
            item.insert("currency".to_owned(), s(r.currency.code()));
            item.insert("reason".to_owned(), s(r.reason.as_str()));
            item.insert("currentPrice".to_owned(), n(r.current_price.minor_units()));
        }
    }
    item
}

/// The first outcome of a bid, when the stored record was made by the same body.
fn replay(stored: &Item, bid: &BidRequest) -> Result<PlacedBid, PlaceBidError> {
    if stored.string("fingerprint")? != bid.fingerprint() {
        return Err(PlaceBidError::BidIdReused);
    }
    let corrupt = |what: &str| StoreError::CorruptItem(what.to_owned());
    let currency =
        Currency::from_code(&stored.string("currency")?).map_err(|e| corrupt(&e.to_string()))?;
    let outcome = match stored.string("outcome")?.as_str() {
        "Accepted" => BidOutcome::Accepted(AcceptedBid {
            bid_id: bid.bid_id.clone(),
            auction_id: bid.auction_id.clone(),
            user_id: bid.user_id.clone(),
            winning_price: Amount(stored.int("winningPrice")?),
            currency,
            reservation: Reservation {
                reservation_id: stored.string("reservationId")?,
                expires_at: EpochMillis(stored.int("reservationExpiresAtMs")?),
            },
            accepted_at: EpochMillis(stored.int("decidedAtMs")?),
        }),
        "Rejected" => BidOutcome::Rejected(RejectedBid {
            bid_id: bid.bid_id.clone(),
            auction_id: bid.auction_id.clone(),
            user_id: bid.user_id.clone(),
            reason: RejectReason::from_name(&stored.string("reason")?)
                .ok_or_else(|| corrupt("unknown reason"))?,
            current_price: Amount(stored.int("currentPrice")?),
            currency,
        }),
        _ => return Err(corrupt("unknown bid outcome").into()),
    };
    Ok(PlacedBid {
        outcome,
        replayed: true,
        remaining_items: None,
        ended: None,
    })
}

fn rejected(
    bid: &BidRequest,
    auction: &Auction,
    reason: RejectReason,
    current_price: Amount,
) -> BidOutcome {
    BidOutcome::Rejected(RejectedBid {
        bid_id: bid.bid_id.clone(),
        auction_id: bid.auction_id.clone(),
        user_id: bid.user_id.clone(),
        reason,
        current_price,
        currency: auction.currency,
    })
}

fn fresh(outcome: BidOutcome) -> PlacedBid {
    PlacedBid {
        outcome,
        replayed: false,
        remaining_items: None,
        ended: None,
    }
}

fn failed_item(reason: Option<&CancellationReason>) -> Option<&Item> {
    reason
        .filter(|r| r.code() == Some("ConditionalCheckFailed"))
        .and_then(|r| r.item())
}

fn has_code(reasons: &[CancellationReason], code: &str) -> bool {
    reasons.iter().any(|r| r.code() == Some(code))
}

impl DynamoAuctions {
    /// The adapter over `table` (the stack's `AuctionsTable`).
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn key(&self, (pk, sk): (String, String)) -> Item {
        Item::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
    }

    async fn get_item(
        &self,
        key: (String, String),
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(key)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| classify(e, &self.table))?;
        Ok(output.item)
    }

    /// Stores a non-final rejection so that a replay gets it; a concurrent first send wins.
    async fn record_rejection(
        &self,
        bid: &BidRequest,
        outcome: BidOutcome,
        now: EpochMillis,
    ) -> Result<PlacedBid, PlaceBidError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(bid_item(bid, &outcome, now)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(fresh(outcome)),
            Err(e) => match e.as_service_error() {
                Some(service) if service.is_conditional_check_failed_exception() => {
                    let stored = match service {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => c.item.clone(),
                        _ => None,
                    };
                    let stored = match stored {
                        Some(item) => item,
                        None => self
                            .get_item(bid_key(&bid.bid_id), true)
                            .await?
                            .ok_or_else(|| StoreError::CorruptItem("bid vanished".into()))?,
                    };
                    replay(&stored, bid)
                }
                _ => Err(classify(e, &self.table).into()),
            },
        }
    }

    /// The transaction of an accepted bid. `Ok(None)` means "decide again" (a conflict).
    async fn commit_acceptance(
        &self,
        bid: &BidRequest,
        auction: &Auction,
        winning_price: Amount,
        now: EpochMillis,
    ) -> Result<Option<PlacedBid>, PlaceBidError> {
        let accepted = AcceptedBid {
            bid_id: bid.bid_id.clone(),
            auction_id: bid.auction_id.clone(),
            user_id: bid.user_id.clone(),
            winning_price,
            currency: auction.currency,
            reservation: Reservation::new(now, auction.reservation_ttl_seconds),
            accepted_at: now,
        };
        let outcome = BidOutcome::Accepted(accepted);
        let take_item = Update::builder()
            .table_name(&self.table)
            .set_key(Some(self.key(auction_key(&auction.id))))
            .update_expression(
                "SET remainingItems = remainingItems - :one, version = version + :one",
            )
            .condition_expression(
                "remainingItems >= :one AND attribute_not_exists(endReason) \
                 AND startsAtMs <= :now AND endsAtMs > :now",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now.0))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Unknown(Box::new(e)))?;
        let record_bid = Put::builder()
            .table_name(&self.table)
            .set_item(Some(bid_item(bid, &outcome, now)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Unknown(Box::new(e)))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(take_item).build())
            .transact_items(TransactWriteItem::builder().put(record_bid).build())
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(Some(self.after_sale(auction, outcome, now).await?)),
            Err(error) => error,
        };
        let Some(reasons) = error
            .as_service_error()
            .filter(|s| s.is_transaction_canceled_exception())
            .and_then(|s| match s {
                aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
                    Some(c.cancellation_reasons().to_vec())
                }
                _ => None,
            })
        else {
            return match classify(error, &self.table) {
                StoreError::Contended => Ok(None),
                other => Err(other.into()),
            };
        };
        // Reasons come in the order of the transaction's items: [auction, bid].
        if let Some(stored) = failed_item(reasons.get(1)) {
            return replay(stored, bid).map(Some);
        }
        if reasons
            .get(1)
            .is_some_and(|r| r.code() == Some("ConditionalCheckFailed"))
        {
            let stored = self.get_item(bid_key(&bid.bid_id), true).await?;
            return match stored {
                Some(stored) => replay(&stored, bid).map(Some),
                None => Ok(None),
            };
        }
        if has_code(&reasons, "TransactionConflict") {
            return Ok(None);
        }
        if reasons
            .first()
            .is_some_and(|r| r.code() == Some("ConditionalCheckFailed"))
        {
            // Sold out or ended between the read and the write: decide on the state that failed.
            let latest = match failed_item(reasons.first()) {
                Some(item) => auction_from(item)?,
                None => match self.get_item(auction_key(&auction.id), true).await? {
                    Some(item) => auction_from(&item)?,
                    None => return Err(PlaceBidError::AuctionNotFound),
                },
            };
            let (reason, current_price) = match latest.decide_bid(bid.bid_price, now) {
                BidDecision::Reject {
                    reason,
                    current_price,
                } => (reason, current_price),
                // The condition failed yet the state admits the bid: the read raced a write; decide again.
                BidDecision::Accept { .. } => return Ok(None),
            };
            let outcome = rejected(bid, &latest, reason, current_price);
            let ended = matches!(latest.phase_at(now), crate::domain::Phase::Ended(_));
            if reason.is_final(ended) {
                return Ok(Some(fresh(outcome)));
            }
            return self.record_rejection(bid, outcome, now).await.map(Some);
        }
        Err(StoreError::Unknown(Box::new(error)).into())
    }

    /// After a committed sale: read the count, and record `SoldOut` when this sale emptied it.
    async fn after_sale(
        &self,
        auction: &Auction,
        outcome: BidOutcome,
        now: EpochMillis,
    ) -> Result<PlacedBid, StoreError> {
        let remaining = match self.get_item(auction_key(&auction.id), true).await? {
            Some(item) => item.int::<u32>("remainingItems")?,
            None => 0,
        };
        let mut ended = None;
        if remaining == 0 {
            let ending = Ending {
                reason: EndReason::SoldOut,
                at: now,
            };
            if self.record_end(auction, ending).await? {
                ended = Some(ending);
            }
        }
        Ok(PlacedBid {
            outcome,
            replayed: false,
            remaining_items: Some(remaining),
            ended,
        })
    }

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
                .client
                .query()
                .table_name(&self.table)
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
            let page = query.send().await.map_err(|e| classify(e, &self.table))?;
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
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(auction_item(auction)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(CreateAuctionError::AlreadyExists)
            }
            Err(e) => Err(classify(e, &self.table).into()),
        }
    }

    async fn get(&self, auction_id: &AuctionId) -> Result<Option<Auction>, StoreError> {
        // Eventually consistent: the snapshot is read by every poller, and replicas share the load.
        self.get_item(auction_key(auction_id), false)
            .await?
            .map(|item| auction_from(&item))
            .transpose()
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
                    .await?
            }
            AuctionStatus::Scheduled => {
                self.query_phase(tenant_id, true, Some((">", now)), false, &mut found)
                    .await?
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

    async fn cancel(
        &self,
        auction_id: &AuctionId,
        tenant_id: &str,
        seller_id: &str,
        now: EpochMillis,
    ) -> Result<Auction, CancelError> {
        let current = match self.get_item(auction_key(auction_id), true).await? {
            Some(item) => auction_from(&item)?,
            None => return Err(CancelError::NotFound),
        };
        if current.tenant_id != tenant_id {
            return Err(CancelError::NotFound);
        }
        if current.seller_id != seller_id {
            return Err(CancelError::NotSeller);
        }
        if matches!(current.phase_at(now), crate::domain::Phase::Ended(_)) {
            return Err(CancelError::AlreadyEnded(Box::new(current)));
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(auction_key(auction_id))))
            .update_expression(
                "SET endReason = :reason, endedAtMs = :now, #tp = :ended, version = version + :one \
                 REMOVE #live",
            )
            .expression_attribute_names("#live", LIVE_KEY)
            .condition_expression(
                "attribute_not_exists(endReason) AND remainingItems > :zero AND endsAtMs > :now",
            )
            .expression_attribute_names("#tp", TENANT_PHASE)
            .expression_attribute_values(":reason", s(EndReason::Cancelled.as_str()))
            .expression_attribute_values(":now", n(now.0))
            .expression_attribute_values(":ended", s(tenant_phase(tenant_id, false)))
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
                Ok(auction_from(&item)?)
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                let latest = self.get_item(auction_key(auction_id), true).await?;
                let latest = latest
                    .map(|item| auction_from(&item))
                    .transpose()?
                    .unwrap_or(current);
                Err(CancelError::AlreadyEnded(Box::new(latest)))
            }
            Err(e) => Err(classify(e, &self.table).into()),
        }
    }

    async fn record_end(&self, auction: &Auction, ending: Ending) -> Result<bool, StoreError> {
        // The tenant never changes, so the caller's copy of the auction names the index key.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(auction_key(&auction.id))))
            .update_expression(
                "SET endReason = :reason, endedAtMs = :at, #tp = :ended, version = version + :one \
                 REMOVE #live",
            )
            .expression_attribute_names("#live", LIVE_KEY)
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(endReason)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#tp", TENANT_PHASE)
            .expression_attribute_values(":reason", s(ending.reason.as_str()))
            .expression_attribute_values(":at", n(ending.at.0))
            .expression_attribute_values(":ended", s(tenant_phase(&auction.tenant_id, false)))
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(classify(e, &self.table)),
        }
    }

    async fn live(&self) -> Result<Vec<Auction>, StoreError> {
        let mut found = Vec::new();
        let mut start_key = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_LIVE_INDEX)
                .key_condition_expression("#live = :live")
                .expression_attribute_names("#live", LIVE_KEY)
                .expression_attribute_values(":live", s(LIVE))
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| classify(e, &self.table))?;
            for item in page.items() {
                found.push(auction_from(item)?);
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() || found.len() >= MAX_LISTED_AUCTIONS {
                found.truncate(MAX_LISTED_AUCTIONS);
                return Ok(found);
            }
        }
    }

    async fn pending_notices(
        &self,
        decided_before: EpochMillis,
        limit: usize,
    ) -> Result<Vec<PendingNotice>, StoreError> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_PENDING_NOTICE_INDEX)
            .key_condition_expression("#notice = :pending AND #decided < :before")
            .expression_attribute_names("#notice", NOTICE_KEY)
            .expression_attribute_names("#decided", DECIDED_AT_MS)
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":before", n(decided_before.0))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| classify(e, &self.table))?;
        page.items()
            .iter()
            .map(|item| {
                let corrupt = |what: &str| StoreError::CorruptItem(what.to_owned());
                let bid = BidRequest {
                    auction_id: AuctionId::parse(&item.string("auctionId")?)
                        .map_err(|_| corrupt("auctionId"))?,
                    bid_id: BidId::parse(&item.string("bidId")?).map_err(|_| corrupt("bidId"))?,
                    user_id: item.string("userId")?,
                    tenant_id: item.string("tenantId")?,
                    bid_price: Amount(item.int("bidPrice")?),
                    fresh_id: false,
                };
                match replay(item, &bid).map_err(|e| match e {
                    PlaceBidError::Store(e) => e,
                    other => corrupt(&other.to_string()),
                })? {
                    PlacedBid {
                        outcome: BidOutcome::Accepted(accepted),
                        ..
                    } => Ok(PendingNotice {
                        tenant_id: bid.tenant_id,
                        bid: accepted,
                    }),
                    _ => Err(corrupt("a rejected bid in the outbox")),
                }
            })
            .collect()
    }

    async fn mark_notified(&self, bid_id: &BidId) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(bid_key(bid_id))))
            .update_expression("REMOVE #notice")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#notice", NOTICE_KEY)
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(classify(e, &self.table)),
        }
    }

    async fn place_bid(
        &self,
        bid: &BidRequest,
        now: EpochMillis,
    ) -> Result<PlacedBid, PlaceBidError> {
        let auction = match self.get_item(auction_key(&bid.auction_id), false).await? {
            Some(item) => auction_from(&item)?,
            None => return Err(PlaceBidError::AuctionNotFound),
        };
        self.place_bid_on(&auction, bid, now).await
    }

    async fn place_bid_on(
        &self,
        auction: &Auction,
        bid: &BidRequest,
        now: EpochMillis,
    ) -> Result<PlacedBid, PlaceBidError> {
        // A stale read of the auction is safe: items and ends only ever move one way, and the
        // transaction's condition decides on the item as it is.
        let mut latest = std::borrow::Cow::Borrowed(auction);
        for attempt in 0..=MAX_CONFLICT_RETRIES {
            if attempt > 0 {
                // Jittered backoff: conflicting bidders spread out instead of colliding again.
                let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 10;
                tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt) + jitter)).await;
                latest = match self.get_item(auction_key(&bid.auction_id), true).await? {
                    Some(item) => std::borrow::Cow::Owned(auction_from(&item)?),
                    None => return Err(PlaceBidError::AuctionNotFound),
                };
            }
            let auction = latest.as_ref();
            if auction.id != bid.auction_id {
                return Err(PlaceBidError::AuctionNotFound);
            }
            if auction.tenant_id != bid.tenant_id {
                return Err(PlaceBidError::WrongTenant);
            }
            match auction.decide_bid(bid.bid_price, now) {
                BidDecision::Reject {
                    reason,
                    current_price,
                } => {
                    let outcome = rejected(bid, auction, reason, current_price);
                    let ended = matches!(auction.phase_at(now), crate::domain::Phase::Ended(_));
                    if reason.is_final(ended) {
                        // Not recorded; but an earlier send of this id may have won before the end.
                        if !bid.fresh_id
                            && let Some(stored) = self.get_item(bid_key(&bid.bid_id), true).await?
                        {
                            return replay(&stored, bid);
                        }
                        return Ok(fresh(outcome));
                    }
                    // The conditional put returns the first outcome when this id was used.
                    return self.record_rejection(bid, outcome, now).await;
                }
                BidDecision::Accept { winning_price } => {
                    // The transaction's put of the bid detects a replay through its cancellation.
                    if let Some(placed) = self
                        .commit_acceptance(bid, auction, winning_price, now)
                        .await?
                    {
                        return Ok(placed);
                    }
                }
            }
        }
        Err(StoreError::Contended.into())
    }
}

/// The lease row: `TICKER` / `LEASE`, with `owner`, `leaseUntilMs` and the `state` the holder saved.
fn lease_key() -> (String, String) {
    ("TICKER".to_owned(), "LEASE".to_owned())
}

fn conditional_failed<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(
    e: &aws_sdk_dynamodb::error::SdkError<E>,
) -> bool {
    e.as_service_error()
        .and_then(aws_sdk_dynamodb::error::ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

#[async_trait]
impl TickerLease for DynamoAuctions {
    async fn acquire(
        &self,
        owner: &str,
        now: EpochMillis,
        hold_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(lease_key())))
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
            Err(e) if conditional_failed(&e) => Ok(None),
            Err(e) => Err(classify(e, &self.table)),
        }
    }

    async fn renew(
        &self,
        owner: &str,
        now: EpochMillis,
        hold_ms: i64,
        state: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(lease_key())))
            .update_expression("SET leaseUntilMs = :until, #state = :state")
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", n(now.0 + hold_ms))
            .expression_attribute_values(":state", s(state))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(classify(e, &self.table)),
        }
    }

    async fn release(&self, owner: &str, state: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(lease_key())))
            .update_expression("SET leaseUntilMs = :zero, #state = :state")
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":state", s(state))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(classify(e, &self.table)),
        }
    }
}
