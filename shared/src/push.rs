//! The push port: posting a frame to one connection, and its API Gateway adapter.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::ports::BoxError;

/// Why a post did not arrive.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The connection is closed or unknown (HTTP 410): delete it, do not retry.
    #[error("connection is gone")]
    Gone,
    /// Throttled (HTTP 429) or the service failed (5xx): retry with backoff.
    #[error("post was throttled or failed transiently")]
    Retryable(#[source] BoxError),
    /// Anything else (e.g. payload too large): do not retry.
    #[error("post failed")]
    Failed(#[source] BoxError),
}

/// Sends frames to connections (API Gateway's `PostToConnection`).
#[async_trait]
pub trait Pusher: Send + Sync {
    /// Posts `payload` to the connection as one text frame.
    ///
    /// # Errors
    /// MUST return [`PushError::Gone`] for a closed or unknown connection (HTTP 410, whatever
    /// error variant the SDK reports), [`PushError::Retryable`] for 429 and 5xx.
    async fn post(&self, connection_id: &str, payload: &str) -> Result<(), PushError>;
}

/// [`Pusher`] that speaks the Management API's `POST /@connections/{id}` itself: a SigV4-signed
/// request (`aws-sigv4`, the SDK's own signer) over a pooled hyper client.
///
/// Why not `aws-sdk-apigatewaymanagement` here: a fan-out is one call per viewer, and the SDK's
/// per-call orchestration (config layering, interceptors, endpoint rules) costs ≈ 100 µs of CPU
/// per post against ≈ 10 µs for signing and sending (docs/performance.md, `bench-post`): at
/// 10,000 viewers that is a second of Lambda CPU per push. The request on the wire is the same.
#[derive(Clone)]
pub struct SignedPusher {
    http: HttpClient,
    /// `scheme://authority/stage`, without a trailing slash.
    endpoint: String,
    /// The `Host` header the request is signed with.
    host: http::HeaderValue,
    region: String,
    credentials: Arc<CredentialCache>,
    timeout: Duration,
}

type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// The signing service of the Management API.
const SIGNING_NAME: &str = "execute-api";
/// Credentials this close to their expiry are fetched again.
const CREDENTIALS_REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// A post that takes longer is retried (API Gateway answers in milliseconds).
const POST_TIMEOUT: Duration = Duration::from_secs(5);
/// Characters of a connection id sent as they are; everything else is percent-encoded, as the
/// SDK encodes a path label.
const PATH_LABEL: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A pusher that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum PusherConfigError {
    /// The endpoint is not an absolute `http(s)://host[/stage]` URL.
    #[error("management endpoint {0:?} is not an absolute http(s) URL")]
    Endpoint(String),
    /// The SDK configuration has no region or no credentials provider.
    #[error("the AWS configuration has no {0}")]
    Missing(&'static str),
    /// The platform's root certificates could not be loaded.
    #[error("could not load the root certificates: {0}")]
    Roots(#[source] std::io::Error),
}

impl SignedPusher {
    /// A pusher for the WebSocket API's management endpoint
    /// (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`, or `auction-local`'s), signing
    /// with the region and credentials of `sdk`.
    ///
    /// # Errors
    /// [`PusherConfigError`] when the endpoint is not a URL or `sdk` lacks a region or credentials.
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: &str) -> Result<Self, PusherConfigError> {
        Self::build(sdk, endpoint, false)
    }

    /// The same, for a cleartext endpoint known to speak HTTP/2 (`auction-local`): the posts share
    /// one multiplexed connection instead of a pool of HTTP/1.1 ones, so a fan-out makes far fewer
    /// system calls (10,000 viewers: p99 0.95 → 0.71 s, docs/performance.md). Over TLS, ALPN
    /// picks the protocol whichever constructor is used.
    ///
    /// # Errors
    /// As [`SignedPusher::new`].
    pub fn with_http2_prior_knowledge(
        sdk: &aws_config::SdkConfig,
        endpoint: &str,
    ) -> Result<Self, PusherConfigError> {
        Self::build(sdk, endpoint, true)
    }

    fn build(
        sdk: &aws_config::SdkConfig,
        endpoint: &str,
        http2_prior_knowledge: bool,
    ) -> Result<Self, PusherConfigError> {
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let uri: http::Uri = endpoint
            .parse()
            .map_err(|_| PusherConfigError::Endpoint(endpoint.clone()))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(PusherConfigError::Endpoint(endpoint));
        };
        if scheme != "http" && scheme != "https" {
            return Err(PusherConfigError::Endpoint(endpoint));
        }
        let host = http::HeaderValue::from_str(authority.as_str())
            .map_err(|_| PusherConfigError::Endpoint(endpoint.clone()))?;
        let region = sdk
            .region()
            .ok_or(PusherConfigError::Missing("region"))?
            .to_string();
        let provider = sdk
            .credentials_provider()
            .ok_or(PusherConfigError::Missing("credentials provider"))?;
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(3)));
        connector.set_nodelay(true);
        connector.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(Arc::new(rustls::crypto::ring::default_provider()))
            .map_err(PusherConfigError::Roots)?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(connector);
        let mut builder =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new());
        builder.pool_idle_timeout(Duration::from_secs(60));
        if http2_prior_knowledge && scheme == "http" {
            builder.http2_only(true);
        }
        let http = builder.build(https);
        Ok(Self {
            http,
            endpoint,
            host,
            region,
            credentials: Arc::new(CredentialCache::new(provider)),
            timeout: POST_TIMEOUT,
        })
    }

    fn signed_request(
        &self,
        connection_id: &str,
        payload: &str,
        credentials: aws_credential_types::Credentials,
    ) -> Result<http::Request<http_body_util::Full<bytes::Bytes>>, BoxError> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let uri = format!(
            "{}/@connections/{}",
            self.endpoint,
            percent_encoding::utf8_percent_encode(connection_id, PATH_LABEL)
        );
        let body = bytes::Bytes::copy_from_slice(payload.as_bytes());
        let mut request = http::Request::post(&uri)
            .header(http::header::HOST, self.host.clone())
            .header(http::header::CONTENT_TYPE, "application/octet-stream")
            .body(http_body_util::Full::new(body.clone()))?;
        let identity = credentials.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SIGNING_NAME)
            .time(std::time::SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let host = self.host.to_str()?;
        let signable = SignableRequest::new(
            "POST",
            uri.as_str(),
            [("host", host), ("content-type", "application/octet-stream")].into_iter(),
            SignableBody::Bytes(&body),
        )?;
        let (instructions, _signature) = sign(signable, &params)?.into_parts();
        instructions.apply_to_request_http1x(&mut request);
        Ok(request)
    }
}

