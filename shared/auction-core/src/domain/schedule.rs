//! The Dutch price schedule of docs/protocol.md section 6, in integer minor units.
//!
//! `price(t) = startPrice − priceDrop × floor((t − startsAt) / dropInterval)`, never below the
//! floor. Once the floor has been held for one drop interval the auction ends (`FloorReached`).

use super::epoch::EpochMillis;
use super::money::Amount;

/// An auction's immutable price schedule. Built only through [`DutchSchedule::new`], which
/// guarantees `start > floor ≥ 0`, `drop > 0` and `interval ≥ 1 s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DutchSchedule {
    start_price: Amount,
    floor_price: Amount,
    price_drop: Amount,
    drop_interval_seconds: u32,
    starts_at: EpochMillis,
}

/// Why a schedule is impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// `startPrice` is not above `floorPrice`.
    #[error("startPrice must be greater than floorPrice")]
    StartNotAboveFloor,
    /// `floorPrice` is negative.
    #[error("floorPrice must not be negative")]
    NegativeFloor,
    /// `priceDrop` is zero or negative.
    #[error("priceDrop must be greater than zero")]
    NonPositiveDrop,
    /// `dropIntervalSeconds` is zero.
    #[error("dropIntervalSeconds must be at least 1")]
    IntervalTooShort,
    /// The floor would be reached too far in the future.
    #[error("the price would take longer than {max_days} days to reach the floor")]
    TooLong {
        /// The limit in days.
        max_days: i64,
    },
}

/// The longest an auction may run before its floor ends it.
pub const MAX_AUCTION_DAYS: i64 = 366;

impl DutchSchedule {
    /// Checks and builds a schedule.
    ///
    /// # Errors
    /// A [`ScheduleError`] naming the first rule broken.
    pub fn new(
        start_price: Amount,
        floor_price: Amount,
        price_drop: Amount,
        drop_interval_seconds: u32,
        starts_at: EpochMillis,
    ) -> Result<Self, ScheduleError> {
        if floor_price.0 < 0 {
            return Err(ScheduleError::NegativeFloor);
        }
        if start_price <= floor_price {
            return Err(ScheduleError::StartNotAboveFloor);
        }
        if price_drop.0 <= 0 {
            return Err(ScheduleError::NonPositiveDrop);
        }
        if drop_interval_seconds == 0 {
            return Err(ScheduleError::IntervalTooShort);
        }
        let schedule = Self {
            start_price,
            floor_price,
            price_drop,
            drop_interval_seconds,
            starts_at,
        };
        let run_ms =
            (i128::from(schedule.drops_to_floor()) + 1) * i128::from(schedule.interval_ms());
        if run_ms > i128::from(MAX_AUCTION_DAYS) * 86_400_000 {
            return Err(ScheduleError::TooLong {
                max_days: MAX_AUCTION_DAYS,
            });
        }
        Ok(schedule)
    }

    /// The first price.
    #[must_use]
    pub fn start_price(&self) -> Amount {
        self.start_price
    }
    /// The lowest price.
    #[must_use]
    pub fn floor_price(&self) -> Amount {
        self.floor_price
    }
    /// The amount of one drop.
    #[must_use]
    pub fn price_drop(&self) -> Amount {
        self.price_drop
    }
    /// Seconds between drops.
    #[must_use]
    pub fn drop_interval_seconds(&self) -> u32 {
        self.drop_interval_seconds
    }
    /// When the auction opens at the start price.
    #[must_use]
    pub fn starts_at(&self) -> EpochMillis {
        self.starts_at
    }

    fn interval_ms(&self) -> i64 {
        i64::from(self.drop_interval_seconds) * 1000
    }

    /// How many drops take the start price to the floor (the last one may be clamped).
    #[must_use]
    pub fn drops_to_floor(&self) -> i64 {
        let span = self.start_price.0 - self.floor_price.0;
        (span + self.price_drop.0 - 1) / self.price_drop.0
    }

    /// Drops that have happened by `now` (0 before the start).
    #[must_use]
    pub fn drops_elapsed(&self, now: EpochMillis) -> i64 {
        if now < self.starts_at {
            return 0;
        }
        ((now.0 - self.starts_at.0) / self.interval_ms()).min(self.drops_to_floor())
    }

    /// The price at `now`: the start price before the start, never below the floor.
    #[must_use]
    pub fn price_at(&self, now: EpochMillis) -> Amount {
        let dropped = self.price_drop.0.saturating_mul(self.drops_elapsed(now));
        Amount((self.start_price.0 - dropped).max(self.floor_price.0))
    }

    /// Drops still to come before the floor.
    #[must_use]
    pub fn drops_remaining(&self, now: EpochMillis) -> i64 {
        self.drops_to_floor() - self.drops_elapsed(now)
    }

    /// When the next drop happens, or `None` once the floor is reached.
    #[must_use]
    pub fn next_drop_at(&self, now: EpochMillis) -> Option<EpochMillis> {
        (self.drops_remaining(now) > 0).then(|| {
            EpochMillis(self.starts_at.0 + (self.drops_elapsed(now) + 1) * self.interval_ms())
        })
    }

    /// When the floor is reached.
    #[must_use]
    pub fn floor_reached_at(&self) -> EpochMillis {
        EpochMillis(self.starts_at.0 + self.drops_to_floor() * self.interval_ms())
    }

