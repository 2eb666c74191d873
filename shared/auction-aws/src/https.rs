//! The one HTTP(S) client of the requests the adapters make without an SDK client: the signed
//! Management API posts ([`crate::push`]) and the JWKS fetch ([`crate::jwt`]). hyper 1 with rustls
//! over ring, the stack the SDK clients already link (`infra::http_client`), so a Lambda binary
//! carries one HTTP client and one TLS stack, not a second one for these two calls.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;

/// A pooled client that speaks `http` and `https` (ALPN picks HTTP/1.1 or HTTP/2).
pub type HttpsClient =
    hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// How long a TCP connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Idle pooled connections are closed after this.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A client trusting the platform's root certificates. With `http2_prior_knowledge`, cleartext
/// `http` requests speak HTTP/2 from the first byte (one multiplexed connection, for an endpoint
/// known to speak it); over TLS, ALPN decides either way.
///
/// # Errors
/// When the platform's root certificates cannot be loaded.
pub fn client(http2_prior_knowledge: bool) -> std::io::Result<HttpsClient> {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    connector.set_nodelay(true);
    connector.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(Arc::new(rustls::crypto::ring::default_provider()))?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(connector);
    let mut builder =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new());
    builder.pool_idle_timeout(POOL_IDLE_TIMEOUT);
    if http2_prior_knowledge {
        builder.http2_only(true);
    }
    Ok(builder.build(https))
}
