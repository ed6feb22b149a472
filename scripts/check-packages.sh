#!/usr/bin/env bash
# The packaging gate: `cargo package --workspace` builds every member from
# its .crate (the others from theirs), then each .crate must hold
# LICENSE-MIT and LICENSE-APACHE (identical to the root's) and README.md,
# and no manifest may lack repository, homepage or documentation. Every
# publishable workspace member is checked, so a new crate is covered without
# editing this script. Cost: see .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# --checks-only: check the .crate files an earlier `cargo package` left.
if [ "${1:-}" != "--checks-only" ]; then
  rm -rf target/package
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  cargo package --workspace --locked 2>&1 | tee "$log"
  if grep -E "warning: manifest has no (documentation|homepage|repository)" "$log"; then
    echo "error: a manifest lacks documentation, homepage or repository (see [workspace.package])" >&2
    exit 1
  fi
fi

# name-version of every publishable member (publish = false gives []).
members=$(cargo metadata --no-deps --format-version 1 --locked | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p.get("publish") != []:
        print(p["name"] + "-" + p["version"])
')
status=0
for member in $members; do
  crate="target/package/$member.crate"
  if [ ! -f "$crate" ]; then
    echo "error: $crate was not built" >&2
    status=1
    continue
  fi
  for file in LICENSE-MIT LICENSE-APACHE README.md; do
    if ! tar -xzOf "$crate" "$member/$file" >/dev/null 2>&1; then
      echo "error: $crate lacks $file (copy it into the crate's directory and list it in include)" >&2
      status=1
    fi
  done
  for license in LICENSE-MIT LICENSE-APACHE; do
    if tar -xzOf "$crate" "$member/$license" 2>/dev/null | cmp -s - "$license"; then :; else
      echo "error: $crate: $license differs from the root's" >&2
      status=1
    fi
  done
done
[ "$status" -eq 0 ] && echo "packages: $(echo $members | wc -w) crates, each with LICENSE-MIT, LICENSE-APACHE and README.md"
exit "$status"
