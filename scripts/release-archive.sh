#!/usr/bin/env bash
# Builds the CLI's release archive for this machine's target, as the release
# carries it (cargo-dist layout, [workspace.metadata.dist] in Cargo.toml):
#   target/distrib/iotda-batchtask-cli-<target>.tar.gz, holding
#     iotda-batchtask-cli-<target>/{iotda-batchtask, LICENSE-MIT, LICENSE-APACHE, README.md}
#   target/distrib/iotda-batchtask-cli-<target>.tar.gz.sha256 (`sha256sum -c` checks it)
# then unpacks it into a scratch directory, checks the checksum and runs the
# binary's --version. Nothing is uploaded anywhere.
#
#   bash scripts/release-archive.sh                    # cargo build --profile dist (minutes: thin LTO)
#   bash scripts/release-archive.sh --binary PATH      # package a binary already built (about 1 s)
#   ... --out-dir DIR                                  # instead of target/distrib
set -euo pipefail
cd "$(dirname "$0")/.."

binary=""
out_dir="target/distrib"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --out-dir) out_dir="$2"; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--out-dir DIR]" >&2; exit 2 ;;
  esac
done

target=$(rustc -vV | sed -n 's/^host: //p')
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
if [ -z "$binary" ]; then
  cargo build -p iotda-batchtask-cli --profile dist --locked
  binary="target/dist/iotda-batchtask"
fi
[ -x "$binary" ] || { echo "error: no executable at $binary" >&2; exit 1; }

name="iotda-batchtask-cli-$target"
mkdir -p "$out_dir"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
cp "$binary" "$stage/$name/iotda-batchtask"
cp LICENSE-MIT LICENSE-APACHE "$stage/$name/"
cp cli/README.md "$stage/$name/README.md"
archive="$out_dir/$name.tar.gz"
tar -C "$stage" -czf "$archive" "$name"
(cd "$out_dir" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")

# Prove it: the checksum verifies, and the unpacked binary runs.
(cd "$out_dir" && sha256sum -c --quiet "$name.tar.gz.sha256")
mkdir "$stage/check"
tar -C "$stage/check" -xzf "$archive"
"$stage/check/$name/iotda-batchtask" --version
echo "built $archive (v$version, $(du -h "$archive" | cut -f1)) and $archive.sha256"
