//! Identity from JWT bearer tokens (docs/protocol.md section 2).
//!
//! Locally tokens are HS256 with the development secret; in the cloud RS256/ES256 verified
//! against a JWKS URL (Cognito or any OIDC issuer). `exp` is required; `iss`/`aud` are checked
//! when configured; the tenant claim's name is configurable (`custom:tenant_id` for Cognito).

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header,
};
use serde_json::{Map, Value};
use tokio::sync::{Mutex, RwLock};

use auction_core::domain::EpochMillis;
use auction_core::identity::Identity;

use crate::https::HttpsClient;

/// Why a token was refused. The message is safe to show; the detail goes to logs.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token, and anonymous access is off.
    #[error("a bearer token is required")]
    Missing,
    /// Malformed, expired, wrongly signed, wrong issuer or audience, or missing a claim.
    #[error("the token is invalid")]
    Invalid(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The signing keys could not be fetched.
    #[error("the signing keys are unavailable")]
    KeysUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Where the verification keys come from.
#[derive(Clone)]
pub enum KeySource {
    /// A shared HS256 secret (local development).
    Secret(Vec<u8>),
    /// A JWKS URL, fetched on first use, again when a token names an unknown key id (at most
    /// once per [`JWKS_REFETCH_COOLDOWN`]), and again once the keys are [`JWKS_MAX_AGE`] old.
    Jwks(String),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret(..)"),
            Self::Jwks(url) => write!(f, "Jwks({url})"),
        }
    }
}

/// How tokens are verified.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The keys.
    pub keys: KeySource,
    /// The claim carrying the tenant id.
    pub tenant_claim: String,
    /// The claim carrying the roles (an array of strings; `cognito:groups` for Cognito groups).
    pub roles_claim: String,
    /// Expected `iss`, when set.
    pub issuer: Option<String>,
    /// Expected `aud`, when set.
    pub audience: Option<String>,
    /// Whether a request without a token is an anonymous viewer of `public`.
    pub anonymous_viewing: bool,
}

impl AuthConfig {
    /// The development settings `auction-local` uses: HS256 with [`LOCAL_DEV_SECRET`], the
    /// `tenant` and `roles` claims, anonymous viewing on.
    #[must_use]
    pub fn local_development() -> Self {
        Self {
            keys: KeySource::Secret(LOCAL_DEV_SECRET.as_bytes().to_vec()),
            tenant_claim: "tenant".into(),
            roles_claim: "roles".into(),
            issuer: None,
            audience: None,
            anonymous_viewing: true,
        }
    }
}

/// The development secret `auction-local` signs and verifies with. Never deploy it.
pub const LOCAL_DEV_SECRET: &str = "auction-local-development-secret-do-not-deploy";

/// A token naming a key id the fetched JWKS lacks fetches it again, but not sooner than this
/// after the last fetch: a stream of forged `kid`s must not turn into a stream of requests to
/// the issuer, while a real rotation is picked up within seconds.
pub const JWKS_REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
/// Fetched keys are used this long, then fetched again: a key the issuer withdrew (revoked) stops
/// verifying within this time even in a warm Lambda environment that never sees an unknown `kid`.
/// If the issuer cannot be reached then, the known keys stay in use (logged), so an issuer
/// outage does not refuse every signed-in user.
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);

/// A JWKS fetch that takes longer fails (and the known keys, if any, stay in use).
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A JWKS larger than this is refused: a key set is a few kilobytes.
const JWKS_MAX_BYTES: usize = 1 << 20;

/// Verifies tokens; cheap to clone, keeps the fetched JWKS.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    config: Arc<AuthConfig>,
    jwks: Arc<RwLock<KeyCache>>,
    /// Held while fetching, so concurrent requests wait for one fetch instead of each making one.
    fetching: Arc<Mutex<()>>,
    refetch_cooldown: Duration,
    max_age: Duration,
    /// Built on the first fetch: a verifier with a shared secret never needs it.
    http: Arc<OnceLock<HttpsClient>>,
}

/// The last JWKS fetched and when, and when a fetch was last tried (successful or not).
#[derive(Debug, Default)]
struct KeyCache {
    keys: Option<(JwkSet, Instant)>,
    tried_at: Option<Instant>,
}

