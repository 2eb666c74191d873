//! Fault injection (local only): DynamoDB, EventBridge and the Management API fail on command,
//! the way the real services fail, so that tests and laptops can watch the code under throttling,
//! server errors, timeouts, lost answers and partial `PutEvents` failures.
//!
//! `POST /_local/faults/{service}` adds a rule, `GET /_local/faults` lists the rules with how
//! often each fired, `DELETE /_local/faults` removes them all (docs/local.md). A rule:
//!
//! ```json
//! {"fault": "throttle", "operation": "TransactWriteItems", "ratio": 0.3, "count": 10, "delayMs": 6000}
//! ```
//!
//! `operation` (optional) is the API's operation name; `ratio` (default 1) fails that share of the
//! matching requests, spread evenly (every third for 0.34) so that runs repeat; `count` (optional)
//! ends the rule after that many faults; `delayMs` is the wait of a `timeout`.
//!
//! Where each fault is made: EventBridge and the Management API fail in this server's own
//! handlers, as the services would; DynamoDB fails in the HTTP connector of the stack's SDK client
//! ([`FaultyHttpClient`]): the SDK parses the injected answers and retries them exactly as it
//! would DynamoDB's own. Functions run outside this process (`--invoke-url`) reach the engine
//! directly, so DynamoDB faults do not touch them.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use auction_app::http::problem::Problem;
use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A service faults can be injected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// DynamoDB (operations: `GetItem`, `TransactWriteItems`, … as in `X-Amz-Target`).
    Dynamodb,
    /// EventBridge (`PutEvents`).
    Events,
    /// The Management API (`PostToConnection`, `GetConnection`, `DeleteConnection`).
    Management,
}

/// How a request fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// The service's throttling answer (DynamoDB and EventBridge 400 `ThrottlingException`,
    /// the Management API 429 `LimitExceededException`).
    Throttle,
    /// The service's 500.
    ServerError,
    /// The request is held for `delayMs`, then served (the caller may have given up by then).
    Timeout,
    /// DynamoDB: the request is served, then the connection drops before the answer (a write
    /// that happened although the caller saw an error).
    LostResponse,
    /// EventBridge: the call succeeds but its first entry fails with `InternalFailure`.
    Partial,
    /// The Management API: 410 `GoneException`, as for a connection that is gone.
    Gone,
}

impl Fault {
    fn applies_to(self, service: Service) -> bool {
        match self {
            Self::Throttle | Self::ServerError | Self::Timeout => true,
            Self::LostResponse => service == Service::Dynamodb,
            Self::Partial => service == Service::Events,
            Self::Gone => service == Service::Management,
        }
    }
}

/// A rule as it is posted.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleRequest {
    /// The fault.
    pub fault: Fault,
    /// Only this operation (all when absent).
    #[serde(default)]
    pub operation: Option<String>,
    /// The share of matching requests that fail, in (0, 1].
    #[serde(default)]
    pub ratio: Option<f64>,
    /// The rule ends after this many faults.
    #[serde(default)]
    pub count: Option<u64>,
    /// A timeout's delay (default 6,000 ms: past the SDK's and the pusher's timeouts).
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: u64,
    service: Service,
    fault: Fault,
    operation: Option<String>,
    ratio: f64,
    count: Option<u64>,
    delay_ms: u64,
    /// Matching requests seen.
    matched: u64,
    /// Faults made.
    injected: u64,
}

impl Rule {
    /// Whether the next matching request fails: the `n`-th fails when `floor(n × ratio)` steps up.
    fn fires(&mut self) -> bool {
        if self.count.is_some_and(|count| self.injected >= count) {
            return false;
        }
        self.matched += 1;
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let step = |n: u64| (n as f64 * self.ratio).floor() as u64;
        let fires = step(self.matched) > step(self.matched - 1);
        if fires {
            self.injected += 1;
        }
        fires
    }
}

/// What a request that fails must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Injected {
    /// The fault.
    pub fault: Fault,
    /// A timeout's delay.
    pub delay: Duration,
}

/// The rules in force.
#[derive(Debug, Default)]
pub struct FaultPlan {
    /// Whether any rule exists: the common case costs one atomic load per request.
    armed: AtomicBool,
    rules: Mutex<Vec<Rule>>,
    next_id: Mutex<u64>,
}

