from __future__ import annotations

import json

import numpy as np
import pytest

from deployments.models import Deployment
from tests import models as real_models
from tests.helpers import SAMPLE

INVOKE = "/api/v1/endpoints/iris-prod/invocations"


@pytest.fixture
def live(endpoint, register_version, approve_and_deploy):
    version = register_version()
    approve_and_deploy(version)
    return version


def test_invocation_answers_predictions_and_the_model_version(live, client_for, viewer):
    response = client_for(viewer).post(INVOKE, {"inputs": SAMPLE}, format="json")

    assert response.status_code == 200, response.content
    assert response["X-Model-Version"] == "1"
    body = response.json()
    assert body["model_version"] == 1
    model, _, _ = real_models.iris_classifier()
    assert body["predictions"] == model.predict(np.asarray(SAMPLE, np.float32)).tolist()
    np.testing.assert_allclose(
        body["outputs"]["probabilities"],
        model.predict_proba(np.asarray(SAMPLE, np.float32)),
        atol=1e-5,
    )


def test_invocation_accepts_instances_too(live, client_for, viewer):
    response = client_for(viewer).post(INVOKE, {"instances": SAMPLE}, format="json")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"inputs": [[1.0, 2.0, 3.0]]}, "dimension 1 must be 4"),
        ({"inputs": [1.0, 2.0, 3.0, 4.0]}, "2-D"),
        ({"inputs": [["a", "b", "c", "d"]]}, "str"),
        ({"inputs": [[1.0, 2.0], [1.0, 2.0, 3.0, 4.0]]}, "different lengths"),
        ({"inputs": []}, "non-empty"),
        ({"rows": SAMPLE}, "inputs"),
        ([1, 2], "inputs"),
    ],
)
def test_bad_inputs_are_a_400_naming_the_problem(
    live, client_for, viewer, body, needle
):
    response = client_for(viewer).post(INVOKE, body, format="json")

    assert response.status_code == 400
    assert needle in response.json()["error"]["message"]


