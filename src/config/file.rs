//! [`CredentialsFileProvider`]: the official SDKs' credentials file.

use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;
use ini::{Ini, ParseOption};

use super::env::Env;
use super::error::ConfigError;
use super::explain::Preview;
use super::provider::{ProvideCredentials, ProvidedCredentials};
use crate::auth::Credentials;
use crate::validation::InvalidInput;

/// The section read by default: `[basic]`, the SDKs' section for regional
/// services such as IoTDA.
pub const DEFAULT_PROFILE: &str = "basic";

/// The variable naming the file.
const FILE_VAR: &str = "HUAWEICLOUD_SDK_CREDENTIALS_FILE";

/// The largest credentials file read (64 KiB): it holds a few keys.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Keys read; others are ignored (logged at `DEBUG`, name only).
const KEYS: [&str; 5] = ["ak", "sk", "security_token", "project_id", "iam_endpoint"];

/// Credentials from the INI file Huawei's Python, Go and Java SDKs read:
/// `HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else `~/.huaweicloud/credentials`.
///
/// ```ini
/// [basic]
/// ak = HPUAEXAMPLEAK0000001
/// sk = example-secret
/// project_id = 0123456789abcdef0123456789abcdef   ; optional
/// security_token = ...                            ; temporary credentials
/// iam_endpoint = https://iam.cn-north-4.myhuaweicloud.com   ; project discovery
/// ```
///
/// The section is `[basic]` unless [`CredentialsFileProvider::profile`]
/// names another. A missing file or section is "not configured"; a file that
/// cannot be parsed, or a section with `ak` but no `sk`, is an error naming
/// the file and line, never a value. Values are taken as written: no quotes
/// or escapes are interpreted (as Python's `configparser` reads them), and
/// keys are case-insensitive.
#[derive(Debug, Clone)]
pub struct CredentialsFileProvider {
    path: Option<PathBuf>,
    profile: String,
}

impl CredentialsFileProvider {
    /// The file `env` names (`HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else
    /// `~/.huaweicloud/credentials`), section `[basic]`. With neither the
    /// variable nor a home directory there is no file: "not configured".
    pub fn new(env: &Env) -> Result<Self, InvalidInput> {
        let path = match env.var(FILE_VAR)? {
            Some(path) => Some(PathBuf::from(path)),
            None => env.home().map(|home| home.join(".huaweicloud").join("credentials")),
        };
        Ok(Self {
            path,
            profile: DEFAULT_PROFILE.to_owned(),
        })
    }

    /// This file, section `[basic]`.
    pub fn from_path(path: impl Into<PathBuf>) -> Self {
        Self {
            path: Some(path.into()),
            profile: DEFAULT_PROFILE.to_owned(),
        }
    }

