//! The DynamoDB tables as code, and the embedded engine that serves them locally.
//!
//! [`tables`] is the one source of truth for both tables: tests and `auction-local` create them
//! from it, and a test fails when `template.yaml` drifts from it. [`embedded`] (feature
//! `embedded`) serves the `dynoxide` engine on a loopback port, reached through the real SDK.

pub mod bus;
pub mod tables;

#[cfg(feature = "embedded")]
pub mod embedded;

pub use tables::{AUCTIONS, CONNECTIONS, TableSpec};
