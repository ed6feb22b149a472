#!/usr/bin/env python3
"""Read a MOVING batch task on the project's IoTDA emulator with Huawei Cloud's OFFICIAL Python SDK.

The emulator gives the task a progression (sub-tasks go Waitting -> Processing -> Success or Fail
on its clock); this script reads it with ShowBatchTask until it has finished, then reads its
failed sub-tasks with the task_detail_status filter. It only reports, one JSON object per call on
stdout; the Rust test that runs it (emulator/tests/it/interop.rs,
official_python_sdk_reads_a_moving_task) judges the answers. It reuses official_sdk_stop.py's
isolation (no proxies, a throwaway HOME, no name resolution beyond loopback) and wire capture.

Needs CPython 3.11 and the pinned packages in emulator/tests/interop/requirements.txt.

Environment (all required unless a default is given)
----------------------------------------------------
  IOTDA_EMULATOR_URL     base URL of the emulator (loopback only)
  IOTDA_PROJECT_ID       project id
  IOTDA_AK, IOTDA_SK     AK/SK the emulator accepts
  IOTDA_REGION           region id (default cn-north-4)
  IOTDA_TASK_MOVING      the task that moves
  IOTDA_MAX_READS        the most ShowBatchTask reads before giving up (default 400)
  IOTDA_READ_PAUSE_MS    the pause between reads (default 20)
  IOTDA_TIMEOUT_SECONDS  connect and read timeout per call (default 15)

Output
------
stdout: one JSON object per call:
  {"case": "read" | "failed", "status": <HTTP status or null>, "request_id": "...",
   "task_status": ..., "task_progress": {...}, "details": [{"target", "status"}...]}
exit: 0 when every call returned (the test judges them), 1 when a call raised, 2 on bad inputs,
      3 when the SDK is missing.
"""

import json
import os
import shutil
import sys
import time
from urllib.parse import urlsplit

from official_sdk_stop import UsageError, WireCapture, env, install_resolver, isolate_process

FINISHED = ("Success", "Fail", "PartialSuccess", "Stopped")


class Driver:
    def __init__(self):
        self.url = env("IOTDA_EMULATOR_URL").rstrip("/")
        host = urlsplit(self.url).hostname or ""
        if not (host in ("localhost", "::1") or host.startswith("127.")):
            raise UsageError(f"IOTDA_EMULATOR_URL must point at a loopback address, got {self.url!r}")
        self.host = host
        self.project_id = env("IOTDA_PROJECT_ID")
        self.region = env("IOTDA_REGION", "cn-north-4")
        self.ak, self.sk = env("IOTDA_AK"), env("IOTDA_SK")
        self.task = env("IOTDA_TASK_MOVING")
        self.max_reads = int(env("IOTDA_MAX_READS", "400"))
        self.pause = int(env("IOTDA_READ_PAUSE_MS", "20")) / 1000.0
        self.timeout = float(env("IOTDA_TIMEOUT_SECONDS", "15"))
        self.capture = WireCapture()

    def client(self):
        from huaweicloudsdkcore.auth.credentials import BasicCredentials
        from huaweicloudsdkcore.http.http_config import HttpConfig
        from huaweicloudsdkcore.region.region import Region
        from huaweicloudsdkiotda.v5 import IoTDAClient

        config = HttpConfig.get_default_config()
        config.timeout = (self.timeout, self.timeout)
        return (IoTDAClient.new_builder()
                .with_http_config(config)
                .with_credentials(BasicCredentials(self.ak, self.sk, self.project_id))
                .with_region(Region(id=self.region, endpoint=self.url))
                .with_http_handler(self.capture.handler())
                .build())

    def read(self, client, case, **query):
        """One ShowBatchTask through the SDK, printed; returns the task's status."""
        from huaweicloudsdkiotda.v5 import ShowBatchTaskRequest

        self.capture.reset()
        response = client.show_batch_task(ShowBatchTaskRequest(task_id=self.task, **query))
        task = response.batchtask
        record = {
            "case": case,
            "status": response.status_code,
            "request_id": self.capture.request_id(),
            "task_status": task.status if task else None,
            "task_progress": task.task_progress.to_dict() if task and task.task_progress else None,
            "details": [{"target": d.target, "status": d.status} for d in (response.task_details or [])],
        }
        print(json.dumps(record, default=str), flush=True)
        return record["task_status"]

    def run(self):
        client = self.client()
        for _ in range(self.max_reads):
            if self.read(client, "read", limit=50) in FINISHED:
                break
            time.sleep(self.pause)
        self.read(client, "failed", task_detail_status="Fail", limit=50)
        return 0


def main():
    home = isolate_process()
    try:
        try:
            import huaweicloudsdkcore  # noqa: F401
            import huaweicloudsdkiotda  # noqa: F401
        except ImportError as e:
            print(f"cannot import the official SDK ({e}); install emulator/tests/interop/requirements.txt",
                  file=sys.stderr)
            return 3
        try:
            driver = Driver()
        except (UsageError, ValueError) as e:
            print(f"usage: {e} (see the top of {os.path.basename(__file__)})", file=sys.stderr)
            return 2
        install_resolver(driver.host, "instance.invalid")
        try:
            return driver.run()
        except Exception as e:  # noqa: BLE001 - reported, and the exit code says so
            print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
