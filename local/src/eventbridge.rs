//! EventBridge, locally: the `PutEvents` API the real `aws-sdk-eventbridge` client calls
//! (AWS JSON 1.1, `X-Amz-Target: AWSEvents.PutEvents`), the template's notifier rule matched by
//! the `quamina` crate (EventBridge's pattern language), delivery to the notifier with the
//! template's retry policy, and the `rate(1 minute)` schedule of the price ticker.
//!
//! Like EventBridge, `PutEvents` answers as soon as the events are accepted; targets are invoked
//! asynchronously and concurrently, so their order is not guaranteed. An event that still fails
//! after the retries is dead-lettered: logged, and kept in [`LocalEventBridge::dead_letters`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use infra::bus::{NOTIFIER_MAX_RETRY_ATTEMPTS, NOTIFIER_RULE_LOGICAL_ID, notifier_pattern};
use infra::embedded::LOCAL_REGION;
use quamina::Quamina;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::faults::{Fault, Service};
use crate::invoke::{Function, Invoker};

/// The local account id in event envelopes.
pub const LOCAL_ACCOUNT: &str = "000000000000";
/// PutEvents accepts at most this many entries.
const MAX_ENTRIES: usize = 10;
/// PutEvents accepts at most this many bytes of entries.
const MAX_REQUEST_BYTES: usize = 256 * 1024;
/// Notifier invocations running at once (Lambda's concurrency, scaled to a laptop).
const MAX_CONCURRENT_INVOCATIONS: usize = 64;

/// The local bus: its rules and its targets.
pub struct LocalEventBridge {
    bus_name: String,
    rules: Quamina<String>,
    invoker: Arc<dyn Invoker>,
    invocations: Arc<Semaphore>,
    dead_letters: Mutex<Vec<Value>>,
    stats: Arc<crate::stats::Stats>,
    faults: Arc<crate::faults::FaultPlan>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutEventsRequest {
    #[serde(default)]
    entries: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    source: Option<String>,
    detail_type: Option<String>,
    detail: Option<String>,
    event_bus_name: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
}

fn aws_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        json!({"__type": kind, "message": message}).to_string(),
    )
        .into_response()
}

impl LocalEventBridge {
    /// The bus `bus_name` with the template's notifier rule, delivering through `invoker`.
    ///
    /// # Panics
    /// Never in practice: the rule's pattern is a constant that the tests parse.
    #[must_use]
    pub fn new(
        bus_name: impl Into<String>,
        invoker: Arc<dyn Invoker>,
        stats: Arc<crate::stats::Stats>,
        faults: Arc<crate::faults::FaultPlan>,
    ) -> Arc<Self> {
        let mut rules = Quamina::new();
        rules
            .add_pattern(NOTIFIER_RULE_LOGICAL_ID.to_owned(), &notifier_pattern())
            .expect("the notifier pattern is valid");
        Arc::new(Self {
            bus_name: bus_name.into(),
            rules,
            invoker,
            invocations: Arc::new(Semaphore::new(MAX_CONCURRENT_INVOCATIONS)),
            dead_letters: Mutex::new(Vec::new()),
            stats,
            faults,
        })
    }

    /// The bus's name (what `EventBusName` must say).
    #[must_use]
    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }

    /// Events whose delivery failed after every retry.
    #[must_use]
    pub fn dead_letters(&self) -> Vec<Value> {
        self.dead_letters
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default()
    }

    fn is_our_bus(&self, name: Option<&str>) -> bool {
        match name {
            None | Some("") => false,
            Some(name) => name == self.bus_name || name.ends_with(&format!("/{}", self.bus_name)),
        }
    }

    /// Accepts one entry: the event envelope, or the entry's error code and message.
    fn accept(&self, entry: Entry) -> Result<(String, Option<Value>), (&'static str, String)> {
        let invalid = |m: &str| ("InvalidArgument", m.to_owned());
        let source = entry.source.filter(|s| !s.is_empty()).ok_or_else(|| {
            invalid("Parameter Source is not valid. Reason: Source is a required argument.")
        })?;
        let detail_type = entry.detail_type.filter(|s| !s.is_empty()).ok_or_else(|| {
            invalid("Parameter DetailType is not valid. Reason: DetailType is a required argument.")
        })?;
        let detail = entry.detail.ok_or_else(|| {
            invalid("Parameter Detail is not valid. Reason: Detail is a required argument.")
        })?;
        let detail: Value = serde_json::from_str(&detail)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| invalid("Detail is malformed."))?;
        let id = uuid::Uuid::new_v4().to_string();
        // The default bus exists and has no rules here; any other bus than ours does not exist.
        let routed = match entry.event_bus_name.as_deref() {
            None | Some("") | Some("default") => false,
            name if self.is_our_bus(name) => true,
            Some(name) => {
                return Err((
                    "ResourceNotFoundException",
                    format!("Event bus {name} does not exist."),
                ));
            }
        };
        let envelope = json!({
            "version": "0",
            "id": id,
            "detail-type": detail_type,
            "source": source,
            "account": LOCAL_ACCOUNT,
            "time": crate::now().to_rfc3339(),
            "region": LOCAL_REGION,
            "resources": entry.resources,
            "detail": detail,
        });
        Ok((id, routed.then_some(envelope)))
    }

    fn route(self: &Arc<Self>, envelope: Value) {
        let bytes = envelope.to_string().into_bytes();
        let matched = match self.rules.matches_for_event(&bytes) {
            Ok(matched) => matched,
            Err(e) => {
                tracing::warn!(error = %e, "event not matched");
                return;
            }
        };
        for rule in matched {
            if rule == NOTIFIER_RULE_LOGICAL_ID {
                let bus = Arc::clone(self);
                let envelope = envelope.clone();
                tokio::spawn(async move { bus.deliver(Function::Notifier, envelope).await });
            }
        }
    }

    /// Invokes the target, retrying with backoff like the rule's retry policy; then dead-letters.
    async fn deliver(&self, function: Function, envelope: Value) {
        let Ok(_permit) = self.invocations.acquire().await else {
            return;
        };
        let mut attempt = 0;
        loop {
            match self.invoker.invoke(function, envelope.clone()).await {
                Ok(_) => return,
                Err(e) if attempt < NOTIFIER_MAX_RETRY_ATTEMPTS => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "target failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, event = %envelope, "target failed; event dead-lettered");
                    if let Ok(mut dead) = self.dead_letters.lock() {
                        dead.push(envelope);
                    }
                    return;
                }
            }
        }
    }
}

