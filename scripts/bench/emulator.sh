# Sourced by the scripts that drive the CLI against its own emulator
# (bench-watch-rss.sh, bench-rollout.sh): the fixtures of
# benches/common/mod.rs, and starting and stopping `iotda-batchtask
# emulator` over "$work/seed.json" with the release CLI "$cli".

PROJECT=0123456789abcdef0123456789abcdef
AK=HPUAEXAMPLEAK0000001 SK=ExampleSecretKeyDoNotUse0000000000000000 REGION=cn-north-4

# Starts the emulator over the seed; sets $url and $emulator_pid.
start_emulator() {
  local log="$work/emulator.log"
  "$cli" emulator --listen 127.0.0.1:0 --seed "$work/seed.json" --ak "$AK" --sk "$SK" --region "$REGION" \
    --admin >"$log" 2>&1 &
  emulator_pid=$!
  for _ in $(seq 400); do
    url="$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$log" | head -n1)"
    [ -n "$url" ] && return 0
    sleep 0.05
  done
  cat "$log" >&2
  echo "the emulator did not start" >&2
  exit 1
}
stop_emulator() { kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; emulator_pid=""; }
