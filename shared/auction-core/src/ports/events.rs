//! The event bus port: publishing domain events.

use async_trait::async_trait;

use super::BoxError;
use crate::events::DomainEvent;

/// Events that did not reach the bus after every retry.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} events were not published")]
pub struct PublishError {
    /// How many were not published.
    pub failed: usize,
    /// How many were offered.
    pub total: usize,
    /// The last failure, for logs.
    #[source]
    pub last: Option<BoxError>,
}

/// Publishes domain events.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes every event, in order within each batch, retrying what failed.
    ///
    /// # Errors
    /// [`PublishError`] when some events are still unpublished after the retries; the others are
    /// published (callers that must not lose an event keep an outbox, see
    /// [`crate::services::announce`]).
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), PublishError>;
}
