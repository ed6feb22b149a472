#!/usr/bin/env python3
"""Stop batch tasks on the project's IoTDA emulator with Huawei Cloud's OFFICIAL Python SDK.

If every call below behaves as expected, the emulator's gateway-style signature verifier accepts
requests signed by Huawei's own code (huaweicloudsdkcore 3.1.219): SDK-HMAC-SHA256 and the derived
V11-HMAC-SHA256, with and without a security token and an Instance-Id header. The wrong-SK call
shows that the verifier really checks signatures. The crate's own tests run against the same
verifier, so together they show that the crate signs the way Huawei's SDK does.

Needs CPython 3.11 and the pinned packages in emulator/tests/interop/requirements.txt, nothing else.

Environment (inputs)
--------------------
Required:
  IOTDA_EMULATOR_URL     base URL of the emulator, e.g. http://127.0.0.1:18080 (scheme, host, port;
                         no path). The host must be a loopback name or address.
  IOTDA_PROJECT_ID       project id. It goes in the URL path and in X-Project-Id.
Required by the cases that use them (see IOTDA_CASES):
  IOTDA_AK, IOTDA_SK     permanent AK/SK                    (plain, derived, instance, stop_all, wrong_sk, show)
  IOTDA_SECURITY_AK, IOTDA_SECURITY_SK, IOTDA_SECURITY_TOKEN
                         temporary AK/SK and its security token        (token)
  IOTDA_INSTANCE_ID      value sent as the Instance-Id header          (instance)
  IOTDA_TASK_PLAIN       task id for case plain
  IOTDA_TASK_DERIVED     task id for case derived
  IOTDA_TASK_INSTANCE    task id for case instance
  IOTDA_TASK_TOKEN       task id for case token
  IOTDA_TASK_STOP_ALL    task id for case stop_all (body {})
  IOTDA_TASK_WRONG_SK    task id for case wrong_sk. That call sends {} (stop everything): if the
                         emulator wrongly accepted it this task would change, so the caller can
                         check that it did not.
  Use a separate task per case: a stopped task is terminal and cannot be stopped again.
  IOTDA_TARGETS_PLAIN, IOTDA_TARGETS_DERIVED, IOTDA_TARGETS_INSTANCE, IOTDA_TARGETS_TOKEN
                         comma-separated device ids to stop in that case. Each must come back
                         "success" (unless IOTDA_CHECK_TARGET_SUCCESS=0). Case plain also sends
                         IOTDA_UNKNOWN_TARGET last.
Optional:
  IOTDA_REGION           region id (default cn-north-4). Derived signing puts it in
                         Credential=<AK>/<date>/<region>/iotdm.
  IOTDA_UNKNOWN_TARGET   device id that is in no task (default nonexistent-device-0000). In case plain
                         it must come back status "failure" with error_code IOTDA.014219.
  IOTDA_INSTANCE_HOST    instance-style host name for case derived (default
                         a1b2c3d4e5.st1.iotda-app.cn-north-4.myhuaweicloud.com). The script resolves
                         it to the emulator's address itself; no DNS or /etc/hosts is involved.
  IOTDA_CASES            comma-separated subset and order of cases (default
                         plain,derived,instance,token,stop_all,wrong_sk). Add "show" to also call
                         ShowBatchTask (GET with a query string) on IOTDA_SHOW_TASKS.
  IOTDA_SHOW_TASKS       comma-separated task ids for case show (default: the stop cases' task ids).
  IOTDA_CHECK_TARGET_SUCCESS  "0" turns off the check that every named known target comes back "success".
  IOTDA_TIMEOUT_SECONDS  connect and read timeout for each call (default 15; the SDK's own default is 60/120).
  IOTDA_WIRE_LOG         file path. If set, the script appends one JSON object per request with the
                         exact headers and body the SDK sent.

Cases (all use IoTDAClient.new_builder().with_credentials(..).with_region(Region(region, endpoint)))
-----
  plain     BasicCredentials(AK, SK, project), no derived predicate -> SDK-HMAC-SHA256;
            endpoint = IOTDA_EMULATOR_URL; targets = IOTDA_TARGETS_PLAIN + IOTDA_UNKNOWN_TARGET
  derived   same credentials + DerivedCredentials.get_default_derived_predicate();
            endpoint = http://<IOTDA_INSTANCE_HOST>:<port> -> V11-HMAC-SHA256 (checked on the request)
  instance  plain credentials, request.instance_id = IOTDA_INSTANCE_ID -> Instance-Id header (signed)
  token     BasicCredentials(SECURITY_AK, SECURITY_SK, project).with_security_token(TOKEN)
            -> X-Security-Token header (signed), SDK-HMAC-SHA256
  stop_all  plain credentials, body BatchTargets() -> the SDK sends "{}"
  wrong_sk  BasicCredentials(AK, SK + "-wrong", project) -> must raise ClientRequestException,
            status 401, error_code APIGW.0301
  show      (only if listed) ShowBatchTaskRequest(task_id, limit=50, offset=0), plain credentials

Output
------
stdout: exactly one JSON object per line per call, in call order:
  {"case": "plain", "ok": true, "task_id": "...", "status": 200, "request_id": "<X-Request-Id or null>",
   "algorithm": "SDK-HMAC-SHA256", "host": "127.0.0.1:18080", "signed_headers": "content-type;host;...",
   "targets": [{"target": "...", "status": "success", "error_code": null, "error_msg": null}, ...]}
  For wrong_sk: instead of "targets", "error_code", "error_msg" and "body_request_id" (the
  gateway's request_id from the body; "request_id" is the SDK's, from the X-Request-Id header).
  For show: "task_status" and "task_details": [{"target", "status"}] instead of "targets".
  "ok" is false when the call's outcome was not the expected one; "error" then says why (so does
  stderr). A call that raised where no exception was expected has "status": null unless a response
  came back, and "response_body" with the raw body if one did.
stderr: "FAIL <case>: <reason>" for each unexpected outcome, plus the SDK's own exception text.
exit:   0 when every case behaved as expected, 1 when any did not, 2 on bad or missing inputs,
        3 when the SDK cannot be imported.
"""

