//! The wall clock, and waiting on the tokio runtime: the [`Clock`] every deployed function and
//! `auction-local` hand to the use cases.

use std::time::Duration;

use auction_core::clock::Clock;
use auction_core::domain::EpochMillis;
use futures::future::BoxFuture;

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> EpochMillis {
        EpochMillis::from_system_time(std::time::SystemTime::now())
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}
