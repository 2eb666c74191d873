//! The rows of the auctions table and their domain types (docs/data-model.md).

use auction_core::domain::hold::{HoldState, Release};
use auction_core::domain::{
    AcceptedBid, Amount, Auction, AuctionId, BidId, BidOutcome, BidRequest, Currency,
    DutchSchedule, EndReason, Ending, EpochMillis, RejectReason, RejectedBid, Reservation,
};
use auction_core::ports::reservations::StoredReservation;
use auction_core::ports::{StoreError, StoredBid};
use infra::tables::{
    DECIDED_AT_MS, EXPIRES_AT, HOLD_EXPIRES_AT_MS, HOLD_KEY, LIVE_KEY, NOTICE_KEY, STARTS_AT_MS,
    TENANT_PHASE,
};

use crate::dynamo::item::{Item, ItemExt, n, s};
use crate::dynamo::table::Table;

/// `liveKey` of auctions written before the live index was sharded: still read, never written.
pub const LEGACY_LIVE: &str = "LIVE";

/// `liveKey` of an auction without a recorded end: `LIVE#{shard}`, the shard a stable hash of the
/// id ([`crate::dynamo::shard_of`]), so the platform's live auctions, and the index writes of
/// their rows, spread over `shards` partitions.
#[must_use]
pub fn live_key(id: &AuctionId, shards: u32) -> String {
    format!("LIVE#{}", crate::dynamo::shard_of(id.as_str(), shards))
}
/// `noticeKey` of accepted bids written before the outbox was sharded: still read, never written.
pub const LEGACY_PENDING: &str = "PENDING";

/// Partitions of the outbox index. Every sale enters and leaves the outbox (two index writes),
/// so one partition would cap the platform at about 500 sales a second (1,000 writes/s per
/// partition, docs/capacity.md); 16 take 8,000. Fixed: the sweep reads every partition.
pub const OUTBOX_SHARDS: u32 = 16;

/// `noticeKey` of an accepted bid whose events are not yet known to be published:
/// `PENDING#{shard}`, the shard a stable hash of the bid id.
#[must_use]
pub fn pending_key(bid_id: &BidId) -> String {
    pending_key_of(bid_id.as_str())
}

/// `noticeKey` of a row (an accepted bid, a released hold) by its id: `PENDING#{shard}`.
#[must_use]
pub fn pending_key_of(id: &str) -> String {
    format!("PENDING#{}", crate::dynamo::shard_of(id, OUTBOX_SHARDS))
}

/// The auction row's key.
pub fn auction_key(id: &AuctionId) -> Item {
    Table::key(format!("AUCTION#{id}"), "AUCTION")
}

/// The bid row's key: its own partition, so a bid storm spreads its writes.
pub fn bid_key(bid_id: &BidId) -> Item {
    Table::key(format!("BID#{}", bid_id.as_str()), "BID")
}

/// `tenantPhase`: `TENANT#{tenant}#LIVE` or `…#ENDED`.
pub fn tenant_phase(tenant_id: &str, live: bool) -> String {
    format!("TENANT#{tenant_id}#{}", if live { "LIVE" } else { "ENDED" })
}

fn corrupt(what: &str) -> StoreError {
    StoreError::CorruptItem(what.to_owned())
}

/// The auction row, in one of `live_shards` partitions of the live index while it has no end.
pub fn auction_item(a: &Auction, live_shards: u32) -> Item {
    let mut item = auction_key(&a.id);
    item.extend([
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
            item.insert(LIVE_KEY.to_owned(), s(live_key(&a.id, live_shards)));
        }
    }
    item
}

/// The auction a row holds.
///
/// # Errors
/// [`StoreError::CorruptItem`] for a row of another shape.
pub fn auction_from(item: &Item) -> Result<Auction, StoreError> {
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
        // Written by the first sale and the first release (rows before holds have neither).
        held_items: item.opt_int("heldItems")?.unwrap_or(0),
        released_items: item.opt_int("releasedItems")?.unwrap_or(0),
        reservation_ttl_seconds: item.int("reservationTtlSeconds")?,
        ending,
        created_at: EpochMillis(item.int("createdAtMs")?),
    })
}

/// An auction as the live index carries it ([`infra::tables::LIVE_SCHEDULE_ATTRIBUTES`]): its
/// schedule and nothing a sale changes. The index has no count of the items left, so the copy
/// says `total_items` there and its phase never reads `SoldOut` (the sale that empties an
/// auction records that end); read the row for the count.
///
/// # Errors
/// [`StoreError::CorruptItem`] for a row of another shape.
pub fn live_listing_from(item: &Item) -> Result<Auction, StoreError> {
    let mut row = item.clone();
    if !row.contains_key("remainingItems") {
        let total = item
            .get("totalItems")
            .cloned()
            .ok_or_else(|| corrupt("totalItems"))?;
        row.insert("remainingItems".to_owned(), total);
    }
    auction_from(&row)
}

/// The reservation row's key: its own partition, found by the id checkout and the sweep carry.
pub fn reservation_key(reservation_id: &str) -> Item {
    Table::key(format!("RESERVATION#{reservation_id}"), "RESERVATION")
}

