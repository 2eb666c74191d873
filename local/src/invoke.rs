//! Invoking the functions the way Lambda does: a JSON event in, a JSON result out.
//!
//! The gateway builds the exact event JSON API Gateway sends; [`InProcess`] deserialises it into
//! the same `aws_lambda_events` type the deployed function's runtime would, and calls the same
//! handler. Keeping the JSON boundary means the emulator's events are checked by the real types.

use async_trait::async_trait;
use auction_app::fanout::FanOut;
use auction_app::fanout::workers::{FanOutTask, TaskStarter};
use auction_app::notifier::Notifier;
use auction_app::ticker::{ShardRun, TickerDeps};
use auction_app::ws::{self, Route, WsDeps};
use auction_aws::jwt::TokenVerifier;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The functions `template.yaml` deploys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// The REQUEST authorizer on `$connect`.
    Authorizer,
    /// One of the WebSocket API's routes.
    Route(Route),
    /// The EventBridge rule's target.
    Notifier,
    /// The scheduled price ticker.
    PriceTicker,
    /// The fan-out worker (one part of a large group's fan-out).
    FanOut,
    /// The HTTP API (payload v2 events).
    HttpApi,
}

impl Function {
    /// The crate (and SAM function) name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Authorizer => "ws-authorizer",
            Self::Route(Route::Connect) => "ws-connect",
            Self::Route(Route::JoinAuction) => "ws-join-auction",
            Self::Route(Route::LeaveAuction) => "ws-leave-auction",
            Self::Route(Route::Default) => "ws-default",
            Self::Route(Route::Disconnect) => "ws-disconnect",
            Self::Notifier => "notifier",
            Self::PriceTicker => "price-ticker",
            Self::FanOut => "fanout",
            Self::HttpApi => "http-api",
        }
    }
}

/// A failed invocation, as Lambda reports it.
#[derive(Debug, thiserror::Error)]
#[error("{error_type}: {error_message}")]
pub struct InvokeError {
    /// The error's type.
    pub error_type: String,
    /// The error's message (`Unauthorized` for a refusing authorizer).
    pub error_message: String,
}

impl InvokeError {
    fn from_error(error: &(dyn std::error::Error + 'static)) -> Self {
        Self {
            error_type: "HandlerError".into(),
            error_message: error.to_string(),
        }
    }
}

/// Something that runs a function on an event.
#[async_trait]
pub trait Invoker: Send + Sync {
    /// Runs `function` on `event` and returns its JSON result.
    ///
    /// # Errors
    /// [`InvokeError`] when the function fails (or its event does not deserialise).
    async fn invoke(&self, function: Function, event: Value) -> Result<Value, InvokeError>;
}

/// Runs the handlers in this process.
pub struct InProcess {
    /// The route handlers' dependencies.
    pub ws: WsDeps,
    /// The authorizer's verifier.
    pub verifier: TokenVerifier,
    /// The notifier.
    pub notifier: Notifier,
    /// The price ticker's dependencies.
    pub ticker: TickerDeps,
    /// The price ticker's function timeout (its run stops shortly before it).
    pub ticker_timeout: Duration,
    /// The `fanout` worker's fan-out (paced at its share of the pool's budget).
    pub fanout_worker: FanOut,
    /// The `http-api` function's router.
    pub http_router: axum::Router,
}

fn event<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, InvokeError> {
    serde_json::from_value(value).map_err(|e| InvokeError {
        error_type: "Runtime.UnmarshalError".into(),
        error_message: e.to_string(),
    })
}

fn result<T: serde::Serialize, E: std::error::Error + 'static>(
    r: Result<T, E>,
) -> Result<Value, InvokeError> {
    match r {
        Ok(value) => serde_json::to_value(value).map_err(|e| InvokeError::from_error(&e)),
        Err(e) => Err(InvokeError::from_error(&e)),
    }
}

