//! `--dry-run` shows the authentication a real run would use, from the same
//! credential chain: keys in the credentials file sign (`Authorization`),
//! ECS metadata's temporary keys also send `X-Security-Token`, and a token
//! sends `X-Auth-Token`. No stop reaches the server.

use crate::common::{AK, Running, SK, start};
use crate::configuration::bin;

use std::time::Duration;

use assert_cmd::Command;
use iotda_batchtask_emulator::{DEMO_PROJECT_ID, DEMO_TASK_ID, EmulatorConfig};
use serde_json::Value;

/// The header names of each planned request of a JSON dry run.
fn planned_headers(mut cmd: Command, url: &str) -> Vec<Vec<String>> {
    let out = cmd
        .args(["stop", "--dry-run", "--output", "json", "--endpoint", url])
        .args([
            "--project-id",
            DEMO_PROJECT_ID,
            "--region",
            "cn-north-4",
            "--task-id",
            DEMO_TASK_ID,
        ])
        .args(["--target", "dev-0001"])
        .output()
        .expect("ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let plan: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(plan["dry_run"], true);
    plan["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|request| {
            request["headers"]
                .as_array()
                .expect("headers")
                .iter()
                .map(|pair| pair[0].as_str().expect("name").to_owned())
                .collect()
        })
        .collect()
}

fn emulator() -> Running {
    start(
        EmulatorConfig::new()
            .ak_sk(AK, SK)
            .temporary_credentials(Duration::from_secs(3600)),
    )
}

#[test]
fn keys_in_the_credentials_file_are_shown_as_a_signature() {
    let emulator = emulator();
    let url = emulator.handle.base_url();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("credentials");
    std::fs::write(&file, format!("[basic]\nak = {AK}\nsk = {SK}\n")).expect("write");
    let headers = planned_headers(
        bin(&[("HUAWEICLOUD_SDK_CREDENTIALS_FILE", file.to_str().expect("utf-8"))]),
        &url,
    );
    assert_eq!(headers.len(), 1);
    assert!(headers[0].iter().any(|h| h == "Authorization"), "{headers:?}");
    assert!(headers[0].iter().any(|h| h == "X-Sdk-Date"), "{headers:?}");
    assert!(!headers[0].iter().any(|h| h == "X-Auth-Token"), "{headers:?}");
    assert!(!headers[0].iter().any(|h| h == "X-Security-Token"), "{headers:?}");
    // A stop's dry run may read the task to predict its end; it sends no stop.
    assert!(
        emulator.handle.journal().stops_of(DEMO_TASK_ID).next().is_none(),
        "a dry run stops nothing"
    );
}

#[test]
fn temporary_keys_from_ecs_metadata_are_shown_with_their_security_token() {
    let emulator = emulator();
    let url = emulator.handle.base_url();
    let mut cmd = bin(&[]);
    cmd.env("IOTDA_METADATA_ENDPOINT", &url);
    let headers = planned_headers(cmd, &url);
    assert!(headers[0].iter().any(|h| h == "Authorization"), "{headers:?}");
    assert!(headers[0].iter().any(|h| h == "X-Security-Token"), "{headers:?}");
    assert!(!headers[0].iter().any(|h| h == "X-Auth-Token"), "{headers:?}");
    // The metadata read is the credentials' own; IoTDA got nothing.
    assert!(emulator.handle.journal().stops_of(DEMO_TASK_ID).next().is_none());
}

#[test]
fn a_token_is_shown_as_a_token_and_a_security_token_the_library_never_reads_is_ignored() {
    let emulator = emulator();
    let url = emulator.handle.base_url();
    let headers = planned_headers(
        bin(&[
            ("IOTDA_AUTH_TOKEN", "MIIEXAMPLETOKEN"),
            ("CLOUD_SDK_SECURITY_TOKEN", "not-read-by-the-library"),
        ]),
        &url,
    );
    assert!(headers[0].iter().any(|h| h == "X-Auth-Token"), "{headers:?}");
    assert!(
        !headers[0]
            .iter()
            .any(|h| h == "Authorization" || h == "X-Security-Token"),
        "{headers:?}"
    );
}
