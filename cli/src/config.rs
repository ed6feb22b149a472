//! `iotda-batchtask config`: every setting, its value (secrets masked) and
//! where it came from, like `aws configure list`. Reads the environment and
//! the files; asks no server (ECS metadata and IAM are named, not asked).

use clap::parser::ValueSource;
use clap::{ArgMatches, Args};
use iotda_batchtask::config::{
    ConfigError, CredentialsFileProvider, DEFAULT_METADATA_ENDPOINT, DEFAULT_PROFILE, Env, EnvironmentProvider,
    ProvidedCredentials,
};

use crate::Exit;
use crate::connection::{CREDENTIALS_HELP, Connection};
use crate::sanitize;

/// Arguments of `config`: the connection options, to show their effect.
#[derive(Debug, Args)]
#[command(after_help = CREDENTIALS_HELP)]
pub struct ConfigArgs {
    #[command(flatten)]
    connection: Connection,
}

/// One line of the listing.
struct Row {
    name: &'static str,
    value: String,
    source: String,
}

fn row(name: &'static str, value: impl Into<String>, source: impl Into<String>) -> Row {
    Row {
        name,
        value: value.into(),
        source: source.into(),
    }
}

const UNSET: &str = "-";

/// Prints the settings; `matches` are the command's own, to tell a flag
/// from a variable.
pub fn run(args: ConfigArgs, matches: Option<&ArgMatches>) -> Exit {
    let env = Env::process();
    let c = &args.connection;
    let from = |id: &str, flag: &str, var: &str| match matches.and_then(|m| m.value_source(id)) {
        Some(ValueSource::CommandLine) => flag.to_owned(),
        Some(ValueSource::EnvVariable) => format!("env {var}"),
        _ => String::new(),
    };
    let mut rows = Vec::new();
    let profile = crate::settings::get().profile.clone();
    rows.push(match &profile {
        Some(name) => row("profile", name.clone(), "--profile"),
        None => row("profile", DEFAULT_PROFILE, "default"),
    });

    // Credentials: the chain's first two steps, read without a network.
    let file = CredentialsFileProvider::new(&env).map(|f| f.profile(profile.as_deref().unwrap_or(DEFAULT_PROFILE)));
    let file_name = match &file {
        Ok(f) => f
            .path()
            .map(|p| format!("{} [{}]", p.display(), f.profile_name()))
            .unwrap_or_else(|| "no credentials file (no home directory)".to_owned()),
        Err(e) => e.to_string(),
    };
    let file_var = env.var("HUAWEICLOUD_SDK_CREDENTIALS_FILE").ok().flatten();
    rows.push(row(
        "credentials_file",
        file_name.clone(),
        if file_var.is_some() {
            "env HUAWEICLOUD_SDK_CREDENTIALS_FILE"
        } else {
            "default"
        },
    ));
    let found: Result<Option<ProvidedCredentials>, String> = if profile.is_some() {
        match file.as_ref().map(|f| f.load()) {
            Ok(Ok(provided)) => Ok(Some(provided)),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    } else {
        match EnvironmentProvider::new(env.clone()).credentials() {
            Err(e) => Err(e.to_string()),
            Ok(Some(credentials)) => Ok(Some(ProvidedCredentials::new(credentials, "environment"))),
            Ok(None) => match file.as_ref().map(|f| f.load()) {
                Ok(Ok(provided)) => Ok(Some(provided)),
                Ok(Err(ConfigError::NotConfigured { .. })) => Ok(None),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(e.to_string()),
            },
        }
    };
    let metadata = env
        .var("IOTDA_METADATA_ENDPOINT")
        .ok()
        .flatten()
        .unwrap_or_else(|| DEFAULT_METADATA_ENDPOINT.to_owned());
    let source_of = |p: &ProvidedCredentials| match p.source {
        "credentials file" => format!("credentials file {file_name}"),
        other => other.to_owned(),
    };
    match &found {
        Ok(Some(provided)) => {
            let source = source_of(provided);
            match provided.credentials.ak_sk_pair() {
                Some(pair) => {
                    rows.push(row("access_key", mask(pair.access_key()), source.clone()));
                    rows.push(row("secret_key", "****************", source.clone()));
                    let temporary = pair.is_temporary();
                    rows.push(row(
                        "security_token",
                        if temporary { "****************" } else { UNSET },
                        source,
                    ));
                }
                None => rows.push(row("auth_token", "****************", source)),
            }
        }
        Ok(None) => rows.push(row(
            "credentials",
            "none in the environment or the file",
            format!("ECS metadata at {metadata}, asked when a command runs"),
        )),
        Err(e) => rows.push(row("credentials", format!("error: {e}"), "")),
    }
    let provided = found.as_ref().ok().and_then(Option::as_ref);

    // Region, endpoint, project.
    let host_region = c
        .endpoint
        .as_deref()
        .and_then(|e| iotda_batchtask::reqwest::Url::parse(e).ok())
        .and_then(|u| {
            u.host_str()
                .and_then(iotda_batchtask::region::region_of_host)
                .map(str::to_owned)
        });
    let region = c.region.clone().or(host_region.clone());
    rows.push(match (&c.region, &host_region) {
        (Some(r), _) => row(
            "region",
            r.clone(),
            from("region", "--region", "HUAWEICLOUD_SDK_REGION"),
        ),
        (None, Some(r)) => row("region", r.clone(), "the endpoint's host"),
        (None, None) => row("region", UNSET, "not set"),
    });
    rows.push(match (&c.endpoint, &c.region) {
        (Some(e), _) => row("endpoint", e.clone(), from("endpoint", "--endpoint", "IOTDA_ENDPOINT")),
        (None, Some(r)) => match iotda_batchtask::region::iotda_endpoints(r, &env) {
            Ok((endpoints, source)) => row("endpoint", endpoints.join(", "), format!("region {r}: {source}")),
            Err(e) => row("endpoint", format!("error: {e}"), ""),
        },
        (None, None) => row("endpoint", UNSET, "not set: give --endpoint or --region"),
    });
    let iam = region
        .as_deref()
        .map(|r| iotda_batchtask::config::iam_endpoint(&env, provided, r).map_err(|e| e.to_string()));
    rows.push(
        match (&c.project_id, provided.and_then(|p| p.credentials.project_id())) {
            (Some(id), _) => row(
                "project_id",
                id.clone(),
                from("project_id", "--project-id", "HUAWEICLOUD_SDK_PROJECT_ID"),
            ),
            (None, Some(id)) => row("project_id", id, provided.map(source_of).unwrap_or_default()),
            (None, None) => match &iam {
                Some(Ok(iam)) => row(
                    "project_id",
                    UNSET,
                    format!("found with IAM at {iam} when a command runs"),
                ),
                _ => row("project_id", UNSET, "not set, and no region to find it with"),
            },
        },
    );
    if let Some(Ok(iam)) = &iam {
        let source = if env.var("HUAWEICLOUD_SDK_IAM_ENDPOINT").ok().flatten().is_some() {
            "env HUAWEICLOUD_SDK_IAM_ENDPOINT".to_owned()
        } else if provided.and_then(|p| p.iam_endpoint.as_ref()).is_some() {
            format!("credentials file {file_name}")
        } else {
            "default".to_owned()
        };
        rows.push(row("iam_endpoint", iam.clone(), source));
    }
    rows.push(match &c.instance_id {
        Some(id) => row(
            "instance_id",
            id.clone(),
            from("instance_id", "--instance-id", "IOTDA_INSTANCE_ID"),
        ),
        None => row("instance_id", UNSET, "not set"),
    });
    rows.push(row(
        "metadata_endpoint",
        metadata,
        if env.var("IOTDA_METADATA_ENDPOINT").ok().flatten().is_some() {
            "env IOTDA_METADATA_ENDPOINT"
        } else {
            "default"
        },
    ));

    // Transport.
    let env_proxy = ["HTTPS_PROXY", "https_proxy"]
        .into_iter()
        .find_map(|v| env.var(v).ok().flatten().map(|value| (v, value)));
    rows.push(match (&c.proxy, env_proxy) {
        (Some(p), _) => row("proxy", mask_url(p), "--proxy"),
        (None, Some((var, value))) => row("proxy", mask_url(&value), format!("env {var} (not for loopback)")),
        (None, None) => row("proxy", UNSET, "none"),
    });
    rows.push(match &c.ca_cert {
        Some(path) => row("ca_cert", path.display().to_string(), "--ca-cert"),
        None => row("ca_cert", UNSET, "the platform's roots"),
    });

    let mut text = format!("{:<18} {:<50} {}\n", "setting", "value", "source");
    for r in rows {
        let value = sanitize::cell(&r.value, 200);
        text.push_str(&format!(
            "{:<18} {:<50} {}\n",
            r.name,
            value,
            sanitize::cell(&r.source, 300)
        ));
    }
    crate::output::out(text);
    Exit::Success
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
    format!("****************{shown}")
}

/// A URL without its user info's password (and user).
fn mask_url(url: &str) -> String {
    match iotda_batchtask::reqwest::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("****");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "(not a URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{mask, mask_url};

    #[test]
    fn secrets_are_masked() {
        assert_eq!(mask("HPUAEXAMPLEAK0000001"), "****************0001");
        assert_eq!(mask_url("http://user:pass@proxy:3128"), "http://****@proxy:3128/");
        assert_eq!(mask_url("http://proxy:3128"), "http://proxy:3128");
    }
}
