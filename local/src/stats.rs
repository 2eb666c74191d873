//! Request counters of the local stack, served at `GET /_local/stats`: what the same traffic
//! would cost in API Gateway, DynamoDB and EventBridge requests (the benchmarks read them).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

/// The counters.
#[derive(Debug, Default)]
pub struct Stats {
    /// `POST /@connections/{id}` calls (`PostToConnection`).
    pub post_to_connection: AtomicU64,
    /// Requests sent to DynamoDB by every function (retries included).
    pub dynamodb_requests: AtomicU64,
    /// Entries received by `PutEvents`.
    pub put_events_entries: AtomicU64,
    /// Entries received by `PutEvents`, per `DetailType`.
    pub put_events_by_type: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    /// Calls of the Lambda Invoke API, per function name (the dispatcher's shard runs, the
    /// fan-out workers' parts).
    pub lambda_invocations: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Stats {
    /// The counters as JSON.
    #[must_use]
    pub fn snapshot(&self) -> Value {
        json!({
            "postToConnection": self.post_to_connection.load(Ordering::Relaxed),
            "dynamodbRequests": self.dynamodb_requests.load(Ordering::Relaxed),
            "putEventsEntries": self.put_events_entries.load(Ordering::Relaxed),
            "putEventsByType": self
                .put_events_by_type
                .lock()
                .map(|counts| json!(*counts))
                .unwrap_or_default(),
            "lambdaInvocations": self
                .lambda_invocations
                .lock()
                .map(|counts| json!(*counts))
                .unwrap_or_default(),
        })
    }

    /// Counts one call of the Invoke API for `function`.
    pub fn count_invocation(&self, function: &str) {
        if let Ok(mut counts) = self.lambda_invocations.lock() {
            *counts.entry(function.to_owned()).or_default() += 1;
        }
    }
}

/// `GET /_local/stats`.
pub async fn serve(State(stats): State<Arc<Stats>>) -> Json<Value> {
    Json(stats.snapshot())
}

/// Counts every request the DynamoDB client transmits.
#[derive(Debug)]
pub struct CountDynamoRequests(pub Arc<Stats>);

impl Intercept for CountDynamoRequests {
    fn name(&self) -> &'static str {
        "CountDynamoRequests"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.dynamodb_requests.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
