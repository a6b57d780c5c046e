"""One small test per filter parameter of the group and version lists."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from catalog.models import ModelGroup, ModelVersion
from tests.catalog.helpers import approve, fields_of

GROUPS = "/api/v1/model-groups/"
VERSIONS = "/api/v1/model-groups/iris/versions/"
LONG_AGO = timezone.now() - timedelta(days=30)


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


def numbers(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["version"] for row in response.json()["results"]]


# --- groups ---------------------------------------------------------------------


def test_groups_q_searches_name_and_description(make_group, api):
    make_group("churn")
    make_group("fraud", description="Detects CHURN-like fraud")
    make_group("iris")

    assert names(api.get(GROUPS, {"q": "churn"})) == ["churn", "fraud"]


def test_groups_tag_matches_key_and_value(make_group, api):
    make_group("a", tags={"team": "growth"})
    make_group("b", tags={"team": "risk"})
    make_group("c", tags={"owner": "growth"})

    assert names(api.get(GROUPS, {"tag": "team:growth"})) == ["a"]


def test_groups_tags_repeat_and_all_must_hold(make_group, api):
    make_group("a", tags={"team": "growth", "tier": "1"})
    make_group("b", tags={"team": "growth", "tier": "2"})

    response = api.get(GROUPS, {"tag": ["team:growth", "tier:1"]})

    assert names(response) == ["a"]


def test_groups_tag_value_that_looks_like_a_number_matches_the_string(make_group, api):
    make_group("a", tags={"tier": "1"})
    make_group("b", tags={"tier": "2"})

    assert names(api.get(GROUPS, {"tag": "tier:1"})) == ["a"]


def test_groups_ordering_by_name_descending(make_group, api):
    for name in ("b", "a", "c"):
        make_group(name)

    assert names(api.get(GROUPS, {"ordering": "-name"})) == ["c", "b", "a"]


def test_groups_bad_ordering_is_400(api):
    response = api.get(GROUPS, {"ordering": "next_version"})

    assert response.status_code == 400
    assert "ordering" in fields_of(response)


def test_groups_tag_without_a_colon_is_400(api):
    response = api.get(GROUPS, {"tag": "team"})

    assert response.status_code == 400
    assert "tag" in fields_of(response)


def test_groups_created_by_matches_the_username(make_group, make_user, api):
    other = make_user("contributor", username="alice")
    make_group("mine")
    make_group("hers", actor=other)

    assert names(api.get(GROUPS, {"created_by": "alice"})) == ["hers"]


def test_groups_created_after_and_before_split_on_time(make_group, api):
    make_group("old")
    make_group("new")
    ModelGroup.objects.filter(name="old").update(created_at=LONG_AGO)
    cut = (LONG_AGO + timedelta(days=1)).isoformat()

    assert names(api.get(GROUPS, {"created_after": cut})) == ["new"]
    assert names(api.get(GROUPS, {"created_before": cut})) == ["old"]


def test_groups_bad_date_is_400(api):
    response = api.get(GROUPS, {"created_after": "yesterday"})

    assert response.status_code == 400
    assert "created_after" in fields_of(response)


# --- versions -------------------------------------------------------------------


@pytest.fixture
def iris(make_group: Any) -> Any:
    return make_group("iris")


def test_versions_approval_status_filters(iris, make_version, api):
    make_version(iris)
    approve(make_version(iris))

    assert numbers(api.get(VERSIONS, {"approval_status": "Approved"})) == [2]
    assert numbers(api.get(VERSIONS, {"approval_status": "PendingManualApproval"})) == [
        1
    ]


def test_versions_registration_status_filters(iris, make_version, api):
    make_version(iris)
    ModelVersion.objects.filter(version=1).update(registration_status="Failed")
    make_version(iris)

    assert numbers(api.get(VERSIONS, {"registration_status": "Ready"})) == [2]
    assert numbers(api.get(VERSIONS, {"registration_status": "Failed"})) == [1]


def test_versions_unknown_approval_status_is_400(iris, api):
    response = api.get(VERSIONS, {"approval_status": "Maybe"})

    assert response.status_code == 400
    assert "approval_status" in fields_of(response)


def test_versions_tag_matches_key_and_value(iris, make_version, api):
    make_version(iris, tags={"stage": "prod"})
    make_version(iris, tags={"stage": "dev"})

    assert numbers(api.get(VERSIONS, {"tag": "stage:prod"})) == [1]


def test_versions_created_by_matches_the_username(iris, make_version, make_user, api):
    make_version(iris)
    make_version(iris, actor=make_user("contributor", username="bob"))

    assert numbers(api.get(VERSIONS, {"created_by": "bob"})) == [2]


def test_versions_created_after_and_before_split_on_time(iris, make_version, api):
    make_version(iris)
    make_version(iris)
    ModelVersion.objects.filter(version=1).update(created_at=LONG_AGO)
    cut = (LONG_AGO + timedelta(days=1)).isoformat()

    assert numbers(api.get(VERSIONS, {"created_after": cut})) == [2]
    assert numbers(api.get(VERSIONS, {"created_before": cut})) == [1]


def test_versions_version_min_and_max_bound_the_numbers(iris, make_version, api):
    for _ in range(4):
        make_version(iris)

    assert numbers(api.get(VERSIONS, {"version_min": 2, "version_max": 3})) == [3, 2]


@pytest.fixture
def scored(iris: Any, make_version: Any) -> Any:
    """Versions 1..4 with accuracy 0.8, 0.9, 0.95 and none."""
    for accuracy in (0.8, 0.9, 0.95):
        make_version(iris, metrics={"accuracy": accuracy, "auc": 1 - accuracy})
    make_version(iris, metrics={"loss": 0.1})
    return iris


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("accuracy>=0.9", [3, 2]),
        ("accuracy>0.9", [3]),
        ("accuracy<=0.9", [2, 1]),
        ("accuracy<0.9", [1]),
        ("accuracy=0.9", [2]),
        ("accuracy >= 0.9", [3, 2]),
        ("accuracy>=1", []),
    ],
)
def test_versions_metric_threshold(expression, expected, scored, api):
    assert numbers(api.get(VERSIONS, {"metric": expression})) == expected


def test_versions_several_metric_thresholds_must_all_hold(scored, api):
    response = api.get(VERSIONS, {"metric": ["accuracy>=0.85", "auc>0.07"]})

    assert numbers(response) == [2]


@pytest.mark.parametrize(
    "expression",
    ["accuracy", "accuracy=>0.9", "accuracy>=high", "accuracy>=nan", "a;b>=1", ">=1"],
)
def test_versions_bad_metric_syntax_is_400(expression, scored, api):
    response = api.get(VERSIONS, {"metric": expression})

    assert response.status_code == 400
    assert "metric" in fields_of(response)


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("version", [1, 2, 3, 4]),
        ("-version", [4, 3, 2, 1]),
        ("-created_at", [4, 3, 2, 1]),
        ("metric:accuracy", [1, 2, 3, 4]),
        ("-metric:accuracy", [3, 2, 1, 4]),
        ("metric:auc", [3, 2, 1, 4]),
        ("-metric:auc", [1, 2, 3, 4]),
    ],
)
def test_versions_ordering_puts_versions_without_the_metric_last(
    ordering, expected, scored, api
):
    assert numbers(api.get(VERSIONS, {"ordering": ordering})) == expected


@pytest.mark.parametrize("ordering", ["name", "metric:", "metric:a b", "-", "approval"])
def test_versions_bad_ordering_is_400(ordering, scored, api):
    response = api.get(VERSIONS, {"ordering": ordering})

    assert response.status_code == 400
    assert "ordering" in fields_of(response)
