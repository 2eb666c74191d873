//! [`AsyncInvoker`]: starts a Lambda function without waiting for it, through the Invoke API's
//! `POST /2015-03-31/functions/{name}/invocations` with `X-Amz-Invocation-Type: Event`, signed
//! with SigV4 (aws-sigv4's own `sign`; one request per shard per minute, so the pusher's
//! hand-tuned signer is not needed). The price ticker's dispatcher uses it to start one run per
//! shard. `auction-local` and `cargo lambda watch` serve the same path, so pointing the endpoint
//! at them (`LAMBDA_ENDPOINT`) runs the same code locally.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::https::HttpsClient;
use crate::push::CredentialCache;

/// The signing service of the Lambda API.
const SIGNING_NAME: &str = "lambda";

/// Starts invocations of one function asynchronously.
pub struct AsyncInvoker {
    client: HttpsClient,
    /// `{endpoint}/2015-03-31/functions/{name}/invocations`.
    uri: http::Uri,
    host: String,
    region: String,
    credentials: Arc<CredentialCache>,
}

/// Why an invoker could not be built.
#[derive(Debug, thiserror::Error)]
pub enum InvokerConfigError {
    /// The endpoint or function name does not make a URL.
    #[error("invalid Lambda endpoint or function name: {0}")]
    Endpoint(String),
    /// The SDK configuration lacks something.
    #[error("the SDK configuration has no {0}")]
    Missing(&'static str),
    /// The TLS roots could not be loaded.
    #[error("HTTPS client: {0}")]
    Client(#[from] std::io::Error),
}

/// Why an invocation was not started.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The request could not be signed or sent.
    #[error("invoke request failed: {0}")]
    Request(String),
    /// The Lambda API refused it (`status`, and its error body).
    #[error("Lambda answered {status}: {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error document.
        body: String,
    },
}

impl AsyncInvoker {
    /// An invoker of `function` (a name or ARN) at `endpoint` (`https://lambda.{region}.amazonaws.com`
    /// when `None`), with the region and credentials of `sdk`.
    ///
    /// # Errors
    /// [`InvokerConfigError`].
    pub fn new(
        sdk: &aws_config::SdkConfig,
        endpoint: Option<&str>,
        function: &str,
    ) -> Result<Self, InvokerConfigError> {
        let region = sdk
            .region()
            .ok_or(InvokerConfigError::Missing("region"))?
            .to_string();
        let provider = sdk
            .credentials_provider()
            .ok_or(InvokerConfigError::Missing("credentials provider"))?;
        let endpoint = endpoint.map_or_else(
            || format!("https://lambda.{region}.amazonaws.com"),
            |e| e.trim_end_matches('/').to_owned(),
        );
        let name = aws_smithy_http::label::fmt_string(
            function,
            aws_smithy_http::label::EncodingStrategy::Default,
        );
        let uri: http::Uri = format!("{endpoint}/2015-03-31/functions/{name}/invocations")
            .parse()
            .map_err(|e: http::uri::InvalidUri| InvokerConfigError::Endpoint(e.to_string()))?;
        let host = uri
            .authority()
            .ok_or_else(|| InvokerConfigError::Endpoint(endpoint.clone()))?
            .to_string();
        Ok(Self {
            client: crate::https::client(false)?,
            uri,
            host,
            region,
            credentials: Arc::new(CredentialCache::new(provider)),
        })
    }

    /// Starts one invocation with `payload` and returns once Lambda has queued it (202).
    ///
    /// # Errors
    /// [`InvokeError`].
    pub async fn invoke_async(&self, payload: &serde_json::Value) -> Result<(), InvokeError> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let body = serde_json::to_vec(payload).map_err(|e| InvokeError::Request(e.to_string()))?;
        let credentials = self
            .credentials
            .get()
            .await
            .map_err(|e| InvokeError::Request(e.to_string()))?;
        let identity = credentials.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SIGNING_NAME)
            .time(std::time::SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| InvokeError::Request(e.to_string()))?
            .into();
        let uri = self.uri.to_string();
        let headers = [
            ("host", self.host.as_str()),
            ("content-type", "application/json"),
            ("x-amz-invocation-type", "Event"),
        ];
        let signable = SignableRequest::new(
            "POST",
            &uri,
            headers.into_iter(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| InvokeError::Request(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| InvokeError::Request(e.to_string()))?
            .into_parts();
        let mut request = http::Request::post(&self.uri)
            .header("content-type", "application/json")
            .header("x-amz-invocation-type", "Event")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| InvokeError::Request(e.to_string()))?;
        instructions.apply_to_request_http1x(&mut request);
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| InvokeError::Request(e.to_string()))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        Err(InvokeError::Refused { status, body })
    }
}

impl std::fmt::Debug for AsyncInvoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncInvoker")
            .field("uri", &self.uri)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}
