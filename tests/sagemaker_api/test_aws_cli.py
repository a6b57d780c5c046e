"""The AWS CLI from PyPI (`awscli`), unmodified, against the server `make run` starts:
`--endpoint-url` and an access key are all it takes (issue 12)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.sagemaker_api.conftest import REGION, issue_key

pytestmark = pytest.mark.django_db(transaction=True)
AWS = str(Path(sys.executable).parent / "aws")


def aws(
    url: str, key: dict[str, Any], tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": key["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": key["secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_MAX_ATTEMPTS": "1",
    }
    return subprocess.run(
        [AWS, "sagemaker", *args, "--endpoint-url", f"{url}/sagemaker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else {}


def test_the_aws_cli_registers_lists_approves_and_describes(
    web_server, contributor, reviewer, tmp_path
):
    url = web_server.url
    mine, theirs = issue_key(url, contributor), issue_key(url, reviewer)

    group = ok(
        aws(
            url,
            mine,
            tmp_path,
            "create-model-package-group",
            "--model-package-group-name",
            "cli-iris",
            "--model-package-group-description",
            "registered from the AWS CLI",
        )
    )
    package = ok(
        aws(
            url,
            mine,
            tmp_path,
            "create-model-package",
            "--model-package-group-name",
            "cli-iris",
            "--model-package-description",
            "first",
            "--customer-metadata-properties",
            "team=risk",
        )
    )
    listed = ok(
        aws(
            url,
            mine,
            tmp_path,
            "list-model-packages",
            "--model-package-group-name",
            "cli-iris",
        )
    )
    ok(
        aws(
            url,
            theirs,
            tmp_path,
            "update-model-package",
            "--model-package-arn",
            package["ModelPackageArn"],
            "--model-approval-status",
            "Approved",
            "--approval-description",
            "looks good",
        )
    )
    described = ok(
        aws(
            url,
            mine,
            tmp_path,
            "describe-model-package",
            "--model-package-name",
            package["ModelPackageArn"],
        )
    )

    assert group["ModelPackageGroupArn"].endswith(":model-package-group/cli-iris")
    assert package["ModelPackageArn"].endswith(":model-package/cli-iris/1")
    (summary,) = listed["ModelPackageSummaryList"]
    assert summary["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "looks good"
    assert described["CustomerMetadataProperties"] == {"team": "risk"}
    assert described["ModelPackageVersion"] == 1


def test_the_aws_cli_gets_clear_errors(web_server, contributor, tmp_path):
    url = web_server.url
    key = issue_key(url, contributor)

    unsupported = aws(url, key, tmp_path, "list-training-jobs")
    invalid = aws(
        url,
        key,
        tmp_path,
        "create-model-package-group",
        "--model-package-group-name",
        "not a valid name!",
    )
    stranger = aws(
        url,
        {"access_key_id": "AKIAUNKNOWN000000000", "secret_access_key": "x" * 40},
        tmp_path,
        "list-model-package-groups",
    )

    assert unsupported.returncode != 0
    assert "ListTrainingJobs" in unsupported.stderr
    assert invalid.returncode != 0
    assert "ValidationException" in invalid.stderr
    assert stranger.returncode != 0
    assert "UnrecognizedClientException" in stranger.stderr
