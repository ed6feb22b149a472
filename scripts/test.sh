#!/usr/bin/env bash
# The whole test suite, from a fresh clone: `bash scripts/test.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
export INSTA_UPDATE=no   # a snapshot mismatch fails; review with `cargo insta review`
cargo test --all-features --locked
