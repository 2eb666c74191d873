//! Announcing bids on the bus, with the outbox that makes an accepted bid never silent.
//!
//! An accepted bid enters the outbox in the same transaction that takes the item
//! ([`crate::ports::BidStore::commit_acceptance`]). The bid's caller publishes its events right
//! after the commit and then takes it out ([`announce`]). If publishing fails, or the function
//! dies in between, the entry stays and the price ticker's sweep ([`sweep_outbox`]) publishes the
//! events from the stored bid a few seconds later. Delivery is therefore at least once; clients
//! recognise a repeat by `bidId`.

use crate::domain::{Auction, BidOutcome, EndReason, EpochMillis, Phase, PlacedBid};
use crate::events::DomainEvent;
use crate::ports::{AuctionStore, EventPublisher, Outbox, StoreError};

/// How long an outbox entry may wait for the HTTP API's own publish before the sweep takes it.
pub const OUTBOX_GRACE_MS: i64 = 3_000;
/// Outbox entries handled per sweep.
const SWEEP_BATCH: usize = 50;

/// The events of a freshly placed bid (nothing for a replay: the first send announced it).
#[must_use]
pub fn events_for(auction: &Auction, placed: &PlacedBid) -> Vec<DomainEvent> {
    if placed.replayed {
        return Vec::new();
    }
    match &placed.outcome {
        BidOutcome::Accepted(bid) => {
            // Without a read after the sale: the counts before it, moved by this sale.
            let items = placed.tally.unwrap_or_else(|| {
                let mut before = auction.tally();
                before.remaining_items = before.remaining_items.saturating_sub(1);
                before.sold_items += 1;
                before
            });
            let mut events = vec![
                DomainEvent::bid_accepted(&auction.tenant_id, bid),
                DomainEvent::item_sold(auction, &bid.user_id, items),
            ];
            if let Some(ending) = placed.ended {
                events.push(DomainEvent::auction_ended(auction, ending.reason));
            }
            events
        }
        BidOutcome::Rejected(bid) => vec![DomainEvent::bid_rejected(&auction.tenant_id, bid)],
    }
}

/// Publishes a placed bid's events; for an acceptance, clears its outbox entry once they are out.
/// Failures are logged, not returned: the bid is decided and its outcome is in the HTTP response;
/// the sweep publishes an acceptance whose entry is still there.
pub async fn announce(
    outbox: &dyn Outbox,
    publisher: &dyn EventPublisher,
    auction: &Auction,
    placed: &PlacedBid,
) {
    let events = events_for(auction, placed);
    if events.is_empty() {
        return;
    }
    if let Err(e) = publisher.publish(&events).await {
        tracing::error!(error = ?e, auction_id = %auction.id, "bid events not published; the outbox keeps an acceptance");
        return;
    }
    if let BidOutcome::Accepted(bid) = &placed.outcome
        && let Err(e) = outbox.mark_notified(&bid.bid_id).await
    {
        tracing::warn!(error = ?e, bid_id = bid.bid_id.as_str(), "outbox entry not cleared; the sweep will publish again");
    }
}

/// Publishes the events of accepted bids still in the outbox after the grace period, from the
/// stored bid and the auction as it is now. Returns how many bids were announced.
///
/// # Errors
/// [`StoreError`] when the outbox cannot be read.
pub async fn sweep_outbox(
    auctions: &dyn AuctionStore,
    outbox: &dyn Outbox,
    publisher: &dyn EventPublisher,
    now: EpochMillis,
) -> Result<usize, StoreError> {
    let pending = outbox
        .pending(EpochMillis(now.0 - OUTBOX_GRACE_MS), SWEEP_BATCH)
        .await?;
    let mut announced = 0;
    for notice in pending {
        let Some(auction) = auctions.get_latest(&notice.bid.auction_id).await? else {
            outbox.mark_notified(&notice.bid.bid_id).await?;
            continue;
        };
        let mut events = vec![
            DomainEvent::bid_accepted(&notice.tenant_id, &notice.bid),
            DomainEvent::item_sold(&auction, &notice.bid.user_id, auction.tally()),
        ];
        if let Phase::Ended(ending) = auction.phase_at(now)
            && ending.reason == EndReason::SoldOut
        {
            // The sale's caller died before it recorded the end: the sweep owns it now (the
            // ticker's live list has no count to see it by). Whoever recorded it announces it;
            // announcing it twice is safe (at least once, docs/events.md).
            if auction.ending.is_none() {
                auctions.record_end(&auction, ending).await?;
            }
            events.push(DomainEvent::auction_ended(&auction, EndReason::SoldOut));
        }
        match publisher.publish(&events).await {
            Ok(()) => {
                outbox.mark_notified(&notice.bid.bid_id).await?;
                announced += 1;
                tracing::warn!(
                    bid_id = notice.bid.bid_id.as_str(),
                    "announced an accepted bid from the outbox"
                );
            }
            Err(e) => {
                tracing::error!(error = ?e, "outbox sweep could not publish; retrying next tick");
                break;
            }
        }
    }
    Ok(announced)
}

/// Publishes the events of released holds still in the outbox after the grace period (their
/// sweep died or could not publish), with the auction's count as it is now. Returns how many
/// releases were announced.
///
/// # Errors
/// [`StoreError`] when the outbox cannot be read.
pub async fn sweep_releases(
    auctions: &dyn AuctionStore,
    outbox: &dyn Outbox,
    publisher: &dyn EventPublisher,
    now: EpochMillis,
) -> Result<usize, StoreError> {
    let pending = outbox
        .pending_releases(EpochMillis(now.0 - OUTBOX_GRACE_MS), SWEEP_BATCH)
        .await?;
    let mut announced = 0;
    for release in pending {
        let items = auctions
            .get_latest(&release.auction_id)
            .await?
            .map(|a| a.tally())
            .unwrap_or_default();
        let to = release
            .released_to
            .unwrap_or(crate::domain::hold::Release::Unsold);
        match publisher
            .publish(&DomainEvent::released(&[(&release).into()], to, items))
            .await
        {
            Ok(()) => {
                outbox
                    .mark_release_notified(&release.reservation_id)
                    .await?;
                announced += 1;
                tracing::warn!(
                    reservation_id = release.reservation_id,
                    "announced a released hold from the outbox"
                );
            }
            Err(e) => {
                tracing::error!(error = ?e, "outbox sweep could not publish a release; retrying next tick");
                break;
            }
        }
    }
    Ok(announced)
}
