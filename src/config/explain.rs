//! What the configuration resolves to without asking any server:
//! [`ProvideCredentials::preview`] (which credentials, of which
//! [`AuthKind`]) and [`explain`] (every setting, its value with secrets
//! masked, and where it came from), which `iotda-batchtask config` prints.

use super::env::Env;
use super::error::ConfigError;
use super::file::CredentialsFileProvider;
use super::provider::{ProvideCredentials, ProvidedCredentials};
use crate::auth::Credentials;

/// How requests made with some credentials authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthKind {
    /// A permanent access key pair: an AK/SK signature in `Authorization`.
    AkSk,
    /// Temporary credentials: a signature in `Authorization` and the
    /// security token in `X-Security-Token`.
    Temporary,
    /// An IAM token in `X-Auth-Token`.
    Token,
}

impl AuthKind {
    /// The kind of `credentials`.
    pub fn of(credentials: &Credentials) -> Self {
        match credentials.ak_sk_pair() {
            Some(pair) if pair.is_temporary() => Self::Temporary,
            Some(_) => Self::AkSk,
            None => Self::Token,
        }
    }

    /// The headers that carry it, by name.
    pub fn headers(self) -> &'static [&'static str] {
        match self {
            Self::AkSk => &["Authorization", "X-Sdk-Date"],
            Self::Temporary => &["Authorization", "X-Sdk-Date", "X-Security-Token"],
            Self::Token => &["X-Auth-Token"],
        }
    }
}

/// What a provider would answer, found without a network request
/// ([`ProvideCredentials::preview`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Preview {
    /// It holds these credentials now (the environment, a file, given ones).
    Found(ProvidedCredentials),
    /// It would ask a service when used (ECS metadata), for credentials of `kind`.
    WouldAsk {
        /// The provider: `ECS metadata`.
        source: &'static str,
        /// The service's address.
        at: String,
        /// What it gives.
        kind: AuthKind,
    },
    /// Nothing configured here: where it looked (names and paths, no values).
    NotConfigured(String),
    /// A provider that cannot tell without being asked (your own, say).
    Unknown,
}

impl Preview {
    /// The kind of credentials the provider would give, when known.
    pub fn kind(&self) -> Option<AuthKind> {
        match self {
            Self::Found(provided) => Some(AuthKind::of(&provided.credentials)),
            Self::WouldAsk { kind, .. } => Some(*kind),
            Self::NotConfigured(_) | Self::Unknown => None,
        }
    }

    /// The provider that would answer: `environment`, `credentials file`, `ECS metadata`, ...
    pub fn source(&self) -> Option<&'static str> {
        match self {
            Self::Found(provided) => Some(provided.source),
            Self::WouldAsk { source, .. } => Some(source),
            Self::NotConfigured(_) | Self::Unknown => None,
        }
    }
}

/// Settings the caller chose (a command line's flags, say), each with a
/// label for where it came from (`--region`, `env HUAWEICLOUD_SDK_REGION`).
/// What is not given is found as a client would find it.
#[derive(Debug, Clone, Default)]
pub struct Given {
    endpoint: Option<(String, String)>,
    region: Option<(String, String)>,
    project_id: Option<(String, String)>,
    instance_id: Option<(String, String)>,
    profile: Option<(String, String)>,
}

macro_rules! given_setter {
    ($($name:ident: $what:literal),* $(,)?) => {$(
        #[doc = concat!("The ", $what, ", from `from`.")]
        pub fn $name(mut self, value: impl Into<String>, from: impl Into<String>) -> Self {
            self.$name = Some((value.into(), from.into()));
            self
        }
    )*};
}

impl Given {
    /// Nothing given.
    pub fn new() -> Self {
        Self::default()
    }

    given_setter!(
        endpoint: "endpoint",
        region: "region",
        project_id: "project ID",
        instance_id: "instance ID",
        profile: "credentials file's section",
    );
}

/// One setting: its name, its value (secrets masked, `-` when unset) and
/// where it came from (or will come from).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Setting {
    /// `profile`, `credentials_file`, `access_key`, `region`, `endpoint`, ...
    pub name: &'static str,
    /// The value, masked when secret; `-` when unset; `error: ...` when it cannot be read.
    pub value: String,
    /// Where it came from: a label from [`Given`], `env VARIABLE`, a file, `default`, ...
    pub source: String,
}

