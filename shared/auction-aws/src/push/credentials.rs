//! The credentials the pusher signs with.

use std::time::Duration;

use auction_core::ports::BoxError;

/// Credentials this close to their expiry are fetched again.
const CREDENTIALS_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// The signing credentials, fetched once and again shortly before they expire (Lambda's come
/// from the environment and do not expire; an assumed role's do).
pub struct CredentialCache {
    provider: aws_credential_types::provider::SharedCredentialsProvider,
    current: std::sync::RwLock<Option<aws_credential_types::Credentials>>,
    refresh: tokio::sync::Mutex<()>,
}

impl CredentialCache {
    /// A cache over `provider`.
    #[must_use]
    pub fn new(provider: aws_credential_types::provider::SharedCredentialsProvider) -> Self {
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

    /// Credentials that are good for a while yet, fetched again when they are about to expire.
    ///
    /// # Errors
    /// The provider's.
    pub async fn get(&self) -> Result<aws_credential_types::Credentials, BoxError> {
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
