//! [`SignedPusher`]: the push port over the Management API's `POST /@connections/{id}`, signed
//! with SigV4 ([`signer`]) and sent over a pooled hyper client.

mod credentials;
mod signer;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use auction_core::ports::{BoxError, PushError, Pusher};

pub use credentials::CredentialCache;
use signer::PostSigner;

/// [`Pusher`] that speaks the Management API's `POST /@connections/{id}` itself: a SigV4-signed
/// request (the signing key and signature from `aws-sigv4`, the SDK's own signer; see
/// `PostSigner`) over a pooled hyper client.
///
/// Why not `aws-sdk-apigatewaymanagement` here: a fan-out is one call per viewer, and the SDK's
/// per-call orchestration (config layering, interceptors, endpoint rules) makes a post cost
/// 104–137 µs of CPU against 30–46 µs signed and sent here (docs/performance.md, `bench-post`):
/// at 10,000 viewers that is most of a second of Lambda CPU per push. The request on the wire is the same.
#[derive(Clone)]
pub struct SignedPusher {
    http: HttpClient,
    /// `scheme://authority/stage`, without a trailing slash.
    endpoint: String,
    /// The `Host` header the request is signed with.
    host: http::HeaderValue,
    signer: Arc<PostSigner>,
    credentials: Arc<CredentialCache>,
    timeout: Duration,
}

type HttpClient = crate::https::HttpsClient;

/// A post that takes longer is retried (API Gateway answers in milliseconds).
const POST_TIMEOUT: Duration = Duration::from_secs(5);

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
        let http = crate::https::client(http2_prior_knowledge && scheme == "http")
            .map_err(PusherConfigError::Roots)?;
        let signer = Arc::new(PostSigner::new(region, authority.as_str(), uri.path()));
        Ok(Self {
            http,
            endpoint,
            host,
            signer,
            credentials: Arc::new(CredentialCache::new(provider)),
            timeout: POST_TIMEOUT,
        })
    }

    fn signed_request(
        &self,
        connection_id: &str,
        payload: &str,
        credentials: &aws_credential_types::Credentials,
    ) -> Result<http::Request<http_body_util::Full<bytes::Bytes>>, BoxError> {
        // The SDK's encoding of the `{connectionId}` path label.
        let label = aws_smithy_http::label::fmt_string(
            connection_id,
            aws_smithy_http::label::EncodingStrategy::Default,
        );
        let signed = self.signer.sign(
            credentials,
            std::time::SystemTime::now(),
            &label,
            payload.as_bytes(),
        );
        let mut request = http::Request::new(http_body_util::Full::new(
            bytes::Bytes::copy_from_slice(payload.as_bytes()),
        ));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = format!("{}/@connections/{label}", self.endpoint).parse()?;
        let headers = request.headers_mut();
        headers.insert(http::header::HOST, self.host.clone());
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(signer::CONTENT_TYPE),
        );
        signed.apply(headers);
        Ok(request)
    }
}

impl std::fmt::Debug for SignedPusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedPusher")
            .field("endpoint", &self.endpoint)
            .field("region", &self.signer.region)
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
            .signed_request(connection_id, payload, &credentials)
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