def test_non_json_is_a_400(live, client_for, viewer):
    response = client_for(viewer).post(
        INVOKE, "not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"body": ["Not valid JSON."]}


def test_an_oversized_body_is_a_413(live, client_for, viewer, settings):
    settings.REGISTRY_MAX_INVOCATION_SIZE = 1000
    body = json.dumps({"inputs": [[1.0, 2.0, 3.0, 4.0]] * 100})

    response = client_for(viewer).post(INVOKE, body, content_type="application/json")

    assert response.status_code == 413


def test_an_endpoint_without_a_version_answers_503(endpoint, client_for, viewer):
    response = client_for(viewer).post(INVOKE, {"inputs": SAMPLE}, format="json")
    assert response.status_code == 503
    assert "no deployed version" in response.json()["error"]["message"]


def test_invocation_needs_authentication_and_a_known_endpoint(live, client_for, viewer):
    assert (
        client_for(None).post(INVOKE, {"inputs": SAMPLE}, format="json").status_code
        == 401
    )
    missing = client_for(viewer).post(
        "/api/v1/endpoints/nope/invocations", {"inputs": SAMPLE}, format="json"
    )
    assert missing.status_code == 404


def test_a_service_account_with_only_the_invoke_permission_may_invoke(
    live, client_for, make_user
):
    from django.contrib.auth.models import Permission

    robot = make_user()
    robot.user_permissions.add(Permission.objects.get(codename="invoke_endpoint"))

    response = client_for(robot).post(INVOKE, {"inputs": SAMPLE}, format="json")

    assert response.status_code == 200


def test_a_user_without_role_or_permission_may_not_invoke(live, client_for, make_user):
    response = client_for(make_user()).post(INVOKE, {"inputs": SAMPLE}, format="json")
    assert response.status_code == 403


def test_endpoint_crud_by_a_deployer(client_for, deployer, iris_group, viewer):
    api = client_for(deployer)
    created = api.post(
        "/api/v1/endpoints/",
        {
            "name": "iris-live",
            "model_group": "iris",
            "auto_deploy": True,
            "target": "builtin",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["live_version"] is None

    assert client_for(viewer).get("/api/v1/endpoints/iris-live/").status_code == 200
    patched = api.patch(
        "/api/v1/endpoints/iris-live/", {"auto_deploy": False}, format="json"
    )
    assert patched.json()["auto_deploy"] is False
    assert api.delete("/api/v1/endpoints/iris-live/").status_code == 204
    assert api.get("/api/v1/endpoints/iris-live/").status_code == 404


@pytest.mark.parametrize("role", ["viewer", "contributor", "reviewer"])
def test_endpoints_are_refused_to_other_roles(client_for, make_user, iris_group, role):
    response = client_for(make_user(role)).post(
        "/api/v1/endpoints/", {"name": "x", "model_group": "iris"}, format="json"
    )
    assert response.status_code == 403


def test_bad_endpoint_input_names_the_field(client_for, deployer, iris_group):
    api = client_for(deployer)
    cases = [
        ({"name": "a/b", "model_group": "iris"}, "name"),
        ({"name": "ok", "model_group": "nope"}, "model_group"),
        ({"name": "ok", "model_group": "iris", "target": "webhook"}, "webhook_url"),
        ({"name": "ok", "model_group": "iris", "target": "moon"}, "target"),
    ]
    for body, field in cases:
        response = api.post("/api/v1/endpoints/", body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()["error"]["fields"], response.json()


def test_a_webhook_to_a_private_address_is_refused(
    client_for, deployer, iris_group, settings
):
    settings.REGISTRY_OUTBOUND_ALLOW = []
    for url in [
        "http://127.0.0.1:9/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://localhost/x",
    ]:
        response = client_for(deployer).post(
            "/api/v1/endpoints/",
            {
                "name": "hook",
                "model_group": "iris",
                "target": "webhook",
                "webhook_url": url,
                "webhook_secret": "s" * 32,
            },
            format="json",
        )
        assert response.status_code == 400, url
        assert "webhook_url" in response.json()["error"]["fields"]


def test_manual_deploy_rollback_and_deployment_listing(
    live, register_version, approve, client_for, deployer
):
    second = register_version()
    approve(second)
    api = client_for(deployer)

    queued = api.post(
        "/api/v1/endpoints/iris-prod/deployments/", {"version": 2}, format="json"
    )
    assert queued.status_code == 202, queued.content
    assert queued.json()["status"] == "Queued"

    listed = api.get("/api/v1/deployments/?endpoint=iris-prod&status=Queued")
    assert [d["version"] for d in listed.json()["results"]] == [2]
    detail = api.get(f"/api/v1/deployments/{queued.json()['id']}/")
    assert detail.json()["reason"] == "manual"


def test_manual_deploy_of_a_version_not_approved_is_409(
    live, register_version, client_for, deployer
):
    register_version()
    response = client_for(deployer).post(
        "/api/v1/endpoints/iris-prod/deployments/", {"version": 2}, format="json"
    )
    assert response.status_code == 409


def test_rollback_with_nothing_to_roll_back_to_is_409(live, client_for, deployer):
    response = client_for(deployer).post("/api/v1/endpoints/iris-prod/rollback")
    assert response.status_code == 409


def test_deployment_rows_are_listed_in_constant_queries(
    live, client_for, viewer, django_assert_max_num_queries
):
    for _ in range(5):
        Deployment.objects.create(
            endpoint=live.group.endpoints.get(),
            version=live,
            reason="manual",
            status="Failed",
        )
    with django_assert_max_num_queries(6):
        assert client_for(viewer).get("/api/v1/deployments/").status_code == 200


def test_a_revoked_token_stops_invoking_within_the_auth_cache_time(
    live, settings, make_user
):
    import time

    from rest_framework.test import APIClient

    from accounts.services import token_issue, token_revoke

    settings.REGISTRY_INVOKE_AUTH_CACHE = 0.2
    token, key = token_issue(user=make_user("viewer"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.post(INVOKE, {"inputs": SAMPLE}, format="json").status_code == 200

    token_revoke(token=token)
    time.sleep(0.3)

    assert client.post(INVOKE, {"inputs": SAMPLE}, format="json").status_code == 401


def test_inputs_must_fit_the_shape_the_version_declares(
    endpoint, register_version, approve_and_deploy, client_for, viewer
):
    from tests.helpers import SAMPLE as ROWS

    version = register_version(input_schema={"dtype": "float32", "shape": [-1, 4]})
    approve_and_deploy(version)
    client = client_for(viewer)

    assert client.post(INVOKE, {"inputs": ROWS}, format="json").status_code == 200
    wrong = client.post(INVOKE, {"inputs": [[[1.0, 2.0, 3.0, 4.0]]]}, format="json")
    assert wrong.status_code == 400


def test_a_declared_shape_narrower_than_the_model_is_enforced(
    endpoint, register_version, approve_and_deploy, client_for, viewer
):
    version = register_version(  # one row at a time
        input_schema={"shape": [1, 4]}, sample_payload={"inputs": SAMPLE[:1]}
    )
    approve_and_deploy(version)

    response = client_for(viewer).post(INVOKE, {"inputs": SAMPLE}, format="json")

    assert response.status_code == 400
    assert "input_schema" in response.json()["error"]["message"]