    /// When the auction ends with `FloorReached`: one interval after the floor is reached.
    #[must_use]
    pub fn ends_at(&self) -> EpochMillis {
        EpochMillis(self.floor_reached_at().0 + self.interval_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: EpochMillis = EpochMillis(1_800_000_000_000);

    fn at(seconds: f64) -> EpochMillis {
        #[allow(clippy::cast_possible_truncation)]
        EpochMillis(T0.0 + (seconds * 1000.0) as i64)
    }

    /// 100.00 → 20.00 by 1.00 every second: the protocol's example.
    fn example() -> DutchSchedule {
        DutchSchedule::new(Amount(10_000), Amount(2_000), Amount(100), 1, T0).unwrap()
    }

    #[test]
    fn before_the_start_the_price_is_the_start_price() {
        let s = example();
        assert_eq!(s.price_at(at(-10.0)), Amount(10_000));
        assert_eq!(s.drops_remaining(at(-10.0)), 80);
        assert_eq!(s.next_drop_at(at(-10.0)), Some(at(1.0)));
    }

    #[test]
    fn exactly_at_the_start_no_drop_has_happened() {
        let s = example();
        assert_eq!(s.price_at(T0), Amount(10_000));
        assert_eq!(s.drops_remaining(T0), 80);
        assert_eq!(s.next_drop_at(T0), Some(at(1.0)));
    }

    #[test]
    fn each_drop_happens_exactly_on_its_boundary() {
        let s = example();
        assert_eq!(s.price_at(at(0.999)), Amount(10_000));
        assert_eq!(s.price_at(at(1.0)), Amount(9_900));
        assert_eq!(s.price_at(at(1.999)), Amount(9_900));
        assert_eq!(s.price_at(at(13.0)), Amount(8_700));
        assert_eq!(s.drops_remaining(at(13.0)), 67);
        assert_eq!(s.next_drop_at(at(13.5)), Some(at(14.0)));
    }

    #[test]
    fn the_floor_holds_for_one_interval_then_the_auction_ends() {
        let s = example();
        assert_eq!(s.floor_reached_at(), at(80.0));
        assert_eq!(s.price_at(at(79.999)), Amount(2_100));
        assert_eq!(s.price_at(at(80.0)), Amount(2_000));
        assert_eq!(s.drops_remaining(at(80.0)), 0);
        assert_eq!(s.next_drop_at(at(80.0)), None);
        assert_eq!(s.ends_at(), at(81.0));
        assert_eq!(s.price_at(at(81.0)), Amount(2_000));
    }

    #[test]
    fn far_in_the_future_the_price_stays_at_the_floor() {
        let s = example();
        let far = EpochMillis(T0.0 + 100 * 365 * 86_400_000);
        assert_eq!(s.price_at(far), Amount(2_000));
        assert_eq!(s.drops_remaining(far), 0);
        assert_eq!(s.next_drop_at(far), None);
    }

    #[test]
    fn a_drop_that_does_not_divide_the_span_is_clamped_at_the_floor() {
        // 100.00 → 20.00 by 3.00: 26 drops reach 22.00, the 27th is clamped to 20.00.
        let s = DutchSchedule::new(Amount(10_000), Amount(2_000), Amount(300), 2, T0).unwrap();
        assert_eq!(s.drops_to_floor(), 27);
        assert_eq!(s.price_at(at(52.0)), Amount(2_200));
        assert_eq!(s.drops_remaining(at(52.0)), 1);
        assert_eq!(s.price_at(at(54.0)), Amount(2_000));
        assert_eq!(s.drops_remaining(at(54.0)), 0);
        assert_eq!(s.ends_at(), at(56.0));
    }

    #[test]
    fn zero_decimal_and_three_decimal_currencies_use_the_same_arithmetic() {
        // JPY 1500 → 1000 by 7 yen (not a divisor), BHD 1.005 → 0.500 by 0.001.
        let jpy = DutchSchedule::new(Amount(1500), Amount(1000), Amount(7), 1, T0).unwrap();
        assert_eq!(jpy.drops_to_floor(), 72);
        assert_eq!(jpy.price_at(at(71.0)), Amount(1003));
        assert_eq!(jpy.price_at(at(72.0)), Amount(1000));
        let bhd = DutchSchedule::new(Amount(1005), Amount(500), Amount(1), 1, T0).unwrap();
        assert_eq!(bhd.price_at(at(5.0)), Amount(1000));
        assert_eq!(bhd.drops_remaining(at(5.0)), 500);
    }

    #[test]
    fn impossible_schedules_are_refused() {
        let new = |start, floor, drop, interval| {
            DutchSchedule::new(Amount(start), Amount(floor), Amount(drop), interval, T0)
        };
        assert_eq!(new(100, 100, 1, 1), Err(ScheduleError::StartNotAboveFloor));
        assert_eq!(new(100, -1, 1, 1), Err(ScheduleError::NegativeFloor));
        assert_eq!(new(100, 0, 0, 1), Err(ScheduleError::NonPositiveDrop));
        assert_eq!(new(100, 0, -5, 1), Err(ScheduleError::NonPositiveDrop));
        assert_eq!(new(100, 0, 1, 0), Err(ScheduleError::IntervalTooShort));
        assert!(matches!(
            new(999_999_999_999, 0, 1, 1),
            Err(ScheduleError::TooLong { .. })
        ));
        assert!(
            new(100, 0, 1000, 1).is_ok(),
            "one drop straight to the floor is fine"
        );
    }
}
