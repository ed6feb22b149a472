#!/usr/bin/env bash
# Peak RSS of `iotda-batchtask watch --stuck-after` over a 30,000-sub-task task, and the requests it
# made, counted at the emulator (issue 23, section 4). Run on demand; never in CI. The emulator is
# the CLI's own (`iotda-batchtask emulator`), started here on 127.0.0.1, a fresh one per run.
#
#   bash scripts/bench-watch-rss.sh [--runs N] [--no-build]
#
# The task: 30,000 devices, all dispatched when the emulator starts (its clock is real time), each
# running 2 s; 2% fail and 20% hang (stay Processing for ever). The watch:
#   iotda-batchtask watch --stuck-after 5 --interval 0.5 --watch-timeout 120 --output json
# walks the Processing sub-tasks (at most 20 pages of 50 per poll, going on from its marker at the
# next poll), stops each hanging device once it has seen it Processing for 5 s, and ends when the
# task does: Stopped, exit 3, once the last stop leaves nothing running.
#
# For comparison, each run also measures the same watch without --stuck-after (one read per poll),
# ended by --watch-timeout 5 (exit 6), against a fresh emulator.
#
# Peak RSS: GNU time's "Maximum resident set size" (/usr/bin/time -v); without it, VmHWM read from
# /proc/PID/status every 20 ms until the process exits (a lower bound, said so in the output).
# Requests: the emulator's journal (--admin, GET /__emulator/journal). The CLI is the release
# build `cargo install iotda-batchtask-cli` gives (built first unless --no-build).
# Needs: cargo, python3. Results: target/bench-watch-rss/runs.jsonl; a summary is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:?--runs needs a number}"; shift ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$runs" in ''|*[!0-9]*|0) echo "--runs must be a number above 0" >&2; exit 2 ;; esac

out="$PWD/target/bench-watch-rss"
rm -rf "$out"
mkdir -p "$out"
work="$(mktemp -d)"
emulator_pid=""
cleanup() {
  [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null || true
  [ -n "${KEEP_WORK:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

if [ "$build" = 1 ]; then
  cargo build --release --locked -p iotda-batchtask-cli --bin iotda-batchtask >&2
fi
cli="$PWD/target/release/iotda-batchtask"
[ -x "$cli" ] || { echo "no $cli: build it (drop --no-build)" >&2; exit 2; }

# The fixtures, start_emulator and stop_emulator.
# shellcheck source=scripts/bench/emulator.sh
source scripts/bench/emulator.sh
TASK=61a5f4cbd86b7a1d1c2f3e4a

python3 - "$work/seed.json" <<'EOF'
import json, sys
subtasks = {f"dev-{i:05d}": "Waitting" for i in range(30000)}
task = {"project_id": "0123456789abcdef0123456789abcdef", "task_id": "61a5f4cbd86b7a1d1c2f3e4a",
        "task_type": "firmwareUpgrade", "status": "Processing", "subtasks": subtasks,
        "progression": {"run_for_ms": 2000, "dispatch_every_ms": 0,
                        "fail": {"percent": 2, "seed": 1}, "hang": {"percent": 20, "seed": 2}}}
json.dump({"tasks": [task]}, open(sys.argv[1], "w"))
EOF


# A clean environment: the test keys only, nothing of this machine's.
home="$work/home"
mkdir -p "$home"
# $watch_flags: --stuck-after 5 --watch-timeout 120, or (the baseline) --watch-timeout 5.
watch_cmd() {
  # shellcheck disable=SC2086 # watch_flags is a list of words on purpose
  env -i PATH="$PATH" HOME="$home" LANG=C.UTF-8 NO_PROXY='*' \
    HUAWEICLOUD_SDK_AK="$AK" HUAWEICLOUD_SDK_SK="$SK" \
    "$@" "$cli" watch --endpoint "$url" --project-id "$PROJECT" --region "$REGION" --signing derived \
    --task-id "$TASK" --interval 0.5 --output json $watch_flags
}

# Peak RSS in kB of a command's process, into $work/rss and its exit code into $work/status.
run_measured() {
  local status=0
  if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then
    watch_cmd /usr/bin/time -v >"$work/watch.jsonl" 2>"$work/time.txt" || status=$?
    sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt" >"$work/rss"
    echo "time -v" >"$work/rss-how"
  else
    watch_cmd >"$work/watch.jsonl" 2>"$work/watch.err" &
    local pid=$! hwm=0 now
    while kill -0 "$pid" 2>/dev/null; do
      now="$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null || true)"
      [ -n "$now" ] && hwm="$now"
      sleep 0.02
    done
    wait "$pid" || status=$?
    echo "$hwm" >"$work/rss"
    echo "VmHWM sampled (a lower bound)" >"$work/rss-how"
  fi
  echo "$status" >"$work/status"
}

for run in $(seq "$runs"); do
  # The baseline: no walk of Processing sub-tasks, ended by the watch timeout.
  start_emulator
  watch_flags="--watch-timeout 5"
  run_measured
  stop_emulator
  [ "$(cat "$work/status")" = 6 ] || { cat "$work/watch.jsonl" >&2; echo "the baseline watch did not time out" >&2; exit 1; }
  baseline_kb="$(cat "$work/rss")"

  start_emulator
  watch_flags="--stuck-after 5 --watch-timeout 120"
  start=$(date +%s.%N)
  run_measured
  end=$(date +%s.%N)
  emulator_hwm="$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$emulator_pid/status")"
  python3 - "$url" <<'EOF' >"$work/journal.json"
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1] + "/__emulator/journal", timeout=30).read().decode())
EOF
  stop_emulator
  python3 - "$run" "$(cat "$work/status")" "$(cat "$work/rss")" "$(cat "$work/rss-how")" "$emulator_hwm" \
    "$start" "$end" "$work/watch.jsonl" "$work/journal.json" "$baseline_kb" >>"$out/runs.jsonl" <<'EOF'
