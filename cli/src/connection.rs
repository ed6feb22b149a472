//! Where and how to connect: the options `stop` and `show` share.

use std::time::Duration;

use clap::{Args, ValueEnum};
use iotda_batchtask::{Client, Credentials, DEFAULT_REQUEST_TIMEOUT, InvalidInput, RetryPolicy, Signing};

/// The longest `--timeout`: the library's longest deadline.
pub const MAX_TIMEOUT: Duration = iotda_batchtask::MAX_DEADLINE;

/// Shown under `--help` of the commands that call IoTDA. Exactly the options
/// with `env = ...` below; the others come only from flags.
pub const CREDENTIALS_HELP: &str = "\
Four options also come from the environment (a flag wins):
  --endpoint IOTDA_ENDPOINT, --project-id HUAWEICLOUD_SDK_PROJECT_ID,
  --instance-id IOTDA_INSTANCE_ID, --region HUAWEICLOUD_SDK_REGION

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
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SigningArg {
    Auto,
    Plain,
    Derived,
}

impl Connection {
    /// The `Instance-Id` header's value, if any (for `--dry-run`).
    pub fn instance_id(&self) -> Option<&str> {
        self.instance_id.as_deref()
    }

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
        builder
            .retry(RetryPolicy::default().with_max_attempts(attempts))
            .build()
    }
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
    use super::{MAX_TIMEOUT, parse_timeout};
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
}
