//! Where and how to connect: the options `stop`, `show` and `config` share,
//! and the credential chain behind them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use futures_util::future::BoxFuture;
use iotda_batchtask::config::{
    ConfigError, CredentialChain, CredentialsFileProvider, Env, Preview, ProvideCredentials, ProvidedCredentials,
};
use iotda_batchtask::{Client, ClientBuilder, DEFAULT_REQUEST_TIMEOUT, Error, InvalidInput, RetryPolicy, Signing};

/// The longest `--timeout`: the library's longest deadline.
pub const MAX_TIMEOUT: Duration = iotda_batchtask::MAX_DEADLINE;

/// The largest `--ca-cert` file read.
const MAX_CA_BYTES: u64 = 1024 * 1024;

/// Shown under `--help` of the commands that call IoTDA.
pub const CREDENTIALS_HELP: &str = "\
Options also come from the environment (a flag wins):
  --endpoint IOTDA_ENDPOINT, --project-id HUAWEICLOUD_SDK_PROJECT_ID,
  --instance-id IOTDA_INSTANCE_ID, --region HUAWEICLOUD_SDK_REGION
--region alone is enough on the basic edition: the endpoint is the region's
(HUAWEICLOUD_SDK_REGION_IOTDA_<REGION>, HUAWEICLOUD_SDK_REGIONS_FILE override it) and
the project ID is found with IAM (HUAWEICLOUD_SDK_IAM_ENDPOINT) when not given.

Credentials never come from flags; as Huawei's SDKs find them, first found wins:
  1. environment: HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK (else CLOUD_SDK_AK, CLOUD_SDK_SK),
     HUAWEICLOUD_SDK_SECURITY_TOKEN; IOTDA_AUTH_TOKEN (an IAM token) when no key is set
  2. credentials file HUAWEICLOUD_SDK_CREDENTIALS_FILE, else ~/.huaweicloud/credentials,
     section [basic]: ak, sk, security_token, project_id, iam_endpoint
  3. ECS metadata (an agency's temporary credentials, refreshed), IOTDA_METADATA_ENDPOINT
With --profile NAME, only section [NAME] of the credentials file.
`iotda-batchtask config` shows what was found where.";

/// The endpoint, project, instance, signing, transport and limits of a call.
///
/// The first four also come from variables (a flag wins). They are read here
/// through [`Env`], not by clap: clap would print a variable's setting in
/// usage lines as if the flag were required, and take an empty variable as
/// an empty value rather than unset.
#[derive(Debug, Args)]
pub struct Connection {
    /// The IoTDA endpoint (http:// only to loopback) [env: IOTDA_ENDPOINT];
    /// default: the region's basic-edition endpoint.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// The project ID [env: HUAWEICLOUD_SDK_PROJECT_ID]; default: the
    /// credentials', else found with IAM for the region.
    #[arg(long, value_name = "ID")]
    project_id: Option<String>,
    /// The Instance-Id header (required by the professional edition) [env: IOTDA_INSTANCE_ID].
    #[arg(long, value_name = "ID")]
    instance_id: Option<String>,
    /// Region ID, e.g. cn-north-4 [env: HUAWEICLOUD_SDK_REGION]; read from an
    /// instance endpoint's host when not given.
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// AK/SK signing algorithm; auto decides like the official SDK.
    #[arg(long, value_enum, default_value_t = SigningArg::Auto)]
    signing: SigningArg,
    /// Give up on a request after this many seconds, retries included
    /// (default 60; one attempt never waits more than 30; at most 86400).
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout, allow_negative_numbers = true)]
    timeout: Option<Duration>,
    /// Retries of a request that provably was not processed (no connection,
    /// or 429); 0 to 9, 0 turns them off. Other failures, 503 included, are
    /// never retried: a lost stop answer is settled by reading instead.
    #[arg(
        long,
        default_value_t = 2,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(0..10),
        allow_negative_numbers = true
    )]
    retries: u32,
    /// HTTPS proxy for https:// endpoints (default: HTTPS_PROXY unless
    /// NO_PROXY names the host); never used for loopback.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Also trust the CA certificates in this PEM file.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SigningArg {
    Auto,
    Plain,
    Derived,
}

/// A setting's value and where it came from: `--flag` or `env VARIABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given {
    /// The value.
    pub value: String,
    /// `--flag` or `env VARIABLE`.
    pub from: String,
}

/// The endpoint, region, project and instance as given by flag or variable.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `--endpoint`, `IOTDA_ENDPOINT`.
    pub endpoint: Option<Given>,
    /// `--region`, `HUAWEICLOUD_SDK_REGION`.
    pub region: Option<Given>,
    /// `--project-id`, `HUAWEICLOUD_SDK_PROJECT_ID`.
    pub project_id: Option<Given>,
    /// `--instance-id`, `IOTDA_INSTANCE_ID`.
    pub instance_id: Option<Given>,
}

