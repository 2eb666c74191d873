//! Connections: who holds each open WebSocket, and a user's connections.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{Connection, EpochMillis};

/// What [`ConnectionStore::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The connection is stored.
    Stored,
    /// Its user already holds the most live connections allowed; nothing was stored.
    UserAtCapacity,
}

/// Connections.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Stores a new connection (at `$connect`), unless its user already holds `max_per_user`
    /// live connections (signed-in users only; anonymous connections are not counted here). The
    /// count and the row are written together, so concurrent connections cannot overshoot it.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn put(
        &self,
        connection: &Connection,
        max_per_user: u32,
    ) -> Result<Admission, StoreError>;

    /// The connection, or `None` when unknown or expired at `now`.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn get(
        &self,
        connection_id: &str,
        now: EpochMillis,
    ) -> Result<Option<Connection>, StoreError>;

    /// Removes the connection, all its group memberships and their counts, and its place in its
    /// user's count (at `$disconnect`, or when a post finds it gone). Idempotent: returns the connection as it was the first time,
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