/// Why a rule was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuleError {
    /// The fault is not one this service makes.
    #[error("{fault:?} is not a fault of {service:?}")]
    NotOfService {
        /// The fault.
        fault: Fault,
        /// The service.
        service: Service,
    },
    /// `ratio` outside (0, 1].
    #[error("ratio must be in (0, 1]")]
    Ratio,
    /// `count` of 0.
    #[error("count must be at least 1")]
    Count,
}

impl FaultPlan {
    /// Adds a rule; returns its id.
    ///
    /// # Errors
    /// [`RuleError`] for a rule that cannot apply.
    pub fn add(&self, service: Service, request: RuleRequest) -> Result<u64, RuleError> {
        if !request.fault.applies_to(service) {
            return Err(RuleError::NotOfService {
                fault: request.fault,
                service,
            });
        }
        let ratio = request.ratio.unwrap_or(1.0);
        if !(ratio > 0.0 && ratio <= 1.0) {
            return Err(RuleError::Ratio);
        }
        if request.count == Some(0) {
            return Err(RuleError::Count);
        }
        let id = {
            let mut next = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next
        };
        let rule = Rule {
            id,
            service,
            fault: request.fault,
            operation: request.operation,
            ratio,
            count: request.count,
            delay_ms: request.delay_ms.unwrap_or(6_000),
            matched: 0,
            injected: 0,
        };
        self.rules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(rule);
        self.armed.store(true, Ordering::SeqCst);
        Ok(id)
    }

    /// Removes every rule; returns how many there were.
    pub fn clear(&self) -> usize {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        self.armed.store(false, Ordering::SeqCst);
        std::mem::take(&mut *rules).len()
    }

    /// The fault this request must suffer, if any: the first rule of the service that matches
    /// the operation and fires.
    pub fn take(&self, service: Service, operation: &str) -> Option<Injected> {
        if !self.armed.load(Ordering::Relaxed) {
            return None;
        }
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        rules
            .iter_mut()
            .filter(|r| r.service == service)
            .filter(|r| r.operation.as_deref().is_none_or(|o| o == operation))
            .find_map(|r| {
                r.fires().then(|| Injected {
                    fault: r.fault,
                    delay: Duration::from_millis(r.delay_ms),
                })
            })
    }

    fn snapshot(&self) -> serde_json::Value {
        let rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        json!({ "rules": *rules })
    }
}

/// `POST /_local/faults/{service}`.
pub async fn add_rule(
    State(plan): State<Arc<FaultPlan>>,
    Path(service): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(service) = serde_json::from_value::<Service>(json!(service)) else {
        return Problem::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("no such service {service:?}: dynamodb, events, management or websocket"),
        )
        .into_response();
    };
    let request: RuleRequest = match auction_app::http::json_object(&body) {
        Ok(request) => request,
        Err(e) => return Problem::bad_request(format!("not a fault rule: {e}")).into_response(),
    };
    match plan.add(service, request) {
        Ok(id) => {
            tracing::warn!(?service, id, "fault rule added");
            (StatusCode::CREATED, axum::Json(json!({"id": id}))).into_response()
        }
        Err(e) => Problem::bad_request(e.to_string()).into_response(),
    }
}

/// `GET /_local/faults`.
pub async fn list_rules(State(plan): State<Arc<FaultPlan>>) -> Response {
    axum::Json(plan.snapshot()).into_response()
}

/// `DELETE /_local/faults`.
pub async fn clear_rules(State(plan): State<Arc<FaultPlan>>) -> Response {
    let removed = plan.clear();
    tracing::warn!(removed, "fault rules removed");
    axum::Json(json!({"removed": removed})).into_response()
}

/// The routes above.
pub fn routes(plan: Arc<FaultPlan>) -> axum::Router {
    axum::Router::new()
        .route(
            "/_local/faults",
            axum::routing::get(list_rules).delete(clear_rules),
        )
        .route("/_local/faults/{service}", axum::routing::post(add_rule))
        .with_state(plan)
}

/// An SDK HTTP client that makes a DynamoDB client's requests fail by the plan, and sends the
/// others through `inner`.
#[derive(Debug, Clone)]
pub struct FaultyHttpClient {
    inner: SharedHttpClient,
    plan: Arc<FaultPlan>,
}