import json
import os
import shutil
import socket
import sys
import tempfile
from urllib.parse import urlsplit

DEFAULT_CASES = ["plain", "derived", "instance", "token", "stop_all", "wrong_sk"]
ALL_CASES = DEFAULT_CASES + ["show"]
DEFAULT_INSTANCE_HOST = "a1b2c3d4e5.st1.iotda-app.cn-north-4.myhuaweicloud.com"
UNKNOWN_TARGET_CODE = "IOTDA.014219"


class UsageError(Exception):
    pass


def env(name, default=None, required=True):
    value = os.environ.get(name, default)
    if required and not value:
        raise UsageError(f"environment variable {name} is required")
    return value


def env_list(name):
    return [t.strip() for t in env(name).split(",") if t.strip()]


# --------------------------------------------------------------------------------------------
# Process isolation: done before the SDK is imported.
# --------------------------------------------------------------------------------------------
def isolate_process():
    """Keep the SDK away from this machine's configuration and from the network.

    - Proxies from the environment would send the instance-style host to a proxy: drop them.
    - HOME points at a throwaway directory: importing huaweicloudsdkcore.auth.credentials writes
      ~/.huaweicloud/application_id (a random UUID that the SDK appends to User-Agent), and the
      SDK would read ~/.huaweicloud/credentials if it were ever left without explicit credentials.
    - HUAWEICLOUD_SDK_* variables would otherwise be read by the SDK's credential providers.
    """
    for key in list(os.environ):
        if key.lower() in ("http_proxy", "https_proxy", "all_proxy") or key.startswith("HUAWEICLOUD_SDK_"):
            del os.environ[key]
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "*"
    home = tempfile.mkdtemp(prefix="iotda-interop-home-")
    os.environ["HOME"] = home
    return home


LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
RESOLVED = []  # (requested host, address used) for every lookup made while the script ran


def install_resolver(emulator_host, instance_host):
    """Resolve instance_host to the emulator's address inside this process only.

    urllib3 connects through socket.getaddrinfo, so wrapping it is enough for the SDK (requests)
    to open a TCP connection to the emulator while it still sends Host: <instance_host>:<port>
    and signs that. Every other name except loopback is refused, so nothing can reach the real
    Huawei Cloud endpoints (or any other address) by accident.
    """
    real_getaddrinfo = socket.getaddrinfo
    instance_host = instance_host.lower()

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        name = (name or "").lower()
        if name == instance_host:
            RESOLVED.append((name, emulator_host))
            return real_getaddrinfo(emulator_host, port, *args, **kwargs)
        if name in LOOPBACK_NAMES or name == emulator_host.lower() or name.startswith("127."):
            RESOLVED.append((name, name))
            return real_getaddrinfo(host, port, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME,
                              f"Name or service not known ({name!r} blocked by official_sdk_stop.py: "
                              "only the emulator may be contacted)")

    socket.getaddrinfo = getaddrinfo


# --------------------------------------------------------------------------------------------
# Capturing what the SDK did, through the SDK's own HttpHandler hooks.
# --------------------------------------------------------------------------------------------
class WireCapture:
    """Records the signed SdkRequest (request hook) and the PreparedRequest/Response (response hook).

    The request hook runs after the SDK's signer, just before requests sends. The response hook
    runs on every response, including errors, before the SDK raises. response.request is the
    PreparedRequest requests actually wrote to the socket (headers added by requests included,
    e.g. Accept, Accept-Encoding, Connection, Content-Length).
    """

    def __init__(self, log_path=None):
        self.log_path = log_path
        self.reset()

    def reset(self):
        self.signed = None     # dict of the signed SdkRequest's headers
        self.sent = None       # dict: method, url, headers (as sent), body
        self.response = None   # dict: status, headers, body

    def handler(self):
        from huaweicloudsdkcore.http.http_handler import HttpHandler
        return (HttpHandler()
                .add_request_handler(self._on_request)
                .add_response_handler(self._on_response))

    def _on_request(self, **kwargs):
        req = kwargs["request"]
        self.signed = {"headers": dict(req.header_params), "host": req.host, "uri": req.uri}

    def _on_response(self, **kwargs):
        resp = kwargs["response"]
        prep = resp.request
        body = prep.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.sent = {"method": prep.method, "url": prep.url, "headers": list(prep.headers.items()),
                     "body": None if body is None else body.decode("utf-8", "replace")}
        self.response = {"status": resp.status_code, "headers": dict(resp.headers),
                         "body": resp.content.decode("utf-8", "replace")}

    def header(self, name):
        if not self.signed:
            return None
        for k, v in self.signed["headers"].items():
            if k.lower() == name.lower():
                return v
        return None

    def auth_parts(self):
        """Split Authorization into (algorithm, {Access|Credential|SignedHeaders|Signature: value})."""
        auth = self.header("Authorization") or ""
        algorithm, _, rest = auth.partition(" ")
        fields = {}
        for part in rest.split(","):
            key, _, value = part.strip().partition("=")
            if key:
                fields[key] = value
        return algorithm, fields

    def request_id(self):
        if not self.response:
            return None
        headers = {k.lower(): v for k, v in self.response["headers"].items()}
        return headers.get("x-request-id")

    def log(self, case):
        if self.log_path:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"case": case, "signed": self.signed, "sent": self.sent,
                                    "response": self.response}) + "\n")


# --------------------------------------------------------------------------------------------
# The cases.
# --------------------------------------------------------------------------------------------
class CaseFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CaseFailure(msg)


