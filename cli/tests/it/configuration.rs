//! Configuration from the command line: `--region` alone, `--profile`, the
//! `config` listing, completions and the man page, `-q` and `-v`, and
//! errors that name the flag and the variable. Every run has a cleared
//! environment with only what the test sets (no real home directory).

use crate::common::{AK, Running, SK, start};

use std::time::Duration;

use assert_cmd::Command;
use iotda_batchtask_emulator::{DEMO_PROJECT_ID, DEMO_TASK_ID, EmulatorConfig};

fn emulator() -> Running {
    start(EmulatorConfig::new().ak_sk(AK, SK))
}

/// The binary with only `vars` set (and a refusing metadata address).
pub(crate) fn bin(vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::cargo_bin("iotda-batchtask").expect("binary");
    cmd.env_clear()
        .env("IOTDA_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .timeout(Duration::from_secs(60));
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn region_alone_finds_endpoint_and_project() {
    let emulator = emulator();
    let url = emulator.handle.base_url();
    let out = bin(&[
        ("HUAWEICLOUD_SDK_AK", AK),
        ("HUAWEICLOUD_SDK_SK", SK),
        ("HUAWEICLOUD_SDK_REGION", "cn-north-4"),
        ("HUAWEICLOUD_SDK_REGION_IOTDA_CN_NORTH_4", &url),
        ("HUAWEICLOUD_SDK_IAM_ENDPOINT", &url),
    ])
    .args([
        "stop",
        "--task-id",
        DEMO_TASK_ID,
        "--target",
        "dev-0001",
        "--output",
        "json",
    ])
    .output()
    .expect("ran");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stops: Vec<_> = emulator.handle.journal().stops_of(DEMO_TASK_ID).cloned().collect();
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].project_id.as_deref(), Some(DEMO_PROJECT_ID));
}

