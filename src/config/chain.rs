//! [`CredentialChain`]: the official SDKs' order of credential providers.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::env::Env;
use super::environment::EnvironmentProvider;
use super::error::ConfigError;
use super::explain::Preview;
use super::file::CredentialsFileProvider;
use super::metadata::MetadataProvider;
use super::provider::{ProvideCredentials, ProvidedCredentials};
use crate::validation::InvalidInput;

/// Tries providers in order; the first that is configured answers. A
/// provider that is configured but broken (a malformed credentials file, a
/// half-set key pair) ends the search with its error rather than falling
/// back to another identity. When none is configured, the error lists what
/// each looked for:
///
/// ```
/// use iotda_batchtask::config::{ConfigError, CredentialChain, Env, ProvideCredentials};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Nothing set, no home directory, and a metadata address nothing listens on.
/// let env = Env::from_vars([("IOTDA_METADATA_ENDPOINT", "http://127.0.0.1:9")]);
/// let error = CredentialChain::new(&env)?.provide().await.expect_err("nothing configured");
/// assert!(matches!(error, ConfigError::NothingConfigured(_)));
/// let message = error.to_string();
/// assert!(message.contains("HUAWEICLOUD_SDK_AK") && message.contains("HUAWEICLOUD_SDK_CREDENTIALS_FILE"), "{message}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CredentialChain {
    providers: Vec<Arc<dyn ProvideCredentials>>,
}

impl CredentialChain {
    /// The SDKs' chain over `env`: [`EnvironmentProvider`], then
    /// [`CredentialsFileProvider`] (section `[basic]`), then [`MetadataProvider`].
    pub fn new(env: &Env) -> Result<Self, InvalidInput> {
        Self::with_profile(env, super::DEFAULT_PROFILE)
    }

    /// [`CredentialChain::new`] reading section `[profile]` of the credentials file.
    pub fn with_profile(env: &Env, profile: &str) -> Result<Self, InvalidInput> {
        Ok(Self::from_providers(vec![
            Arc::new(EnvironmentProvider::new(env.clone())),
            Arc::new(CredentialsFileProvider::new(env)?.profile(profile)),
            Arc::new(MetadataProvider::new(env)?),
        ]))
    }

    /// Any providers, tried in this order.
    pub fn from_providers(providers: Vec<Arc<dyn ProvideCredentials>>) -> Self {
        Self { providers }
    }

    /// Which provider would answer and with what kind of credentials,
    /// without a network request: [`ProvideCredentials::preview`] of the
    /// first provider that is configured. `preview()?.kind()` is the auth a
    /// real call would use (what `--dry-run` shows).
    ///
    /// ```
    /// use iotda_batchtask::config::{AuthKind, CredentialChain, Env, ProvideCredentials};
    ///
    /// let env = Env::from_vars([("HOME", "/nonexistent")]);
    /// let preview = CredentialChain::new(&env)?.preview()?;
    /// assert_eq!((preview.source(), preview.kind()), (Some("ECS metadata"), Some(AuthKind::Temporary)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn source(&self) -> Result<super::Preview, ConfigError> {
        self.preview()
    }

    /// Asks each provider in turn.
    pub async fn resolve(&self) -> Result<ProvidedCredentials, ConfigError> {
        let mut looked = Vec::new();
        for provider in &self.providers {
            match provider.provide().await {
                Ok(provided) => {
                    tracing::debug!(source = provided.source, "credentials found");
                    return Ok(provided);
                }
                Err(e @ ConfigError::NotConfigured { .. }) => looked.push(e.to_string()),
                Err(ConfigError::NothingConfigured(inner)) => looked.extend(inner),
                Err(e) => return Err(e),
            }
        }
        Err(ConfigError::NothingConfigured(looked))
    }
}

impl ProvideCredentials for CredentialChain {
    fn provide(&self) -> BoxFuture<'_, Result<ProvidedCredentials, ConfigError>> {
        Box::pin(self.resolve())
    }

    fn preview(&self) -> Result<Preview, ConfigError> {
        super::explain::preview_chain(&self.providers)
    }
}