class Harness:
    def __init__(self):
        self.url = env("IOTDA_EMULATOR_URL").rstrip("/")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname or not parts.port or parts.path:
            raise UsageError(f"IOTDA_EMULATOR_URL must look like http://127.0.0.1:PORT, got {self.url!r}")
        self.scheme, self.emulator_host, self.port = parts.scheme, parts.hostname, parts.port
        self.netloc = parts.netloc  # what the SDK puts in Host, e.g. 127.0.0.1:18080 or [::1]:18080
        if not (self.emulator_host in LOOPBACK_NAMES or self.emulator_host.startswith("127.")):
            raise UsageError(f"IOTDA_EMULATOR_URL must point at a loopback address, got {self.emulator_host!r}")
        self.project_id = env("IOTDA_PROJECT_ID")
        self.region = env("IOTDA_REGION", "cn-north-4")
        self.instance_host = env("IOTDA_INSTANCE_HOST", DEFAULT_INSTANCE_HOST)
        self.unknown_target = env("IOTDA_UNKNOWN_TARGET", "nonexistent-device-0000")
        self.check_success = env("IOTDA_CHECK_TARGET_SUCCESS", "1", required=False) != "0"
        self.timeout = float(env("IOTDA_TIMEOUT_SECONDS", "15"))
        self.cases = [c.strip() for c in env("IOTDA_CASES", ",".join(DEFAULT_CASES)).split(",") if c.strip()]
        unknown = [c for c in self.cases if c not in ALL_CASES]
        if unknown:
            raise UsageError(f"unknown case(s) in IOTDA_CASES: {unknown}; known: {ALL_CASES}")
        self.capture = WireCapture(env("IOTDA_WIRE_LOG", required=False))
        self.capture_ak = None  # the AK the current case signs with
        self.failed = []
        # Read every input the selected cases need before making any call.
        self.inputs = {c: getattr(self, "inputs_" + c)() for c in self.cases}

    # ---- inputs per case ----------------------------------------------------------------
    def _aksk(self):
        return env("IOTDA_AK"), env("IOTDA_SK")

    def inputs_plain(self):
        return {"task": env("IOTDA_TASK_PLAIN"), "targets": env_list("IOTDA_TARGETS_PLAIN"), "aksk": self._aksk()}

    def inputs_derived(self):
        return {"task": env("IOTDA_TASK_DERIVED"), "targets": env_list("IOTDA_TARGETS_DERIVED"), "aksk": self._aksk()}

    def inputs_instance(self):
        return {"task": env("IOTDA_TASK_INSTANCE"), "targets": env_list("IOTDA_TARGETS_INSTANCE"),
                "aksk": self._aksk(), "instance_id": env("IOTDA_INSTANCE_ID")}

    def inputs_token(self):
        return {"task": env("IOTDA_TASK_TOKEN"), "targets": env_list("IOTDA_TARGETS_TOKEN"),
                "aksk": (env("IOTDA_SECURITY_AK"), env("IOTDA_SECURITY_SK")),
                "token": env("IOTDA_SECURITY_TOKEN")}

    def inputs_stop_all(self):
        return {"task": env("IOTDA_TASK_STOP_ALL"), "aksk": self._aksk()}

    def inputs_wrong_sk(self):
        return {"task": env("IOTDA_TASK_WRONG_SK"), "aksk": self._aksk()}

    def inputs_show(self):
        tasks = os.environ.get("IOTDA_SHOW_TASKS")
        if tasks:
            ids = [t.strip() for t in tasks.split(",") if t.strip()]
        else:
            ids = [os.environ[v] for v in ("IOTDA_TASK_PLAIN", "IOTDA_TASK_DERIVED", "IOTDA_TASK_INSTANCE",
                                           "IOTDA_TASK_TOKEN", "IOTDA_TASK_STOP_ALL", "IOTDA_TASK_WRONG_SK")
                   if os.environ.get(v)]
        if not ids:
            raise UsageError("case show needs IOTDA_SHOW_TASKS or some IOTDA_TASK_* variables")
        return {"tasks": list(dict.fromkeys(ids)), "aksk": self._aksk()}

    # ---- SDK plumbing ---------------------------------------------------------------------
    def client(self, credentials, endpoint):
        from huaweicloudsdkcore.http.http_config import HttpConfig
        from huaweicloudsdkcore.region.region import Region
        from huaweicloudsdkiotda.v5 import IoTDAClient

        config = HttpConfig.get_default_config()
        config.timeout = (self.timeout, self.timeout)
        return (IoTDAClient.new_builder()
                .with_http_config(config)
                .with_credentials(credentials)
                .with_region(Region(id=self.region, endpoint=endpoint))
                .with_http_handler(self.capture.handler())
                .build())

    def stop(self, client, task_id, targets, instance_id=None):
        from huaweicloudsdkiotda.v5 import BatchTargets, StopBatchTaskRequest

        request = StopBatchTaskRequest()
        request.task_id = task_id
        if instance_id is not None:
            request.instance_id = instance_id
        request.body = BatchTargets(targets=targets) if targets is not None else BatchTargets()
        return client.stop_batch_task(request)

    def base_record(self, case, task_id):
        algorithm, fields = self.capture.auth_parts()
        return {"case": case, "ok": True, "task_id": task_id,
                "status": self.capture.response["status"] if self.capture.response else None,
                "request_id": self.capture.request_id(),
                "algorithm": algorithm or None,
                "host": self.capture.header("Host"),
                "signed_headers": fields.get("SignedHeaders")}

    @staticmethod
    def target_rows(response):
        return [{"target": t.target, "status": t.status, "error_code": t.error_code, "error_msg": t.error_msg}
                for t in (response.targets or [])]

    # ---- checks shared by the successful stop cases ----------------------------------------
    def check_wire(self, expect_algorithm, expect_host, expect_body, extra_headers=()):
        cap = self.capture
        check(cap.signed is not None and cap.sent is not None, "the SDK's request hooks never fired")
        algorithm, fields = cap.auth_parts()
        check(algorithm == expect_algorithm,
              f"Authorization algorithm is {algorithm!r}, expected {expect_algorithm!r}")
        if expect_algorithm == "V11-HMAC-SHA256":
            date = cap.header("X-Sdk-Date")[:8]
            want = f"{self.capture_ak}/{date}/{self.region}/iotdm"
            check(fields.get("Credential") == want, f"Credential is {fields.get('Credential')!r}, expected {want!r}")
        else:
            check(fields.get("Access") == self.capture_ak, f"Access is {fields.get('Access')!r}")
        check(cap.header("Host") == expect_host, f"Host header is {cap.header('Host')!r}, expected {expect_host!r}")
        sent_host = dict((k.lower(), v) for k, v in cap.sent["headers"]).get("host")
        check(sent_host == expect_host, f"Host actually sent is {sent_host!r}, expected {expect_host!r}")
        signed = fields.get("SignedHeaders", "").split(";")
        for name in ("content-type", "host", "x-project-id", "x-sdk-date", "user-agent") + tuple(extra_headers):
            check(name in signed, f"{name} is not in SignedHeaders={fields.get('SignedHeaders')!r}")
        check(cap.header("X-Project-Id") == self.project_id, f"X-Project-Id is {cap.header('X-Project-Id')!r}")
        check(cap.sent["body"] == expect_body, f"body sent was {cap.sent['body']!r}, expected {expect_body!r}")

    @staticmethod
    def check_entry_shapes(rows):
        for r in rows:
            check(bool(r["target"]), f"result entry without target: {r}")
            check(r["status"] in ("success", "failure"), f"target {r['target']!r}: status {r['status']!r}")
            if r["status"] == "failure":
                check(bool(r["error_code"]), f"target {r['target']!r} failed without error_code")

    def check_targets(self, rows, known, unknown=()):
        got = [r["target"] for r in rows]
        check(sorted(got) == sorted(list(known) + list(unknown)),
              f"response targets {got} do not match the requested {list(known) + list(unknown)}")
        self.check_entry_shapes(rows)
        for r in rows:
            if r["target"] in unknown:
                check(r["status"] == "failure" and r["error_code"] == UNKNOWN_TARGET_CODE,
                      f"unknown target {r['target']!r}: expected failure/{UNKNOWN_TARGET_CODE}, "
                      f"got {r['status']}/{r['error_code']}")
            elif self.check_success:
                check(r["status"] == "success",
                      f"target {r['target']!r}: expected success, got {r['status']}/{r['error_code']} "
                      f"({r['error_msg']})")

    # ---- running ------------------------------------------------------------------------
    def run(self):
        for case in self.cases:
            self.capture.reset()
            record = None
            try:
                record = getattr(self, "case_" + case)(self.inputs[case])
            except CaseFailure as e:
                record = self.partial_record(case, self.fail(case, str(e)))
            except Exception as e:  # an SDK exception where none was expected
                record = self.partial_record(case, self.fail(case, f"unexpected {type(e).__name__}: {e}"))
            finally:
                if case != "show":  # case show logs each of its calls itself
                    self.capture.log(case)
            if record is not None:
                for r in (record if isinstance(record, list) else [record]):
                    print(json.dumps(r), flush=True)
        return 1 if self.failed else 0

    def partial_record(self, case, error):
        rec = self.base_record(case, self.inputs.get(case, {}).get("task"))
        rec["ok"] = False
        rec["error"] = error
        if self.capture.response:
            rec["response_body"] = self.capture.response["body"]
        return rec

    def fail(self, case, reason, record=None):
        """Report an unexpected outcome on stderr (and in record, if given); returns the reason."""
        self.failed.append(case)
        print(f"FAIL {case}: {reason}", file=sys.stderr, flush=True)
        if record is not None:
            record["ok"] = False
            record["error"] = reason
        return reason

    def _success_case(self, case, inp, credentials, endpoint, algorithm, host, targets, known, unknown=(),
                      instance_id=None, extra_headers=()):
        self.capture_ak = inp["aksk"][0]
        client = self.client(credentials, endpoint)
        response = self.stop(client, inp["task"], targets, instance_id)
        rows = self.target_rows(response)
        record = self.base_record(case, inp["task"])
        record["targets"] = rows
        try:
            check(response.status_code == 200, f"HTTP status {response.status_code}, expected 200")
            body = json.dumps({"targets": targets}) if targets is not None else "{}"
            self.check_wire(algorithm, host, body, extra_headers)
            if targets is None:
                self.check_entry_shapes(rows)
            else:
                self.check_targets(rows, known, unknown)
        except CaseFailure as e:
            self.fail(case, str(e), record)
        return record

    def plain_credentials(self, aksk):
        from huaweicloudsdkcore.auth.credentials import BasicCredentials
        return BasicCredentials(aksk[0], aksk[1], self.project_id)

    def emulator_host_header(self):
        return self.netloc

    def case_plain(self, inp):
        targets = inp["targets"] + [self.unknown_target]
        return self._success_case("plain", inp, self.plain_credentials(inp["aksk"]), self.url, "SDK-HMAC-SHA256",
                                  self.emulator_host_header(), targets, inp["targets"], [self.unknown_target])

    def case_derived(self, inp):
        from huaweicloudsdkcore.auth.credentials import DerivedCredentials
        credentials = self.plain_credentials(inp["aksk"]).with_derived_predicate(
            DerivedCredentials.get_default_derived_predicate())
        host = f"{self.instance_host}:{self.port}"
        before = len(RESOLVED)
        record = self._success_case("derived", inp, credentials, f"{self.scheme}://{host}", "V11-HMAC-SHA256",
                                    host, inp["targets"], inp["targets"])
        lookups = RESOLVED[before:]
        if (self.instance_host.lower(), self.emulator_host) not in lookups:
            self.fail("derived", f"the instance host was not resolved through the local override: {lookups}", record)
        return record

    def case_instance(self, inp):
        record = self._success_case("instance", inp, self.plain_credentials(inp["aksk"]), self.url,
                                    "SDK-HMAC-SHA256", self.emulator_host_header(), inp["targets"], inp["targets"],
                                    instance_id=inp["instance_id"], extra_headers=("instance-id",))
        if self.capture.header("Instance-Id") != inp["instance_id"]:
            self.fail("instance", f"Instance-Id header is {self.capture.header('Instance-Id')!r}", record)
        return record

    def case_token(self, inp):
        credentials = self.plain_credentials(inp["aksk"]).with_security_token(inp["token"])
        record = self._success_case("token", inp, credentials, self.url, "SDK-HMAC-SHA256",
                                    self.emulator_host_header(), inp["targets"], inp["targets"],
                                    extra_headers=("x-security-token",))
        if self.capture.header("X-Security-Token") != inp["token"]:
            self.fail("token", "X-Security-Token header does not carry IOTDA_SECURITY_TOKEN", record)
        return record

    def case_stop_all(self, inp):
        record = self._success_case("stop_all", inp, self.plain_credentials(inp["aksk"]), self.url,
                                    "SDK-HMAC-SHA256", self.emulator_host_header(), None, [], [])
        return record  # which sub-tasks a {} stop lists is not documented: only entry shapes are checked

    def case_wrong_sk(self, inp):
        from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

        self.capture_ak = inp["aksk"][0]
        client = self.client(self.plain_credentials((inp["aksk"][0], inp["aksk"][1] + "-wrong")), self.url)
        try:
            response = self.stop(client, inp["task"], None)
        except ClientRequestException as e:
            record = self.base_record("wrong_sk", inp["task"])
            record.update({"status": e.status_code, "request_id": e.request_id, "error_code": e.error_code,
                           "error_msg": e.error_msg, "body_request_id": None})
            try:
                body = json.loads(self.capture.response["body"])
                record["body_request_id"] = body.get("request_id") if isinstance(body, dict) else None
            except (TypeError, ValueError):
                pass
            if e.status_code != 401 or e.error_code != "APIGW.0301":
                self.fail("wrong_sk", f"expected 401 APIGW.0301, got {e.status_code} {e.error_code}: {e.error_msg}",
                          record)
            return record
        record = self.base_record("wrong_sk", inp["task"])
        record["targets"] = self.target_rows(response)
        self.fail("wrong_sk", f"a request signed with a wrong SK was accepted (HTTP {response.status_code})", record)
        return record

    def case_show(self, inp):
        from huaweicloudsdkiotda.v5 import ShowBatchTaskRequest

        self.capture_ak = inp["aksk"][0]
        client = self.client(self.plain_credentials(inp["aksk"]), self.url)
        records = []
        for task_id in inp["tasks"]:
            self.capture.reset()
            try:
                response = client.show_batch_task(ShowBatchTaskRequest(task_id=task_id, limit=50, offset=0))
            except Exception as e:  # report this task and go on with the next one
                record = self.base_record("show", task_id)
                self.fail("show", f"task {task_id}: unexpected {type(e).__name__}: {e}", record)
            else:
                record = self.base_record("show", task_id)
                task = response.batchtask
                record["task_status"] = task.status if task else None
                record["task_details"] = [{"target": d.target, "status": d.status}
                                          for d in (response.task_details or [])]
                query = urlsplit(self.capture.sent["url"]).query
                if response.status_code != 200 or query != "limit=50&offset=0":
                    self.fail("show", f"task {task_id}: HTTP {response.status_code}, query sent {query!r}", record)
            records.append(record)
            self.capture.log("show")
        return records


def main():
    home = isolate_process()
    try:
        try:
            import huaweicloudsdkcore  # noqa: F401
            import huaweicloudsdkiotda  # noqa: F401
        except ImportError as e:
            print(f"cannot import the official SDK ({e}); install emulator/tests/interop/requirements.txt", file=sys.stderr)
            return 3
        try:
            harness = Harness()
        except (UsageError, ValueError) as e:
            print(f"usage: {e} (see the top of {os.path.basename(__file__)})", file=sys.stderr)
            return 2
        install_resolver(harness.emulator_host, harness.instance_host)
        return harness.run()
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