/// `POST /` with `X-Amz-Target: AWSEvents.PutEvents`.
pub async fn put_events(
    State(bus): State<Arc<LocalEventBridge>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if target != "AWSEvents.PutEvents" {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            &format!("operation {target:?} is not served by auction-local"),
        );
    }
    let request: PutEventsRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return aws_error(
                StatusCode::BAD_REQUEST,
                "SerializationException",
                &e.to_string(),
            );
        }
    };
    if request.entries.is_empty() || request.entries.len() > MAX_ENTRIES {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10",
        );
    }
    if body.len() > MAX_REQUEST_BYTES {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "Total size of the entries in the request is over the limit.",
        );
    }
    bus.stats.put_events_entries.fetch_add(
        u64::try_from(request.entries.len()).unwrap_or(0),
        std::sync::atomic::Ordering::Relaxed,
    );
    if let Ok(mut counts) = bus.stats.put_events_by_type.lock() {
        for entry in &request.entries {
            let detail_type = entry.detail_type.as_deref().unwrap_or_default();
            *counts.entry(detail_type.to_owned()).or_default() += 1;
        }
    }
    let mut first_fails = false;
    if let Some(injected) = bus.faults.take(Service::Events, "PutEvents") {
        match injected.fault {
            Fault::Throttle => {
                return aws_error(
                    StatusCode::BAD_REQUEST,
                    "ThrottlingException",
                    "Rate exceeded",
                );
            }
            Fault::Timeout => tokio::time::sleep(injected.delay).await,
            Fault::Partial => first_fails = true,
            Fault::ServerError | Fault::LostResponse | Fault::Gone => {
                return aws_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalException",
                    "Internal failure (injected)",
                );
            }
        }
    }
    let mut results = Vec::with_capacity(request.entries.len());
    let mut failed = 0;
    for (index, entry) in request.entries.into_iter().enumerate() {
        let accepted = if first_fails && index == 0 {
            Err(("InternalFailure", "Internal failure (injected)".to_owned()))
        } else {
            bus.accept(entry)
        };
        match accepted {
            Ok((id, envelope)) => {
                if let Some(envelope) = envelope {
                    bus.route(envelope);
                }
                results.push(json!({"EventId": id}));
            }
            Err((code, message)) => {
                failed += 1;
                results.push(json!({"ErrorCode": code, "ErrorMessage": message}));
            }
        }
    }
    (
        StatusCode::OK,
        [("content-type", "application/x-amz-json-1.1")],
        json!({"FailedEntryCount": failed, "Entries": results}).to_string(),
    )
        .into_response()
}

/// The `rate(1 minute)` schedule: invokes the price ticker now and then every `period`. Runs
/// are awaited one after the other (a run ticks for a minute), so stopping this task stops them.
pub async fn schedule_ticker(invoker: Arc<dyn Invoker>, period: Duration) {
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let event = json!({
            "version": "0",
            "id": uuid::Uuid::new_v4().to_string(),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": LOCAL_ACCOUNT,
            "time": crate::now().to_rfc3339(),
            "region": LOCAL_REGION,
            "resources": [format!("arn:aws:events:{LOCAL_REGION}:{LOCAL_ACCOUNT}:rule/price-ticker-schedule")],
            "detail": {},
        });
        if let Err(e) = invoker.invoke(Function::PriceTicker, event).await {
            tracing::error!(error = %e, "price ticker run failed");
        }
    }
}
