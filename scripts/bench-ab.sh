#!/usr/bin/env bash
# Same-host A/B of the crate ÷ hand-written ratios (issues 11 and 12): the compare modes of the e2e and
# bulk benches, built from BASE (a commit) and from the working tree, run alternately ROUNDS times in one
# sitting. A ratio measured on one host type and compared with one from another says nothing about the
# code (docs/performance.md, run 9); this compares code with code on the same machine and minute.
#
#   bash scripts/bench-ab.sh BASE [ROUNDS]     e.g. bash scripts/bench-ab.sh 76323fc 3
#
# BASE is exported (git archive) to ~/.cache/iotda-batchtask/bench-ab/<commit> and built there (a few
# minutes the first time; kept for the next run; outside this checkout, or Cargo would take it for a
# member of this workspace). Commits from before the workspace (run 5's, say) build their benches with
# `--features emulator`. Every server is started by the benches, on 127.0.0.1. Never in CI.
# Results: target/bench-ab/ab.md.
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:?usage: bash scripts/bench-ab.sh BASE [ROUNDS]}"
rounds="${2:-3}"
out="$PWD/target/bench-ab"
mkdir -p "$out"
commit="$(git rev-parse --short "$base^{commit}")"
tree="${XDG_CACHE_HOME:-$HOME/.cache}/iotda-batchtask/bench-ab/$commit"
if [ ! -f "$tree/Cargo.toml" ]; then
  mkdir -p "$tree"
  git archive "$commit" | tar -x -C "$tree"
fi

# Prints the e2e and bulk bench executables of the checkout in $1, built now.
benches() {
  local args=(-p iotda-batchtask)
  [ -f "$1/emulator/Cargo.toml" ] || args=(--features emulator)
  (cd "$1" && cargo bench --locked "${args[@]}" --bench e2e --bench bulk --no-run 2>&1) |
    sed -n 's/.*Executable .*(\(target[^)]*\)).*/\1/p' | sed "s|^|$1/|"
}
read -r -d '' -a base_bins < <(benches "$tree" && printf '\0') || true
read -r -d '' -a head_bins < <(benches "$PWD" && printf '\0') || true
[ "${#base_bins[@]}" = 2 ] && [ "${#head_bins[@]}" = 2 ] || { echo "could not build the benches" >&2; exit 1; }

: >"$out/lines.txt"
for round in $(seq "$rounds"); do
  for side in base head; do
    if [ "$side" = base ]; then bins=("${base_bins[@]}") dir="$tree"; else bins=("${head_bins[@]}") dir="$PWD"; fi
    for bin in "${bins[@]}"; do
      echo "=== round $round, $side: $(basename "$bin")" >&2
      (cd "$dir" && IOTDA_BENCH_COMPARE=1 IOTDA_BENCH_OUT="$out/$side" "$bin" --bench 2>&1) |
        grep -E '^(e2e|bulk) ' | sed "s/^/$side $round /" >>"$out/lines.txt"
    done
  done
done

python3 - "$out/lines.txt" "$base" "$rounds" >"$out/ab.md" <<'EOF'
import re, statistics, sys
from collections import defaultdict
runs = defaultdict(dict)  # (side, round) -> {(bench, server, way): median}
for line in open(sys.argv[1]):
    m = re.match(r'(\w+) (\d+) (e2e|bulk) +(\w+) +(\w+) +median +([\d.]+)', line)
    if m:
        side, rnd, bench, server, way, median = m.groups()
        runs[(side, int(rnd))][(bench, server, way)] = float(median)
rows = [
    ("one call, crate (derived) ÷ hand-written doing the same work", "e2e", "client_derived", "hand_same_work"),
    ("one call, crate (token) ÷ hand-written doing the same work", "e2e", "client_token", "hand_same_work"),
    ("bulk 10,000, crate ÷ hand-written signing inside the timing", "bulk", "crate_bulk", "hand_written_signing"),
    ("bulk 10,000, crate ÷ hand-written signed beforehand", "bulk", "crate_bulk", "reqwest_hand_written"),
]
print(f"Same-host A/B: base {sys.argv[2]} against the working tree, {sys.argv[3]} alternating rounds "
      "(each cell: the rounds' ratios, then their median).\n")
print("| ratio | server | base | head |")
print("|---|---|---|---|")
for label, bench, way, ref in rows:
    for server in ("emulator", "canned"):
        cells = []
        for side in ("base", "head"):
            ratios = [r[(bench, server, way)] / r[(bench, server, ref)]
                      for (s, _), r in sorted(runs.items()) if s == side and (bench, server, way) in r]
            cells.append(", ".join(f"{x:.3f}" for x in ratios) + f" → **{statistics.median(ratios):.3f}×**"
                         if ratios else "-")
        print(f"| {label} | {server} | {cells[0]} | {cells[1]} |")
EOF
cat "$out/ab.md"
