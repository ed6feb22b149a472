#!/usr/bin/env bash
# Proves the types-only build: `iotda-batchtask = { default-features = false }`
# compiles the generated types alone, with no HTTP stack in the dependency
# tree, and a downstream crate using it exchanges values with one using the
# client (tests/downstream/).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"

cargo build --no-default-features --locked
tree="$(cargo tree --no-default-features -e normal --prefix none --format '{p}' --locked | sort -u)"
for forbidden in reqwest tokio hyper hyper-util progenitor-client axum rustls; do
  if grep -q "^$forbidden v" <<<"$tree"; then
    echo "types-only build depends on $forbidden:" >&2
    cargo tree --no-default-features -e normal -i "$forbidden" >&2
    exit 1
  fi
done
direct="$(cargo tree --no-default-features -e normal --depth 1 --prefix none --format '{p}' --locked | tail -n +2 | sort -u | tr '\n' ' ')"
echo "types-only: $(wc -l <<<"$tree") crates in the normal dependency tree; direct: $direct"

# rustls on `ring` (feature rustls-ring): no aws-lc in the tree, and a client
# builds. Run alone, so no other member's features bring aws-lc back.
if cargo tree --manifest-path tests/downstream/Cargo.toml -p ring-user -e normal --prefix none --locked | grep -q '^aws-lc'; then
  echo "the rustls-ring build depends on aws-lc:" >&2
  cargo tree --manifest-path tests/downstream/Cargo.toml -p ring-user -e normal -i aws-lc-rs >&2
  exit 1
fi
CARGO_PROFILE_DEV_DEBUG=false cargo test --manifest-path tests/downstream/Cargo.toml -p ring-user --locked

# The downstream workspace has its own (default) profile; its crates are only
# compiled and run here, so skip debuginfo, which would add about 0.6 GB.
CARGO_PROFILE_DEV_DEBUG=false cargo test --manifest-path tests/downstream/Cargo.toml --locked

# The CLI without its default feature `emulator`: builds, and links no emulator.
cargo check -p iotda-batchtask-cli --no-default-features --locked
if cargo tree -p iotda-batchtask-cli --no-default-features -e normal --prefix none --locked | grep -q '^iotda-batchtask-emulator'; then
  echo "the CLI without the emulator feature still depends on the emulator" >&2
  exit 1
fi
