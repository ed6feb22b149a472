//! [`EnvironmentProvider`]: credentials from environment variables.

use futures_util::future::BoxFuture;

use super::env::Env;
use super::error::ConfigError;
use super::explain::Preview;
use super::provider::{ProvideCredentials, ProvidedCredentials};
use crate::auth::Credentials;
use crate::validation::InvalidInput;

/// What the environment provider looks for, for "not configured" messages.
pub(crate) const LOOKED_FOR: &str = "HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, CLOUD_SDK_AK and CLOUD_SDK_SK, \
     IOTDA_AUTH_TOKEN: none set";

/// Credentials from the official SDKs' variables:
///
/// - `HUAWEICLOUD_SDK_AK` and `HUAWEICLOUD_SDK_SK`, else `CLOUD_SDK_AK` and
///   `CLOUD_SDK_SK` (the variables Huawei's documentation samples use);
/// - `HUAWEICLOUD_SDK_SECURITY_TOKEN` for temporary credentials;
/// - `HUAWEICLOUD_SDK_PROJECT_ID` for the project ID;
/// - with no access key at all, `IOTDA_AUTH_TOKEN` for token auth.
///
/// Empty values count as unset. A half-set pair, a security token without
/// keys, or a value that is not UTF-8 is an error naming the variable, never
/// "not configured": reading it as unset would quietly fall back to another
/// identity or drop the security token.
///
/// ```
/// use iotda_batchtask::config::{Env, EnvironmentProvider};
///
/// let env = Env::from_vars([("HUAWEICLOUD_SDK_AK", "AK0001"), ("HUAWEICLOUD_SDK_SK", "secret")]);
/// let credentials = EnvironmentProvider::new(env).credentials()?.expect("configured");
/// assert_eq!(credentials.ak_sk_pair().map(|p| p.access_key()), Some("AK0001"));
/// # Ok::<(), iotda_batchtask::InvalidInput>(())
/// ```
#[derive(Debug, Clone)]
pub struct EnvironmentProvider {
    env: Env,
}

impl EnvironmentProvider {
    /// Reads `env`.
    pub fn new(env: Env) -> Self {
        Self { env }
    }

    /// The credentials, `None` when none of the variables is set.
    pub fn credentials(&self) -> Result<Option<Credentials>, InvalidInput> {
        read(&self.env)
    }
}

impl ProvideCredentials for EnvironmentProvider {
    fn provide(&self) -> BoxFuture<'_, Result<ProvidedCredentials, ConfigError>> {
        let result = match self.credentials() {
            Ok(Some(credentials)) => Ok(ProvidedCredentials::new(credentials, "environment")),
            Ok(None) => Err(ConfigError::NotConfigured {
                provider: "environment",
                looked_for: LOOKED_FOR.to_owned(),
            }),
            Err(e) => Err(e.into()),
        };
        Box::pin(async move { result })
    }

    fn preview(&self) -> Result<Preview, ConfigError> {
        Ok(match self.credentials()? {
            Some(credentials) => Preview::Found(ProvidedCredentials::new(credentials, "environment")),
            None => Preview::NotConfigured(format!("environment: {LOOKED_FOR}")),
        })
    }
}

/// The credentials in `env`; `None` when no variable is set.
pub(crate) fn read(env: &Env) -> Result<Option<Credentials>, InvalidInput> {
    let get = |name: &'static str| env.var(name);
    let pair = |ak_var: &'static str, sk_var: &'static str| match (get(ak_var)?, get(sk_var)?) {
        (Some(ak), Some(sk)) => Ok(Some((ak, sk))),
        (Some(_), None) => Err(InvalidInput::new(sk_var, format!("is not set, but {ak_var} is"))),
        (None, Some(_)) => Err(InvalidInput::new(ak_var, format!("is not set, but {sk_var} is"))),
        (None, None) => Ok(None),
    };
    let keys = match pair("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK")? {
        Some(keys) => Some(keys),
        None => pair("CLOUD_SDK_AK", "CLOUD_SDK_SK")?,
    };
    let credentials = match (keys, get("HUAWEICLOUD_SDK_SECURITY_TOKEN")?) {
        (Some((ak, sk)), None) => Credentials::ak_sk(ak, sk),
        (Some((ak, sk)), Some(token)) => Credentials::temporary(ak, sk, token),
        (None, Some(_)) => {
            return Err(InvalidInput::new(
                "HUAWEICLOUD_SDK_SECURITY_TOKEN",
                "is set without HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK",
            ));
        }
        (None, None) => match get("IOTDA_AUTH_TOKEN")? {
            Some(token) => Credentials::token(token),
            None => return Ok(None),
        },
    };
    Ok(Some(match get("HUAWEICLOUD_SDK_PROJECT_ID")? {
        Some(project_id) => credentials.with_project_id(project_id),
        None => credentials,
    }))
}
