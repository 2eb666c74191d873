//! The push port: posting a frame to one connection (API Gateway's `PostToConnection`).

use async_trait::async_trait;

use super::BoxError;

/// Why a post did not arrive.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The connection is closed or unknown (HTTP 410): delete it, do not retry.
    #[error("connection is gone")]
    Gone,
    /// Throttled (HTTP 429) or the service failed (5xx): retry with backoff.
    #[error("post was throttled or failed transiently")]
    Retryable(#[source] BoxError),
    /// Anything else (e.g. payload too large): do not retry.
    #[error("post failed")]
    Failed(#[source] BoxError),
}

/// Sends frames to connections.
#[async_trait]
pub trait Pusher: Send + Sync {
    /// Posts `payload` to the connection as one text frame.
    ///
    /// # Errors
    /// MUST return [`PushError::Gone`] for a closed or unknown connection (HTTP 410, whatever
    /// error variant the service reports), [`PushError::Retryable`] for 429 and 5xx.
    async fn post(&self, connection_id: &str, payload: &str) -> Result<(), PushError>;
}