/// What the cached keys say about a key id.
enum Lookup {
    Found(Box<jsonwebtoken::jwk::Jwk>),
    /// Not there, and the keys were fetched too recently to ask again.
    Unknown,
    /// Nothing cached, the key id is new and the cooldown is over, or the keys are too old.
    Fetch,
    /// Nothing cached, and the last fetch failed too recently to try again.
    Unavailable,
}

fn invalid(e: impl std::error::Error + Send + Sync + 'static) -> AuthError {
    AuthError::Invalid(Box::new(e))
}

fn claim_error(message: &str) -> AuthError {
    AuthError::Invalid(message.to_owned().into())
}

impl TokenVerifier {
    /// A verifier for `config`.
    #[must_use]
    pub fn new(config: AuthConfig) -> Self {
        Self {
            config: Arc::new(config),
            jwks: Arc::default(),
            fetching: Arc::new(Mutex::new(())),
            refetch_cooldown: JWKS_REFETCH_COOLDOWN,
            max_age: JWKS_MAX_AGE,
            http: Arc::default(),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The identity of a request carrying `token` (or none).
    ///
    /// # Errors
    /// [`AuthError::Missing`] when there is no token and anonymous viewing is off;
    /// [`AuthError::Invalid`] for any token that does not verify.
    pub async fn identify(&self, token: Option<&str>) -> Result<Identity, AuthError> {
        match token.map(str::trim).filter(|t| !t.is_empty()) {
            None if self.config.anonymous_viewing => Ok(Identity::anonymous()),
            None => Err(AuthError::Missing),
            Some(token) => self.verify(token).await,
        }
    }

    /// Verifies a token and reads its identity.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] or [`AuthError::KeysUnavailable`].
    pub async fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let header = decode_header(token).map_err(invalid)?;
        let (key, algorithm) = match &self.config.keys {
            KeySource::Secret(secret) => (DecodingKey::from_secret(secret), Algorithm::HS256),
            KeySource::Jwks(url) => {
                if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
                    return Err(claim_error("unsupported algorithm"));
                }
                (self.jwks_key(url, header.kid.as_deref()).await?, header.alg)
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_nbf = true; // a token valid from tomorrow is not valid today
        validation.leeway = 5;
        match &self.config.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match &self.config.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        let claims = decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(invalid)?
            .claims;
        let user_id = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| claim_error("sub is missing"))?;
        let tenant_id = claims
            .get(&self.config.tenant_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| claim_error("tenant claim is missing"))?;
        let roles = match claims.get(&self.config.roles_claim) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(roles)) => roles
                .iter()
                .map(|r| r.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| claim_error("roles must be strings"))?,
            Some(_) => return Err(claim_error("roles must be an array")),
        };
        Ok(Identity {
            user_id: Some(user_id.to_owned()),
            tenant_id: tenant_id.to_owned(),
            roles,
        })
    }

    async fn jwks_key(&self, url: &str, kid: Option<&str>) -> Result<DecodingKey, AuthError> {
        let decoded = |jwk: &jsonwebtoken::jwk::Jwk| DecodingKey::from_jwk(jwk).map_err(invalid);
        let settled = |lookup| match lookup {
            Lookup::Found(jwk) => Some(decoded(&jwk)),
            Lookup::Unknown => Some(Err(unknown_key())),
            Lookup::Unavailable => Some(Err(AuthError::KeysUnavailable(
                "the last JWKS fetch failed moments ago".into(),
            ))),
            Lookup::Fetch => None,
        };
        if let Some(result) = settled(self.lookup(kid).await) {
            return result;
        }
        let _fetching = self.fetching.lock().await;
        // Whoever held the lock before may have fetched what this request needs.
        if let Some(result) = settled(self.lookup(kid).await) {
            return result;
        }
        let fetched = self.fetch(url).await;
        let now = Instant::now();
        let mut cache = self.jwks.write().await;
        cache.tried_at = Some(now);
        match fetched {
            Ok(set) => {
                let jwk = find_key(&set, kid);
                cache.keys = Some((set, now));
                decoded(&jwk.ok_or_else(unknown_key)?)
            }
            Err(e) => {
                let Some((set, _)) = cache.keys.as_ref() else {
                    return Err(e);
                };
                // The issuer is unreachable: the keys it published last still verify.
                tracing::warn!(error = ?e, url, "JWKS refresh failed; the keys fetched before stay in use");
                decoded(&find_key(set, kid).ok_or_else(unknown_key)?)
            }
        }
    }

    async fn lookup(&self, kid: Option<&str>) -> Lookup {
        let cache = self.jwks.read().await;
        let recently_tried = cache
            .tried_at
            .is_some_and(|at| at.elapsed() < self.refetch_cooldown);
        let Some((set, fetched_at)) = cache.keys.as_ref() else {
            return if recently_tried {
                Lookup::Unavailable
            } else {
                Lookup::Fetch
            };
        };
        if fetched_at.elapsed() >= self.max_age && !recently_tried {
            return Lookup::Fetch;
        }
        match find_key(set, kid) {
            Some(jwk) => Lookup::Found(Box::new(jwk)),
            None if recently_tried => Lookup::Unknown,
            None => Lookup::Fetch,
        }
    }

    async fn fetch(&self, url: &str) -> Result<JwkSet, AuthError> {
        let unavailable =
            |e: Box<dyn std::error::Error + Send + Sync>| AuthError::KeysUnavailable(e);
        let http = match self.http.get() {
            Some(http) => http,
            None => {
                let http = crate::https::client(false).map_err(|e| unavailable(e.into()))?;
                self.http.get_or_init(|| http)
            }
        };
        let request = http::Request::get(url)
            .header(http::header::ACCEPT, "application/json")
            .body(Full::default())
            .map_err(|e| unavailable(e.into()))?;
        let body = tokio::time::timeout(JWKS_FETCH_TIMEOUT, async {
            let response = http.request(request).await?;
            if !response.status().is_success() {
                return Err(format!("the JWKS endpoint answered {}", response.status()).into());
            }
            Ok(Limited::new(response.into_body(), JWKS_MAX_BYTES)
                .collect()
                .await?
                .to_bytes())
        })
        .await
        .map_err(|e| unavailable(e.into()))?
        .map_err(unavailable)?;
        serde_json::from_slice(&body).map_err(|e| unavailable(e.into()))
    }
}

