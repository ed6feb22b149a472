#!/usr/bin/env python3
"""Time Huawei Cloud's OFFICIAL Python SDK (huaweicloudsdkiotda) doing the benchmark's stop call.

Used by scripts/bench-compare.sh and benches/e2e.rs; needs the pinned SDK from
emulator/tests/interop/requirements.txt (bash emulator/tests/interop/setup.sh prints a Python that has it).

  python_sdk_stop.py percall [--warmup W] [--calls N]
      Builds one client, makes W untimed calls, then N sequential timed calls (building the
      request and calling client.stop_batch_task, as a user would). Prints one JSON object:
      {"calls", "median_us", "p10_us", "p90_us", "mean_us"}.
  python_sdk_stop.py serve [--warmup W]
      Builds one client, makes W untimed calls, then reads lines from stdin: a number N makes N
      sequential timed calls and prints their times (µs) as one JSON list; "quit" or EOF ends. Lets
      a caller interleave blocks of SDK calls with blocks of its own (benches/e2e.rs does).
  python_sdk_stop.py once
      One call, as a whole process does it (imports, client, call). Exit 0 on HTTP 200.

The call: StopBatchTask of IOTDA_TARGETS (comma-separated) in IOTDA_TASK, with Instance-Id
IOTDA_INSTANCE_ID, derived AK/SK signing (V11-HMAC-SHA256, the SDK's default derived predicate,
which chooses derived for a loopback host), against IOTDA_EMULATOR_URL (must be loopback), project
IOTDA_PROJECT_ID, keys IOTDA_AK/IOTDA_SK, region IOTDA_REGION. The same call the crate's client and
`iotda-batchtask stop --signing derived` make in the comparison.

Environment hygiene, as in emulator/tests/interop/official_sdk_stop.py: proxies and HUAWEICLOUD_SDK_*
variables are dropped and HOME points at a throwaway directory before the SDK is imported (importing
it writes ~/.huaweicloud/application_id), so the SDK reads nothing from this machine and can reach
nothing but the loopback emulator.
"""

import json
import os
import shutil
import statistics
import sys
import time
from urllib.parse import urlsplit

# One definition of the SDK's environment hygiene: the interop script's.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "emulator", "tests", "interop"))
from official_sdk_stop import isolate_process  # noqa: E402


def env(name, default=None):
    value = os.environ.get(name, default)
    if not value:
        raise SystemExit(f"usage: environment variable {name} is required (see {os.path.basename(__file__)})")
    return value


def make_call():
    """Returns call(), which performs one stop and returns the response."""
    url = env("IOTDA_EMULATOR_URL").rstrip("/")
    host = urlsplit(url).hostname or ""
    if not (host in ("localhost", "::1") or host.startswith("127.")):
        raise SystemExit(f"IOTDA_EMULATOR_URL must point at a loopback address, got {host!r}")
    project_id, region = env("IOTDA_PROJECT_ID"), env("IOTDA_REGION", "cn-north-4")
    task_id, instance_id = env("IOTDA_TASK"), env("IOTDA_INSTANCE_ID")
    targets = [t.strip() for t in env("IOTDA_TARGETS").split(",") if t.strip()]

    from huaweicloudsdkcore.auth.credentials import BasicCredentials, DerivedCredentials
    from huaweicloudsdkcore.region.region import Region
    from huaweicloudsdkiotda.v5 import BatchTargets, IoTDAClient, StopBatchTaskRequest

    credentials = BasicCredentials(env("IOTDA_AK"), env("IOTDA_SK"), project_id).with_derived_predicate(
        DerivedCredentials.get_default_derived_predicate())
    client = (IoTDAClient.new_builder()
              .with_credentials(credentials)
              .with_region(Region(id=region, endpoint=url))
              .build())

    def call():
        request = StopBatchTaskRequest(task_id=task_id, instance_id=instance_id,
                                       body=BatchTargets(targets=list(targets)))
        response = client.stop_batch_task(request)
        if response.status_code != 200 or len(response.targets or []) != len(targets):
            raise SystemExit(f"unexpected answer: HTTP {response.status_code}, {response}")
        return response

    return call


def main(argv):
    mode = argv[1] if len(argv) > 1 else ""
    opts = dict(zip(argv[2::2], argv[3::2]))
    home = isolate_process()
    try:
        call = make_call()
        if mode == "once":
            call()
            return 0
        if mode not in ("percall", "serve"):
            raise SystemExit("usage: python_sdk_stop.py percall [--warmup W] [--calls N] | serve [--warmup W] | once")
        for _ in range(int(opts.get("--warmup", "30"))):
            call()
        if mode == "serve":
            print("ready", flush=True)
            for line in sys.stdin:
                if line.strip() in ("", "quit"):
                    break
                times = []
                for _ in range(int(line)):
                    start = time.perf_counter_ns()
                    call()
                    times.append((time.perf_counter_ns() - start) / 1000.0)
                print(json.dumps(times), flush=True)
            return 0
        times = []
        for _ in range(int(opts.get("--calls", "300"))):
            start = time.perf_counter_ns()
            call()
            times.append((time.perf_counter_ns() - start) / 1000.0)
        deciles = statistics.quantiles(times, n=10)
        print(json.dumps({"calls": len(times), "median_us": statistics.median(times), "p10_us": deciles[0],
                          "p90_us": deciles[-1], "mean_us": statistics.fmean(times)}))
        return 0
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
