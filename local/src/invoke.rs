//! Invoking the functions the way Lambda does: a JSON event in, a JSON result out.
//!
//! The gateway builds the exact event JSON API Gateway sends; [`InProcess`] deserialises it into
//! the same `aws_lambda_events` type the deployed function's runtime would, and calls the same
//! handler. Keeping the JSON boundary means the emulator's events are checked by the real types.

use async_trait::async_trait;
use serde_json::Value;
use shared::auth::TokenVerifier;
use shared::fanout::FanOut;
use shared::ticker::TickerDeps;
use shared::ws::{self, WsDeps};
use std::time::Duration;

/// The WebSocket API's functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// The REQUEST authorizer on `$connect`.
    Authorizer,
    /// `$connect`.
    Connect,
    /// `JoinAuction`.
    JoinAuction,
    /// `LeaveAuction`.
    LeaveAuction,
    /// `$default`.
    Default,
    /// `$disconnect`.
    Disconnect,
    /// The EventBridge rule's target.
    Notifier,
    /// The scheduled price ticker.
    PriceTicker,
}

impl Function {
    /// The function for a route key.
    #[must_use]
    pub fn for_route(route_key: &str) -> Self {
        match route_key {
            "$connect" => Self::Connect,
            "$disconnect" => Self::Disconnect,
            "JoinAuction" => Self::JoinAuction,
            "LeaveAuction" => Self::LeaveAuction,
            _ => Self::Default,
        }
    }

    /// The crate (and SAM function) name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Authorizer => "ws-authorizer",
            Self::Connect => "ws-connect",
            Self::JoinAuction => "ws-join-auction",
            Self::LeaveAuction => "ws-leave-auction",
            Self::Default => "ws-default",
            Self::Disconnect => "ws-disconnect",
            Self::Notifier => "notifier",
            Self::PriceTicker => "price-ticker",
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
    pub deps: WsDeps,
    /// The authorizer's verifier.
    pub verifier: TokenVerifier,
    /// The notifier's fan-out.
    pub fanout: FanOut,
    /// The price ticker's dependencies.
    pub ticker: TickerDeps,
    /// The price ticker's function timeout (its run stops shortly before it).
    pub ticker_timeout: Duration,
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
        let deps = &self.deps;
        match function {
            Function::Authorizer => result(ws::authorize(&self.verifier, event(payload)?).await),
            Function::Connect => result(ws::connect(deps, event(payload)?).await),
            Function::JoinAuction => result(ws::join_auction(deps, event(payload)?).await),
            Function::LeaveAuction => result(ws::leave_auction(deps, event(payload)?).await),
            Function::Default => result(ws::default_route(deps, event(payload)?).await),
            Function::Disconnect => result(ws::disconnect(deps, event(payload)?).await),
            Function::Notifier => {
                result(shared::notifier::handle(&self.fanout, event(payload)?).await)
            }
            Function::PriceTicker => {
                // The scheduled event must deserialise like in Lambda; the run needs only the deadline.
                let _: aws_lambda_events::eventbridge::EventBridgeEvent = event(payload)?;
                let deadline = tokio::time::Instant::now() + self.ticker_timeout;
                result(self.ticker.run(deadline).await)
            }
        }
    }
}