#[async_trait]
impl Invoker for InProcess {
    async fn invoke(&self, function: Function, payload: Value) -> Result<Value, InvokeError> {
        match function {
            Function::Authorizer => result(ws::authorize(&self.verifier, event(payload)?).await),
            Function::Route(route) => result(route.handle(&self.ws, event(payload)?).await),
            Function::Notifier => result(self.notifier.handle(event(payload)?).await),
            Function::PriceTicker => {
                let deadline = tokio::time::Instant::now() + self.ticker_timeout;
                let shards = self.ticker.shards();
                match ShardRun::from_event(&payload, shards) {
                    Ok(Some(run)) => result(self.ticker.run(run.shard, deadline).await),
                    // The schedule's event: one run per shard, side by side, as the deployed
                    // dispatcher starts them; awaited, so that stopping the schedule stops them.
                    Ok(None) => {
                        let _: aws_lambda_events::eventbridge::EventBridgeEvent = event(payload)?;
                        let runs = futures::future::join_all(
                            (0..shards).map(|shard| self.ticker.run(shard, deadline)),
                        )
                        .await;
                        let reports: Result<Vec<_>, _> = runs.into_iter().collect();
                        result(reports)
                    }
                    Err(message) => Err(InvokeError {
                        error_type: "Runtime.UnmarshalError".into(),
                        error_message: message,
                    }),
                }
            }
            Function::FanOut => {
                let task: FanOutTask = event(payload)?;
                result(self.fanout_worker.run_task(&task).await)
            }
            Function::HttpApi => http_api(self.http_router.clone(), event(payload)?).await,
        }
    }
}

/// Starts `fanout` workers in this process: each part runs on a task of its own, as each is an
/// invocation of its own in Lambda, through the worker's own entry ([`FanOut::run_task`]).
pub struct SpawnedWorkers(pub FanOut);

#[async_trait]
impl TaskStarter for SpawnedWorkers {
    async fn start(&self, task: &FanOutTask) -> Result<(), auction_core::ports::BoxError> {
        let (fanout, task) = (self.0.clone(), task.clone());
        tokio::spawn(async move {
            if let Err(e) = fanout.run_task(&task).await {
                tracing::error!(error = %e, auction_id = %task.auction_id, "fan-out worker failed");
            }
        });
        Ok(())
    }
}

/// API Gateway responses of HTTP APIs are buffered, never streamed; this caps what is read.
const MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

/// Runs the router through `lambda_http`'s own adapter, as the deployed function's runtime does.
async fn http_api(
    router: axum::Router,
    request: lambda_http::request::LambdaRequest,
) -> Result<Value, InvokeError> {
    use lambda_http::tower::ServiceExt;
    // Buffer the router's body: lambda_http's adapter needs a `Sync` body (axum's is not).
    let buffered = <axum::Router as ServiceExt<lambda_http::Request>>::map_future(
        router,
        |response| async move {
            let response: axum::response::Response = response.await?;
            let (parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, MAX_RESPONSE_BYTES)
                .await
                .unwrap_or_default();
            Ok::<_, std::convert::Infallible>(axum::response::Response::from_parts(
                parts,
                http_body_util::Full::new(bytes),
            ))
        },
    );
    let adapter = lambda_http::Adapter::from(buffered);
    let invocation = lambda_http::LambdaEvent::new(request, lambda_http::Context::default());
    match adapter.oneshot(invocation).await {
        Ok(response) => serde_json::to_value(response).map_err(|e| InvokeError::from_error(&e)),
        Err(e) => Err(InvokeError {
            error_type: "HandlerError".into(),
            error_message: format!("{e:?}"),
        }),
    }
}

/// Invokes the functions through Lambda's invoke API at `base_url`, e.g. the one `cargo lambda
/// watch` serves (`http://127.0.0.1:9000`): `POST /2015-03-31/functions/{name}/invocations`.
pub struct InvokeApi {
    http: reqwest::Client,
    base_url: String,
}

impl InvokeApi {
    /// An invoker for the invoke API at `base_url`.
    #[must_use]
    pub fn new(base_url: &str) -> Self {
        // reqwest is built without a default TLS provider; the product uses ring everywhere.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            http: reqwest::Client::new(),
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }
}