/// The flag's value, else the variable's (empty counts as unset, as most
/// command lines take it); a variable that is not UTF-8 is an error naming it.
fn pick(flag: &Option<String>, flag_name: &str, env: &Env, var: &str) -> Result<Option<Given>, InvalidInput> {
    if let Some(value) = flag {
        return Ok(Some(Given {
            value: value.clone(),
            from: flag_name.to_owned(),
        }));
    }
    Ok(env.var(var)?.map(|value| Given {
        value,
        from: format!("env {var}"),
    }))
}

/// The flag and variable of each setting the library names by field.
const SETTING_NAMES: [(&str, &str); 6] = [
    ("endpoint", "--endpoint or IOTDA_ENDPOINT"),
    ("region", "--region or HUAWEICLOUD_SDK_REGION"),
    ("project_id", "--project-id or HUAWEICLOUD_SDK_PROJECT_ID"),
    ("instance_id", "--instance-id or IOTDA_INSTANCE_ID"),
    ("proxy", "--proxy"),
    ("ca_cert", "--ca-cert"),
];

impl Connection {
    /// The endpoint, region, project and instance from flags, else variables.
    pub fn settings(&self, env: &Env) -> Result<Settings, InvalidInput> {
        Ok(Settings {
            endpoint: pick(&self.endpoint, "--endpoint", env, "IOTDA_ENDPOINT")?,
            region: pick(&self.region, "--region", env, "HUAWEICLOUD_SDK_REGION")?,
            project_id: pick(&self.project_id, "--project-id", env, "HUAWEICLOUD_SDK_PROJECT_ID")?,
            instance_id: pick(&self.instance_id, "--instance-id", env, "IOTDA_INSTANCE_ID")?,
        })
    }

    /// The `--proxy` flag.
    pub fn proxy(&self) -> Option<&str> {
        self.proxy.as_deref()
    }

    /// The `--ca-cert` flag.
    pub fn ca_cert(&self) -> Option<&std::path::Path> {
        self.ca_cert.as_deref()
    }

    /// Builds the client: credentials from the chain (or `--profile`), the
    /// endpoint and project as configured or found. Errors about a setting
    /// name its flag and variable.
    pub async fn client(&self) -> Result<Client, Error> {
        self.build().await.map_err(name_setting)
    }

    async fn build(&self) -> Result<Client, Error> {
        let env = Env::process();
        let mut builder = self.builder(&env)?;
        if let Some(path) = self.ca_cert.clone() {
            // On a blocking thread under the deadline, as the library reads
            // the credentials file: a stalled file system cannot hang the run.
            let deadline = self.timeout.unwrap_or(iotda_batchtask::DEFAULT_DEADLINE);
            let shown = path.display().to_string();
            let read = tokio::time::timeout(deadline, tokio::task::spawn_blocking(move || read_ca(&path)))
                .await
                .map_err(|_| {
                    InvalidInput::new("ca_cert", format!("cannot read {shown}: not read within the deadline"))
                })?
                .map_err(|e| InvalidInput::new("ca_cert", format!("cannot read {shown}: {e}")))?;
            builder = builder.ca_cert_pem(read?);
        }
        builder.credentials_provider(credentials(&env)?).build_async().await
    }

    /// The builder for these options over `env`, without credentials and
    /// without the `--ca-cert` file (read by [`Connection::client`]).
    pub fn builder(&self, env: &Env) -> Result<ClientBuilder, Error> {
        let settings = self.settings(env)?;
        let value = |g: &Option<Given>| g.as_ref().map(|g| g.value.clone());
        let (endpoint, region) = (value(&settings.endpoint), value(&settings.region));
        let mut builder = match (&endpoint, &region) {
            (Some(endpoint), _) => Client::builder(endpoint),
            (None, Some(region)) => Client::for_region(region),
            (None, None) => {
                return Err(InvalidInput::new(
                    "endpoint",
                    "not set: give the endpoint, or a region (--region or HUAWEICLOUD_SDK_REGION) for its basic-edition endpoint",
                )
                .into());
            }
        };
        builder = builder.env(env.clone()).signing(match self.signing {
            SigningArg::Auto => Signing::Auto,
            SigningArg::Plain => Signing::Plain,
            SigningArg::Derived => Signing::Derived,
        });
        if let Some(id) = value(&settings.project_id) {
            builder = builder.project_id(id);
        }
        if let Some(id) = value(&settings.instance_id) {
            builder = builder.instance_id(id);
        }
        if let Some(region) = &region {
            builder = builder.region(region);
        }
        if let Some(proxy) = &self.proxy {
            builder = builder.proxy(proxy);
        }
        if let Some(timeout) = self.timeout {
            builder = builder
                .deadline(timeout)
                .request_timeout(timeout.min(DEFAULT_REQUEST_TIMEOUT));
        }
        let attempts = self
            .retries
            .checked_add(1)
            .filter(|a| *a <= 10)
            .ok_or_else(|| InvalidInput::new("retries", "must be 0 to 9"))?;
        Ok(builder.retry(RetryPolicy::default().with_max_attempts(attempts)))
    }
}

