#!/usr/bin/env python3
"""Drive the batch-task family on the project's IoTDA emulator with Huawei Cloud's OFFICIAL Python SDK.

ListBatchTasks, RetryBatchTask, ConfirmBatchTask, CreateBatchTask and DeleteBatchTask, as the
official SDK (huaweicloudsdkiotda 3.1.219) builds, signs and parses them, including the refusals.
The script only reports: one JSON object per call on stdout. The Rust test that runs it
(emulator/tests/it/interop.rs) checks the answers and the emulator's state, so the expectations
live in one place. It reuses official_sdk_stop.py's isolation (no proxies, a throwaway HOME, no
name resolution beyond loopback) and its wire capture.

Needs CPython 3.11 and the pinned packages in emulator/tests/interop/requirements.txt.

Environment (inputs, all required unless a default is given)
-------------------------------------------------------------
  IOTDA_EMULATOR_URL     base URL of the emulator, e.g. http://127.0.0.1:18080 (loopback only)
  IOTDA_PROJECT_ID       project id
  IOTDA_AK, IOTDA_SK     AK/SK the emulator accepts (plain SDK-HMAC-SHA256 signing)
  IOTDA_REGION           region id (default cn-north-4)
  IOTDA_TASK_RUNNING     a Processing firmware upgrade (delete must be refused)
  IOTDA_TASK_FINISHED    a Success task (retry refused, delete accepted)
  IOTDA_TASK_CONFIRM     a need_confirm firmware upgrade whose dev-0001..dev-0010 are Waitting
  IOTDA_TASK_PARTIAL     a PartialSuccess firmware upgrade: dev-0001..06 Success, 07/08 Fail, 09/10 Stopped
  IOTDA_FILL             how many more tasks to create after case create so that the project has as
                         many running tasks as it may (the next create is refused)
  IOTDA_TIMEOUT_SECONDS  connect and read timeout per call (default 15)

Output
------
stdout: one JSON object per call, in call order:
  {"case": "...", "status": <HTTP status or null>, "request_id": "<X-Request-Id>",
   "error_code": ..., "error_msg": ...,          (when the SDK raised ClientRequestException)
   "sdk": {...},                                 (the SDK's parsed response, to_dict(), on success)
   "sent": {"method", "url", "body"}}            (what went over the wire)
exit: 0 when every call returned or raised ClientRequestException (the test judges the
      outcomes), 1 when a call raised anything else, 2 on bad inputs, 3 when the SDK is missing.
"""

import json
import os
import shutil
import sys
from urllib.parse import urlsplit

