//! The push port: posting a frame to one connection, and its API Gateway adapter.

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::primitives::Blob;

use crate::ports::BoxError;

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

/// Sends frames to connections (API Gateway's `PostToConnection`).
#[async_trait]
pub trait Pusher: Send + Sync {
    /// Posts `payload` to the connection as one text frame.
    ///
    /// # Errors
    /// MUST return [`PushError::Gone`] for a closed or unknown connection (HTTP 410, whatever
    /// error variant the SDK reports), [`PushError::Retryable`] for 429 and 5xx.
    async fn post(&self, connection_id: &str, payload: &str) -> Result<(), PushError>;
}

/// [`Pusher`] over the API Gateway Management API.
#[derive(Debug, Clone)]
pub struct ApiGatewayPusher {
    client: Client,
}

impl ApiGatewayPusher {
    /// The adapter over a client whose endpoint is the WebSocket API's management endpoint
    /// (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`, or `auction-local`'s).
    #[must_use]
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Pusher for ApiGatewayPusher {
    async fn post(&self, connection_id: &str, payload: &str) -> Result<(), PushError> {
        let result = self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(payload.as_bytes()))
            .send()
            .await;
        let Err(error) = result else { return Ok(()) };
        // The SDK models 410 as GoneException, but treat the status as the truth: any 410 is gone.
        let status = error.raw_response().map(|r| r.status().as_u16());
        let gone = status == Some(410)
            || error
                .as_service_error()
                .is_some_and(|e| e.is_gone_exception());
        if gone {
            return Err(PushError::Gone);
        }
        match status {
            Some(429) | Some(500..=599) => Err(PushError::Retryable(Box::new(error))),
            None => Err(PushError::Retryable(Box::new(error))),
            Some(_) => Err(PushError::Failed(Box::new(error))),
        }
    }
}