#[test]
fn a_profile_selects_a_section_of_the_credentials_file() {
    let emulator = emulator();
    let url = emulator.handle.base_url();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("credentials");
    std::fs::write(
        &file,
        format!("[basic]\nak = WRONG\nsk = wrong\n\n[ops]\nak = {AK}\nsk = {SK}\nproject_id = {DEMO_PROJECT_ID}\n"),
    )
    .expect("write");
    let file = file.to_str().expect("utf-8").to_owned();
    let run = |extra: &[&str]| {
        let (globals, command) = match extra.iter().position(|a| *a == "show") {
            Some(i) => (&extra[..i], &extra[i..]),
            None => (extra, &["show"][..]),
        };
        bin(&[("HUAWEICLOUD_SDK_CREDENTIALS_FILE", &file)])
            .args(globals)
            .args(command)
            .args(["--endpoint", &url, "--region", "cn-north-4", "--task-id", DEMO_TASK_ID])
            .output()
            .expect("ran")
    };
    let out = run(&["--profile", "ops"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // [basic] by default: its keys are refused.
    let out = run(&["show", "--project-id", DEMO_PROJECT_ID]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("APIGW.0301"), "{}", text(&out.stderr));
    // A profile that is not there is a usage error naming it.
    let out = run(&["--profile", "absent"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--profile") && text(&out.stderr).contains("[absent]"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn config_lists_each_setting_and_its_source_with_secrets_masked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("credentials");
    std::fs::write(&file, "[basic]\nak = HPUAEXAMPLEAK0000001\nsk = TOPSECRETKEY\n").expect("write");
    let out = bin(&[
        ("HUAWEICLOUD_SDK_CREDENTIALS_FILE", file.to_str().expect("utf-8")),
        ("HUAWEICLOUD_SDK_REGION", "cn-north-4"),
        ("HTTPS_PROXY", "http://user:proxypass@proxy.example:3128"),
    ])
    .args(["config", "--instance-id", "1a7ffc5c-d89c-44dd-8265-b1653d951ce0"])
    .output()
    .expect("ran");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    let line = |name: &str| {
        listing
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name}: {listing}"))
            .to_owned()
    };
    assert!(
        line("profile").contains("basic") && line("profile").ends_with("default"),
        "{listing}"
    );
    assert!(
        line("access_key").contains("****************0001") && line("access_key").contains("credentials file"),
        "{listing}"
    );
    assert!(line("region").ends_with("env HUAWEICLOUD_SDK_REGION"), "{listing}");
    assert!(
        line("endpoint").contains("https://iotda.cn-north-4.myhuaweicloud.com")
            && line("endpoint").contains("built-in"),
        "{listing}"
    );
    assert!(
        line("project_id").contains("found with IAM at https://iam.cn-north-4.myhuaweicloud.com"),
        "{listing}"
    );
    assert!(line("instance_id").ends_with("--instance-id"), "{listing}");
    assert!(line("proxy").contains("env HTTPS_PROXY"), "{listing}");
    for secret in ["TOPSECRETKEY", "proxypass", "HPUAEXAMPLEAK"] {
        assert!(!listing.contains(secret), "{secret} shown: {listing}");
    }
}

#[test]
fn completions_and_the_man_page_describe_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = bin(&[]).args(["completions", shell]).output().expect("ran");
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = text(&out.stdout);
        for word in ["iotda-batchtask", "stop", "task-id", "profile", "completions"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    let out = bin(&[]).args(["completions", "tcsh"]).output().expect("ran");
    assert_eq!(out.status.code(), Some(2));
    let out = bin(&[]).arg("man").output().expect("ran");
    assert_eq!(out.status.code(), Some(0));
    let page = text(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH iotda-batchtask"),
        "{page}"
    );
    assert!(page.contains("completions") && page.contains("config"), "{page}");
}

#[test]
fn verbosity_is_repeatable_and_quiet_excludes_it() {
    let emulator = emulator();
    let url = emulator.handle.base_url();
    let show = |flags: &[&str]| {
        bin(&[("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", SK)])
            .args(flags)
            .args([
                "show",
                "--endpoint",
                &url,
                "--project-id",
                DEMO_PROJECT_ID,
                "--region",
                "cn-north-4",
            ])
            .args(["--task-id", DEMO_TASK_ID])
            .output()
            .expect("ran")
    };
    let quiet = show(&["-q"]);
    assert_eq!(quiet.status.code(), Some(0));
    assert!(quiet.stderr.is_empty(), "{}", text(&quiet.stderr));
    let normal = show(&[]);
    assert_eq!(quiet.stdout, normal.stdout);
    let v = text(&show(&["-v"]).stderr);
    assert!(v.contains("iotda.request") && !v.contains("hyper"), "{v}");
    let vv = text(&show(&["-vv"]).stderr);
    assert!(vv.lines().count() > v.lines().count(), "{vv}");
    let both = show(&["-q", "-v"]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn missing_settings_are_named_by_flag_and_variable() {
    let emulator = emulator();
    let url = emulator.handle.base_url();
    let creds = [("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", SK)];
    let out = bin(&creds)
        .args(["stop", "--task-id", DEMO_TASK_ID, "--all"])
        .output()
        .expect("ran");
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--endpoint or IOTDA_ENDPOINT") && stderr.contains("--region or HUAWEICLOUD_SDK_REGION"),
        "{stderr}"
    );
    // Derived signing for a loopback endpoint needs the region.
    let out = bin(&creds)
        .args([
            "stop",
            "--endpoint",
            &url,
            "--project-id",
            DEMO_PROJECT_ID,
            "--task-id",
            DEMO_TASK_ID,
            "--all",
        ])
        .output()
        .expect("ran");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--region or HUAWEICLOUD_SDK_REGION"),
        "{}",
        text(&out.stderr)
    );
    // No project ID and no region to discover it with.
    let out = bin(&creds)
        .args([
            "stop",
            "--endpoint",
            &url,
            "--signing",
            "plain",
            "--task-id",
            DEMO_TASK_ID,
            "--all",
        ])
        .output()
        .expect("ran");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--project-id or HUAWEICLOUD_SDK_PROJECT_ID"),
        "{}",
        text(&out.stderr)
    );
    assert!(emulator.handle.journal().is_empty());
}

#[test]
fn on_an_ecs_host_credentials_come_from_metadata() {
    let emulator = start(EmulatorConfig::new().temporary_credentials(Duration::from_secs(3600)));
    let url = emulator.handle.base_url();
    let mut cmd = bin(&[
        ("HUAWEICLOUD_SDK_REGION", "cn-north-4"),
        ("HUAWEICLOUD_SDK_REGION_IOTDA_CN_NORTH_4", &url),
        ("HUAWEICLOUD_SDK_IAM_ENDPOINT", &url),
    ]);
    // After bin(): this test's metadata service, not the refusing one.
    cmd.env("IOTDA_METADATA_ENDPOINT", &url);
    let out = cmd
        .args(["stop", "--task-id", DEMO_TASK_ID, "--target", "dev-0001"])
        .output()
        .expect("ran");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stops: Vec<_> = emulator.handle.journal().stops_of(DEMO_TASK_ID).cloned().collect();
    assert_eq!(stops.len(), 1);
    match &stops[0].auth {
        iotda_batchtask_emulator::AuthMode::Signed { access_key, .. } => {
            assert!(access_key.starts_with("TMPAK"), "{access_key}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_emulator_command_serves_metadata_when_asked() {
    let out = bin(&[])
        .args(["emulator", "--metadata-credentials", "0"])
        .output()
        .expect("ran");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let help = text(&bin(&[]).args(["emulator", "--help"]).output().expect("ran").stdout);
    assert!(
        help.contains("--metadata-credentials") && help.contains("IOTDA_METADATA_ENDPOINT"),
        "{help}"
    );
}

/// `--proxy`: used for a remote https endpoint, never for a loopback one
/// (which is reached directly, so no credential passes through a proxy).
#[test]
fn the_proxy_flag_is_used_for_remote_hosts_never_for_loopback() {
    use std::sync::atomic::Ordering;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (proxy, proxied) = runtime.block_on(crate::common::counting_listener());
    let proxy = format!("http://{proxy}");
    let emulator = emulator();
    let keys = [("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", SK)];

    let url = emulator.handle.base_url();
    let direct = bin(&keys)
        .args([
            "stop",
            "--endpoint",
            &url,
            "--project-id",
            DEMO_PROJECT_ID,
            "--task-id",
            DEMO_TASK_ID,
        ])
        .args(["--region", "cn-north-4", "--target", "dev-0001", "--proxy", &proxy])
        .output()
        .expect("ran");
    assert_eq!(direct.status.code(), Some(0), "{}", text(&direct.stderr));
    assert_eq!(proxied.load(Ordering::SeqCst), 0, "loopback went through the proxy");

    // The proxy hangs up: the read fails, after going to the proxy.
    let remote = bin(&keys)
        .args(["show", "--endpoint", "https://iotda.cn-north-4.myhuaweicloud.com"])
        .args([
            "--project-id",
            DEMO_PROJECT_ID,
            "--task-id",
            DEMO_TASK_ID,
            "--proxy",
            &proxy,
            "--retries",
            "0",
        ])
        .output()
        .expect("ran");
    assert_eq!(remote.status.code(), Some(1), "{}", text(&remote.stderr));
    assert!(proxied.load(Ordering::SeqCst) >= 1, "{}", text(&remote.stderr));
    // The proxy's address is named; nothing of the credentials is.
    assert!(!text(&remote.stderr).contains(SK));
}

#[cfg(unix)]
#[test]
fn a_fifo_for_a_file_setting_is_refused_naming_it_not_waited_on() {
    let emulator = emulator();
    let url = emulator.handle.base_url();
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".huaweicloud")).expect("mkdir");
    let made = std::process::Command::new("mkfifo")
        .arg(home.join(".huaweicloud/credentials"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let fifo_text = fifo.to_str().expect("utf-8");
    let common = [
        "--endpoint",
        &url,
        "--region",
        "cn-north-4",
        "--project-id",
        DEMO_PROJECT_ID,
    ];
    // (variables, extra flags, the path the error must name)
    type Run<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>, String);
    let runs: [Run; 3] = [
        (
            vec![("HUAWEICLOUD_SDK_CREDENTIALS_FILE", fifo_text)],
            vec![],
            fifo.display().to_string(),
        ),
        (
            vec![("HOME", home.to_str().expect("utf-8"))],
            vec![],
            home.join(".huaweicloud/credentials").display().to_string(),
        ),
        (
            vec![("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", SK)],
            vec!["--ca-cert", fifo_text],
            fifo.display().to_string(),
        ),
    ];
    for (vars, extra, named) in runs {
        let out = bin(&vars)
            .timeout(Duration::from_secs(20))
            .args(["show", "--task-id", DEMO_TASK_ID, "--timeout", "1"])
            .args(common)
            .args(&extra)
            .output()
            .expect("ran");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{vars:?} {extra:?}: {stderr}");
        assert!(
            stderr.contains(&named) && stderr.contains("not a regular file"),
            "{stderr}"
        );
    }
    assert!(emulator.handle.journal().is_empty());
}

#[test]
fn a_bad_region_override_is_named_not_blamed_on_the_endpoint_flag() {
    let out = bin(&[
        ("HUAWEICLOUD_SDK_AK", AK),
        ("HUAWEICLOUD_SDK_SK", SK),
        ("HUAWEICLOUD_SDK_REGION_IOTDA_CN_NORTH_4", "ftp://iotda.example"),
    ])
    .args(["show", "--task-id", DEMO_TASK_ID, "--region", "cn-north-4"])
    .args(["--project-id", DEMO_PROJECT_ID])
    .output()
    .expect("ran");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("HUAWEICLOUD_SDK_REGION_IOTDA_CN_NORTH_4") && !stderr.contains("--endpoint"),
        "{stderr}"
    );
}

#[test]
fn settings_from_the_environment_are_not_shown_as_required_in_usage() {
    let vars = [
        ("IOTDA_ENDPOINT", "http://127.0.0.1:9"),
        ("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID),
        ("HUAWEICLOUD_SDK_REGION", "cn-north-4"),
        ("IOTDA_INSTANCE_ID", "1a7ffc5c-d89c-44dd-8265-b1653d951ce0"),
    ];
    // `list` without its required --task-type: clap prints a usage line.
    let out = bin(&vars).arg("list").output().expect("ran");
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    let usage = stderr
        .lines()
        .find(|l| l.starts_with("Usage:"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(usage.contains("--task-type"), "{usage}");
    for flag in ["--endpoint", "--project-id", "--region", "--instance-id"] {
        assert!(!usage.contains(flag), "{flag} in {usage}");
    }
    // The variables still apply, and `config` says they did.
    let out = bin(&vars).arg("config").output().expect("ran");
    let listing = text(&out.stdout);
    for (name, var) in [
        ("endpoint", "IOTDA_ENDPOINT"),
        ("project_id", "HUAWEICLOUD_SDK_PROJECT_ID"),
        ("region", "HUAWEICLOUD_SDK_REGION"),
        ("instance_id", "IOTDA_INSTANCE_ID"),
    ] {
        assert!(
            listing
                .lines()
                .any(|l| l.starts_with(&format!("{name} ")) && l.ends_with(&format!("env {var}"))),
            "{name}: {listing}"
        );
    }
}

#[test]
fn an_empty_variable_counts_as_unset() {
    let emulator = emulator();
    let url = emulator.handle.base_url();
    let out = bin(&[
        ("HUAWEICLOUD_SDK_AK", AK),
        ("HUAWEICLOUD_SDK_SK", SK),
        ("IOTDA_ENDPOINT", &url),
        ("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID),
        ("HUAWEICLOUD_SDK_REGION", "cn-north-4"),
        ("IOTDA_INSTANCE_ID", ""),
    ])
    .args(["show", "--task-id", DEMO_TASK_ID])
    .output()
    .expect("ran");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = bin(&[("IOTDA_INSTANCE_ID", ""), ("IOTDA_ENDPOINT", "")])
        .arg("config")
        .output()
        .expect("ran");
    let listing = text(&out.stdout);
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("instance_id ") && l.ends_with("not set")),
        "{listing}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("endpoint ") && l.contains("not set")),
        "{listing}"
    );
}

#[test]
fn a_metadata_address_answering_403_gives_the_full_no_credentials_error() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(404))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(403).set_body_string("Forbidden"))
            .mount(&server)
            .await;
        server
    });
    let out = bin(&[("HOME", "/nonexistent-home")])
        .env("IOTDA_METADATA_ENDPOINT", server.uri())
        .args(["show", "--task-id", DEMO_TASK_ID, "--endpoint", "http://127.0.0.1:9"])
        .args(["--region", "cn-north-4", "--project-id", DEMO_PROJECT_ID])
        .output()
        .expect("ran");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for named in [
        "HUAWEICLOUD_SDK_AK",
        "/nonexistent-home/.huaweicloud/credentials",
        "403",
    ] {
        assert!(stderr.contains(named), "{named}: {stderr}");
    }
}
