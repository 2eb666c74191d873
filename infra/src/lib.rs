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

/// The HTTP client of every AWS SDK client in the product: hyper 1 with rustls over ring (the
/// SDK crates are built without their default client; see the workspace `Cargo.toml`). Clients
/// made from one `SdkConfig` share its connection pool.
#[must_use]
pub fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}
