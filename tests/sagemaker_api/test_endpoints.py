"""Endpoints through SageMaker's API and sagemaker-runtime's InvokeEndpoint, against
the real server and worker: the same predictions as ``/api/v1/…/invocations``."""

from __future__ import annotations

import json

import pytest
import requests

from accounts.services import token_issue
from catalog.selectors import group_get
from deployments import services as deploy
from tests.helpers import SAMPLE
from tests.sagemaker_api.test_flow import SPEC, code, refused

pytestmark = pytest.mark.django_db(transaction=True)


def test_invoke_endpoint_answers_what_the_api_answers(
    live, sagemaker, web_server, make_user
):
    caller = make_user("viewer")
    runtime = sagemaker(caller, service="sagemaker-runtime")
    _, token = token_issue(user=caller, scopes=["read", "invoke"])

    answer = runtime.invoke_endpoint(
        EndpointName="iris-prod",
        Body=json.dumps({"inputs": SAMPLE}),
        ContentType="application/json",
        Accept="application/json",
    )
    api = requests.post(
        f"{web_server.url}/api/v1/endpoints/iris-prod/invocations",
        json={"inputs": SAMPLE},
        headers={"Authorization": f"Token {token}"},
        timeout=30,
    )

    assert api.status_code == 200, api.text
    assert json.loads(answer["Body"].read()) == api.json()
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert answer["ContentType"] == "application/json"


def test_invoke_endpoint_takes_csv_rows(live, sagemaker, make_user):
    runtime = sagemaker(make_user("viewer"), service="sagemaker-runtime")
    csv = "\n".join(",".join(str(x) for x in row) for row in SAMPLE)

    answer = runtime.invoke_endpoint(
        EndpointName="iris-prod", Body=csv, ContentType="text/csv"
    )

    assert len(json.loads(answer["Body"].read())["predictions"]) == 2


def test_a_key_without_the_invoke_scope_cannot_invoke(live, sagemaker, make_user):
    runtime = sagemaker(make_user("viewer"), ["read"], service="sagemaker-runtime")

    error = refused(
        runtime.invoke_endpoint, EndpointName="iris-prod", Body=b"[[1, 2, 3, 4]]"
    )

    assert code(error) == "AccessDeniedException"


def test_invoking_an_unknown_endpoint_is_a_4xx(web_server, sagemaker, make_user):
    runtime = sagemaker(make_user("viewer"), service="sagemaker-runtime")

    error = refused(runtime.invoke_endpoint, EndpointName="nowhere", Body=b"[[1]]")

    assert code(error) == "ValidationException"


def test_describe_and_list_endpoints_report_the_deployment_state(
    live, sagemaker, make_user
):
    sm = sagemaker(make_user("viewer"))

    described = sm.describe_endpoint(EndpointName="iris-prod")
    listed = sm.list_endpoints(StatusEquals="InService", NameContains="iris")

    assert described["EndpointStatus"] == "InService"
    assert described["EndpointArn"].endswith(":endpoint/iris-prod")
    assert described["ProductionVariants"][0]["VariantName"] == "AllTraffic"
    assert [e["EndpointName"] for e in listed["Endpoints"]] == ["iris-prod"]
    assert sm.list_endpoints(StatusEquals="Failed")["Endpoints"] == []

    # Sorted by status: the computed one, as SageMaker orders it.
    deploy.endpoint_create(
        actor=make_user("deployer"), name="idle", group=group_get("iris")
    )
    for order, names in (
        ("Ascending", ["iris-prod", "idle"]),
        ("Descending", ["idle", "iris-prod"]),
    ):
        by_status = sm.list_endpoints(SortBy="Status", SortOrder=order)["Endpoints"]
        assert [e["EndpointName"] for e in by_status] == names


def test_an_endpoint_that_never_served_is_out_of_service(
    web_server, sagemaker, make_user, deployer, group
):
    deploy.endpoint_create(actor=deployer, name="idle", group=group_get("iris"))

    described = sagemaker(make_user("viewer")).describe_endpoint(EndpointName="idle")

    assert described["EndpointStatus"] == "OutOfService"
    assert "ProductionVariants" not in described


def test_a_version_recorded_without_bytes_is_never_deployed(
    web_server, sagemaker, make_user, deployer, admin_user
):
    from approvals.services import policy_update

    author = make_user("contributor", "reviewer")
    sm = sagemaker(author)
    sm.create_model_package_group(ModelPackageGroupName="churn")
    group = group_get("churn")
    policy_update(actor=admin_user, group=group, allow_self_approval=True)
    endpoint = deploy.endpoint_create(actor=deployer, name="churn-prod", group=group)

    sm.create_model_package(
        ModelPackageGroupName="churn",
        InferenceSpecification=SPEC,
        ModelApprovalStatus="Approved",
    )
    with pytest.raises(Exception) as refused_deploy:
        deploy.deployment_request(actor=deployer, endpoint=endpoint, version_number=1)

    from catalog.models import ModelVersion
    from deployments.services.requests import on_version_approved

    assert "no verified model file" in str(refused_deploy.value)
    version = ModelVersion.objects.get(group=group, version=1)
    assert version.is_approved
    assert on_version_approved(0, version) == []  # approval deploys nothing