impl FaultyHttpClient {
    /// Wraps `inner`.
    #[must_use]
    pub fn new(inner: SharedHttpClient, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }
}

impl HttpClient for FaultyHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            inner: self.inner.http_connector(settings, components),
            plan: Arc::clone(&self.plan),
        })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    plan: Arc<FaultPlan>,
}

/// DynamoDB's error answer (AWS JSON 1.0).
fn dynamodb_error(status: u16, kind: &str, message: &str) -> HttpResponse {
    let body =
        json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"), "message": message});
    let mut response = HttpResponse::new(
        status.try_into().unwrap_or_else(|_| {
            500_u16
                .try_into()
                .unwrap_or_else(|_| unreachable!("500 is a status"))
        }),
        SdkBody::from(body.to_string()),
    );
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    response
        .headers_mut()
        .insert("x-amzn-requestid", uuid::Uuid::new_v4().to_string());
    response
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or_default();
        let Some(injected) = self.plan.take(Service::Dynamodb, operation) else {
            return self.inner.call(request);
        };
        if injected.fault != Fault::LostResponse
            && let Some(capture) = request.extension::<CaptureSmithyConnection>()
        {
            // An answer made here came over no connection; the SDK, which closes the connection
            // of a failed attempt, gets one that has nothing to close.
            capture.set_connection_retriever(|| {
                Some(
                    ConnectionMetadata::builder()
                        .proxied(false)
                        .poison_fn(|| {})
                        .build(),
                )
            });
        }
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            match injected.fault {
                Fault::Throttle => Ok(dynamodb_error(
                    400,
                    "ThrottlingException",
                    "Rate of requests exceeds the allowed throughput.",
                )),
                Fault::Timeout => {
                    tokio::time::sleep(injected.delay).await;
                    inner.call(request).await
                }
                Fault::LostResponse => {
                    // Served (the write happened), and the answer never arrives.
                    inner.call(request).await?;
                    Err(ConnectorError::io(
                        "connection reset before the answer (injected: lost-response)".into(),
                    ))
                }
                Fault::ServerError | Fault::Partial | Fault::Gone => Ok(dynamodb_error(
                    500,
                    "InternalServerError",
                    "Internal server error (injected)",
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(fault: Fault) -> RuleRequest {
        RuleRequest {
            fault,
            operation: None,
            ratio: None,
            count: None,
            delay_ms: None,
        }
    }

    #[test]
    fn a_ratio_spreads_its_faults_evenly_and_a_count_ends_the_rule() {
        let plan = FaultPlan::default();
        plan.add(
            Service::Events,
            RuleRequest {
                ratio: Some(0.25),
                count: Some(2),
                ..rule(Fault::Partial)
            },
        )
        .unwrap();
        let fired: Vec<bool> = (0..12)
            .map(|_| plan.take(Service::Events, "PutEvents").is_some())
            .collect();
        let expected = [
            false, false, false, true, false, false, false, true, false, false, false, false,
        ];
        assert_eq!(fired, expected);
        assert_eq!(plan.take(Service::Management, "PutEvents"), None);
    }

    #[test]
    fn rules_match_their_operation_and_only_faults_their_service_makes() {
        let plan = FaultPlan::default();
        plan.add(
            Service::Dynamodb,
            RuleRequest {
                operation: Some("TransactWriteItems".into()),
                ..rule(Fault::Throttle)
            },
        )
        .unwrap();
        assert_eq!(plan.take(Service::Dynamodb, "GetItem"), None);
        assert!(plan.take(Service::Dynamodb, "TransactWriteItems").is_some());
        assert_eq!(
            plan.add(Service::Management, rule(Fault::Partial)),
            Err(RuleError::NotOfService {
                fault: Fault::Partial,
                service: Service::Management
            })
        );
        let bad_ratio = RuleRequest {
            ratio: Some(1.5),
            ..rule(Fault::Throttle)
        };
        assert_eq!(plan.add(Service::Events, bad_ratio), Err(RuleError::Ratio));
        assert_eq!(plan.clear(), 1);
        assert_eq!(plan.take(Service::Dynamodb, "TransactWriteItems"), None);
    }
}
