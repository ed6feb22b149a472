//! The release archive (scripts/release-archive.sh) built from the test
//! binary: its layout, its checksum, and the name cargo-binstall looks for.

use std::path::Path;
use std::process::Command;

#[test]
fn the_release_archive_holds_the_binary_licenses_and_readme() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = tempfile::tempdir().unwrap();
    let binary = assert_cmd::cargo::cargo_bin("iotda-batchtask");
    let run = Command::new("bash")
        .arg(root.join("scripts/release-archive.sh"))
        .args([
            "--binary",
            binary.to_str().unwrap(),
            "--out-dir",
            out.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        stdout.starts_with(&format!("iotda-batchtask {}", env!("CARGO_PKG_VERSION"))),
        "{stdout}"
    );

    let host = String::from_utf8(Command::new("rustc").arg("-vV").output().unwrap().stdout).unwrap();
    let target = host.lines().find_map(|l| l.strip_prefix("host: ")).unwrap();
    // The name cargo-binstall derives from cli/Cargo.toml's pkg-url and bin-dir.
    let manifest = std::fs::read_to_string(root.join("cli/Cargo.toml")).unwrap();
    assert!(
        manifest
            .contains(r#"pkg-url = "{ repo }/releases/download/v{ version }/{ name }-{ target }{ archive-suffix }""#)
            && manifest.contains(r#"bin-dir = "{ name }-{ target }/{ bin }{ binary-ext }""#),
        "binstall metadata changed: update this test and scripts/release-archive.sh together"
    );
    let name = format!("iotda-batchtask-cli-{target}");
    let archive = out.path().join(format!("{name}.tar.gz"));
    let listing = Command::new("tar").arg("tzf").arg(&archive).output().unwrap();
    let mut files: Vec<String> = String::from_utf8(listing.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.ends_with('/'))
        .map(str::to_owned)
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["LICENSE-APACHE", "LICENSE-MIT", "README.md", "iotda-batchtask"].map(|f| format!("{name}/{f}"))
    );
    let sums = std::fs::read_to_string(out.path().join(format!("{name}.tar.gz.sha256"))).unwrap();
    assert!(sums.trim_end().ends_with(&format!("  {name}.tar.gz")), "{sums}");
}
