"""Issue 17: the stock MLflow client against the real server (gunicorn)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from mlflow.exceptions import MlflowException, RestException

from approvals.services import review_submit
from catalog import selectors
from catalog.models import Event, EventKind

pytestmark = pytest.mark.django_db(transaction=True)


def code_of(excinfo: Any) -> str:
    return excinfo.value.error_code


def approve(reviewer: Any, name: str, number: int) -> None:
    review_submit(
        actor=reviewer,
        version=selectors.version_get(name, number),
        decision="approve",
    )


def test_create_get_update_and_delete_a_registered_model(mlflow: Any) -> None:
    created = mlflow.create_registered_model(
        "iris", tags={"team": "ml"}, description="Iris classifier"
    )
    mlflow.update_registered_model("iris", description="Better")

    got = mlflow.get_registered_model("iris")
    assert created.name == "iris"
    assert got.description == "Better"
    assert got.tags == {"team": "ml"}
    assert got.creation_timestamp > 0
    mlflow.delete_registered_model("iris")
    with pytest.raises(RestException) as missing:
        mlflow.get_registered_model("iris")
    assert code_of(missing) == "RESOURCE_DOES_NOT_EXIST"


def test_create_of_an_existing_name_is_resource_already_exists(mlflow: Any) -> None:
    mlflow.create_registered_model("iris")

    with pytest.raises(RestException) as taken:
        mlflow.create_registered_model("iris")

    assert code_of(taken) == "RESOURCE_ALREADY_EXISTS"


def test_register_model_reuses_an_existing_model(mlflow: Any) -> None:
    import mlflow as mlflow_module

    mlflow_module.set_tracking_uri(mlflow._registry_uri)
    mlflow_module.set_registry_uri(mlflow._registry_uri)
    mlflow.create_registered_model("iris")

    version = mlflow_module.register_model("s3://bucket/models/iris", "iris")

    assert version.version == "1"
    assert version.source == "s3://bucket/models/iris"


def test_rename_moves_versions_and_the_old_name_is_gone(mlflow: Any) -> None:
    mlflow.create_registered_model("iris")
    mlflow.create_model_version("iris", "s3://b/iris", run_id="r1")

    mlflow.rename_registered_model("iris", "flowers")

    assert mlflow.get_registered_model("flowers").name == "flowers"
    assert mlflow.get_model_version("flowers", "1").run_id == "r1"
    with pytest.raises(RestException) as old:
        mlflow.get_registered_model("iris")
    assert code_of(old) == "RESOURCE_DOES_NOT_EXIST"
    event = Event.objects.get(kind=EventKind.GROUP_RENAMED)
    assert event.payload == {"from": "iris", "to": "flowers"}


def test_model_versions_are_created_read_updated_and_deleted(mlflow: Any) -> None:
    mlflow.create_registered_model("iris")

    first = mlflow.create_model_version(
        "iris", "s3://b/iris/1", run_id="run-1", tags={"k": "v"}, description="d"
    )
    mlflow.update_model_version("iris", "1", description="new")
    got = mlflow.get_model_version("iris", "1")

    assert (first.version, first.status, first.current_stage) == ("1", "READY", "None")
    assert got.description == "new"
    assert got.tags == {"k": "v", "approval_status": "PendingManualApproval"}
    assert got.source == "s3://b/iris/1"
    mlflow.delete_model_version("iris", "1")
    with pytest.raises(RestException) as gone:
        mlflow.get_model_version("iris", "1")
    assert code_of(gone) == "RESOURCE_DOES_NOT_EXIST"
    assert mlflow.create_model_version("iris", "s3://b/iris/2").version == "2"


def test_tags_of_models_and_versions_are_set_and_deleted(mlflow: Any) -> None:
    mlflow.create_registered_model("iris")
    mlflow.create_model_version("iris", "s3://b/iris")

    mlflow.set_registered_model_tag("iris", "team", "ml")
    mlflow.set_registered_model_tag("iris", "drop", "me")
    mlflow.delete_registered_model_tag("iris", "drop")
    mlflow.set_model_version_tag("iris", "1", "dataset", "v2")
    mlflow.set_model_version_tag("iris", "1", "drop", "me")
    mlflow.delete_model_version_tag("iris", "1", "drop")

    assert mlflow.get_registered_model("iris").tags == {"team": "ml"}
    assert mlflow.get_model_version("iris", "1").tags == {
        "dataset": "v2",
        "approval_status": "PendingManualApproval",
    }


def test_the_approval_status_tag_is_read_only(mlflow: Any) -> None:
    mlflow.create_registered_model("iris")
    mlflow.create_model_version("iris", "s3://b/iris")

    with pytest.raises(RestException) as refused:
        mlflow.set_model_version_tag("iris", "1", "approval_status", "Approved")

    assert code_of(refused) == "PERMISSION_DENIED"


def test_aliases_are_set_read_and_deleted(mlflow: Any) -> None:
    mlflow.create_registered_model("iris")
    mlflow.create_model_version("iris", "s3://b/iris/1")
    mlflow.create_model_version("iris", "s3://b/iris/2")

    mlflow.set_registered_model_alias("iris", "candidate", "2")
    by_alias = mlflow.get_model_version_by_alias("iris", "candidate")
    model = mlflow.get_registered_model("iris")

    assert by_alias.version == "2"
    assert by_alias.aliases == ["candidate"]
    assert model.aliases == {"candidate": "2"}
    mlflow.delete_registered_model_alias("iris", "candidate")
    with pytest.raises(RestException) as gone:
        mlflow.get_model_version_by_alias("iris", "candidate")
    assert code_of(gone) == "RESOURCE_DOES_NOT_EXIST"


def test_a_protected_alias_needs_an_approved_version(
    mlflow: Any, reviewer: Any
) -> None:
    mlflow.create_registered_model("iris")
    mlflow.create_model_version("iris", "s3://b/iris")

    with pytest.raises(RestException) as refused:
        mlflow.set_registered_model_alias("iris", "champion", "1")
    approve(reviewer, "iris", 1)
    mlflow.set_registered_model_alias("iris", "champion", "1")

    assert code_of(refused) == "PERMISSION_DENIED"
    assert "protected" in refused.value.message
    assert mlflow.get_model_version_by_alias("iris", "champion").version == "1"


def test_stages_need_approval_and_archive_existing_versions(
    mlflow: Any, reviewer: Any
) -> None:
    mlflow.create_registered_model("iris")
    for _ in range(3):
        mlflow.create_model_version("iris", "s3://b/iris")

    with pytest.raises(RestException) as refused:
        mlflow.transition_model_version_stage("iris", "1", "Production")
    approve(reviewer, "iris", 1)
    approve(reviewer, "iris", 2)
    mlflow.transition_model_version_stage("iris", "1", "Production")
    moved = mlflow.transition_model_version_stage(
        "iris", "2", "Production", archive_existing_versions=True
    )
    mlflow.transition_model_version_stage("iris", "3", "Archived")

    assert code_of(refused) == "PERMISSION_DENIED"
    assert moved.current_stage == "Production"
    assert mlflow.get_model_version("iris", "1").current_stage == "Archived"
    latest = mlflow.get_latest_versions("iris", stages=["Production"])
    assert [v.version for v in latest] == ["2"]
    every = mlflow.get_latest_versions("iris")
    assert sorted((v.current_stage, v.version) for v in every) == [
        ("Archived", "3"),
        ("Production", "2"),
    ]
    changes = Event.objects.filter(kind=EventKind.VERSION_STAGE).order_by("id")
    assert [(e.version_number, e.payload["to"]) for e in changes] == [
        (1, "Production"),
        (1, "Archived"),
        (2, "Production"),
        (3, "Archived"),
    ]


def test_download_uri_of_a_version_without_files_says_so(mlflow: Any) -> None:
    mlflow.create_registered_model("iris")
    mlflow.create_model_version("iris", "s3://b/iris")

    with pytest.raises(MlflowException) as refused:
        mlflow.get_model_version_download_uri("iris", "1")

    assert "without its files" in refused.value.message


def test_bad_input_gets_mlflow_errors_not_5xx(
    web_server: Any, contributor: Any
) -> None:
    from accounts.services import token_issue

    _, key = token_issue(user=contributor, scopes=["read", "write"])
    base = f"{web_server.url}/api/2.0/mlflow"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    cases = [
        ("post", "registered-models/create", {"json": {}}),
        ("post", "registered-models/create", {"json": {"name": "bad name!"}}),
        ("post", "registered-models/create", {"data": "{not json"}),
        ("post", "registered-models/create", {"json": ["a"]}),
        ("post", "registered-models/create", {"json": {"name": 5}}),
        ("get", "registered-models/get", {"params": {"name": "nope"}}),
        ("get", "model-versions/get", {"params": {"name": "nope", "version": "x"}}),
        ("get", "registered-models/search", {"params": {"filter": "name = "}}),
        ("get", "registered-models/search", {"params": {"filter": "name OR 'a'"}}),
        ("get", "registered-models/search", {"params": {"max_results": "0"}}),
        ("get", "registered-models/search", {"params": {"page_token": "%%%"}}),
        ("get", "registered-models/search", {"params": {"order_by": "size"}}),
        ("get", "model-versions/search", {"params": {"filter": "version_number='x'"}}),
        ("post", "model-versions/transition-stage", {"json": {"name": "n"}}),
        ("delete", "registered-models/get", {}),
    ]
    for method, path, kwargs in cases:
        answer = getattr(session, method)(f"{base}/{path}", timeout=30, **kwargs)
        body = answer.json()
        assert 400 <= answer.status_code < 500, (path, kwargs, answer.text)
        assert set(body) == {"error_code", "message"}, (path, kwargs, body)


def test_unauthenticated_and_unscoped_requests_are_refused(
    as_user: Any, contributor: Any
) -> None:
    with pytest.raises(RestException) as unauthenticated:
        as_user(None).search_registered_models()
    with pytest.raises(RestException) as denied:
        as_user(contributor, scopes=["read"]).create_registered_model("iris")

    assert code_of(unauthenticated) == "UNAUTHENTICATED"
    assert code_of(denied) == "PERMISSION_DENIED"


def test_basic_auth_signs_in_with_the_users_password(
    as_user: Any, make_user: Any
) -> None:
    user = make_user("contributor", username="pipeline")
    # A hasher the server knows (the tests' own MD5 hasher is not in its settings).
    user.password = PBKDF2PasswordHasher().encode("s3cret", "salt", iterations=1000)
    user.save(update_fields=["password"])

    client = as_user(user, password="s3cret")
    client.create_registered_model("iris")

    assert client.get_registered_model("iris").name == "iris"
    assert selectors.group_get("iris").created_by == user
    with pytest.raises(RestException) as refused:
        as_user(user, password="wrong").get_registered_model("iris")
    assert code_of(refused) == "UNAUTHENTICATED"


def test_a_changed_password_stops_a_remembered_basic_sign_in(
    as_user: Any, make_user: Any
) -> None:
    user = make_user("contributor", username="pipeline")
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode("old-pw", "salt", iterations=1000)
    user.save(update_fields=["password"])
    client = as_user(user, password="old-pw")
    client.search_registered_models()  # checked, then remembered

    user.password = hasher.encode("new-pw", "salt", iterations=1000)
    user.save(update_fields=["password"])

    with pytest.raises(RestException) as refused:
        client.search_registered_models()
    assert code_of(refused) == "UNAUTHENTICATED"
    assert as_user(user, password="new-pw").search_registered_models() == []
