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
/// request (the signing key and signature from `aws-sigv4`, the SDK's own signer; see
/// `PostSigner`) over a pooled hyper client.
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
    signer: Arc<PostSigner>,
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
            http::HeaderValue::from_static(CONTENT_TYPE),
        );
        signed.apply(headers);
        Ok(request)
    }
}

/// The request's only content type (the SDK's for a blob payload).
const CONTENT_TYPE: &str = "application/octet-stream";

/// SigV4 (header form) for `POST {stage}/@connections/{id}`, the one request the pusher makes.
///
/// aws-sigv4's general `sign` derives the signing key (four HMACs) and builds a header map, a
/// canonical request and a string to sign through several allocations on every call: ≈ 12% of
/// `auction-local`'s CPU during a 10,000-viewer fan-out (docs/performance.md). Here the key is
/// derived once per day and credentials, with aws-sigv4's own `generate_signing_key`, and the
/// canonical request of this fixed shape is written out directly; the final HMAC is aws-sigv4's
/// `calculate_signature`. The unit tests hold the result equal to aws-sigv4's `sign`, session
/// token or not.
struct PostSigner {
    region: String,
    /// The `host` header value.
    host: String,
    /// The canonical URI up to the connection id (`/prod/%40connections/`), encoded once.
    canonical_prefix: String,
    /// The signing key of the last day and credentials used.
    key: std::sync::Mutex<Option<SigningKey>>,
}

struct SigningKey {
    date: String,
    access_key_id: String,
    secret_access_key: String,
    key: Arc<[u8]>,
}

/// The headers that sign one request.
struct SignedHeaders {
    authorization: String,
    date_time: String,
    security_token: Option<String>,
}

impl SignedHeaders {
    fn apply(self, headers: &mut http::HeaderMap) {
        // Credentials are sensitive: HTTP/2 sends them never-indexed (RFC 7541 section 7.1.3), which
        // also keeps a new signature per post from churning the HPACK tables of both ends.
        let mut put = |name: &'static str, value: String, sensitive: bool| {
            if let Ok(mut value) = http::HeaderValue::try_from(value) {
                value.set_sensitive(sensitive);
                headers.insert(name, value);
            }
        };
        put("authorization", self.authorization, true);
        put("x-amz-date", self.date_time, false);
        if let Some(token) = self.security_token {
            put("x-amz-security-token", token, true);
        }
    }
}

impl PostSigner {
    fn new(region: String, host: &str, stage_path: &str) -> Self {
        Self {
            region,
            host: host.to_owned(),
            canonical_prefix: aws_smithy_http::label::fmt_string(
                format!("{}/@connections/", stage_path.trim_end_matches('/')),
                aws_smithy_http::label::EncodingStrategy::Greedy,
            ),
            key: std::sync::Mutex::new(None),
        }
    }

    /// The signing key for `date` (`YYYYMMDD`) and these credentials, derived at most once.
    fn signing_key(
        &self,
        credentials: &aws_credential_types::Credentials,
        date: &str,
        at: std::time::SystemTime,
    ) -> Arc<[u8]> {
        let Ok(mut cached) = self.key.lock() else {
            return self.derive(credentials, at);
        };
        if let Some(current) = cached.as_ref().filter(|k| {
            k.date == date
                && k.access_key_id == credentials.access_key_id()
                && k.secret_access_key == credentials.secret_access_key()
        }) {
            return Arc::clone(&current.key);
        }
        let key = self.derive(credentials, at);
        *cached = Some(SigningKey {
            date: date.to_owned(),
            access_key_id: credentials.access_key_id().to_owned(),
            secret_access_key: credentials.secret_access_key().to_owned(),
            key: Arc::clone(&key),
        });
        key
    }

    fn derive(
        &self,
        credentials: &aws_credential_types::Credentials,
        at: std::time::SystemTime,
    ) -> Arc<[u8]> {
        let key = aws_sigv4::sign::v4::generate_signing_key(
            credentials.secret_access_key(),
            at,
            &self.region,
            SIGNING_NAME,
        );
        Arc::from(key.as_ref())
    }

