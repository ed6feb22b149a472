"""Huawei's official Python SDK configured as an operator would: credentials
only from the file HUAWEICLOUD_SDK_CREDENTIALS_FILE names, the endpoint from
HUAWEICLOUD_SDK_REGION_IOTDA_<REGION>, the project ID discovered through IAM at
HUAWEICLOUD_SDK_IAM_ENDPOINT. Stops one device and prints one JSON line:
{"project_id": ..., "status": ..., "targets": [...]}.

Inputs (besides the SDK's own variables): IOTDA_REGION, IOTDA_TASK, IOTDA_TARGET.
"""

import json
import os
import sys

from huaweicloudsdkcore.auth.provider import CredentialProviderChain
from huaweicloudsdkiotda.v5 import BatchTargets, IoTDAClient, StopBatchTaskRequest
from huaweicloudsdkiotda.v5.region.iotda_region import IoTDARegion


def main():
    region = os.environ["IOTDA_REGION"]
    # The SDK's basic chain (OIDC, environment, the credentials file's
    # [basic], ECS metadata) finds them; the region's project ID is asked of
    # IAM. (Left implicit, the 3.1.219 builder's chain would read a section
    # named [basiccredentials] instead.)
    credentials = CredentialProviderChain.get_basic_credential_provider_chain().get_credentials()
    client = (
        IoTDAClient.new_builder()
        .with_credentials(credentials)
        .with_region(IoTDARegion.value_of(region))
        .build()
    )
    project_id = client._credentials.project_id
    request = StopBatchTaskRequest(task_id=os.environ["IOTDA_TASK"])
    request.body = BatchTargets(targets=[os.environ["IOTDA_TARGET"]])
    response = client.stop_batch_task(request)
    targets = [{"target": t.target, "status": t.status} for t in (response.targets or [])]
    print(json.dumps({"project_id": project_id, "status": response.status_code, "targets": targets}))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line a test can quote
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
        sys.exit(1)
