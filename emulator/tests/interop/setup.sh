#!/usr/bin/env bash
# Create (or reuse) a virtualenv with Huawei's official Python SDK, installed from the hashed pins.
#   bash emulator/tests/interop/setup.sh [VENV_DIR]      (default: target/interop-venv)
# Prints the venv's python path on stdout; everything else goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-$here/../../../target/interop-venv}"
python="${PYTHON:-python3}"
if ! "$venv/bin/python" -c 'import huaweicloudsdkiotda, huaweicloudsdkcore' 2>/dev/null \
   || ! cmp -s "$here/requirements.txt" "$venv/.requirements.txt"; then
  "$python" -m venv --clear "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
    --require-hashes -r "$here/requirements.txt" >&2
  cp "$here/requirements.txt" "$venv/.requirements.txt"
fi
echo "$venv/bin/python"
