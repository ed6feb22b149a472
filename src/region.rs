//! Region → IoTDA endpoint, as Huawei's SDKs resolve it, and the region of
//! an instance endpoint.
//!
//! For a region, the endpoints are, first found wins:
//!
//! 1. `HUAWEICLOUD_SDK_REGION_IOTDA_{REGION}` (the region upper-cased, `-`
//!    as `_`, e.g. `HUAWEICLOUD_SDK_REGION_IOTDA_CN_NORTH_4`):
//!    comma-separated endpoints;
//! 2. the regions file, `HUAWEICLOUD_SDK_REGIONS_FILE`, else
//!    `~/.huaweicloud/regions.yaml`:
//!    ```yaml
//!    iotda:
//!      - id: cn-north-4
//!        endpoint: https://iotda.cn-north-4.myhuaweicloud.com
//!        # or several: endpoints: [https://a, https://b]
//!    ```
//! 3. the SDKs' table, [`IOTDA_REGIONS`]: `https://iotda.{region}.myhuaweicloud.com`.
//!
//! That is the basic edition's endpoint. Standard and enterprise instances
//! have their own (`xxxx.st1.iotda-app.{region}.myhuaweicloud.com`), from
//! which [`region_of_host`] reads the region.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::{ConfigError, Env};
use crate::validation::{self, InvalidInput};

/// The regions the official SDKs list for IoTDA (`iotda_region.py`).
pub const IOTDA_REGIONS: [&str; 13] = [
    "cn-north-4",
    "cn-south-4",
    "cn-south-1",
    "cn-east-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "af-south-1",
    "me-east-1",
    "la-south-2",
    "sa-brazil-1",
    "la-north-2",
    "ru-moscow-1",
];

/// The variable naming the regions file.
const REGIONS_FILE_VAR: &str = "HUAWEICLOUD_SDK_REGIONS_FILE";

/// The variable overriding `region`'s endpoints.
pub fn override_variable(region: &str) -> String {
    format!(
        "HUAWEICLOUD_SDK_REGION_IOTDA_{}",
        region.to_ascii_uppercase().replace('-', "_")
    )
}

/// The IoTDA endpoints of `region`, in failover order, and where they came
/// from (`HUAWEICLOUD_SDK_REGION_IOTDA_…`, a file path, or `built-in`).
/// A region in none of the three is an error listing the known ones.
pub fn iotda_endpoints(region: &str, env: &Env) -> Result<(Vec<String>, String), ConfigError> {
    validation::region(region)?;
    let var = override_variable(region);
    if let Some(value) = env.var(&var)? {
        let endpoints: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect();
        if endpoints.is_empty() {
            return Err(InvalidInput::new(var, "names no endpoint").into());
        }
        // Checked here, so that a bad one is named by the variable that holds
        // it, not as the endpoint setting the caller never gave.
        for endpoint in &endpoints {
            validation::endpoint(endpoint).map_err(|e| InvalidInput::new(var.clone(), e.rule().to_owned()))?;
        }
        return Ok((endpoints, var));
    }
    if let Some(path) = regions_file(env)? {
        match crate::config::file_text(&path) {
            Ok(text) => {
                if let Some(endpoints) = from_regions_file(&text, region).map_err(|message| ConfigError::File {
                    path: path.clone(),
                    line: 0,
                    message,
                })? {
                    for endpoint in &endpoints {
                        validation::endpoint(endpoint).map_err(|e| ConfigError::File {
                            path: path.clone(),
                            line: 0,
                            message: format!("iotda: {region}: an endpoint {}", e.rule()),
                        })?;
                    }
                    return Ok((endpoints, path.display().to_string()));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ConfigError::File {
                    path,
                    line: 0,
                    message: format!("cannot be read: {e}"),
                });
            }
        }
    }
    if IOTDA_REGIONS.contains(&region) {
        return Ok((
            vec![format!("https://iotda.{region}.myhuaweicloud.com")],
            "built-in".to_owned(),
        ));
    }
    Err(InvalidInput::new(
        "region",
        format!(
            "{region} has no known IoTDA endpoint: use one of {}, set {var}, or give the endpoint itself",
            IOTDA_REGIONS.join(", ")
        ),
    )
    .into())
}

