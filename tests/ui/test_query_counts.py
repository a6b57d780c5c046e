"""Each page costs the same number of queries with 3 rows as with 30 (issue 5)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import token_issue
from approvals import services as approval_services
from approvals.models import ApprovalPolicy, Review
from catalog import services as catalog_services
from catalog.models import Alias, Event, ModelGroup, ModelVersion
from deployments.models import Endpoint
from tests.ui.helpers import add_groups, add_versions, served

pytestmark = pytest.mark.django_db
_names = itertools.count(1)


def queries(client: Any, path: str) -> int:
    client.get(path)  # warm: the first request of a client loads caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code in (200, 204), response.content[:300]
    return len(captured)


def assert_flat(client: Any, path: str, grow: Callable[[int], Any], limit: int) -> None:
    grow(3)
    small = queries(client, path)
    grow(27)
    large = queries(client, path)
    assert small == large, f"{path}: {small} queries with 3 rows, {large} with 30"
    assert large <= limit, f"{path}: {large} queries"


def endpoints_for(groups: list[ModelGroup], by: Any) -> list[Endpoint]:
    endpoints = Endpoint.objects.bulk_create(
        Endpoint(name=f"ep-{next(_names)}", group=g, created_by=by) for g in groups
    )
    for endpoint, group in zip(endpoints, groups, strict=True):
        served(endpoint, group.versions.order_by("-version").first())
    return endpoints


def test_catalog(browser_for, make_user, contributor, deployer):
    def grow(count: int) -> None:
        groups = add_groups(count, by=contributor, versions=2)
        endpoints_for(groups, deployer)

    assert_flat(browser_for(make_user("reviewer")), "/", grow, limit=10)


def test_catalog_search(browser_for, viewer, contributor):
    def grow(count: int) -> None:
        add_groups(count, by=contributor)

    assert_flat(browser_for(viewer), "/?q=bulk&tag=team:bulk", grow, limit=10)


def test_group(browser_for, reviewer, contributor, deployer, iris):
    def grow(count: int) -> None:
        versions = add_versions(iris, count, by=contributor)
        Alias.objects.bulk_create(
            Alias(group=iris, name=f"a{v.version}", version=v, updated_by=contributor)
            for v in versions
        )
        for version in versions[:3]:
            endpoint = Endpoint.objects.create(
                name=f"ep-{next(_names)}", group=iris, created_by=deployer
            )
            served(endpoint, version)

    assert_flat(browser_for(reviewer), "/models/iris/", grow, limit=16)


def test_group_with_metric_filter(browser_for, viewer, contributor, iris):
    def grow(count: int) -> None:
        add_versions(iris, count, by=contributor)

    path = "/models/iris/?metric=accuracy>=0.5&sort=-metric:accuracy"
    assert_flat(browser_for(viewer), path, grow, limit=16)


def test_version(
    browser_for, make_user, admin_user, contributor, deployer, iris, v1, approve
):
    reviewers = Group.objects.create(name="iris-reviewers")
    approval_services.policy_update(
        actor=admin_user,
        group=iris,
        reviewers="iris-reviewers",
        metric_gates=[{"metric": "accuracy", "op": ">=", "value": 0.5}],
    )
    reviewer = make_user("reviewer", "contributor")
    reviewer.groups.add(reviewers)

    def grow(count: int) -> None:
        for _ in range(count):
            Review.objects.create(
                version=v1,
                reviewer=reviewer,
                reviewer_name=reviewer.username,
                decision="comment",
                comment="hm",
            )
            endpoint = Endpoint.objects.create(
                name=f"ep-{next(_names)}", group=iris, created_by=deployer
            )
            served(endpoint, v1)

    assert_flat(browser_for(reviewer), "/models/iris/versions/1/", grow, limit=20)


def test_compare(browser_for, viewer, contributor, iris):
    add_versions(iris, 8, by=contributor)
    client = browser_for(viewer)

    two = queries(client, "/models/iris/compare/?versions=1,2")
    eight = queries(client, "/models/iris/compare/?versions=1,2,3,4,5,6,7,8")

    assert two == eight <= 10


def test_inbox(browser_for, make_user, admin_user, contributor):
    reviewer = make_user("reviewer")
    team = Group.objects.create(name="team")
    reviewer.groups.add(team)
    other = make_user("reviewer")
    other.groups.add(team)

    def grow(count: int) -> None:
        for group in add_groups(count, by=contributor, versions=2):
            ApprovalPolicy.objects.create(
                group=group, reviewers=team, required_approvals=2
            )
            version = group.versions.first()
            approval_services.review_submit(
                actor=other, version=version, decision="approve", comment=""
            )

    assert_flat(browser_for(reviewer), "/reviews/", grow, limit=14)


def test_endpoints(browser_for, viewer, contributor, deployer):
    def grow(count: int) -> None:
        endpoints_for(add_groups(count, by=contributor), deployer)

    assert_flat(browser_for(viewer), "/endpoints/", grow, limit=10)


@pytest.mark.parametrize(
    "path", ["/endpoints/iris-prod/", "/endpoints/iris-prod/panel/"]
)
def test_endpoint(
    browser_for, make_user, endpoint, iris, contributor, reviewer, approve, path
):
    deployer = make_user("deployer")
    versions = [approve(v, reviewer) for v in add_versions(iris, 2, by=contributor)]

    def grow(count: int) -> None:
        for number in range(count):
            served(endpoint, versions[number % 2], error="old", log=["a", "b"])

    assert_flat(browser_for(deployer), path, grow, limit=12)


def test_activity(browser_for, viewer, contributor):
    def grow(count: int) -> None:
        for _ in range(count):
            catalog_services.event_record(
                "group.updated", actor=contributor, payload={"n": 1}
            )

    assert_flat(browser_for(viewer), "/activity/", grow, limit=8)
    assert Event.objects.count() == 30


def test_tokens(browser_for, viewer):
    def grow(count: int) -> None:
        for number in range(count):
            token_issue(user=viewer, name=f"t{number}")

    assert_flat(browser_for(viewer), "/account/tokens/", grow, limit=8)


def test_the_version_page_of_a_group_with_many_versions(
    browser_for, viewer, contributor, iris
):
    add_versions(iris, 30, by=contributor)
    client = browser_for(viewer)

    assert queries(client, "/models/iris/versions/1/") == queries(
        client, "/models/iris/versions/30/"
    )
    assert ModelVersion.objects.count() == 30
