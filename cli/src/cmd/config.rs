//! `iotda-batchtask config`: every setting, its value (secrets masked) and
//! where it came from, like `aws configure list`. Reads the environment and
//! the files; asks no server (ECS metadata and IAM are named, not asked).

use clap::Args;
use iotda_batchtask::config::{Env, Given, Setting, explain};

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

const UNSET: &str = "-";

/// Prints the settings: the library's explanation of each (the chain's
/// order, the region's endpoint, IAM), then the transport flags.
pub fn run(args: ConfigArgs) -> Exit {
    let env = Env::process();
    let c = &args.connection;
    let mut given = Given::new();
    let mut errors = Vec::new();
    match c.settings(&env) {
        Ok(settings) => {
            if let Some(g) = settings.endpoint {
                given = given.endpoint(g.value, g.from);
            }
            if let Some(g) = settings.region {
                given = given.region(g.value, g.from);
            }
            if let Some(g) = settings.project_id {
                given = given.project_id(g.value, g.from);
            }
            if let Some(g) = settings.instance_id {
                given = given.instance_id(g.value, g.from);
            }
        }
        Err(e) => errors.push(e.to_string()),
    }
    if let Some(profile) = &crate::settings::get().profile {
        given = given.profile(profile.clone(), "--profile");
    }
    let mut rows = match crate::connection::credentials(&env) {
        Ok(provider) => explain(&env, &*provider, &given)
            .into_iter()
            .map(|s: Setting| (s.value, s.name, s.source))
            .collect(),
        Err(e) => {
            errors.push(e.to_string());
            Vec::new()
        }
    };
    for e in errors {
        rows.push(row("error", e, ""));
    }

    // Transport: the CLI's flags and the proxy variables.
    let env_proxy = ["HTTPS_PROXY", "https_proxy"]
        .into_iter()
        .find_map(|v| env.var(v).ok().flatten().map(|value| (v, value)));
    rows.push(match (c.proxy(), env_proxy) {
        (Some(p), _) => row("proxy", mask_url(p), "--proxy"),
        (None, Some((var, value))) => row("proxy", mask_url(&value), format!("env {var} (not for loopback)")),
        (None, None) => row("proxy", UNSET, "none"),
    });
    rows.push(match c.ca_cert() {
        Some(path) => row("ca_cert", path.display().to_string(), "--ca-cert"),
        None => row("ca_cert", UNSET, "the platform's roots"),
    });

    let mut text = format!("{:<18} {:<50} {}\n", "setting", "value", "source");
    for r in rows {
        let value = sanitize::cell(&r.0, 200);
        text.push_str(&format!("{:<18} {:<50} {}\n", r.1, value, sanitize::cell(&r.2, 300)));
    }
    crate::output::out(text);
    Exit::Success
}

/// (value, name, source)
type Row = (String, &'static str, String);

fn row(name: &'static str, value: impl Into<String>, source: impl Into<String>) -> Row {
    (value.into(), name, source.into())
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
    use super::mask_url;

    #[test]
    fn secrets_are_masked() {
        assert_eq!(mask_url("http://user:pass@proxy:3128"), "http://****@proxy:3128/");
        assert_eq!(mask_url("http://proxy:3128"), "http://proxy:3128");
    }
}