    /// Signs `POST {stage}/@connections/{label}` with `body` at `at` (whole seconds count).
    fn sign(
        &self,
        credentials: &aws_credential_types::Credentials,
        at: std::time::SystemTime,
        label: &str,
        body: &[u8],
    ) -> SignedHeaders {
        use sha2::Digest;
        use std::fmt::Write;
        let utc = time::OffsetDateTime::from(at);
        let date = format!(
            "{:04}{:02}{:02}",
            utc.year(),
            u8::from(utc.month()),
            utc.day()
        );
        let date_time = format!(
            "{date}T{:02}{:02}{:02}Z",
            utc.hour(),
            utc.minute(),
            utc.second()
        );
        let token = credentials.session_token();
        let signed_headers = if token.is_some() {
            "content-type;host;x-amz-date;x-amz-security-token"
        } else {
            "content-type;host;x-amz-date"
        };
        // The canonical URI encodes the (already encoded) path once more, as aws-sigv4 does for
        // every service but S3; percent-encoding goes character by character, so the constant
        // prefix is encoded once and only the label here.
        let canonical_label = aws_smithy_http::label::fmt_string(
            label,
            aws_smithy_http::label::EncodingStrategy::Greedy,
        );
        let mut canonical = String::with_capacity(320 + token.map_or(0, str::len));
        let _ = write!(
            canonical,
            "POST\n{}{canonical_label}\n\ncontent-type:{CONTENT_TYPE}\nhost:{}\nx-amz-date:{date_time}\n",
            self.canonical_prefix, self.host
        );
        if let Some(token) = token {
            let _ = writeln!(canonical, "x-amz-security-token:{}", token.trim());
        }
        let _ = write!(
            canonical,
            "\n{signed_headers}\n{}",
            hex::encode(sha2::Sha256::digest(body))
        );
        let scope = format!("{date}/{}/{SIGNING_NAME}/aws4_request", self.region);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{date_time}\n{scope}\n{}",
            hex::encode(sha2::Sha256::digest(canonical.as_bytes()))
        );
        let key = self.signing_key(credentials, &date, at);
        let signature = aws_sigv4::sign::v4::calculate_signature(&key, string_to_sign.as_bytes());
        SignedHeaders {
            authorization: format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
                credentials.access_key_id()
            ),
            date_time,
            security_token: token.map(str::to_owned),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What aws-sigv4's general `sign` puts on the same request.
    fn reference(
        credentials: aws_credential_types::Credentials,
        at: std::time::SystemTime,
        uri: &str,
        host: &str,
        body: &[u8],
    ) -> http::HeaderMap {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let identity = credentials.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("eu-central-1")
            .name(SIGNING_NAME)
            .time(at)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            "POST",
            uri,
            [("host", host), ("content-type", CONTENT_TYPE)].into_iter(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let mut request = http::Request::post(uri).body(()).unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        instructions.apply_to_request_http1x(&mut request);
        request.headers().clone()
    }

    fn pusher(endpoint: &str) -> SignedPusher {
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("eu-central-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::for_tests(),
                ),
            )
            .build();
        SignedPusher::new(&sdk, endpoint).unwrap()
    }

    #[test]
    fn posts_are_signed_exactly_as_aws_sigv4_signs_them() {
        let at = std::time::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let body = br#"{"type":"PriceUpdated","data":{"currentPrice":"12.50"},"sentAt":1}"#;
        let with_token = aws_credential_types::Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("IQoJb3JpZ2luX2VjEXAMPLE/token+with=chars".into()),
            None,
            "test",
        );
        let without_token =
            aws_credential_types::Credentials::new("AKIDOTHER", "secret", None, None, "test");
        for (endpoint, host) in [
            (
                "https://abc123.execute-api.eu-central-1.amazonaws.com/prod",
                "abc123.execute-api.eu-central-1.amazonaws.com",
            ),
            ("http://127.0.0.1:4510/local", "127.0.0.1:4510"),
            ("http://localhost:4510", "localhost:4510"),
        ] {
            let pusher = pusher(endpoint);
            for credentials in [&with_token, &without_token] {
                // Twice each: the second signature comes from the cached signing key.
                for connection_id in ["L0SM9cOFvHcCIhw=", "a+b/c=d", "L0SM9cOFvHcCIhw="] {
                    let label = aws_smithy_http::label::fmt_string(
                        connection_id,
                        aws_smithy_http::label::EncodingStrategy::Default,
                    );
                    let ours = pusher.signer.sign(credentials, at, &label, body);
                    let mut headers = http::HeaderMap::new();
                    ours.apply(&mut headers);
                    let uri = format!("{endpoint}/@connections/{label}");
                    let expected = reference(credentials.clone(), at, &uri, host, body);
                    for name in ["authorization", "x-amz-date", "x-amz-security-token"] {
                        assert_eq!(
                            headers.get(name),
                            expected.get(name),
                            "{name} for {uri} ({:?})",
                            credentials.session_token()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_new_day_or_new_credentials_get_a_new_signing_key() {
        let pusher = pusher("http://localhost:4510/local");
        let first = aws_credential_types::Credentials::new("AKID1", "one", None, None, "t");
        let second = aws_credential_types::Credentials::new("AKID1", "two", None, None, "t");
        let day = std::time::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let next_day = day + Duration::from_secs(86_400);
        let signature = |credentials: &aws_credential_types::Credentials, at| {
            let ours = pusher.signer.sign(credentials, at, "abc%3D", b"{}");
            let expected = reference(
                credentials.clone(),
                at,
                "http://localhost:4510/local/@connections/abc%3D",
                "localhost:4510",
                b"{}",
            );
            assert_eq!(
                Some(ours.authorization.as_str()),
                expected.get("authorization").and_then(|v| v.to_str().ok())
            );
            ours.authorization
        };
        let a = signature(&first, day);
        let b = signature(&first, next_day);
        let c = signature(&second, next_day);
        assert_ne!(a, b);
        assert_ne!(b, c);
    }
}
