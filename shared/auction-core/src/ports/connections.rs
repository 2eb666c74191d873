//! Connections: who holds each open WebSocket, and a user's connections.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{Connection, EpochMillis};

/// Connections.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Stores a new connection (at `$connect`).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn put(&self, connection: &Connection) -> Result<(), StoreError>;

    /// The connection, or `None` when unknown or expired at `now`.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn get(
        &self,
        connection_id: &str,
        now: EpochMillis,
    ) -> Result<Option<Connection>, StoreError>;

    /// Removes the connection, all its group memberships and their counts (at `$disconnect`, or
    /// when a post finds it gone). Idempotent: returns the connection as it was the first time,
    /// `None` after. Works on expired rows too, so counts are corrected whenever a connection is
    /// found dead.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn remove(&self, connection_id: &str) -> Result<Option<Connection>, StoreError>;

    /// The user's connections that have not expired at `now` (send-to-user, group-except).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn connections_of_user(
        &self,
        tenant_id: &str,
        user_id: &str,
        now: EpochMillis,
    ) -> Result<Vec<String>, StoreError>;
}
