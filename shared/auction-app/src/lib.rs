//! The application: the Lambda functions' handlers (the WebSocket routes and authorizer in
//! [`ws`], the HTTP API in [`http`], the [`notifier`] and the price [`ticker`]), the [`fanout`]
//! they push through, telemetry, configuration from the environment, and the one composition
//! root ([`compose`]) that the functions' `main.rs` ([`lambda`]) and `auction-local` both use.

pub mod clock;
pub mod compose;
pub mod config;
pub mod fanout;
pub mod http;
pub mod lambda;
pub mod notifier;
pub mod telemetry;
pub mod ticker;
pub mod ws;