/// The credential provider the CLI uses: the SDKs' chain, or with
/// `--profile` only that section of the credentials file.
pub fn credentials(env: &Env) -> Result<Box<dyn ProvideCredentials>, InvalidInput> {
    Ok(match &crate::settings::get().profile {
        Some(profile) => Box::new(Profile(CredentialsFileProvider::new(env)?.profile(profile))),
        None => Box::new(CredentialChain::new(env)?),
    })
}

/// `--profile`: the section must exist.
#[derive(Debug)]
struct Profile(CredentialsFileProvider);

impl ProvideCredentials for Profile {
    fn provide(&self) -> BoxFuture<'_, Result<ProvidedCredentials, ConfigError>> {
        let result = self.0.load().map_err(profile_error);
        Box::pin(async move { result })
    }

    fn preview(&self) -> Result<Preview, ConfigError> {
        self.0.preview().and_then(|preview| match preview {
            Preview::NotConfigured(looked_for) => Err(InvalidInput::new("--profile", looked_for).into()),
            other => Ok(other),
        })
    }
}

/// With `--profile` the section must exist: its absence is an error.
fn profile_error(error: ConfigError) -> ConfigError {
    match error {
        ConfigError::NotConfigured { looked_for, .. } => InvalidInput::new("--profile", looked_for).into(),
        other => other,
    }
}

/// Replaces a library field name with the flag and variable that set it.
fn name_setting(error: Error) -> Error {
    let renamed = |e: &InvalidInput| {
        SETTING_NAMES
            .iter()
            .find(|(field, _)| *field == e.field())
            .map(|(_, names)| InvalidInput::new(*names, e.rule().to_owned()))
    };
    match &error {
        Error::InvalidInput(e) => renamed(e).map_or(error, Error::from),
        Error::Config(ConfigError::Invalid(e)) => renamed(e).map_or(error, Error::from),
        _ => error,
    }
}

/// The `--ca-cert` file: a regular file (a FIFO would block for ever), bounded.
fn read_ca(path: &std::path::Path) -> Result<Vec<u8>, InvalidInput> {
    iotda_batchtask::config::read_small_file(path, MAX_CA_BYTES)
        .map_err(|e| InvalidInput::new("ca_cert", format!("cannot read {}: {e}", path.display())))
}

/// `--timeout`: checked while parsing, so that clap names the option and
/// exits 2 before anything is sent.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let range = || {
        format!(
            "must be a number of seconds above 0 and at most {}",
            MAX_TIMEOUT.as_secs()
        )
    };
    let seconds: f64 = text.trim().parse().map_err(|_| range())?;
    if !seconds.is_finite() || seconds <= 0.0 || seconds > MAX_TIMEOUT.as_secs_f64() {
        return Err(range());
    }
    // Below a nanosecond rounds to zero, which would mean no time at all.
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(range)
}

#[cfg(test)]
mod tests {
    use super::{MAX_TIMEOUT, name_setting, parse_timeout};
    use iotda_batchtask::InvalidInput;
    use std::time::Duration;

    #[test]
    fn timeout_is_positive_finite_and_at_most_a_day() {
        assert_eq!(parse_timeout("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_timeout("86400"), Ok(MAX_TIMEOUT));
        for bad in ["0", "-1", "1e19", "86400.5", "inf", "NaN", "1e-12", "", "ten"] {
            let e = parse_timeout(bad).expect_err(bad);
            assert!(e.contains("at most 86400"), "{bad}: {e}");
        }
    }

    #[test]
    fn errors_name_the_flag_and_the_variable() {
        let e = name_setting(InvalidInput::new("region", "is required").into());
        assert_eq!(e.to_string(), "invalid --region or HUAWEICLOUD_SDK_REGION: is required");
        let e = name_setting(InvalidInput::new("credentials.sk", "is bad").into());
        assert!(e.to_string().starts_with("invalid credentials.sk"), "{e}");
    }
}
