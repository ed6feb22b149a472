#!/usr/bin/env bash
# The whole `iotda-batchtask rollout start` of 30,000 devices in 4 waves against the emulator, its
# created tasks moving fast: wall time, peak RSS, requests per wave by operation (counted at the
# emulator), the plan file's size (issue 24, section 4). Run on demand; never in CI. The emulator is
# the CLI's own (`iotda-batchtask emulator`), started here on 127.0.0.1, a fresh one per run.
#
#   bash scripts/bench-rollout.sh [--runs N] [--no-build]
#
# The fleet: 30,000 device IDs of IoTDA's `{product_id}_{node_id}` form, 38 characters (those of
# benches/rollout_plan.rs). The emulator holds no task; every task created moves by its seed's
# default_progression: all sub-tasks dispatched at once, each running 200 ms, none failing. The run:
#   iotda-batchtask rollout start --plan FILE --task-type firmwareUpgrade --package-id ID
#     --targets-file fleet.txt --waves 1%,10%,50%,100% --interval 1 --abort-if failed>=5% --output json
# (300, 2,700, 12,000 and 15,000 devices); every wave finishes all Success, so the run ends done, exit 0.
#
# Requests: the emulator's journal (--admin, GET /__emulator/journal). A CreateBatchTask belongs to the
# wave its task name ends with (`rollout_<plan>_wave<N>`), a ShowBatchTask to the wave whose task it
# reads, a ListBatchTasks to the wave of the next create in the journal (the driver lists before it
# creates). Peak RSS: GNU time's "Maximum resident set size" (/usr/bin/time -v); without it, VmHWM read
# from /proc/PID/status every 20 ms until the process exits (a lower bound, said so in the output).
# With GNU time, also the CPU time (user + system) and what the process wrote to disk (the plan's
# saves). A wave's time runs from the previous wave's `wave_summary` (wave 1: from the launch) to its
# own, as the lines reach this script; its watch's time is the `seconds` of its `wave_summary`. The
# answers' sizes are their JSON as the journal holds it, written out compactly.
# The CLI is the release build `cargo install iotda-batchtask-cli` gives (built first unless
# --no-build). Needs: cargo, python3. Results: target/bench-rollout/runs.jsonl; a summary is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:?--runs needs a number}"; shift ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$runs" in ''|*[!0-9]*|0) echo "--runs must be a number above 0" >&2; exit 2 ;; esac