/// A token signed with a key the JWKS does not publish.
fn unknown_key() -> AuthError {
    claim_error("unknown key id")
}

/// The key `kid` names, or the first key for a token without one.
fn find_key(set: &JwkSet, kid: Option<&str>) -> Option<jsonwebtoken::jwk::Jwk> {
    match kid {
        Some(kid) => set.find(kid).cloned(),
        None => set.keys.first().cloned(),
    }
}

/// Signs a development token (HS256) for `auction-local token` and the tests.
///
/// # Errors
/// The signer's error (never for an HS256 secret in practice).
pub fn sign_dev_token(
    secret: &[u8],
    tenant_claim: &str,
    identity: &Identity,
    expires_at: EpochMillis,
) -> Result<String, jsonwebtoken::errors::Error> {
    let mut claims = Map::new();
    claims.insert(
        "sub".into(),
        identity.user_id.clone().unwrap_or_default().into(),
    );
    claims.insert(tenant_claim.into(), identity.tenant_id.clone().into());
    claims.insert("roles".into(), identity.roles.clone().into());
    let issued_at = EpochMillis::from_system_time(std::time::SystemTime::now());
    claims.insert("iat".into(), issued_at.as_seconds().into());
    claims.insert("exp".into(), expires_at.as_seconds().into());
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> EpochMillis {
        EpochMillis::from_system_time(std::time::SystemTime::now())
    }

    fn verifier(anonymous: bool) -> TokenVerifier {
        TokenVerifier::new(AuthConfig {
            keys: KeySource::Secret(b"secret".to_vec()),
            tenant_claim: "tenant".into(),
            roles_claim: "roles".into(),
            issuer: None,
            audience: None,
            anonymous_viewing: anonymous,
        })
    }

    fn token(secret: &[u8], expires_in_seconds: i64) -> String {
        let identity = Identity {
            user_id: Some("alice".into()),
            tenant_id: "acme".into(),
            roles: vec!["seller".into()],
        };
        sign_dev_token(
            secret,
            "tenant",
            &identity,
            now().plus_seconds(expires_in_seconds),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_valid_token_gives_its_identity() {
        let identity = verifier(true)
            .identify(Some(&token(b"secret", 60)))
            .await
            .unwrap();
        assert_eq!(identity.user_id.as_deref(), Some("alice"));
        assert_eq!(identity.tenant_id, "acme");
        assert!(identity.has_role("seller"));
    }

    #[tokio::test]
    async fn roles_come_from_the_configured_claim() {
        let claims = serde_json::json!({
            "sub": "alice", "tenant": "acme", "cognito:groups": ["seller"],
            "exp": now().plus_seconds(60).as_seconds(),
        });
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"secret"),
        )
        .unwrap();
        let cognito = TokenVerifier::new(AuthConfig {
            roles_claim: "cognito:groups".into(),
            ..verifier(true).config().clone()
        });
        assert!(
            cognito
                .identify(Some(&token))
                .await
                .unwrap()
                .has_role("seller")
        );
        // The default claim is `roles`: the same token carries none there.
        assert!(
            !verifier(true)
                .identify(Some(&token))
                .await
                .unwrap()
                .has_role("seller")
        );
    }

    #[tokio::test]
    async fn bad_tokens_are_refused() {
        let v = verifier(true);
        assert!(
            matches!(
                v.identify(Some(&token(b"secret", -60))).await,
                Err(AuthError::Invalid(_))
            ),
            "expired"
        );
        assert!(
            matches!(
                v.identify(Some(&token(b"other", 60))).await,
                Err(AuthError::Invalid(_))
            ),
            "wrong secret"
        );
        assert!(
            matches!(
                v.identify(Some("not.a.jwt")).await,
                Err(AuthError::Invalid(_))
            ),
            "forged"
        );
        let not_yet = |nbf: EpochMillis| {
            let claims = serde_json::json!({
                "sub": "alice", "tenant": "acme",
                "nbf": nbf.as_seconds(), "exp": now().plus_seconds(86_400 * 2).as_seconds(),
            });
            let key = jsonwebtoken::EncodingKey::from_secret(b"secret");
            jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
        };
        assert!(
            matches!(
                v.identify(Some(&not_yet(now().plus_seconds(86_400)))).await,
                Err(AuthError::Invalid(_))
            ),
            "not valid before tomorrow"
        );
        assert!(
            v.identify(Some(&not_yet(now().plus_seconds(-60))))
                .await
                .is_ok(),
            "valid since a minute ago"
        );
    }

    #[tokio::test]
    async fn no_token_is_anonymous_only_when_allowed() {
        assert_eq!(
            verifier(true).identify(None).await.unwrap(),
            Identity::anonymous()
        );
        assert!(matches!(
            verifier(false).identify(None).await,
            Err(AuthError::Missing)
        ));
    }

    /// Two P-256 keys made for these tests only (`openssl genpkey -algorithm EC -pkeyopt
    /// ec_paramgen_curve:P-256`).
    const KEY_A: &str = r"-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgIPqxkqvrgcSv/SKn
MqM9beSygNbWWrtvg03i9Qzo9LqhRANCAARiHSPA7O8/dCrLv1b3j+Imc84wsmzB
SSXrlcRIbPIcnwl/TCCybcNbSZq7SWY2T8KQXpeNGKz/lIv1VVnHcANe
-----END PRIVATE KEY-----";
    const KEY_B: &str = r"-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgK04+Fka7mgXHn+87
9b2QVK905lzPoYJB6F3TE/fpzdWhRANCAAQ8BD1+Q214qIDOfQ93usi3/JJN7lvf
RlAtulrkb/MMSx4tH+KkuaQFW1zEX84+xUoumN8Po541Od+Mbw/qxWMQ
-----END PRIVATE KEY-----";

    fn es256_token(pem: &str, kid: &str) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.to_owned());
        let claims = serde_json::json!({
            "sub": "alice", "tenant": "acme",
            "exp": now().plus_seconds(60).as_seconds(),
        });
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    fn public_jwk(pem: &str, kid: &str) -> Value {
        let key = EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
        let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        serde_json::to_value(jwk).unwrap()
    }

    /// A JWKS endpoint on a free port: what it publishes (`None`: it answers 503), and how
    /// often it was asked.
    struct Issuer {
        url: String,
        published: Arc<std::sync::Mutex<Option<Value>>>,
        fetches: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Issuer {
        async fn start(keys: &[(&str, &str)]) -> Self {
            let published = Arc::new(std::sync::Mutex::new(None::<Value>));
            let fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let (p, f) = (Arc::clone(&published), Arc::clone(&fetches));
            let app = axum::Router::new().route(
                "/jwks",
                axum::routing::get(move || {
                    let (p, f) = (Arc::clone(&p), Arc::clone(&f));
                    async move {
                        use axum::response::IntoResponse;
                        f.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        match p.lock().unwrap().clone() {
                            Some(set) => axum::Json(set).into_response(),
                            None => axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
                        }
                    }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/jwks", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await });
            let issuer = Self {
                url,
                published,
                fetches,
            };
            issuer.publish(Some(keys));
            issuer
        }

        fn publish(&self, keys: Option<&[(&str, &str)]>) {
            *self.published.lock().unwrap() = keys.map(|keys| {
                let keys: Vec<Value> = keys.iter().map(|(pem, kid)| public_jwk(pem, kid)).collect();
                serde_json::json!({ "keys": keys })
            });
        }

        fn fetches(&self) -> usize {
            self.fetches.load(std::sync::atomic::Ordering::SeqCst)
        }

        fn verifier(&self, cooldown: Duration, max_age: Duration) -> TokenVerifier {
            let mut verifier = TokenVerifier::new(AuthConfig {
                keys: KeySource::Jwks(self.url.clone()),
                ..verifier(false).config().clone()
            });
            verifier.refetch_cooldown = cooldown;
            verifier.max_age = max_age;
            verifier
        }
    }

    #[tokio::test]
    async fn jwks_keys_rotate_expire_and_survive_an_issuer_outage_without_flooding_it() {
        // Wide enough that a loaded CI machine verifies the burst below within one cooldown.
        let cooldown = Duration::from_millis(1_000);
        let max_age = Duration::from_millis(2_500);
        let issuer = Issuer::start(&[(KEY_A, "a")]).await;
        let verifier = issuer.verifier(cooldown, max_age);
        let with_a = es256_token(KEY_A, "a");
        let with_b = es256_token(KEY_B, "b");
        let forged: Vec<String> = (0..20)
            .map(|i| es256_token(KEY_B, &format!("x{i}")))
            .collect();

        // First use fetches; later tokens use the fetched keys.
        for _ in 0..3 {
            assert_eq!(verifier.verify(&with_a).await.unwrap().tenant_id, "acme");
        }
        assert_eq!(issuer.fetches(), 1);

        // A burst of tokens naming a key the issuer does not publish: refused, and within the
        // cooldown not one of them reaches the issuer.
        let refused = futures::future::join_all(forged.iter().map(|t| verifier.verify(t))).await;
        assert!(
            refused
                .iter()
                .all(|r| matches!(r, Err(AuthError::Invalid(_))))
        );
        assert_eq!(issuer.fetches(), 1);

        // Rotation: a new key is picked up once the cooldown is over, with one fetch.
        issuer.publish(Some(&[(KEY_A, "a"), (KEY_B, "b")]));
        assert!(
            verifier.verify(&with_b).await.is_err(),
            "still in the cooldown"
        );
        tokio::time::sleep(cooldown + Duration::from_millis(50)).await;
        let rotated = futures::future::join_all((0..10).map(|_| verifier.verify(&with_b))).await;
        assert!(rotated.iter().all(Result::is_ok));
        assert_eq!(issuer.fetches(), 2);

        // Revocation: a key the issuer withdrew stops verifying once the keys are too old, even
        // though its key id is known.
        issuer.publish(Some(&[(KEY_B, "b")]));
        assert!(
            verifier.verify(&with_a).await.is_ok(),
            "fresh keys are used as they are"
        );
        tokio::time::sleep(max_age).await;
        assert!(matches!(
            verifier.verify(&with_a).await,
            Err(AuthError::Invalid(_))
        ));
        assert!(verifier.verify(&with_b).await.is_ok());
        assert_eq!(issuer.fetches(), 3);

        // The issuer goes down: the keys fetched before stay in use, and it is asked again at
        // most once per cooldown.
        issuer.publish(None);
        tokio::time::sleep(max_age).await;
        for _ in 0..5 {
            assert!(verifier.verify(&with_b).await.is_ok());
        }
        assert_eq!(issuer.fetches(), 4);

        // With nothing fetched yet, an unreachable issuer refuses, and is not asked again
        // within the cooldown.
        let cold = issuer.verifier(cooldown, max_age);
        for _ in 0..5 {
            assert!(matches!(
                cold.verify(&with_b).await,
                Err(AuthError::KeysUnavailable(_))
            ));
        }
        assert_eq!(issuer.fetches(), 5);
        issuer.publish(Some(&[(KEY_B, "b")]));
        tokio::time::sleep(cooldown).await;
        assert!(cold.verify(&with_b).await.is_ok());
        assert_eq!(issuer.fetches(), 6);
    }
}