import json, sys
run, status, rss_kb, how, emu_kb, start, end, events_path, journal_path, baseline_kb = sys.argv[1:]
events = [json.loads(line) for line in open(events_path) if line.strip()]
summary = events[-1]
assert summary["event"] == "summary", summary
journal = json.load(open(journal_path))
reads = sum(1 for e in journal if e["operation"] == "ShowBatchTask")
stops = sum(1 for e in journal if e["operation"] == "StopBatchTask")
stuck = sum(len(e["devices"]) for e in events if e["event"] == "stuck")
polls = summary["polls"]
assert len(journal) < 10000, "the journal keeps 10,000 entries; these counts would be short"
# Each poll's requests: from its read (the request ID of its progress event) to the next poll's.
ids = [e["request_id"] for e in journal]
progress = [e for e in events if e["event"] == "progress"]
starts = [ids.index(p["request_id"]) for p in progress]
ends = starts[1:] + [len(journal)]
per_poll = [sum(1 for e in journal[s:t] if e["operation"] == "ShowBatchTask") for s, t in zip(starts, ends)]
bound_held = all(n <= min(20, 1 + (p["task_progress"].get("processing") or 0) // 50)
                 for n, p in zip(per_poll, progress))
result = {"run": int(run), "exit_code": int(status), "peak_rss_kib": int(rss_kb), "rss_measured_by": how,
          "baseline_peak_rss_kib": int(baseline_kb), "max_show_requests_per_poll": max(per_poll),
          "reads_within_bound_every_poll": bound_held,
          "emulator_vmhwm_kib": int(emu_kb), "wall_s": round(float(end) - float(start), 2), "polls": polls,
          "requests": len(journal), "show_requests": reads, "stop_requests": stops,
          "requests_per_poll": round(len(journal) / polls, 2), "stuck_devices_stopped": stuck,
          "task_status": summary.get("task_status"), "outcome": summary.get("outcome")}
print(json.dumps(result))
print(json.dumps(result), file=sys.stderr)
EOF
done

python3 - "$out/runs.jsonl" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
def line(key, unit=""):
    values = [r[key] for r in runs]
    return f"{key}: median {statistics.median(values)}{unit} (range {min(values)} to {max(values)}{unit})"
print(f"{len(runs)} runs, watch of a 30,000-sub-task task with --stuck-after 5 (20% hang); "
      "the baseline: the same watch without --stuck-after, 5 s")
print(line("peak_rss_kib", " KiB"), f"[{runs[0]['rss_measured_by']}]")
for key in ["baseline_peak_rss_kib", "wall_s", "polls", "requests", "show_requests", "stop_requests",
            "requests_per_poll", "max_show_requests_per_poll", "stuck_devices_stopped", "emulator_vmhwm_kib"]:
    print(line(key))
print("ShowBatchTask per poll <= min(20, 1 + Processing/50) at every poll of every run:",
      all(r["reads_within_bound_every_poll"] for r in runs))
print("exit codes:", sorted({r["exit_code"] for r in runs}), "task status:", sorted({str(r["task_status"]) for r in runs}))
EOF