    /// Reads section `[name]` instead of `[basic]` (the CLI's `--profile`).
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = name.into();
        self
    }

    /// The file read, when there is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The section read.
    pub fn profile_name(&self) -> &str {
        &self.profile
    }

    /// Reads the file now (blocking, but never on a FIFO or device: only a
    /// regular file of at most 64 KiB is read; [`ProvideCredentials::provide`]
    /// reads it on a blocking thread, so a caller's deadline bounds it).
    pub fn load(&self) -> Result<ProvidedCredentials, ConfigError> {
        let not_configured = |why: String| ConfigError::NotConfigured {
            provider: "credentials file",
            looked_for: why,
        };
        let Some(path) = &self.path else {
            return Err(not_configured(format!("{FILE_VAR} not set and no home directory")));
        };
        let file_error = |line: usize, message: String| ConfigError::File {
            path: path.clone(),
            line,
            message,
        };
        let text = match read_text(path, MAX_FILE_BYTES) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(not_configured(format!("{} not found", path.display())));
            }
            Err(e) => return Err(file_error(0, format!("cannot be read: {e}"))),
        };
        // Notepad and other Windows editors start UTF-8 with a byte-order
        // mark; Huawei's SDKs refuse it, accepting it is kinder.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        // A key before any `[section]` header means the file is not what it
        // claims to be (another encoding's mark, a pasted fragment): an error,
        // as Python's configparser makes it, never "no [basic] here", which
        // would fall through to another identity.
        let first = text.lines().enumerate().find(|(_, line)| {
            let line = line.trim();
            !line.is_empty() && !line.starts_with(['#', ';'])
        });
        if let Some((number, line)) = first
            && !line.trim_start().starts_with('[')
        {
            return Err(file_error(
                number + 1,
                "a key before any [section] header: not a credentials file".to_owned(),
            ));
        }
        let options = ParseOption {
            enabled_quote: false,
            enabled_escape: false,
            enabled_indented_mutiline_value: false,
            enabled_preserve_key_leading_whitespace: false,
        };
        // rust-ini's messages are fixed texts, never the file's content.
        // An error at the end of the file is reported on its last line, not the one after.
        let lines = text.lines().count().max(1);
        let ini =
            Ini::load_from_str_opt(text, options).map_err(|e| file_error(e.line.min(lines), e.msg.into_owned()))?;
        let sections = ini
            .iter()
            .filter(|(name, _)| *name == Some(self.profile.as_str()))
            .count();
        if sections > 1 {
            return Err(file_error(
                0,
                format!("section [{}] appears more than once", self.profile),
            ));
        }
        let Some(section) = ini.section(Some(self.profile.as_str())) else {
            return Err(not_configured(format!(
                "{} has no [{}] section",
                path.display(),
                self.profile
            )));
        };
        let mut values: [Option<String>; KEYS.len()] = Default::default();
        for (key, value) in section.iter() {
            let key = key.trim().to_ascii_lowercase();
            match KEYS.iter().position(|k| *k == key) {
                Some(i) if values[i].is_some() => {
                    return Err(file_error(0, format!("[{}] sets {key} more than once", self.profile)));
                }
                Some(i) => values[i] = Some(value.trim().to_owned()).filter(|v| !v.is_empty()),
                None => tracing::debug!(file = %path.display(), key = %key, "ignoring an unknown key"),
            }
        }
        let [ak, sk, security_token, project_id, iam_endpoint] = values;
        let missing = |key: &str, other: &str| file_error(0, format!("[{}] sets {other} but not {key}", self.profile));
        let credentials = match (ak, sk, security_token) {
            (Some(ak), Some(sk), None) => Credentials::ak_sk(ak, sk),
            (Some(ak), Some(sk), Some(token)) => Credentials::temporary(ak, sk, token),
            (Some(_), None, _) => return Err(missing("sk", "ak")),
            (None, Some(_), _) => return Err(missing("ak", "sk")),
            (None, None, Some(_)) => return Err(missing("ak and sk", "security_token")),
            (None, None, None) => {
                return Err(not_configured(format!(
                    "{} [{}] has no ak and sk",
                    path.display(),
                    self.profile
                )));
            }
        };
        let credentials = match project_id {
            Some(id) => credentials.with_project_id(id),
            None => credentials,
        };
        let mut provided = ProvidedCredentials::new(credentials, "credentials file");
        provided.iam_endpoint = iam_endpoint;
        Ok(provided)
    }
}

impl ProvideCredentials for CredentialsFileProvider {
    fn provide(&self) -> BoxFuture<'_, Result<ProvidedCredentials, ConfigError>> {
        Box::pin(async move {
            // On a blocking thread when there is a runtime, so that the
            // caller's deadline (a timeout around this future) still applies
            // if the file system stalls.
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    let this = self.clone();
                    runtime.spawn_blocking(move || this.load()).await.unwrap_or_else(|e| {
                        Err(ConfigError::File {
                            path: self.path.clone().unwrap_or_default(),
                            line: 0,
                            message: format!("reading stopped: {e}"),
                        })
                    })
                }
                Err(_) => self.load(),
            }
        })
    }

    fn preview(&self) -> Result<Preview, ConfigError> {
        match self.load() {
            Ok(provided) => Ok(Preview::Found(provided)),
            Err(e @ ConfigError::NotConfigured { .. }) => Ok(Preview::NotConfigured(e.to_string())),
            Err(e) => Err(e),
        }
    }
}

/// [`read_small_file`](crate::bounded_read::read_small_file) as UTF-8 text.
pub(crate) fn read_text(path: &Path, max_bytes: u64) -> std::io::Result<String> {
    String::from_utf8(crate::bounded_read::read_small_file(path, max_bytes)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}
