//! Everything the functions share: the auction domain, the ports (small traits with documented
//! contracts), their AWS adapters, and the handlers each function's `main.rs` wires up.

pub mod announce;
pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod config;
pub mod domain;
pub mod dynamo;
pub mod events;
pub mod fanout;
pub mod frames;
pub mod notifier;
pub mod ports;
pub mod push;
pub mod telemetry;
pub mod ticker;
pub mod ws;
