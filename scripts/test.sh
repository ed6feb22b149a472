#!/usr/bin/env bash
# The whole test suite, from a fresh clone: `bash scripts/test.sh`.
#
# Installs Huawei's official Python SDK (pinned, hash-checked) into
# target/interop-venv for the interop test, then runs every test, the
# interop test included.
set -euo pipefail
cd "$(dirname "$0")/.."
export INSTA_UPDATE=no   # a snapshot mismatch fails; review with `cargo insta review`
IOTDA_INTEROP_PYTHON="$(bash emulator/tests/interop/setup.sh)"
export IOTDA_INTEROP_PYTHON
cargo test --workspace --all-features --locked -- --include-ignored