/// The regions file `env` names, else `~/.huaweicloud/regions.yaml`.
fn regions_file(env: &Env) -> Result<Option<PathBuf>, InvalidInput> {
    Ok(match env.var(REGIONS_FILE_VAR)? {
        Some(path) => Some(PathBuf::from(path)),
        None => env.home().map(|h| h.join(".huaweicloud").join("regions.yaml")),
    })
}

#[derive(Deserialize)]
struct RegionEntry {
    id: String,
    endpoint: Option<String>,
    #[serde(default)]
    endpoints: Vec<String>,
}

/// `region`'s endpoints in a regions file's `iotda` list (other services
/// ignored); `None` when it does not list the region.
fn from_regions_file(text: &str, region: &str) -> Result<Option<Vec<String>>, String> {
    let file: std::collections::HashMap<String, serde_yaml_ng::Value> =
        serde_yaml_ng::from_str(text).map_err(|e| match e.location() {
            Some(at) => format!("line {}: not a regions file (service: [{{id, endpoint}}])", at.line()),
            None => "not a regions file (service: [{id, endpoint}])".to_owned(),
        })?;
    let Some(entries) = file
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("iotda"))
        .map(|(_, v)| v)
    else {
        return Ok(None);
    };
    let entries: Vec<RegionEntry> = serde_yaml_ng::from_value(entries)
        .map_err(|_| "iotda: must be a list of {id, endpoint} or {id, endpoints}".to_owned())?;
    for entry in entries {
        if entry.id == region {
            let endpoints: Vec<String> = entry.endpoint.into_iter().chain(entry.endpoints).collect();
            if endpoints.is_empty() {
                return Err(format!("iotda: {region} has no endpoint"));
            }
            return Ok(Some(endpoints));
        }
    }
    Ok(None)
}

/// The region of an instance endpoint's host, as the SDKs' pattern reads
/// it: `….iotda-app.{region}.myhuaweicloud.com` (also `iotda.{region}…`).
///
/// ```
/// use iotda_batchtask::region::region_of_host;
///
/// assert_eq!(region_of_host("a1b2c3.st1.iotda-app.cn-north-4.myhuaweicloud.com"), Some("cn-north-4"));
/// assert_eq!(region_of_host("iotda.ap-southeast-1.myhuaweicloud.com"), Some("ap-southeast-1"));
/// assert_eq!(region_of_host("127.0.0.1:8080"), None);
/// ```
pub fn region_of_host(host: &str) -> Option<&str> {
    let host = host.split(':').next()?;
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    if n < 4 || labels[n - 1] != "com" || labels[n - 2] != "myhuaweicloud" {
        return None;
    }
    let (service, region) = (labels[n - 4], labels[n - 3]);
    (matches!(service, "iotda-app" | "iotda") && validation::region(region).is_ok()).then_some(region)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regions_file_lists_one_or_several_endpoints() {
        let text = "iotda:\n  - id: cn-north-4\n    endpoint: https://a\n  - id: xx-test-1\n    endpoints: [https://b, https://c]\necs: []\n";
        assert_eq!(
            from_regions_file(text, "cn-north-4"),
            Ok(Some(vec!["https://a".to_owned()]))
        );
        assert_eq!(
            from_regions_file(text, "xx-test-1"),
            Ok(Some(vec!["https://b".to_owned(), "https://c".to_owned()]))
        );
        assert_eq!(from_regions_file(text, "cn-east-3"), Ok(None));
        assert!(from_regions_file("iotda: 3", "cn-north-4").is_err());
        assert!(
            from_regions_file("iotda:\n  - id: [\n", "cn-north-4")
                .expect_err("bad")
                .contains("line")
        );
    }

    #[test]
    fn instance_hosts_give_their_region() {
        assert_eq!(
            region_of_host("x.st1.iotda-app.la-south-2.myhuaweicloud.com:443"),
            Some("la-south-2")
        );
        assert_eq!(region_of_host("iotda-app.myhuaweicloud.com"), None);
        assert_eq!(region_of_host("x.iotda-app.cn-north-4.example.com"), None);
        assert_eq!(region_of_host("x.ecs.cn-north-4.myhuaweicloud.com"), None);
    }
}
