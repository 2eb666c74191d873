//! The auction aggregate: its phase at an instant, its snapshot (docs/protocol.md section 6), the
//! validation of a new auction (section 5) and the bid decision.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::bid::{BidDecision, RejectReason};
use super::epoch::EpochMillis;
use super::hold::ItemTally;
use super::money::{Amount, Currency, MajorUnits};
use super::schedule::DutchSchedule;

/// An auction id: a UUID in its canonical lower-case text form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuctionId(String);

impl AuctionId {
    /// A fresh random id.
    #[must_use]
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// Parses a client-supplied id; anything but a UUID in canonical form is refused.
    ///
    /// # Errors
    /// [`InvalidId`] when the text is not a UUID in canonical form.
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        canonical_uuid(text).map(Self)
    }

    /// The id's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AuctionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for AuctionId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for AuctionId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An id that is not a UUID in canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a UUID in canonical form (lower-case hex, hyphenated)")]
pub struct InvalidId;

/// The text of a UUID in its canonical form (`8-4-4-4-12` lower-case hex digits), and only
/// that: `uuid` also reads `urn:uuid:…`, braces, upper case and no hyphens, and one id under
/// several spellings would be several keys to a client that compares them as text.
pub(super) fn canonical_uuid(text: &str) -> Result<String, InvalidId> {
    match uuid::Uuid::try_parse(text) {
        Ok(id) if id.hyphenated().to_string() == text => Ok(text.to_owned()),
        _ => Err(InvalidId),
    }
}

/// Where an auction is in its life (the snapshot's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuctionStatus {
    /// Before `startsAt`.
    Scheduled,
    /// Taking bids.
    Active,
    /// Over, for the reason in `endReason`.
    Ended,
}

/// Why an auction ended (the snapshot's `endReason`, the `AuctionEnded` frame's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndReason {
    /// The last item was sold.
    SoldOut,
    /// The floor was held for one interval with items left.
    FloorReached,
    /// The seller cancelled it.
    Cancelled,
}

impl EndReason {
    /// The protocol's name for it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SoldOut => "SoldOut",
            Self::FloorReached => "FloorReached",
            Self::Cancelled => "Cancelled",
        }
    }

    /// Parses the protocol's name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "SoldOut" => Some(Self::SoldOut),
            "FloorReached" => Some(Self::FloorReached),
            "Cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// A recorded end: why and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ending {
    /// Why it ended.
    pub reason: EndReason,
    /// When it ended.
    pub at: EpochMillis,
}

/// An auction's phase at an instant, derived from its stored state and the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before `startsAt`.
    Scheduled,
    /// Taking bids.
    Active,
    /// Over.
    Ended(Ending),
}

impl Phase {
    /// The snapshot's `status`.
    #[must_use]
    pub fn status(self) -> AuctionStatus {
        match self {
            Self::Scheduled => AuctionStatus::Scheduled,
            Self::Active => AuctionStatus::Active,
            Self::Ended(_) => AuctionStatus::Ended,
        }
    }
}

/// A Dutch auction of `total_items` identical items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auction {
    /// Its id.
    pub id: AuctionId,
    /// The tenant it belongs to; only that tenant's users see or bid on it.
    pub tenant_id: String,
    /// The user (with role `seller`) who created it; only they may cancel it.
    pub seller_id: String,
    /// What is sold, 1–200 characters.
    pub title: String,
    /// The currency of every price.
    pub currency: Currency,
    /// The falling price.
    pub schedule: DutchSchedule,
    /// Items offered.
    pub total_items: u32,
    /// Items a bid can take now: down with each sale, up when a lapsed hold returns its item.
    pub remaining_items: u32,
    /// Items won and neither confirmed nor released yet (docs/design/reservations.md).
    pub held_items: u32,
    /// Items returned to the room by lapsed holds; only grows.
    pub released_items: u32,
    /// How long a winner's reservation holds.
    pub reservation_ttl_seconds: u32,
    /// Set once the end is recorded (sold out, cancelled, or floor reached and finalised).
    pub ending: Option<Ending>,
    /// When it was created.
    pub created_at: EpochMillis,
}

impl Auction {
    /// The phase at `now`. A recorded end wins; otherwise the counts and time decide, so an
    /// auction whose floor has passed is `Ended` even before anything has recorded it.
    ///
    /// Sold out means nothing available *and* nothing held: while the last items are only held,
    /// the auction stays `Active` (a bid is rejected `AllReserved`), because a lapsing hold
    /// returns its item to the room and status only moves forward. When the schedule runs out,
    /// the end is `SoldOut` if nothing was available then, `FloorReached` otherwise.
    #[must_use]
    pub fn phase_at(&self, now: EpochMillis) -> Phase {
        if let Some(ending) = self.ending {
            return Phase::Ended(ending);
        }
        if self.remaining_items == 0 && self.held_items == 0 {
            return Phase::Ended(Ending {
                reason: EndReason::SoldOut,
                at: now,
            });
        }
        if now < self.schedule.starts_at() {
            return Phase::Scheduled;
        }
        let ends_at = self.schedule.ends_at();
        if now >= ends_at {
            return Phase::Ended(Ending {
                reason: if self.remaining_items == 0 {
                    EndReason::SoldOut
                } else {
                    EndReason::FloorReached
                },
                at: ends_at,
            });
        }
        Phase::Active
    }

