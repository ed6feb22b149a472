//! [`ProvideCredentials`]: what every credential source implements.

use std::fmt;

use futures_util::future::BoxFuture;
use jiff::Timestamp;

use super::error::ConfigError;
use super::explain::Preview;
use crate::auth::Credentials;

/// A source of credentials: [`EnvironmentProvider`](super::EnvironmentProvider),
/// [`CredentialsFileProvider`](super::CredentialsFileProvider),
/// [`MetadataProvider`](super::MetadataProvider), or the
/// [`CredentialChain`](super::CredentialChain) of them. Implement it for
/// your own source (a secrets manager, say).
///
/// A provider with nothing to offer answers [`ConfigError::NotConfigured`];
/// any other error means it is configured but broken, and a chain stops there.
pub trait ProvideCredentials: fmt::Debug + Send + Sync {
    /// Fetches credentials. Called once when a client starts and again
    /// whenever the last ones are about to expire.
    fn provide(&self) -> BoxFuture<'_, Result<ProvidedCredentials, ConfigError>>;

    /// What [`provide`](ProvideCredentials::provide) would answer, found
    /// without a network request: the credentials when they are at hand (the
    /// environment, a file), the service it would ask (ECS metadata), or
    /// [`Preview::Unknown`] (the default, for a provider that cannot tell).
    /// A configuration that is present but broken is the same error
    /// `provide` would give. `--dry-run` shows the auth kind from this.
    fn preview(&self) -> Result<Preview, ConfigError> {
        Ok(Preview::Unknown)
    }
}

/// Credentials with what came along with them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProvidedCredentials {
    /// The credentials (with a project ID when the source had one).
    pub credentials: Credentials,
    /// When temporary credentials stop working; `None` for permanent ones.
    pub expires_at: Option<Timestamp>,
    /// The IAM endpoint the source names for project discovery (the
    /// credentials file's `iam_endpoint`).
    pub iam_endpoint: Option<String>,
    /// Which provider answered: `environment`, `credentials file`, `ECS metadata`, ...
    pub source: &'static str,
}

impl ProvidedCredentials {
    /// Permanent credentials from `source`.
    pub fn new(credentials: Credentials, source: &'static str) -> Self {
        Self {
            credentials,
            expires_at: None,
            iam_endpoint: None,
            source,
        }
    }

    /// The same credentials, valid until `expires_at`.
    pub fn expiring(mut self, expires_at: Timestamp) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// The same credentials, naming an IAM endpoint.
    pub fn with_iam_endpoint(mut self, iam_endpoint: impl Into<String>) -> Self {
        self.iam_endpoint = Some(iam_endpoint.into());
        self
    }
}

/// Fixed credentials are a provider too.
impl ProvideCredentials for Credentials {
    fn provide(&self) -> BoxFuture<'_, Result<ProvidedCredentials, ConfigError>> {
        let provided = ProvidedCredentials::new(self.clone(), "given");
        Box::pin(async move { Ok(provided) })
    }

    fn preview(&self) -> Result<Preview, ConfigError> {
        Ok(Preview::Found(ProvidedCredentials::new(self.clone(), "given")))
    }
}

/// A boxed provider is a provider (a choice made at run time, say).
impl<P: ProvideCredentials + ?Sized> ProvideCredentials for Box<P> {
    fn provide(&self) -> BoxFuture<'_, Result<ProvidedCredentials, ConfigError>> {
        (**self).provide()
    }

    fn preview(&self) -> Result<Preview, ConfigError> {
        (**self).preview()
    }
}