impl std::fmt::Debug for SignedPusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedPusher")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// A post the Management API answered with an error status.
#[derive(Debug, thiserror::Error)]
#[error("PostToConnection answered {status} {error_type}: {message}")]
pub struct PostError {
    /// The HTTP status.
    pub status: u16,
    /// `x-amzn-ErrorType`, e.g. `LimitExceededException`.
    pub error_type: String,
    /// The body's message, if any.
    pub message: String,
}

#[async_trait]
impl Pusher for SignedPusher {
    async fn post(&self, connection_id: &str, payload: &str) -> Result<(), PushError> {
        use http_body_util::BodyExt;
        let credentials = self.credentials.get().await.map_err(PushError::Retryable)?;
        let request = self
            .signed_request(connection_id, payload, credentials)
            .map_err(PushError::Failed)?;
        let exchange = async {
            let response = self.http.request(request).await?;
            let (parts, body) = response.into_parts();
            // Read the body to the end so the connection goes back to the pool.
            let body = body.collect().await?.to_bytes();
            Ok::<_, BoxError>((parts, body))
        };
        let (parts, body) = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(PushError::Retryable(e)),
            Err(elapsed) => return Err(PushError::Retryable(Box::new(elapsed))),
        };
        let status = parts.status.as_u16();
        if parts.status.is_success() {
            return Ok(());
        }
        // Any 410 is gone, whatever the error type says.
        if status == 410 {
            return Err(PushError::Gone);
        }
        let error = PostError {
            status,
            error_type: parts
                .headers
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(':').next().unwrap_or(v).to_owned())
                .unwrap_or_default(),
            message: serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("message")
                        .or_else(|| v.get("Message"))
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_default(),
        };
        match status {
            429 | 500..=599 => Err(PushError::Retryable(Box::new(error))),
            _ => Err(PushError::Failed(Box::new(error))),
        }
    }
}

/// The signing credentials, fetched once and again shortly before they expire (Lambda's come
/// from the environment and do not expire; an assumed role's do).
struct CredentialCache {
    provider: aws_credential_types::provider::SharedCredentialsProvider,
    current: std::sync::RwLock<Option<aws_credential_types::Credentials>>,
    refresh: tokio::sync::Mutex<()>,
}

impl CredentialCache {
    fn new(provider: aws_credential_types::provider::SharedCredentialsProvider) -> Self {
        Self {
            provider,
            current: std::sync::RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<aws_credential_types::Credentials> {
        let current = self.current.read().ok()?.clone()?;
        let fresh = current.expiry().is_none_or(|expiry| {
            expiry
                .duration_since(std::time::SystemTime::now())
                .is_ok_and(|left| left > CREDENTIALS_REFRESH_MARGIN)
        });
        fresh.then_some(current)
    }

    async fn get(&self) -> Result<aws_credential_types::Credentials, BoxError> {
        use aws_credential_types::provider::ProvideCredentials;
        if let Some(credentials) = self.fresh() {
            return Ok(credentials);
        }
        // One fetch at a time; the others find its result.
        let _refreshing = self.refresh.lock().await;
        if let Some(credentials) = self.fresh() {
            return Ok(credentials);
        }
        let credentials = self.provider.provide_credentials().await?;
        if let Ok(mut current) = self.current.write() {
            *current = Some(credentials.clone());
        }
        Ok(credentials)
    }
}
