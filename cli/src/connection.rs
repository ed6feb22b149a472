//! Where and how to connect: the options `stop` and `show` share.

use std::time::Duration;

use clap::{Args, ValueEnum};
use iotda_batchtask::{Client, Credentials, DEFAULT_REQUEST_TIMEOUT, InvalidInput, RetryPolicy, Signing};

/// Shown under `--help` of the commands that call IoTDA.
pub const CREDENTIALS_HELP: &str = "\
Credentials come from the environment only, never from flags:
  HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK    access key pair (else CLOUD_SDK_AK, CLOUD_SDK_SK)
  HUAWEICLOUD_SDK_SECURITY_TOKEN           security token of temporary credentials
  IOTDA_AUTH_TOKEN                         an IAM token, used when no access key is set";

/// The endpoint, project, instance, signing and limits of a call.
#[derive(Debug, Args)]
pub struct Connection {
    /// The instance's HTTPS access address (http:// only to loopback).
    #[arg(long, env = "IOTDA_ENDPOINT", value_name = "URL")]
    endpoint: String,
    /// The project ID.
    #[arg(long, env = "HUAWEICLOUD_SDK_PROJECT_ID", value_name = "ID")]
    project_id: String,
    /// The Instance-Id header (required by the professional edition).
    #[arg(long, env = "IOTDA_INSTANCE_ID", value_name = "ID")]
    instance_id: Option<String>,
    /// Region ID, needed for derived (V11) signing, e.g. cn-north-4.
    #[arg(long, env = "HUAWEICLOUD_SDK_REGION", value_name = "REGION")]
    region: Option<String>,
    /// AK/SK signing algorithm; auto decides like the official SDK.
    #[arg(long, value_enum, default_value_t = SigningArg::Auto)]
    signing: SigningArg,
    /// Give up on a request after this many seconds, retries included
    /// (default 60; one attempt never waits more than 30).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Retries of a request that provably was not processed (no connection,
    /// or 429/503); 0 turns them off. Other failures are never retried.
    #[arg(long, default_value_t = 2, value_name = "N")]
    retries: u32,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SigningArg {
    Auto,
    Plain,
    Derived,
}

impl Connection {
    /// Builds the client, with credentials from the environment.
    pub fn client(&self) -> Result<Client, iotda_batchtask::Error> {
        let mut builder = Client::builder(&self.endpoint)
            .project_id(&self.project_id)
            .credentials(Credentials::from_env()?)
            .signing(match self.signing {
                SigningArg::Auto => Signing::Auto,
                SigningArg::Plain => Signing::Plain,
                SigningArg::Derived => Signing::Derived,
            });
        if let Some(id) = &self.instance_id {
            builder = builder.instance_id(id);
        }
        if let Some(region) = &self.region {
            builder = builder.region(region);
        }
        if let Some(seconds) = self.timeout {
            let timeout = Duration::try_from_secs_f64(seconds)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| InvalidInput::new("timeout", "must be a positive number of seconds"))?;
            builder = builder
                .deadline(timeout)
                .request_timeout(timeout.min(DEFAULT_REQUEST_TIMEOUT));
        }
        let attempts = self
            .retries
            .checked_add(1)
            .filter(|a| *a <= 10)
            .ok_or_else(|| InvalidInput::new("retries", "must be 0 to 9"))?;
        builder
            .retry(RetryPolicy::default().with_max_attempts(attempts))
            .build()
    }
}