from official_sdk_stop import UsageError, WireCapture, env, install_resolver, isolate_process


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
        self.running = env("IOTDA_TASK_RUNNING")
        self.finished = env("IOTDA_TASK_FINISHED")
        self.confirm = env("IOTDA_TASK_CONFIRM")
        self.partial = env("IOTDA_TASK_PARTIAL")
        self.fill = int(env("IOTDA_FILL"))
        self.timeout = float(env("IOTDA_TIMEOUT_SECONDS", "15"))
        self.capture = WireCapture()
        self.unexpected = 0

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

    def call(self, case, fn, request):
        """Calls fn(request), prints what happened, returns the SDK response (or None)."""
        from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

        self.capture.reset()
        record = {"case": case}
        response = None
        try:
            response = fn(request)
            record["status"] = response.status_code
            record["sdk"] = response.to_dict()
        except ClientRequestException as e:
            record.update(status=e.status_code, error_code=e.error_code, error_msg=e.error_msg)
        except Exception as e:  # noqa: BLE001 - reported, and the exit code says so
            self.unexpected += 1
            record.update(status=None, unexpected=f"{type(e).__name__}: {e}")
            print(f"FAIL {case}: {type(e).__name__}: {e}", file=sys.stderr)
        record["request_id"] = self.capture.request_id()
        if self.capture.sent:
            record["sent"] = {k: self.capture.sent[k] for k in ("method", "url", "body")}
        print(json.dumps(record, default=str), flush=True)
        return response

    def run(self):
        from huaweicloudsdkiotda.v5 import (
            BatchTargets, ConfirmBatchTaskRequest, CreateBatchTask, CreateBatchTaskRequest,
            DeleteBatchTaskRequest, ListBatchTasksRequest, RetryBatchTaskRequest, TaskPolicy)

        client = self.client()
        # ListBatchTasks: two pages by marker, and a status filter.
        first = self.call("list_page1", client.list_batch_tasks,
                          ListBatchTasksRequest(task_type="firmwareUpgrade", limit=2))
        marker = first.page.marker if first is not None and first.page else None
        self.call("list_page2", client.list_batch_tasks,
                  ListBatchTasksRequest(task_type="firmwareUpgrade", limit=2, marker=marker))
        self.call("list_status", client.list_batch_tasks,
                  ListBatchTasksRequest(task_type="firmwareUpgrade", status="PartialSuccess"))
        # RetryBatchTask: named targets, then {} (the SDK sends "{}" for an empty BatchTargets),
        # then a refused retry of a Success task.
        self.call("retry_targets", client.retry_batch_task,
                  RetryBatchTaskRequest(task_id=self.partial,
                                        body=BatchTargets(targets=["dev-0007", "dev-0001", "dev-9999"])))
        self.call("retry_all", client.retry_batch_task,
                  RetryBatchTaskRequest(task_id=self.partial, body=BatchTargets()))
        self.call("retry_success_task", client.retry_batch_task,
                  RetryBatchTaskRequest(task_id=self.finished, body=BatchTargets()))
        # ConfirmBatchTask: two devices, then the rest, then a task without need_confirm.
        self.call("confirm_targets", client.confirm_batch_task,
                  ConfirmBatchTaskRequest(task_id=self.confirm, body=BatchTargets(targets=["dev-0001", "dev-0002"])))
        self.call("confirm_all", client.confirm_batch_task,
                  ConfirmBatchTaskRequest(task_id=self.confirm, body=BatchTargets()))
        self.call("confirm_not_need_confirm", client.confirm_batch_task,
                  ConfirmBatchTaskRequest(task_id=self.running, body=BatchTargets()))
        # CreateBatchTask: a need_confirm upgrade with a retry policy, then tasks up to the
        # account's limit, then one more, which is refused.
        self.call("create", client.create_batch_task, CreateBatchTaskRequest(body=CreateBatchTask(
            task_name="SdkFirmwareUpgrade", task_type="firmwareUpgrade",
            targets=["sdk-0001", "sdk-0002"], document={"package_id": "32822e5744a45ede319d2c50"},
            task_policy=TaskPolicy(retry_count=3, retry_interval=10), need_confirm=True)))
        for n in range(self.fill):
            self.call(f"create_fill_{n}", client.create_batch_task, CreateBatchTaskRequest(body=CreateBatchTask(
                task_name=f"SdkFill_{n}", task_type="softwareUpgrade", targets=["sdk-0001"])))
        self.call("create_over_limit", client.create_batch_task, CreateBatchTaskRequest(body=CreateBatchTask(
            task_name="SdkOneTooMany", task_type="firmwareUpgrade", targets=["sdk-0001"])))
        self.call("create_invalid", client.create_batch_task, CreateBatchTaskRequest(body=CreateBatchTask(
            task_name="bad name", task_type="firmwareUpgrade", targets=["sdk-0001"])))
        # DeleteBatchTask: a running task is refused, a finished one goes, a second delete is 404.
        self.call("delete_running", client.delete_batch_task, DeleteBatchTaskRequest(task_id=self.running))
        self.call("delete_finished", client.delete_batch_task, DeleteBatchTaskRequest(task_id=self.finished))
        self.call("delete_again", client.delete_batch_task, DeleteBatchTaskRequest(task_id=self.finished))
        return 1 if self.unexpected else 0


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
        # Only loopback names resolve; no instance-style host is used here.
        install_resolver(driver.host, "instance.invalid")
        return driver.run()
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
