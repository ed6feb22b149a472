//! What a stranger reads against what the command does: the crates'
//! READMEs against the real `--help`, the man pages, the emulator's own
//! exit codes, docs quoting real messages, and validation in words.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("iotda-batchtask")
        .unwrap()
        .env_clear()
        .timeout(Duration::from_secs(60))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(args: &[&str]) -> String {
    let out = run(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

/// The names under `Commands:` in a help text (without `help`).
fn commands(help: &str) -> Vec<String> {
    help.split("Commands:\n")
        .nth(1)
        .expect("a Commands section")
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// The codes of the `Exit codes:` table at the end of a help text.
fn exit_codes(help: &str) -> Vec<String> {
    help.split("Exit codes:\n")
        .nth(1)
        .expect("an exit-code table")
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The long options of a help text (`--listen`, ...), without --help.
fn long_options(help: &str) -> Vec<String> {
    help.lines()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("--")))
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()).to_owned())
        .filter(|o| o != "--help")
        .collect()
}

#[test]
fn the_cli_readme_covers_every_command_and_exit_code() {
    let help = stdout(&["--help"]);
    let readme = read("cli/README.md");
    let names = commands(&help);
    assert!(names.len() >= 12, "{names:?}");
    for name in names {
        assert!(
            readme.contains(&format!("iotda-batchtask {name} ")),
            "cli/README.md lacks `{name}`"
        );
    }
    let (_, readme_codes) = readme.split_once("Exit codes:").expect("cli/README.md has exit codes");
    for code in exit_codes(&help) {
        assert!(
            readme_codes.contains(&format!(" {code} ")),
            "cli/README.md lacks exit code {code}"
        );
    }
}

#[test]
fn the_emulator_has_its_own_exit_codes_and_no_client_options() {
    let help = stdout(&["emulator", "--help"]);
    assert_eq!(exit_codes(&help), ["0", "1", "2"], "{help}");
    assert!(help.trim_end().ends_with("nothing was served"), "{help}");
    assert!(!help.contains("--profile"), "{help}");
    let readme = read("emulator/README.md");
    for option in long_options(&help)
        .iter()
        .filter(|o| !["--quiet", "--verbose"].contains(&o.as_str()))
    {
        assert!(readme.contains(option.as_str()), "emulator/README.md lacks {option}");
    }
    let (_, readme_codes) = readme
        .split_once("Exit codes:")
        .expect("emulator/README.md has exit codes");
    for code in ["0 clean stop", "1 cannot serve", "2 bad seed"] {
        assert!(readme_codes.contains(code), "emulator/README.md lacks {code}");
    }
    // --profile is refused, not silently ignored.
    assert_eq!(run(&["emulator", "--profile", "x"]).status.code(), Some(2));
}

/// Every workspace member's package README: links that work from
/// crates.io, where the repository's other files are not.
#[test]
fn packaged_readmes_link_only_absolutely() {
    let manifest = read("Cargo.toml");
    let members = manifest
        .split("members = [")
        .nth(1)
        .and_then(|m| m.split(']').next())
        .expect("workspace members");
    let dirs = std::iter::once(".".to_owned()).chain(
        members
            .split(',')
            .map(|m| m.trim().trim_matches('"').to_owned())
            .filter(|m| !m.is_empty()),
    );
    for dir in dirs {
        let path = format!("{dir}/README.md");
        let text = read(&path);
        let targets = text
            .split("](")
            .skip(1)
            .map(|rest| rest.split(')').next().unwrap_or_default())
            .chain(
                text.lines()
                    .filter_map(|l| l.strip_prefix('[')?.split_once("]: ").map(|(_, t)| t)),
            );
        for target in targets {
            assert!(
                target.starts_with("https://") || target.starts_with('#'),
                "{path}: a link that breaks on crates.io: {target}"
            );
        }
    }
}

#[test]
fn every_command_has_a_complete_man_page() {
    let stop = stdout(&["man", "stop"]);
    assert!(stop.contains(".TH iotda-batchtask-stop 1"), "{stop}");
    assert!(stop.contains("\\-\\-targets\\-file"), "{stop}");
    let dir = tempfile::tempdir().unwrap();
    let written = stdout(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(written.starts_with("wrote "), "{written}");
    let help = stdout(&["--help"]);
    for name in std::iter::once("iotda-batchtask".to_owned())
        .chain(commands(&help).iter().map(|c| format!("iotda-batchtask-{c}")))
    {
        let page = std::fs::read_to_string(dir.path().join(format!("{name}.1"))).unwrap();
        assert!(page.contains(".SH \"EXIT STATUS\"\n.TP\n"), "{name}: {page}");
    }
    assert_eq!(run(&["man", "nonesuch"]).status.code(), Some(2));
}

#[test]
fn docs_quote_the_seed_error_the_emulator_prints() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        r#"{"tasks": [{"project_id": "0123456789abcdef0123456789abcdef", "task_id": "61a5f4cbd86b7a1d1c2f3e4a",
            "task_type": "firmwareUpgrade", "status": "Processing", "subtasks": {"dev-0001": "Runing"}}]}"#,
    )
    .unwrap();
    let out = run(&["emulator", "--seed", seed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let message = stderr
        .trim()
        .strip_prefix("error: ")
        .unwrap()
        .replace(seed.to_str().unwrap(), "seed.json");
    let docs = read("docs/emulator.md").replace('\n', " ");
    assert!(
        docs.contains(&format!("`{message}`")),
        "docs/emulator.md does not quote: {message}"
    );
}

#[test]
fn a_bad_task_name_is_said_in_words_and_names_the_flag() {
    let create = |extra: &[&str]| {
        let out = Command::cargo_bin("iotda-batchtask")
            .unwrap()
            .env_clear()
            .timeout(Duration::from_secs(60))
            .env("IOTDA_ENDPOINT", "http://127.0.0.1:9")
            .env("HUAWEICLOUD_SDK_PROJECT_ID", "0123456789abcdef0123456789abcdef")
            .env("IOTDA_AUTH_TOKEN", "token")
            .args([
                "create",
                "--name",
                "fw v2!",
                "--task-type",
                "firmwareUpgrade",
                "--target",
                "dev-1",
            ])
            .args(["--package-id", "p1", "--dry-run"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8(out.stderr).unwrap()
    };
    let stderr = create(&[]);
    assert_eq!(
        stderr.trim(),
        "error: invalid --name: must be letters, digits, `_` and Chinese characters, at most 128"
    );
    let verbose = create(&["-v"]);
    assert!(verbose.contains("(the spec's pattern: ^["), "{verbose}");
}