out="$PWD/target/bench-rollout"
rm -rf "$out"
mkdir -p "$out"
work="$(mktemp -d)"
emulator_pid="" stamp_pid=""
cleanup() {
  [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null || true
  [ -n "$stamp_pid" ] && kill "$stamp_pid" 2>/dev/null || true
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
WAVES=1%,10%,50%,100%

python3 - "$work/seed.json" "$work/fleet.txt" <<'EOF'
import json, sys
seed = {"tasks": [], "default_progression": {"run_for_ms": 200, "dispatch_every_ms": 0}}
json.dump(seed, open(sys.argv[1], "w"))
with open(sys.argv[2], "w") as fleet:
    fleet.writelines(f"65f1c2a7d9e84b3c2a1f0e9d_meter-{i:06}\n" for i in range(30000))
EOF

# Each line of the CLI's stdout with the time it arrived, as {"t": seconds, "line": text}.
cat >"$work/stamp.py" <<'EOF'
import json, sys, time
for line in iter(sys.stdin.readline, ""):
    print(json.dumps({"t": time.time(), "line": line.rstrip("\n")}), flush=True)
EOF


# A clean environment: the test keys only, nothing of this machine's.
home="$work/home"
mkdir -p "$home"
rollout_cmd() {
  env -i PATH="$PATH" HOME="$home" LANG=C.UTF-8 NO_PROXY='*' \
    HUAWEICLOUD_SDK_AK="$AK" HUAWEICLOUD_SDK_SK="$SK" \
    "$@" "$cli" rollout start --endpoint "$url" --project-id "$PROJECT" --region "$REGION" --signing derived \
    --plan "$work/plan.json" --task-type firmwareUpgrade --package-id 32822e5744a45ede319d2c50 \
    --targets-file "$work/fleet.txt" --waves "$WAVES" --interval 1 --abort-if 'failed>=5%' --output json
}

# Runs the rollout: its stamped stdout into $work/rollout.jsonl, its peak RSS in kB into $work/rss,
# its exit code into $work/status.
run_measured() {
  local status=0
  rm -f "$work/out.fifo"
  mkfifo "$work/out.fifo"
  python3 "$work/stamp.py" <"$work/out.fifo" >"$work/rollout.jsonl" &
  stamp_pid=$!
  if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then
    rollout_cmd /usr/bin/time -v >"$work/out.fifo" 2>"$work/time.txt" || status=$?
    sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt" >"$work/rss"
    echo "time -v" >"$work/rss-how"
    # CPU seconds (user + system) and blocks of 512 bytes written (the plan's saves).
    sed -n 's/.*\(User\|System\) time (seconds): //p' "$work/time.txt" | awk '{ s += $1 } END { print s }' >"$work/cpu"
    sed -n 's/.*File system outputs: //p' "$work/time.txt" >"$work/fs-out"
  else
    rollout_cmd >"$work/out.fifo" 2>"$work/rollout.err" &
    local pid=$! hwm=0 now
    while kill -0 "$pid" 2>/dev/null; do
      now="$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null || true)"
      [ -n "$now" ] && hwm="$now"
      sleep 0.02
    done
    wait "$pid" || status=$?
    echo "$hwm" >"$work/rss"
    echo "VmHWM sampled (a lower bound)" >"$work/rss-how"
    echo null >"$work/cpu"
    echo null >"$work/fs-out"
  fi
  wait "$stamp_pid"
  stamp_pid=""
  echo "$status" >"$work/status"
}

for run in $(seq "$runs"); do
  rm -f "$work/plan.json"
  start_emulator
  start=$(date +%s.%N)
  run_measured
  end=$(date +%s.%N)
  emulator_hwm="$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$emulator_pid/status")"
  python3 - "$url" <<'EOF' >"$work/journal.json"
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1] + "/__emulator/journal", timeout=30).read().decode())
EOF
  stop_emulator
  if [ "$(cat "$work/status")" != 0 ]; then
    cat "$work/time.txt" "$work/rollout.err" 2>/dev/null | tail -n 20 >&2 || true
    tail -n 5 "$work/rollout.jsonl" >&2
    echo "run $run: the rollout exited $(cat "$work/status"), not 0" >&2
    exit 1
  fi
  python3 - "$run" "$(cat "$work/status")" "$(cat "$work/rss")" "$(cat "$work/rss-how")" "$emulator_hwm" \
    "$start" "$end" "$work/rollout.jsonl" "$work/journal.json" "$work/plan.json" "$work/fleet.txt" \
    "$(cat "$work/cpu")" "$(cat "$work/fs-out")" >>"$out/runs.jsonl" <<'EOF'
import json, os, re, sys
(run, status, rss_kb, how, emu_kb, start, end, events_path, journal_path, plan_path,
 fleet_path, cpu_s, fs_blocks) = sys.argv[1:]
stamped = [json.loads(line) for line in open(events_path) if line.strip()]
events = [dict(json.loads(s["line"]), t=s["t"]) for s in stamped]
summary = events[-1]
assert summary["event"] == "summary", summary
assert summary["outcome"] == "done" and summary["exit_code"] == 0, summary
journal = json.load(open(journal_path))
assert len(journal) < 10000, "the journal keeps 10,000 entries; these counts would be short"
assert all(e["status"] < 400 for e in journal), [e for e in journal if e["status"] >= 400]

# Each wave's task, and its devices, from the creates.
wave_of_task, devices_of_wave = {}, {}
for e in journal:
    if e["operation"] == "CreateBatchTask":
        wave = int(re.search(r"_wave(\d+)$", e["body"]["task_name"]).group(1))
        assert wave not in devices_of_wave, f"wave {wave} created twice"
        devices_of_wave[wave] = e["body"]["targets"]
        wave_of_task[e["response_body"]["task_id"]] = wave
waves = sorted(devices_of_wave)
assert waves == [1, 2, 3, 4], waves
fleet = [line.strip() for line in open(fleet_path) if line.strip()]
sent = [d for w in waves for d in devices_of_wave[w]]
assert sent == fleet, "every device in exactly one wave's task, in input order"

