//! The embedded DynamoDB-compatible engine (`dynoxide`), served on a loopback port so that code
//! reaches it exactly as it reaches DynamoDB: through `aws-sdk-dynamodb` over HTTP.

use std::net::SocketAddr;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The region every local client uses.
pub const LOCAL_REGION: &str = "us-east-1";

/// Why the engine did not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// The database could not be opened.
    #[error("could not open the embedded database: {0}")]
    Open(String),
    /// The loopback port could not be bound.
    #[error("could not bind the embedded engine's port")]
    Bind(#[source] std::io::Error),
}

/// A running engine. Dropping it stops the server.
pub struct EmbeddedDynamo {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl EmbeddedDynamo {
    /// An in-memory engine (for tests: each gets its own, with its own tables).
    ///
    /// # Errors
    /// [`EmbeddedError`] when the database or the port cannot be had.
    pub async fn in_memory() -> Result<Self, EmbeddedError> {
        let db = dynoxide::Database::memory().map_err(|e| EmbeddedError::Open(e.to_string()))?;
        Self::serve(db, "127.0.0.1:0").await
    }

    /// An engine persisted in `path` (SQLite), for `auction-local --data-dir`.
    ///
    /// # Errors
    /// [`EmbeddedError`] when the database or the port cannot be had.
    pub async fn persistent(path: &str) -> Result<Self, EmbeddedError> {
        let db = dynoxide::Database::new(path).map_err(|e| EmbeddedError::Open(e.to_string()))?;
        Self::serve(db, "127.0.0.1:0").await
    }

    async fn serve(db: dynoxide::Database, bind: &str) -> Result<Self, EmbeddedError> {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(EmbeddedError::Bind)?;
        let addr = listener.local_addr().map_err(EmbeddedError::Bind)?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let stop = async move {
                let _ = stopped.await;
            };
            if let Err(e) = dynoxide::server::serve_with_shutdown(listener, db, stop).await {
                tracing::error!(error = %e, "embedded DynamoDB engine stopped");
            }
        });
        Ok(Self {
            addr,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// The HTTP endpoint, for `AWS_ENDPOINT_URL_DYNAMODB` or `--dynamodb-endpoint`.
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A real SDK client pointed at this engine.
    #[must_use]
    pub fn client(&self) -> Client {
        local_client(&self.endpoint())
    }

    /// Stops serving and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for EmbeddedDynamo {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// An SDK client for a local DynamoDB-compatible endpoint, with fixed dummy credentials (local
/// engines accept any) so that no credential chain or instance metadata is ever consulted.
#[must_use]
pub fn local_client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(LOCAL_REGION))
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "auction-local",
        ))
        .endpoint_url(endpoint)
        .http_client(crate::http_client())
        .build();
    Client::from_conf(config)
}