    /// Whether every item left is held by a winner who has not paid yet: nothing can be bid on,
    /// but a lapsing hold may bring an item back.
    #[must_use]
    pub fn all_reserved(&self) -> bool {
        self.remaining_items == 0 && self.held_items > 0
    }

    /// Sales so far: `total - remaining + released`.
    #[must_use]
    pub fn sold_items(&self) -> u32 {
        (self.total_items + self.released_items).saturating_sub(self.remaining_items)
    }

    /// The counts clients keep (`remainingItems`, `soldItems`, `releasedItems`).
    #[must_use]
    pub fn tally(&self) -> ItemTally {
        ItemTally {
            remaining_items: self.remaining_items,
            sold_items: self.sold_items(),
            released_items: self.released_items,
        }
    }

    /// The price at `now`; once ended, the price at the end.
    #[must_use]
    pub fn current_price(&self, now: EpochMillis) -> Amount {
        match self.phase_at(now) {
            Phase::Ended(ending) => self.schedule.price_at(ending.at.min(now)),
            _ => self.schedule.price_at(now),
        }
    }

    /// Decides a bid of `bid_price` at `now` (the server's clock). An accepted bid pays the
    /// current price, never more than it offered.
    #[must_use]
    pub fn decide_bid(&self, bid_price: Amount, now: EpochMillis) -> BidDecision {
        let current_price = self.current_price(now);
        let reject = |reason| BidDecision::Reject {
            reason,
            current_price,
        };
        match self.phase_at(now) {
            Phase::Ended(Ending {
                reason: EndReason::SoldOut,
                ..
            }) => reject(RejectReason::SoldOut),
            Phase::Scheduled | Phase::Ended(_) => reject(RejectReason::NotActive),
            Phase::Active if self.remaining_items == 0 => reject(RejectReason::AllReserved),
            Phase::Active if bid_price < current_price => reject(RejectReason::PriceTooLow),
            Phase::Active => BidDecision::Accept {
                winning_price: current_price,
            },
        }
    }

    /// The snapshot clients see, with the viewer count read elsewhere and the ticker's cadence.
    #[must_use]
    pub fn snapshot(
        &self,
        now: EpochMillis,
        active_viewers: u64,
        cadence: PushCadence,
    ) -> AuctionSnapshot {
        let phase = self.phase_at(now);
        let major = |amount| self.currency.major(amount);
        let (next_drop_at, drops_remaining) = match phase {
            Phase::Ended(_) => (None, 0),
            _ => (
                self.schedule.next_drop_at(now),
                self.schedule.drops_remaining(now),
            ),
        };
        AuctionSnapshot {
            auction_id: self.id.clone(),
            tenant_id: self.tenant_id.clone(),
            title: self.title.clone(),
            status: phase.status(),
            end_reason: match phase {
                Phase::Ended(ending) => Some(ending.reason),
                _ => None,
            },
            currency: self.currency.code(),
            current_price: major(self.current_price(now)),
            start_price: major(self.schedule.start_price()),
            floor_price: major(self.schedule.floor_price()),
            price_drop: major(self.schedule.price_drop()),
            drop_interval_seconds: self.schedule.drop_interval_seconds(),
            starts_at: self.schedule.starts_at(),
            next_drop_at,
            drops_remaining,
            total_items: self.total_items,
            remaining_items: self.remaining_items,
            held_items: self.held_items,
            sold_items: self.sold_items(),
            released_items: self.released_items,
            active_viewers,
            push_interval_seconds: cadence
                .push_interval_seconds(self.schedule.drop_interval_seconds(), active_viewers),
            server_time: now,
        }
    }
}

/// How often the price ticker pushes to an auction's group, as the snapshot announces it
/// (`pushIntervalSeconds`), so that a client can tell a quiet server from a dead connection.
///
/// Pushes carry news: clients compute the price from the schedule, so a push only confirms it.
/// A small group is confirmed every `price_update_seconds`; a large one (at least
/// `large_group_viewers`) only every `large_group_seconds`, its viewer count riding along, which
/// makes an idle viewer-minute of a large group cost 60 / `large_group_seconds` posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushCadence {
    /// The ticker's minimum time between two `PriceUpdated` of one auction
    /// (`PRICE_UPDATE_INTERVAL_SECONDS`).
    pub price_update_seconds: u32,
    /// From this many viewers a group is large (`LARGE_GROUP_VIEWERS`).
    pub large_group_viewers: u64,
    /// A large group's time between two `PriceUpdated` (`LARGE_GROUP_PUSH_INTERVAL_SECONDS`).
    pub large_group_seconds: u32,
    /// The posts per second one ticker shard may spend (`TICKER_POST_BUDGET_PER_SECOND` over
    /// the shards): a group larger than that times its interval is pushed less often, and the
    /// cadence says so, or its clients would take the quiet for a dead connection.
    pub shard_posts_per_second: u64,
    /// From this many viewers a group's pushes are posted by fan-out workers, which spend their
    /// own pool's budget instead of the shard's (`FANOUT_WORKER_MEMBERS`; `u64::MAX`: never).
    pub worker_group_viewers: u64,
    /// The posts per second the fan-out workers may spend in all
    /// (`FANOUT_POST_BUDGET_PER_SECOND`).
    pub worker_posts_per_second: u64,
}

