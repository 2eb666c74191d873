//! Identity from JWT bearer tokens (PROTOCOL.md section 2).
//!
//! Locally tokens are HS256 with the development secret; in the cloud RS256/ES256 verified
//! against a JWKS URL (Cognito or any OIDC issuer). `exp` is required; `iss`/`aud` are checked
//! when configured; the tenant claim's name is configurable (`custom:tenant_id` for Cognito).

use std::collections::HashSet;
use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header,
};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use crate::domain::{EpochMillis, PUBLIC_TENANT};

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `sub`, or `None` for an anonymous viewer.
    pub user_id: Option<String>,
    /// The tenant (`public` for anonymous viewers).
    pub tenant_id: String,
    /// Roles from the token (`seller` may create auctions).
    pub roles: Vec<String>,
}

impl Identity {
    /// An anonymous viewer of the `public` tenant.
    #[must_use]
    pub fn anonymous() -> Self {
        Self {
            user_id: None,
            tenant_id: PUBLIC_TENANT.to_owned(),
            roles: Vec::new(),
        }
    }

    /// Whether the identity has `role`.
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

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
    /// A JWKS URL, fetched on first use and again when a token names an unknown key id.
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

/// The development secret `auction-local` signs and verifies with. Never deploy it.
pub const LOCAL_DEV_SECRET: &str = "auction-local-development-secret-do-not-deploy";

/// Verifies tokens; cheap to clone, keeps the fetched JWKS.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    config: Arc<AuthConfig>,
    jwks: Arc<RwLock<Option<JwkSet>>>,
    http: reqwest::Client,
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
        // The AWS SDK brings its own TLS stack; reqwest needs a process-wide rustls provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            config: Arc::new(config),
            jwks: Arc::new(RwLock::new(None)),
            http: reqwest::Client::new(),
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
        let find = |set: &JwkSet| match kid {
            Some(kid) => set.find(kid).cloned(),
            None => set.keys.first().cloned(),
        };
        if let Some(set) = self.jwks.read().await.as_ref()
            && let Some(jwk) = find(set)
        {
            return DecodingKey::from_jwk(&jwk).map_err(invalid);
        }
        // Unknown key id: the issuer may have rotated its keys; fetch once more.
        let set: JwkSet = self
            .http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| AuthError::KeysUnavailable(Box::new(e)))?
            .json()
            .await
            .map_err(|e| AuthError::KeysUnavailable(Box::new(e)))?;
        let jwk = find(&set).ok_or_else(|| claim_error("unknown key id"))?;
        *self.jwks.write().await = Some(set);
        DecodingKey::from_jwk(&jwk).map_err(invalid)
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
    claims.insert("iat".into(), EpochMillis::now().as_seconds().into());
    claims.insert("exp".into(), expires_at.as_seconds().into());
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
}

/// Roles, as the authorizer context carries them (context values must be strings).
#[must_use]
pub fn roles_to_context(roles: &[String]) -> String {
    roles.join(",")
}

/// Roles back from the authorizer context.
#[must_use]
pub fn roles_from_context(value: &str) -> Vec<String> {
    let unique: HashSet<&str> = value.split(',').filter(|r| !r.is_empty()).collect();
    let mut roles: Vec<String> = unique.into_iter().map(str::to_owned).collect();
    roles.sort();
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

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
            EpochMillis::now().plus_seconds(expires_in_seconds),
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
            "exp": EpochMillis::now().plus_seconds(60).as_seconds(),
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

    #[test]
    fn roles_survive_the_authorizer_context() {
        let roles = vec!["seller".to_owned(), "admin".to_owned()];
        assert_eq!(
            roles_from_context(&roles_to_context(&roles)),
            ["admin", "seller"]
        );
        assert!(roles_from_context("").is_empty());
    }
}