# Requests per wave by operation, and the bytes of their answers' JSON (the journal keeps it parsed:
# written out again compactly, as the emulator writes it).
per_wave = {w: {} for w in waves}
answer_bytes = {w: {} for w in waves}
pending = []
def size(value):
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()) if value else 0
def add(wave, op, n, nbytes):
    per_wave[wave][op] = per_wave[wave].get(op, 0) + n
    answer_bytes[wave][op] = answer_bytes[wave].get(op, 0) + nbytes
for e in journal:
    op = e["operation"]
    if op == "ListBatchTasks":
        pending.append(size(e["response_body"]))
        continue
    if op == "CreateBatchTask":
        wave = wave_of_task[e["response_body"]["task_id"]]
        add(wave, "ListBatchTasks", len(pending), sum(pending))
        pending = []
    else:
        wave = wave_of_task[e["task_id"]]
    add(wave, op, 1, size(e["response_body"]))
assert not pending, "a listing after the last create"

wave_summaries = {e["wave"]: e for e in events if e["event"] == "wave_summary"}
creating = {e["wave"]: e for e in events if e["event"] == "creating"}
result_waves = []
previous_end = float(start)
for w in waves:
    s = wave_summaries[w]
    assert s["task_status"] == "Success" and s["exit_code"] == 0, s
    assert creating[w]["devices"] == len(devices_of_wave[w])
    result_waves.append({"wave": w, "devices": len(devices_of_wave[w]), "requests": per_wave[w],
                         "answer_kib": {op: round(n / 1024, 1) for op, n in answer_bytes[w].items()},
                         "polls": s["polls"], "watch_s": round(s["seconds"], 2),
                         "wave_s": round(s["t"] - previous_end, 2)})
    previous_end = s["t"]
ops = sorted({op for w in per_wave.values() for op in w})
result = {"run": int(run), "exit_code": int(status), "peak_rss_kib": int(rss_kb), "rss_measured_by": how,
          "cpu_s": json.loads(cpu_s), "fs_output_mib": None if fs_blocks == "null" else round(int(fs_blocks) * 512 / 2**20, 1),
          "emulator_vmhwm_kib": int(emu_kb), "wall_s": round(float(end) - float(start), 2),
          "to_first_event_s": round(events[0]["t"] - float(start), 2),
          "outside_watches_s": round(float(end) - float(start) - sum(w["seconds"] for w in wave_summaries.values()), 2),
          "requests": len(journal), "by_operation": {op: sum(w.get(op, 0) for w in per_wave.values()) for op in ops},
          "plan_bytes": os.path.getsize(plan_path), "plan_state": summary["plan_state"],
          "waves": result_waves}
print(json.dumps(result))
print(json.dumps(result), file=sys.stderr)
EOF
done

python3 - "$out/runs.jsonl" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
def spread(values, unit=""):
    return f"median {statistics.median(values)}{unit} (range {min(values)} to {max(values)}{unit})"
print(f"{len(runs)} runs, rollout start of 30,000 devices in 4 waves (1%,10%,50%,100%), --interval 1")
print("peak RSS, the rollout:", spread([r["peak_rss_kib"] for r in runs], " KiB"), f"[{runs[0]['rss_measured_by']}]")
for key in ["wall_s", "to_first_event_s", "outside_watches_s", "cpu_s", "fs_output_mib", "requests", "plan_bytes", "emulator_vmhwm_kib"]:
    values = [r[key] for r in runs if r[key] is not None]
    print(f"{key}:", spread(values) if values else "not measured (no GNU time)")
for op in sorted({op for r in runs for op in r["by_operation"]}):
    print(f"{op}, all waves:", spread([r["by_operation"].get(op, 0) for r in runs]))
for i, w in enumerate(runs[0]["waves"]):
    per = [r["waves"][i] for r in runs]
    ops = sorted({op for p in per for op in p["requests"]})
    counts = ", ".join(f"{op} {spread([p['requests'].get(op, 0) for p in per])} "
                       f"answering {spread([p['answer_kib'].get(op, 0) for p in per], ' KiB')}" for op in ops)
    print(f"wave {w['wave']} ({w['devices']} devices): {counts}; polls {spread([p['polls'] for p in per])}; "
          f"wave {spread([p['wave_s'] for p in per], ' s')}; watch {spread([p['watch_s'] for p in per], ' s')}")
print("exit codes:", sorted({r["exit_code"] for r in runs}), "plan states:", sorted({r["plan_state"] for r in runs}))
EOF