impl Default for PushCadence {
    fn default() -> Self {
        Self {
            price_update_seconds: 5,
            large_group_viewers: 1_000,
            large_group_seconds: 30,
            shard_posts_per_second: 5_000,
            worker_group_viewers: u64::MAX,
            worker_posts_per_second: 4_000,
        }
    }
}

impl PushCadence {
    /// Whether a group of `viewers` is pushed as a large one, given whether it was (a group stays
    /// large until it shrinks below four fifths of the threshold, so a count hovering around the
    /// threshold does not flip the cadence every tick).
    #[must_use]
    pub fn is_large(self, viewers: u64, was_large: bool) -> bool {
        let threshold = self.large_group_viewers.max(1);
        viewers >= threshold || (was_large && viewers >= threshold - threshold / 5)
    }

    /// The cadence a snapshot announces for a group of `viewers`: a group near or past the
    /// large-group threshold is announced the large one (longer is the safe side: a client that
    /// hears from the server more often than announced is never misled, and every `PriceUpdated`
    /// carries the cadence the ticker really keeps).
    #[must_use]
    pub fn push_interval_seconds(self, drop_interval_seconds: u32, viewers: u64) -> u32 {
        self.interval_seconds(drop_interval_seconds, self.is_large(viewers, true))
            .max(self.budget_seconds(viewers))
    }

    /// How often the post budget lets a group of `viewers` be pushed: a push costs one post per
    /// viewer, and the shard earns `shard_posts_per_second` (the fan-out workers
    /// `worker_posts_per_second`, for a group they post).
    #[must_use]
    pub fn budget_seconds(self, viewers: u64) -> u32 {
        let per_second = if self.by_workers(viewers) {
            self.worker_posts_per_second
        } else {
            self.shard_posts_per_second
        }
        .max(1);
        u32::try_from(viewers.div_ceil(per_second)).unwrap_or(u32::MAX)
    }

    /// Whether a group of `viewers` is posted by the fan-out workers.
    #[must_use]
    pub fn by_workers(self, viewers: u64) -> bool {
        viewers >= self.worker_group_viewers.max(1)
    }

    /// The longest silence of an active auction's group that is (or is not) large: a
    /// `PriceUpdated` goes out when the price changed and the last one is at least the interval
    /// old, so drops slower than the interval set the pace.
    #[must_use]
    pub fn interval_seconds(self, drop_interval_seconds: u32, large: bool) -> u32 {
        self.throttle_seconds(large)
            .max(drop_interval_seconds)
            .max(1)
    }

    /// The least time between two `PriceUpdated` of a group that is (or is not) large.
    #[must_use]
    pub fn throttle_seconds(self, large: bool) -> u32 {
        if large {
            self.large_group_seconds.max(self.price_update_seconds)
        } else {
            self.price_update_seconds
        }
    }
}

/// The auction snapshot of docs/protocol.md section 6: HTTP bodies and the `AuctionState` frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuctionSnapshot {
    /// The auction.
    pub auction_id: AuctionId,
    /// Its tenant.
    pub tenant_id: String,
    /// Its title.
    pub title: String,
    /// Scheduled, Active or Ended.
    pub status: AuctionStatus,
    /// Why it ended, or null.
    pub end_reason: Option<EndReason>,
    /// ISO 4217 code.
    pub currency: &'static str,
    /// The price now.
    pub current_price: MajorUnits,
    /// The first price.
    pub start_price: MajorUnits,
    /// The lowest price.
    pub floor_price: MajorUnits,
    /// One drop.
    pub price_drop: MajorUnits,
    /// Seconds between drops.
    pub drop_interval_seconds: u32,
    /// When the price starts falling.
    pub starts_at: EpochMillis,
    /// When the next drop happens, or null.
    pub next_drop_at: Option<EpochMillis>,
    /// Drops left until the floor.
    pub drops_remaining: i64,
    /// Items offered.
    pub total_items: u32,
    /// Items a bid can take now.
    pub remaining_items: u32,
    /// Items won and not yet paid for: with `remainingItems` 0, one may still come back.
    pub held_items: u32,
    /// Sales so far; only grows.
    pub sold_items: u32,
    /// Items returned to the room by lapsed holds; only grows.
    pub released_items: u32,
    /// Connections watching.
    pub active_viewers: u64,
    /// While the auction is Active, the server pushes to its group at least this often (see
    /// [`PushCadence`]); a client that hears nothing for 2.5 times as long should `Ping`.
    pub push_interval_seconds: u32,
    /// The server's clock when the snapshot was taken, for client clock-offset correction.
    pub server_time: EpochMillis,
}
