//! The CLI with real secrets in its environment never prints them.

use crate::common::*;

const SECRETS: [&str; 3] = [SK, TOKEN, SECURITY_TOKEN];

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} leaks a secret: {text}");
    }
}

/// The CLI with real secrets in its environment, at the most verbose log
/// level, for a success and for each failure class: nothing it prints on
/// stdout or stderr contains them.
#[test]
fn cli_output_never_contains_a_secret() {
    use iotda_batchtask_emulator::{
        DEMO_CONFIRM_TASK_ID, DEMO_FINISHED_TASK_ID, DEMO_PARTIAL_TASK_ID, DEMO_PROJECT_ID, DEMO_TASK_ID,
        EmulatorConfig,
    };

    let emulator = start(EmulatorConfig::new().ak_sk(AK, SK).token(TOKEN));
    let endpoint = emulator.handle.base_url();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let closed = format!("http://{closed}");
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let mut cmd = assert_cmd::Command::cargo_bin("iotda-batchtask").unwrap();
        cmd.env_clear()
            .env("IOTDA_METADATA_ENDPOINT", "http://127.0.0.1:9")
            .env("RUST_LOG", "trace")
            .arg("-v")
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.timeout(std::time::Duration::from_secs(60)).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let ak_sk = [
        ("HUAWEICLOUD_SDK_AK", AK),
        ("HUAWEICLOUD_SDK_SK", SK),
        ("HUAWEICLOUD_SDK_REGION", "cn-north-4"),
    ];
    let temporary = [
        ("HUAWEICLOUD_SDK_AK", AK),
        ("HUAWEICLOUD_SDK_SK", SK),
        ("HUAWEICLOUD_SDK_SECURITY_TOKEN", SECURITY_TOKEN),
        ("HUAWEICLOUD_SDK_REGION", "cn-north-4"),
    ];
    let token = [("IOTDA_AUTH_TOKEN", TOKEN)];
    let stop = |endpoint: &str, task: &str, more: &[&str]| -> Vec<String> {
        [
            "stop",
            "--endpoint",
            endpoint,
            "--project-id",
            DEMO_PROJECT_ID,
            "--task-id",
            task,
        ]
        .iter()
        .chain(more)
        .map(|s| s.to_string())
        .collect()
    };
    let command = |name: &str, endpoint: &str, more: &[&str]| -> Vec<String> {
        [name, "--endpoint", endpoint, "--project-id", DEMO_PROJECT_ID]
            .iter()
            .chain(more)
            .map(|s| s.to_string())
            .collect()
    };
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Vec<String>, i32);
    let cases: Vec<Case> = vec![
        (
            "success, AK/SK",
            &ak_sk,
            stop(&endpoint, DEMO_TASK_ID, &["--target", "dev-0001"]),
            0,
        ),
        (
            "success, token, json",
            &token,
            stop(&endpoint, DEMO_TASK_ID, &["--target", "dev-0002", "--output", "json"]),
            0,
        ),
        (
            "success, temporary credentials",
            &temporary,
            stop(&endpoint, DEMO_TASK_ID, &["--target", "dev-0003"]),
            0,
        ),
        (
            "some targets failed",
            &ak_sk,
            stop(&endpoint, DEMO_TASK_ID, &["--target", "dev-9999"]),
            3,
        ),
        (
            "API error",
            &temporary,
            stop(&endpoint, DEMO_FINISHED_TASK_ID, &["--all"]),
            1,
        ),
        (
            "auth refused",
            &[("IOTDA_AUTH_TOKEN", "wrong-token")],
            stop(&endpoint, DEMO_TASK_ID, &["--all"]),
            1,
        ),
        ("transport error", &token, stop(&closed, DEMO_TASK_ID, &["--all"]), 1),
        (
            "invalid input",
            &ak_sk,
            stop(&endpoint, DEMO_TASK_ID, &["--target", "bad device"]),
            2,
        ),
        ("usage error", &token, vec!["stop".into(), "--nonsense".into()], 2),
        (
            "list",
            &temporary,
            command("list", &endpoint, &["--task-type", "firmwareUpgrade"]),
            0,
        ),
        (
            "retry",
            &temporary,
            command("retry", &endpoint, &["--task-id", DEMO_PARTIAL_TASK_ID, "--all"]),
            0,
        ),
        (
            "confirm, json",
            &ak_sk,
            command(
                "confirm",
                &endpoint,
                &[
                    "--task-id",
                    DEMO_CONFIRM_TASK_ID,
                    "--target",
                    "dev-0001",
                    "--output",
                    "json",
                ],
            ),
            0,
        ),
        (
            "create",
            &temporary,
            command(
                "create",
                &endpoint,
                &["--name", "fw", "--task-type", "firmwareUpgrade", "--target", "dev-0001"],
            ),
            0,
        ),
        (
            "create, dry run",
            &temporary,
            command(
                "create",
                &endpoint,
                &[
                    "--name",
                    "fw",
                    "--task-type",
                    "firmwareUpgrade",
                    "--target",
                    "dev-0001",
                    "--dry-run",
                ],
            ),
            0,
        ),
        (
            "stop --all --wait, dry run, json",
            &token,
            command(
                "stop",
                &endpoint,
                &[
                    "--task-id",
                    DEMO_TASK_ID,
                    "--all",
                    "--wait",
                    "--dry-run",
                    "--output",
                    "json",
                ],
            ),
            0,
        ),
        (
            "delete refused",
            &temporary,
            command("delete", &endpoint, &["--task-id", DEMO_TASK_ID]),
            1,
        ),
        (
            "delete",
            &ak_sk,
            command("delete", &endpoint, &["--task-id", DEMO_FINISHED_TASK_ID]),
            0,
        ),
    ];
    for (name, env, args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, output) = run(env, &args);
        assert_eq!(code, Some(expected), "{name}: {output}");
        assert_clean(name, &output);
        assert!(!output.contains("panicked"), "{name}: {output}");
    }
    // A bad secret in the environment is named, never echoed.
    let bad_sk = format!("{SK} ");
    let (code, output) = run(
        &[("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", &bad_sk)],
        &[
            "stop",
            "--endpoint",
            &endpoint,
            "--project-id",
            DEMO_PROJECT_ID,
            "--task-id",
            DEMO_TASK_ID,
            "--all",
        ],
    );
    assert_eq!(code, Some(2));
    assert!(output.contains("invalid credentials.sk"), "{output}");
    assert_clean("bad SK", &output);
}