#[async_trait]
impl Invoker for InvokeApi {
    async fn invoke(&self, function: Function, payload: Value) -> Result<Value, InvokeError> {
        let url = format!(
            "{}/2015-03-31/functions/{}/invocations",
            self.base_url,
            function.name()
        );
        let unreachable = |e: &dyn std::fmt::Display| InvokeError {
            error_type: "InvokeApiUnreachable".into(),
            error_message: format!("{url}: {e}"),
        };
        let response = self
            .http
            .post(&url)
            .json(&payload)
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        let status = response.status();
        // Lambda answers a function error with 200 and X-Amz-Function-Error; an emulator may
        // answer it with a 5xx. Either way the body is {errorType, errorMessage}.
        let function_error = response.headers().contains_key("x-amz-function-error");
        let body = response.bytes().await.map_err(|e| unreachable(&e))?;
        let value: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|e| InvokeError {
                error_type: "Runtime.InvalidResponse".into(),
                error_message: format!("{e}: {}", String::from_utf8_lossy(&body)),
            })?
        };
        if function_error || !status.is_success() {
            let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
            return Err(InvokeError {
                error_type: text("errorType").unwrap_or_else(|| format!("HTTP {status}")),
                error_message: text("errorMessage").unwrap_or_else(|| value.to_string()),
            });
        }
        Ok(value)
    }
}

impl Function {
    /// The function of a name (as [`Function::name`] gives it), if any.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Authorizer,
            Self::Route(Route::Connect),
            Self::Route(Route::JoinAuction),
            Self::Route(Route::LeaveAuction),
            Self::Route(Route::Default),
            Self::Route(Route::Disconnect),
            Self::Notifier,
            Self::PriceTicker,
            Self::FanOut,
            Self::HttpApi,
        ]
        .into_iter()
        .find(|f| f.name() == name)
    }
}

/// Lambda's Invoke API, `POST /2015-03-31/functions/{name}/invocations`, over this stack's
/// functions: what the price ticker's dispatcher calls (`LAMBDA_ENDPOINT`) to start its shard
/// runs, in process or through `--invoke-url`. `X-Amz-Invocation-Type: Event` queues the
/// invocation and answers 202 at once; `RequestResponse` (the default) answers with the result.
pub fn lambda_api_routes(
    invoker: Arc<dyn Invoker>,
    stats: Arc<crate::stats::Stats>,
) -> axum::Router {
    axum::Router::new()
        .route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(invoke_function),
        )
        .route_layer(axum::middleware::from_fn(crate::guard::signed_lambda))
        .with_state((invoker, stats))
}

/// An error of the Lambda API itself (not of the function): `{"Type": "User", "message"}` and
/// its `x-amzn-ErrorType`.
pub(crate) fn lambda_error(
    status: axum::http::StatusCode,
    kind: &'static str,
    message: String,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut response = (
        status,
        axum::Json(serde_json::json!({"Type": "User", "message": message})),
    )
        .into_response();
    response.headers_mut().insert(
        "x-amzn-ErrorType",
        axum::http::HeaderValue::from_static(kind),
    );
    response
}

async fn invoke_function(
    axum::extract::State((invoker, stats)): axum::extract::State<(
        Arc<dyn Invoker>,
        Arc<crate::stats::Stats>,
    )>,
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    // A name or an ARN whose last part is the name.
    let Some(function) = Function::from_name(name.rsplit(':').next().unwrap_or(&name)) else {
        return lambda_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("Function not found: {name}"),
        );
    };
    stats.count_invocation(function.name());
    let payload: Value = if body.is_empty() {
        Value::Object(serde_json::Map::new())
    } else {
        match serde_json::from_slice(&body) {
            Ok(payload) => payload,
            Err(e) => {
                return lambda_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestContentException",
                    format!("Could not parse request body into json: {e}"),
                );
            }
        }
    };
    let asynchronous = headers
        .get("x-amz-invocation-type")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"Event"));
    if asynchronous {
        tokio::spawn(async move {
            if let Err(e) = invoker.invoke(function, payload).await {
                tracing::error!(function = function.name(), error = %e, "asynchronous invocation failed");
            }
        });
        return StatusCode::ACCEPTED.into_response();
    }
    match invoker.invoke(function, payload).await {
        Ok(result) => axum::Json(result).into_response(),
        Err(e) => {
            let mut response = axum::Json(serde_json::json!({
                "errorType": e.error_type,
                "errorMessage": e.error_message,
            }))
            .into_response();
            response.headers_mut().insert(
                "x-amz-function-error",
                axum::http::HeaderValue::from_static("Unhandled"),
            );
            response
        }
    }
}
