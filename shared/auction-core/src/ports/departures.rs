//! Departures: signed-in users who lost a connection that had joined an auction, for the
//! reconnection metric.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::EpochMillis;

/// Noted departures.
#[async_trait]
pub trait Departures: Send + Sync {
    /// Notes that the user lost, at `at`, a connection that had joined auctions; the note lasts
    /// [`crate::telemetry::RECONNECT_WINDOW`].
    ///
    /// # Errors
    /// [`StoreError`].
    async fn note(&self, tenant_id: &str, user_id: &str, at: EpochMillis)
    -> Result<(), StoreError>;

    /// Takes (removes and returns) the user's noted departure, if any.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn take(&self, tenant_id: &str, user_id: &str)
    -> Result<Option<EpochMillis>, StoreError>;
}
