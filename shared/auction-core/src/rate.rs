//! Fixed-window rate limits: the one place where a window is computed from an instant.

use crate::domain::EpochMillis;

/// At most `max_calls` per window of `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Calls allowed per window.
    pub max_calls: u32,
    /// The window's length.
    pub window_seconds: u32,
}

/// One window of a [`RateLimit`]: its number, and when it starts and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Windows since the epoch (`floor(now / length)`): the same for every caller in it.
    pub number: i64,
    /// When it starts.
    pub starts_at: EpochMillis,
    /// When the next window starts.
    pub ends_at: EpochMillis,
}

impl RateLimit {
    /// The Join/Leave limit per connection unless configured otherwise: 10 calls per 10 s.
    pub const JOIN_DEFAULT: Self = Self {
        max_calls: 10,
        window_seconds: 10,
    };

    /// The bid limit per user unless configured otherwise: 10 bids a second.
    pub const BID_DEFAULT: Self = Self {
        max_calls: 10,
        window_seconds: 1,
    };

    /// The window `now` falls in. Floor division, so instants before the epoch are not shifted
    /// into the window after them.
    #[must_use]
    pub fn window_at(&self, now: EpochMillis) -> Window {
        let length_ms = i64::from(self.window_seconds.max(1)) * 1000;
        let number = now.0.div_euclid(length_ms);
        Window {
            number,
            starts_at: EpochMillis(number * length_ms),
            ends_at: EpochMillis((number + 1) * length_ms),
        }
    }

    /// Whole seconds from `now` until the window it falls in ends, at least 1 (`Retry-After`).
    #[must_use]
    pub fn retry_after_seconds(&self, now: EpochMillis) -> u32 {
        let left_ms = self.window_at(now).ends_at.millis_since(now);
        u32::try_from((left_ms + 999) / 1000).unwrap_or(1).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_floor_divisions_of_time() {
        let limit = RateLimit {
            max_calls: 3,
            window_seconds: 10,
        };
        assert_eq!(limit.window_at(EpochMillis(0)).number, 0);
        assert_eq!(limit.window_at(EpochMillis(9_999)).number, 0);
        assert_eq!(limit.window_at(EpochMillis(10_000)).number, 1);
        assert_eq!(limit.window_at(EpochMillis(-1)).number, -1);
        assert_eq!(
            limit.window_at(EpochMillis(12_000)).ends_at,
            EpochMillis(20_000)
        );
        assert_eq!(limit.retry_after_seconds(EpochMillis(12_000)), 8);
        assert_eq!(limit.retry_after_seconds(EpochMillis(19_999)), 1);
        assert_eq!(limit.retry_after_seconds(EpochMillis(10_000)), 10);
    }
}
