//! Credentials: an IAM token, or an access key pair (optionally temporary).

use std::ffi::OsString;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::validation::{self, InvalidInput};

/// How requests authenticate. Secrets are held in [`secrecy`] types and never
/// appear in `Debug` output.
///
/// ```
/// use iotda_batchtask::Credentials;
///
/// let c = Credentials::ak_sk("HPUAEXAMPLEAK0000001", "example-secret");
/// assert!(!format!("{c:?}").contains("example-secret"));
/// ```
#[derive(Clone)]
pub struct Credentials {
    kind: Kind,
    project_id: Option<String>,
}

/// What a request is authenticated with; see [`Credentials::secret`].
pub(crate) enum Secret<'a> {
    Token(&'a SecretString),
    AkSk(&'a AkSk),
}

#[derive(Clone)]
enum Kind {
    Token(SecretString),
    AkSk(AkSk),
}

/// An access key pair, with the security token of temporary credentials.
#[derive(Clone)]
pub struct AkSk {
    ak: String,
    sk: SecretString,
    security_token: Option<SecretString>,
}

impl AkSk {
    /// The access key ID (not a secret: it is sent in every `Authorization`).
    pub fn access_key(&self) -> &str {
        &self.ak
    }

    /// Whether these are temporary credentials (with a security token).
    pub fn is_temporary(&self) -> bool {
        self.security_token.is_some()
    }

    pub(crate) fn secret_key(&self) -> &SecretString {
        &self.sk
    }

    pub(crate) fn security_token(&self) -> Option<&SecretString> {
        self.security_token.as_ref()
    }

    /// Checks the pair without revealing it: the error names the field only.
    pub(crate) fn validate(&self) -> Result<(), InvalidInput> {
        validation::access_key(&self.ak)?;
        validation::secret("credentials.sk", self.sk.expose_secret())?;
        if let Some(token) = &self.security_token {
            validation::secret("credentials.security_token", token.expose_secret())?;
        }
        Ok(())
    }
}

impl fmt::Debug for AkSk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AkSk")
            .field("ak", &self.ak)
            .field("sk", &"[redacted]")
            .field("security_token", &self.security_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Credentials {
    /// An IAM user token, sent as `X-Auth-Token` (the `X-Subject-Token` header
    /// of IAM's get-token API).
    pub fn token(token: impl Into<String>) -> Self {
        Self::from_kind(Kind::Token(SecretString::from(token.into())))
    }

    /// A permanent access key pair; requests are AK/SK-signed.
    pub fn ak_sk(ak: impl Into<String>, sk: impl Into<String>) -> Self {
        Self::from_kind(Kind::AkSk(AkSk {
            ak: ak.into(),
            sk: SecretString::from(sk.into()),
            security_token: None,
        }))
    }

    /// Temporary credentials: an access key pair plus its security token,
    /// sent (and signed) as `X-Security-Token`.
    pub fn temporary(ak: impl Into<String>, sk: impl Into<String>, security_token: impl Into<String>) -> Self {
        Self::from_kind(Kind::AkSk(AkSk {
            ak: ak.into(),
            sk: SecretString::from(sk.into()),
            security_token: Some(SecretString::from(security_token.into())),
        }))
    }

    /// Attaches a project ID, as the official SDK's credentials carry one. The
    /// client uses it when its builder was given none.
    pub fn with_project_id(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = Some(project_id.into());
        self
    }

    /// Reads credentials from the environment, like the official SDKs (see
    /// [`EnvironmentProvider`](crate::config::EnvironmentProvider), which
    /// this is, with "none set" an error; the whole chain of the SDKs is
    /// [`CredentialChain`](crate::config::CredentialChain)):
    ///
    /// - `HUAWEICLOUD_SDK_AK` and `HUAWEICLOUD_SDK_SK`, else `CLOUD_SDK_AK` and
    ///   `CLOUD_SDK_SK` (the variables Huawei's documentation samples use);
    /// - `HUAWEICLOUD_SDK_SECURITY_TOKEN` for temporary credentials;
    /// - `HUAWEICLOUD_SDK_PROJECT_ID` for the project ID;
    /// - with no access key at all, `IOTDA_AUTH_TOKEN` for token auth.
    ///
    /// Errors name the missing, half-set or unreadable variable, never its
    /// value. A variable that is set but not valid UTF-8 is an error, not
    /// "unset": reading it as unset would quietly fall back to another
    /// identity (`CLOUD_SDK_*`, `IOTDA_AUTH_TOKEN`) or drop the security token.
    pub fn from_env() -> Result<Self, InvalidInput> {
        Self::from_os_lookup(|name| std::env::var_os(name))
    }

    /// [`Credentials::from_env`] over any variable source (a config system, or
    /// a map in tests). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, InvalidInput> {
        Self::from_os_lookup(|name| lookup(name).map(OsString::from))
    }

    /// [`Credentials::from_env`] over any source of OS strings, as
    /// [`std::env::var_os`] returns them. Empty values count as unset; a
    /// value that is not valid UTF-8 is an error naming the variable.
    pub fn from_os_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Self, InvalidInput> {
        // Env wants a 'static lookup: read the few variables once.
        let vars: Vec<(&str, OsString)> = crate::config::VARIABLES
            .iter()
            .filter_map(|name| lookup(name).map(|value| (*name, value)))
            .collect();
        crate::config::environment::read(&crate::config::Env::from_vars(vars))?.ok_or_else(|| {
            InvalidInput::new(
                "credentials",
                "none in the environment: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK \
                 (or CLOUD_SDK_AK and CLOUD_SDK_SK), or IOTDA_AUTH_TOKEN",
            )
        })
    }

    /// The project ID attached with [`Credentials::with_project_id`] or read
    /// from `HUAWEICLOUD_SDK_PROJECT_ID`.
    pub fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }

    /// The access key pair, when these are AK/SK credentials.
    pub fn ak_sk_pair(&self) -> Option<&AkSk> {
        match &self.kind {
            Kind::AkSk(pair) => Some(pair),
            Kind::Token(_) => None,
        }
    }

    /// `true` for an IAM token, `false` for an access key pair.
    pub fn is_token(&self) -> bool {
        matches!(self.kind, Kind::Token(_))
    }

    /// The token, or the access key pair.
    pub(crate) fn secret(&self) -> Secret<'_> {
        match &self.kind {
            Kind::Token(token) => Secret::Token(token),
            Kind::AkSk(pair) => Secret::AkSk(pair),
        }
    }

    /// Checks every part; errors name the field (`credentials.sk`, ...), never the value.
    pub(crate) fn validate(&self) -> Result<(), InvalidInput> {
        match &self.kind {
            Kind::Token(token) => validation::secret("credentials.token", token.expose_secret()),
            Kind::AkSk(pair) => pair.validate(),
        }
    }

    fn from_kind(kind: Kind) -> Self {
        Self { kind, project_id: None }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Credentials");
        match &self.kind {
            Kind::Token(_) => s.field("token", &"[redacted]"),
            Kind::AkSk(pair) => s.field("ak_sk", pair),
        };
        s.field("project_id", &self.project_id).finish()
    }
}
