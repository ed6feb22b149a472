//! Configuration as Huawei Cloud's official SDKs find it: credentials
//! (environment, credentials file, ECS metadata), the project ID (IAM
//! discovery) and the IoTDA endpoint of a region ([`crate::region`]).
//!
//! Every provider is public and works alone; [`CredentialChain`] tries them
//! in the SDKs' order (environment, then the credentials file, then ECS
//! metadata) and, when none is configured, says what each looked for. A
//! [`Client`](crate::Client) given a provider with
//! [`ClientBuilder::credentials_provider`](crate::ClientBuilder::credentials_provider)
//! asks it again before temporary credentials run out (fewer than
//! [`REFRESH_MARGIN`] left), so a long bulk call keeps signing with valid ones.
//!
//! Everything here reads the process environment and home directory only
//! through an [`Env`], so tests and embedders can give their own.
//!
//! | setting | variable | credentials file key | default |
//! |---|---|---|---|
//! | access key pair | `HUAWEICLOUD_SDK_AK`, `HUAWEICLOUD_SDK_SK` (else `CLOUD_SDK_AK`, `CLOUD_SDK_SK`) | `ak`, `sk` | the chain |
//! | security token | `HUAWEICLOUD_SDK_SECURITY_TOKEN` | `security_token` | none |
//! | IAM token | `IOTDA_AUTH_TOKEN` | | none |
//! | project ID | `HUAWEICLOUD_SDK_PROJECT_ID` | `project_id` | discovered from IAM |
//! | IAM endpoint | `HUAWEICLOUD_SDK_IAM_ENDPOINT` | `iam_endpoint` | `https://iam.{region}.myhuaweicloud.com` |
//! | credentials file | `HUAWEICLOUD_SDK_CREDENTIALS_FILE` | | `~/.huaweicloud/credentials`, section `[basic]` |
//! | ECS metadata | `IOTDA_METADATA_ENDPOINT` | | `http://169.254.169.254` |

mod cache;
mod chain;
mod env;
pub(crate) mod environment;
mod error;
mod explain;
mod file;
mod metadata;
mod project;
mod provider;

pub use crate::bounded_read::read_small_file;
pub(crate) use cache::CredentialCache;
pub use chain::CredentialChain;
pub use env::Env;
pub use environment::EnvironmentProvider;
pub use error::ConfigError;
pub use explain::{AuthKind, Given, Preview, Setting, explain};
pub use file::{CredentialsFileProvider, DEFAULT_PROFILE};
pub use metadata::{DEFAULT_METADATA_ENDPOINT, METADATA_TIMEOUT, MetadataProvider};
pub use project::{ProjectDiscovery, iam_endpoint};
pub use provider::{ProvideCredentials, ProvidedCredentials};

/// Every variable the environment provider reads.
pub(crate) const VARIABLES: [&str; 7] = [
    "HUAWEICLOUD_SDK_AK",
    "HUAWEICLOUD_SDK_SK",
    "CLOUD_SDK_AK",
    "CLOUD_SDK_SK",
    "HUAWEICLOUD_SDK_SECURITY_TOKEN",
    "HUAWEICLOUD_SDK_PROJECT_ID",
    "IOTDA_AUTH_TOKEN",
];

/// Temporary credentials are fetched again when fewer than this many remain
/// valid: 40 minutes, as the official SDKs do.
pub const REFRESH_MARGIN: std::time::Duration = std::time::Duration::from_secs(40 * 60);

/// A small configuration file's text: a regular file of at most 64 KiB.
pub(crate) fn file_text(path: &std::path::Path) -> std::io::Result<String> {
    file::read_text(path, 64 * 1024)
}
