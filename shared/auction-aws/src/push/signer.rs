//! SigV4 for the one request the pusher makes, with the signing key cached per day and
//! credentials. The unit tests hold it equal to aws-sigv4's own `sign`.

use std::sync::Arc;

/// The signing service of the Management API.
pub const SIGNING_NAME: &str = "execute-api";

/// The request's only content type (the SDK's for a blob payload).
pub const CONTENT_TYPE: &str = "application/octet-stream";

/// SigV4 (header form) for `POST {stage}/@connections/{id}`, the one request the pusher makes.
///
/// aws-sigv4's general `sign` derives the signing key (four HMACs) and builds a header map, a
/// canonical request and a string to sign through several allocations on every call: ≈ 12% of
/// `auction-local`'s CPU during a 10,000-viewer fan-out (docs/performance.md). Here the key is
/// derived once per day and credentials, with aws-sigv4's own `generate_signing_key`, and the
/// canonical request of this fixed shape is written out directly; the final HMAC is aws-sigv4's
/// `calculate_signature`. The unit tests hold the result equal to aws-sigv4's `sign`, session
/// token or not.
pub struct PostSigner {
    pub(super) region: String,
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
pub struct SignedHeaders {
    authorization: String,
    date_time: String,
    security_token: Option<String>,
}

impl SignedHeaders {
    pub fn apply(self, headers: &mut http::HeaderMap) {
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
    pub fn new(region: String, host: &str, stage_path: &str) -> Self {
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
    pub fn sign(
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

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

    fn pusher(endpoint: &str) -> crate::push::SignedPusher {
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("eu-central-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::for_tests(),
                ),
            )
            .build();
        crate::push::SignedPusher::new(&sdk, endpoint).unwrap()
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
