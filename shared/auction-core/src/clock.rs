//! The clock port: every use case reads time from a [`Clock`] handed to it, so a test can hold
//! time still or move it ([`ManualClock`]) and no service reads the wall clock behind its back.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;

use crate::domain::EpochMillis;

/// The time, and waiting.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> EpochMillis;

    /// Waits `duration` (a retry's backoff). Implemented by the runtime the service runs on.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// A clock that stands still until told to move; `sleep` moves it forward at once. For tests of
/// the use cases: time is an input like any other.
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    /// A clock that reads `at`.
    #[must_use]
    pub fn at(at: EpochMillis) -> Self {
        Self {
            now_ms: AtomicI64::new(at.0),
        }
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: EpochMillis) {
        self.now_ms.store(at.0, Ordering::SeqCst);
    }

    /// Moves the clock forward by `duration`.
    pub fn advance(&self, duration: Duration) {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        self.now_ms.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> EpochMillis {
        EpochMillis(self.now_ms.load(Ordering::SeqCst))
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::at(EpochMillis(1_000));
        assert_eq!(clock.now(), EpochMillis(1_000));
        clock.advance(Duration::from_millis(250));
        assert_eq!(clock.now(), EpochMillis(1_250));
        futures::executor::block_on(clock.sleep(Duration::from_secs(1)));
        assert_eq!(clock.now(), EpochMillis(2_250));
    }
}