/// The row of the hold an accepted bid made: `Held`, in `HOLD#{shard}` of the `byHold` index
/// (the shard a stable hash of the reservation id over `hold_shards`) until it is confirmed or
/// released.
pub fn reservation_item(tenant_id: &str, accepted: &AcceptedBid, hold_shards: u32) -> Item {
    let id = &accepted.reservation.reservation_id;
    let mut item = reservation_key(id);
    item.extend([
        ("reservationId".to_owned(), s(id)),
        ("auctionId".to_owned(), s(accepted.auction_id.as_str())),
        ("tenantId".to_owned(), s(tenant_id)),
        ("userId".to_owned(), s(&accepted.user_id)),
        ("bidId".to_owned(), s(accepted.bid_id.as_str())),
        (
            "winningPrice".to_owned(),
            n(accepted.winning_price.minor_units()),
        ),
        ("currency".to_owned(), s(accepted.currency.code())),
        (
            HOLD_EXPIRES_AT_MS.to_owned(),
            n(accepted.reservation.expires_at.0),
        ),
        ("holdState".to_owned(), s("Held")),
        (
            HOLD_KEY.to_owned(),
            // By auction: one shard's run sees all of an auction's lapsed holds and releases them
            // together (the auction's row takes one write for them, not one conflicting write
            // from each shard).
            s(format!(
                "HOLD#{}",
                crate::dynamo::shard_of(accepted.auction_id.as_str(), hold_shards)
            )),
        ),
    ]);
    item
}

/// The reservation a row holds.
///
/// # Errors
/// [`StoreError::CorruptItem`] for a row of another shape.
pub fn reservation_from(item: &Item) -> Result<StoredReservation, StoreError> {
    let state = match item.string("holdState")?.as_str() {
        "Held" => HoldState::Held,
        "Confirmed" => HoldState::Confirmed,
        "Released" => HoldState::Released,
        _ => return Err(corrupt("unknown holdState")),
    };
    let released_to = match item.opt_string("releasedTo").as_deref() {
        None => None,
        Some("Returned") => Some(Release::Returned),
        Some("Unsold") => Some(Release::Unsold),
        Some(_) => return Err(corrupt("unknown releasedTo")),
    };
    Ok(StoredReservation {
        reservation_id: item.string("reservationId")?,
        auction_id: AuctionId::parse(&item.string("auctionId")?)
            .map_err(|_| corrupt("auctionId"))?,
        tenant_id: item.string("tenantId")?,
        user_id: item.string("userId")?,
        bid_id: BidId::parse(&item.string("bidId")?).map_err(|_| corrupt("bidId"))?,
        winning_price: Amount(item.int("winningPrice")?),
        currency: Currency::from_code(&item.string("currency")?)
            .map_err(|e| corrupt(&e.to_string()))?,
        expires_at: EpochMillis(item.int(HOLD_EXPIRES_AT_MS)?),
        state,
        decided_at: item.opt_int("decidedAtMs")?.map(EpochMillis),
        released_to,
    })
}

/// How long a rejected bid's row is kept: a replay of its id within this time gets the same
/// answer; after it, TTL deletes the row (within a few days, as DynamoDB does) and the id is
/// decided anew. Accepted bids are kept: they are sales.
pub const REJECTED_BID_RETENTION_SECONDS: i64 = 86_400;

/// The record of a bid's outcome, with the fingerprint of the body that produced it. An
/// acceptance enters the outbox (`noticeKey = PENDING#{shard}`); a rejection expires
/// ([`REJECTED_BID_RETENTION_SECONDS`]).
pub fn bid_item(bid: &BidRequest, outcome: &BidOutcome, decided_at: EpochMillis) -> Item {
    let mut item = bid_key(&bid.bid_id);
    item.extend([
        ("bidId".to_owned(), s(bid.bid_id.as_str())),
        ("auctionId".to_owned(), s(bid.auction_id.as_str())),
        ("tenantId".to_owned(), s(&bid.tenant_id)),
        ("userId".to_owned(), s(&bid.user_id)),
        ("bidPrice".to_owned(), n(bid.bid_price.minor_units())),
        ("fingerprint".to_owned(), s(bid.fingerprint())),
        (DECIDED_AT_MS.to_owned(), n(decided_at.0)),
    ]);
    match outcome {
        BidOutcome::Accepted(a) => {
            item.insert("outcome".to_owned(), s("Accepted"));
            item.insert(NOTICE_KEY.to_owned(), s(pending_key(&bid.bid_id)));
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
            item.insert(
                EXPIRES_AT.to_owned(),
                n(decided_at.as_seconds() + REJECTED_BID_RETENTION_SECONDS),
            );
        }
    }
    item
}

/// The bid a record holds.
///
/// # Errors
/// [`StoreError::CorruptItem`] for a row of another shape.
pub fn stored_bid_from(item: &Item) -> Result<StoredBid, StoreError> {
    let bid_id = BidId::parse(&item.string("bidId")?).map_err(|_| corrupt("bidId"))?;
    let auction_id =
        AuctionId::parse(&item.string("auctionId")?).map_err(|_| corrupt("auctionId"))?;
    let user_id = item.string("userId")?;
    let currency =
        Currency::from_code(&item.string("currency")?).map_err(|e| corrupt(&e.to_string()))?;
    let outcome = match item.string("outcome")?.as_str() {
        "Accepted" => BidOutcome::Accepted(AcceptedBid {
            bid_id,
            auction_id,
            user_id,
            winning_price: Amount(item.int("winningPrice")?),
            currency,
            reservation: Reservation {
                reservation_id: item.string("reservationId")?,
                expires_at: EpochMillis(item.int("reservationExpiresAtMs")?),
            },
            accepted_at: EpochMillis(item.int(DECIDED_AT_MS)?),
        }),
        "Rejected" => BidOutcome::Rejected(RejectedBid {
            bid_id,
            auction_id,
            user_id,
            reason: RejectReason::from_name(&item.string("reason")?)
                .ok_or_else(|| corrupt("unknown reason"))?,
            current_price: Amount(item.int("currentPrice")?),
            currency,
        }),
        _ => return Err(corrupt("unknown bid outcome")),
    };
    Ok(StoredBid {
        fingerprint: item.string("fingerprint")?,
        outcome,
    })
}