const UNSET: &str = "-";
const MASKED: &str = "****************";

fn setting(name: &'static str, value: impl Into<String>, source: impl Into<String>) -> Setting {
    Setting {
        name,
        value: value.into(),
        source: source.into(),
    }
}

/// Every setting a client built from `given`, `provider` and `env` would
/// use, and where each came from, in the order a client resolves them:
/// `profile`, `credentials_file`, the credentials (`access_key`,
/// `secret_key`, `security_token`, or `auth_token`, or `credentials` when
/// they are to be fetched or cannot be read), `region`, `endpoint`,
/// `project_id`, `iam_endpoint`, `instance_id`, `metadata_endpoint`.
///
/// Reads the environment and the files only: ECS metadata and IAM are
/// named, never asked. The credentials are `provider`'s
/// [preview](ProvideCredentials::preview); secrets are masked, an access
/// key shows its last four characters.
///
/// ```
/// use iotda_batchtask::config::{CredentialChain, Env, Given, explain};
///
/// let env = Env::from_vars([("HUAWEICLOUD_SDK_AK", "HPUAEXAMPLEAK0000001"), ("HUAWEICLOUD_SDK_SK", "secret")]);
/// let chain = CredentialChain::new(&env)?;
/// let settings = explain(&env, &chain, &Given::new().region("cn-north-4", "--region"));
/// let get = |name: &str| settings.iter().find(|s| s.name == name).expect(name);
/// assert_eq!((get("access_key").value.as_str(), get("access_key").source.as_str()), ("****************0001", "environment"));
/// assert_eq!(get("endpoint").value, "https://iotda.cn-north-4.myhuaweicloud.com");
/// assert!(get("project_id").source.contains("IAM at https://iam.cn-north-4.myhuaweicloud.com"));
/// # Ok::<(), iotda_batchtask::InvalidInput>(())
/// ```
pub fn explain(env: &Env, provider: &dyn ProvideCredentials, given: &Given) -> Vec<Setting> {
    let mut rows = Vec::new();
    let variable = |name: &str| env.var(name).ok().flatten();
    let (profile, profile_from) = given
        .profile
        .clone()
        .unwrap_or_else(|| (super::DEFAULT_PROFILE.to_owned(), "default".to_owned()));
    rows.push(setting("profile", profile.clone(), profile_from));

    let file = CredentialsFileProvider::new(env).map(|f| f.profile(profile.clone()));
    let file_name = match &file {
        Ok(f) => f
            .path()
            .map(|p| format!("{} [{}]", p.display(), f.profile_name()))
            .unwrap_or_else(|| "no credentials file (no home directory)".to_owned()),
        Err(e) => format!("error: {e}"),
    };
    let file_from = if variable("HUAWEICLOUD_SDK_CREDENTIALS_FILE").is_some() {
        "env HUAWEICLOUD_SDK_CREDENTIALS_FILE"
    } else {
        "default"
    };
    rows.push(setting("credentials_file", file_name.clone(), file_from));

    let source_of = |p: &ProvidedCredentials| match p.source {
        "credentials file" => format!("credentials file {file_name}"),
        other => other.to_owned(),
    };
    let preview = provider.preview();
    let provided = match &preview {
        Ok(Preview::Found(provided)) => Some(provided),
        _ => None,
    };
    match &preview {
        Ok(Preview::Found(provided)) => {
            let source = source_of(provided);
            match provided.credentials.ak_sk_pair() {
                Some(pair) => {
                    rows.push(setting("access_key", mask(pair.access_key()), source.clone()));
                    rows.push(setting("secret_key", MASKED, source.clone()));
                    rows.push(if pair.is_temporary() {
                        setting("security_token", MASKED, source)
                    } else {
                        setting("security_token", UNSET, "not set")
                    });
                }
                None => rows.push(setting("auth_token", MASKED, source)),
            }
        }
        Ok(Preview::WouldAsk { source, at, .. }) => rows.push(setting(
            "credentials",
            "none in the environment or the file",
            format!("{source} at {at}, asked when a command runs"),
        )),
        Ok(Preview::Unknown) => rows.push(setting("credentials", UNSET, "the provider, asked when a command runs")),
        Ok(Preview::NotConfigured(looked)) => rows.push(setting("credentials", format!("none: {looked}"), "")),
        Err(e) => rows.push(setting("credentials", format!("error: {e}"), "")),
    }

    let host_region = given
        .endpoint
        .as_ref()
        .and_then(|(e, _)| reqwest::Url::parse(e).ok())
        .and_then(|u| u.host_str().and_then(crate::region::region_of_host).map(str::to_owned));
    let region = given.region.as_ref().map(|(r, _)| r.clone()).or(host_region.clone());
    rows.push(match (&given.region, &host_region) {
        (Some((r, from)), _) => setting("region", r.clone(), from.clone()),
        (None, Some(r)) => setting("region", r.clone(), "the endpoint's host"),
        (None, None) => setting("region", UNSET, "not set"),
    });
    rows.push(match (&given.endpoint, &given.region) {
        (Some((e, from)), _) => setting("endpoint", e.clone(), from.clone()),
        (None, Some((r, _))) => match crate::region::iotda_endpoints(r, env) {
            Ok((endpoints, source)) => setting("endpoint", endpoints.join(", "), format!("region {r}: {source}")),
            Err(e) => setting("endpoint", format!("error: {e}"), ""),
        },
        (None, None) => setting("endpoint", UNSET, "not set: give the endpoint or a region"),
    });
    let iam = region
        .as_deref()
        .map(|r| super::iam_endpoint(env, provided, r).map_err(|e| e.to_string()));
    rows.push(
        match (&given.project_id, provided.and_then(|p| p.credentials.project_id())) {
            (Some((id, from)), _) => setting("project_id", id.clone(), from.clone()),
            (None, Some(id)) => setting("project_id", id, provided.map(source_of).unwrap_or_default()),
            (None, None) => match &iam {
                Some(Ok(iam)) => setting(
                    "project_id",
                    UNSET,
                    format!("found with IAM at {iam} when a command runs"),
                ),
                _ => setting("project_id", UNSET, "not set, and no region to find it with"),
            },
        },
    );
    match &iam {
        Some(Ok(iam)) => {
            let source = if variable("HUAWEICLOUD_SDK_IAM_ENDPOINT").is_some() {
                "env HUAWEICLOUD_SDK_IAM_ENDPOINT".to_owned()
            } else if let Some(p) = provided.filter(|p| p.iam_endpoint.is_some()) {
                source_of(p)
            } else {
                "default".to_owned()
            };
            rows.push(setting("iam_endpoint", iam.clone(), source));
        }
        Some(Err(e)) => rows.push(setting("iam_endpoint", format!("error: {e}"), "")),
        None => {}
    }
    rows.push(match &given.instance_id {
        Some((id, from)) => setting("instance_id", id.clone(), from.clone()),
        None => setting("instance_id", UNSET, "not set"),
    });
    let metadata = variable("IOTDA_METADATA_ENDPOINT");
    rows.push(match metadata {
        Some(at) => setting("metadata_endpoint", at, "env IOTDA_METADATA_ENDPOINT"),
        None => setting("metadata_endpoint", super::DEFAULT_METADATA_ENDPOINT, "default"),
    });
    rows
}

/// An access key with all but its last four characters masked.
fn mask(key: &str) -> String {
    let shown: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{MASKED}{shown}")
}

/// The chain's preview: the first provider that is configured (or would
/// ask, or cannot tell) answers; a broken one is the error.
pub(crate) fn preview_chain(providers: &[std::sync::Arc<dyn ProvideCredentials>]) -> Result<Preview, ConfigError> {
    let mut looked = Vec::new();
    for provider in providers {
        match provider.preview()? {
            Preview::NotConfigured(where_) => looked.push(where_),
            answer => return Ok(answer),
        }
    }
    Err(ConfigError::NothingConfigured(looked))
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn an_access_key_shows_only_its_last_four() {
        assert_eq!(mask("HPUAEXAMPLEAK0000001"), "****************0001");
        assert_eq!(mask("AK"), "****************AK");
    }
}
