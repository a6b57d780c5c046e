"""The SageMaker Python SDK from PyPI, both majors (2.x ``sagemaker`` and 3.x
``sagemaker-core``, each in a virtual environment of its own made by `make sdk`),
unmodified, against the server `make run` starts: a pipeline registers, is refused
where the policy says, a reviewer approves, and a deployed endpoint answers what
``/api/v1/…/invocations`` answers (issue 12).

The SDK is pointed at the registry only through boto3's standard variables
(``AWS_ENDPOINT_URL_SAGEMAKER``, ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``) and an access
key: tests/sagemaker_api/sdk/pipeline.py knows nothing of the registry.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from accounts.services import token_issue
from catalog.models import ModelVersion
from tests.helpers import SAMPLE
from tests.sagemaker_api.conftest import REGION, issue_key

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
PIPELINE = Path(__file__).resolve().parent / "sdk" / "pipeline.py"
SDK_VENV = Path(os.environ.get("SDK_VENV", ROOT / ".venv-sdk"))
NOT_ALLOWED = "s3://pipeline-artifacts/churn/model.tar.gz"


@pytest.fixture(params=["v2", "v3"])
def sdk(request: Any) -> Path:
    python = SDK_VENV / request.param / "bin" / "python"
    if not (python.parent.parent / ".installed").exists():
        message = f"the SageMaker SDK {request.param} is not installed: run `make sdk`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return python


class Pipeline:
    """One user's pipeline: the SDK's python with that user's access key."""

    def __init__(self, python: Path, url: str, key: dict[str, Any], home: Path):
        self.python = python
        self.env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
            "AWS_ACCESS_KEY_ID": key["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": key["secret_access_key"],
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_SAGEMAKER": f"{url}/sagemaker",
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": f"{url}/sagemaker",
            "AWS_CONFIG_FILE": str(home / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MAX_ATTEMPTS": "1",
        }

    def run(self, step: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), str(PIPELINE), step],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def ok(self, step: str, **env: str) -> dict[str, Any]:
        done = self.run(step, **env)
        assert done.returncode == 0, done.stderr[-3000:]
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def test_a_pipeline_registers_and_a_reviewer_approves_through_the_sdk(
    sdk, web_server, contributor, reviewer, tmp_path
):
    url = web_server.url
    ci = Pipeline(sdk, url, issue_key(url, contributor), tmp_path)
    review = Pipeline(sdk, url, issue_key(url, reviewer), tmp_path)
    group = f"churn-{sdk.parent.parent.name}"

    first = ci.ok("register", SM_GROUP=group, SM_MODEL_DATA_URL=NOT_ALLOWED)

    arn = f"arn:aws:sagemaker:{REGION}:{first['arn'].split(':')[4]}"
    assert first["arn"] == f"{arn}:model-package/{group}/1"
    assert (first["version"], first["group"]) == (1, group)
    assert (first["status"], first["approval"]) == (
        "Completed",
        "PendingManualApproval",
    )
    assert first["image"].endswith("sklearn-inference:1.4")
    assert first["content_types"] == ["application/json"]
    if first["sdk"] == 3:
        assert first["group_arn"] == f"{arn}:model-package-group/{group}"
        assert first["group_status"] == "Completed"
        assert first["described_by_the_sdk"] == {
            "version": 1,
            "approval": "PendingManualApproval",
            "images": [first["image"]],
        }
    stored = ModelVersion.objects.get(group__name=group, version=1)
    assert stored.artifact_key == ""  # an S3 URL nobody allowed: recorded, not fetched
    second = ci.ok("register", SM_GROUP=group, SM_MODEL_DATA_URL=NOT_ALLOWED)
    assert second["version"] == 2

    # The registrant has no reviewer role: the SDK raises with the policy's refusal.
    refused = ci.run("approve", SM_ARN=first["arn"])
    assert refused.returncode != 0
    said = refused.stdout + refused.stderr  # 2.x logs the error on stdout
    assert "AccessDeniedException" in said
    assert "You need the reviewer role" in " ".join(said.split())
    assert ModelVersion.objects.get(pk=stored.pk).approval_status == (
        "PendingManualApproval"
    )

    approved = review.ok("approve", SM_ARN=first["arn"])

    assert approved["approval"] == "Approved"
    if approved["sdk"] == 3:
        assert approved["updated_by_the_sdk"] == "Approved"
        listed = ci.ok("list", SM_GROUP=group)
        assert listed["packages"] == [[1, "Approved"], [2, "PendingManualApproval"]]
    stored.refresh_from_db()
    assert stored.approval_status == "Approved"
    assert stored.reviews.get().comment == "metrics look right"


def test_the_sdk_invokes_a_deployed_endpoint(
    sdk, live, web_server, make_user, tmp_path
):
    caller = make_user("viewer")
    pipeline = Pipeline(
        sdk, web_server.url, issue_key(web_server.url, caller), tmp_path
    )
    _, token = token_issue(user=caller, scopes=["read", "invoke"])

    answered = pipeline.ok(
        "invoke", SM_ENDPOINT="iris-prod", SM_PAYLOAD=json.dumps({"inputs": SAMPLE})
    )

    api = requests.post(
        f"{web_server.url}/api/v1/endpoints/iris-prod/invocations",
        json={"inputs": SAMPLE},
        headers={"Authorization": f"Token {token}"},
        timeout=30,
    )
    assert api.status_code == 200, api.text
    assert answered["answer"] == api.json()
    if answered["sdk"] == 3:
        assert answered["variant"] == "AllTraffic"
