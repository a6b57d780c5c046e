"""A training pipeline's steps written with the SageMaker Python SDK, as a user writes
them for Amazon SageMaker. Run by tests/sagemaker_api/test_sdk.py with the python of
an SDK's own virtual environment (2.x or 3.x, `make sdk`), never with the registry's.

The registry is reached the way boto3 documents for any client: the environment
variables ``AWS_ENDPOINT_URL_SAGEMAKER`` and ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``
(plus the key in ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``). Nothing below
knows it talks to anything but SageMaker.

    python pipeline.py <step> ; the step's result is the last stdout line, as JSON.

Steps: ``register`` (SM_GROUP, SM_MODEL_DATA_URL), ``approve`` (SM_ARN), ``list``
(SM_GROUP), ``invoke`` (SM_ENDPOINT, SM_PAYLOAD).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

from importlib.metadata import version

MAJOR = 3 if version("sagemaker-core").startswith("2.") else 2
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sklearn-inference:1.4"


def _describe(arn: str) -> dict[str, Any]:
    import boto3

    found = boto3.client("sagemaker").describe_model_package(ModelPackageName=arn)
    return {
        "arn": found["ModelPackageArn"],
        "version": found.get("ModelPackageVersion"),
        "status": found["ModelPackageStatus"],
        "approval": found.get("ModelApprovalStatus"),
        "group": found.get("ModelPackageGroupName"),
        "image": found["InferenceSpecification"]["Containers"][0]["Image"],
        "content_types": found["InferenceSpecification"]["SupportedContentTypes"],
    }


# -- the 2.x SDK -----------------------------------------------------------------------
def v2(step: str) -> dict[str, Any]:
    import sagemaker
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.model import Model, ModelPackage
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import JSONSerializer

    session = sagemaker.Session(default_bucket="pipeline-artifacts")
    if step == "register":
        model = Model(
            image_uri=IMAGE,
            model_data=os.environ["SM_MODEL_DATA_URL"],
            role="arn:aws:iam::123456789012:role/pipeline",
            sagemaker_session=session,
        )
        package = model.register(
            content_types=["application/json"],
            response_types=["application/json"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=os.environ["SM_GROUP"],
            approval_status="PendingManualApproval",
            description="registered by the 2.x SDK",
            customer_metadata_properties={"commit": "abc123"},
        )
        return _describe(package.model_package_arn)
    if step == "approve":
        package = ModelPackage(
            role="arn:aws:iam::123456789012:role/pipeline",
            model_package_arn=os.environ["SM_ARN"],
            sagemaker_session=session,
        )
        package.update_approval_status(
            "Approved", approval_description="metrics look right"
        )
        return _describe(os.environ["SM_ARN"])
    if step == "invoke":
        predictor = Predictor(
            os.environ["SM_ENDPOINT"],
            sagemaker_session=session,
            serializer=JSONSerializer(),
            deserializer=JSONDeserializer(),
        )
        return {"answer": predictor.predict(json.loads(os.environ["SM_PAYLOAD"]))}
    raise SystemExit(f"the 2.x SDK has no step {step!r}")


# -- the 3.x SDK (sagemaker-core) ------------------------------------------------------
def v3(step: str) -> dict[str, Any]:
    import boto3
    from botocore.exceptions import ClientError
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.model_registry import create_model_package_from_containers
    from sagemaker.core.resources import Endpoint, ModelPackage, ModelPackageGroup

    group = os.environ.get("SM_GROUP", "")
    if step == "register":
        try:
            found = ModelPackageGroup.get(model_package_group_name=group)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFound":
                raise
            found = ModelPackageGroup.create(
                model_package_group_name=group,
                model_package_group_description="registered by the 3.x SDK",
            )
        answer = create_model_package_from_containers(
            Session(boto_session=boto3.Session(), default_bucket="pipeline-artifacts"),
            containers=[
                {"Image": IMAGE, "ModelDataUrl": os.environ["SM_MODEL_DATA_URL"]}
            ],
            content_types=["application/json"],
            response_types=["application/json"],
            model_package_group_name=group,
            approval_status="PendingManualApproval",
            description="registered by the 3.x SDK",
        )
        package = ModelPackage.get(model_package_name=answer["ModelPackageArn"])
        return {
            "group_arn": found.model_package_group_arn,
            "group_status": found.model_package_group_status,
            "described_by_the_sdk": {
                "version": package.model_package_version,
                "approval": package.model_approval_status,
                "images": [c.image for c in package.inference_specification.containers],
            },
            **_describe(answer["ModelPackageArn"]),
        }
    if step == "approve":
        package = ModelPackage.get(model_package_name=os.environ["SM_ARN"])
        # update() re-reads the package by model_package_name, which for a version
        # in a group is the group's name (as SageMaker answers it), naming no single
        # version; sagemaker-core needs the ARN there, on SageMaker as here.
        package.model_package_name = package.model_package_arn
        package.update(
            model_approval_status="Approved", approval_description="metrics look right"
        )
        return {"updated_by_the_sdk": package.model_approval_status} | _describe(
            os.environ["SM_ARN"]
        )
    if step == "list":
        packages = ModelPackage.get_all(
            model_package_group_name=group,
            sort_by="CreationTime",
            sort_order="Ascending",
        )
        return {
            "packages": [
                [p.model_package_version, p.model_approval_status] for p in packages
            ]
        }
    if step == "invoke":
        answer = Endpoint(endpoint_name=os.environ["SM_ENDPOINT"]).invoke(
            body=os.environ["SM_PAYLOAD"],
            content_type="application/json",
            accept="application/json",
        )
        return {
            "answer": json.loads(answer.body.read()),
            "variant": answer.invoked_production_variant,
        }
    raise SystemExit(f"the 3.x SDK has no step {step!r}")


if __name__ == "__main__":
    result = (v3 if MAJOR == 3 else v2)(sys.argv[1])
    print(json.dumps({"sdk": MAJOR, **result}, default=str))
