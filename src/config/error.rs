//! [`ConfigError`]: why configuration could not be found or read.

use std::path::PathBuf;

use crate::validation::InvalidInput;

/// Why credentials, a project ID or an endpoint could not be found. No
/// variant ever holds a secret: files and answers are named, not quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// This provider found nothing to use; `looked_for` says where it
    /// looked (names, paths, addresses; no values). A
    /// [`CredentialChain`](super::CredentialChain) moves on to the next one.
    #[error("{provider}: {looked_for}")]
    NotConfigured {
        /// The provider: `environment`, `credentials file`, `ECS metadata`.
        provider: &'static str,
        /// Where it looked and what was missing.
        looked_for: String,
    },
    /// No provider of a chain found credentials; one entry per provider,
    /// in order.
    #[error("no credentials found: {}", .0.join("; "))]
    NothingConfigured(Vec<String>),
    /// A setting is present but unusable (a variable that is not UTF-8, an
    /// access key without its secret key, ...).
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// A file could not be read or parsed. `line` is 0 when the problem is
    /// not on one line (a missing key, say).
    #[error("{}{}: {message}", path.display(), line_suffix(*line))]
    File {
        /// The file.
        path: PathBuf,
        /// The line (from 1), or 0.
        line: usize,
        /// What is wrong, without the file's values.
        message: String,
    },
    /// The ECS metadata service answered, but not with usable credentials.
    #[error("ECS metadata at {endpoint}: {message}")]
    Metadata {
        /// The metadata service's address.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
    /// Project ID discovery through IAM failed.
    #[error("project ID discovery at {iam_endpoint} for region {region}: {message}")]
    Project {
        /// The IAM endpoint asked.
        iam_endpoint: String,
        /// The region whose project was looked for.
        region: String,
        /// What went wrong (status, code, message and request ID when IAM answered).
        message: String,
    },
}

fn line_suffix(line: usize) -> String {
    if line == 0 { String::new() } else { format!(":{line}") }
}
