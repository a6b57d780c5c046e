"""Issue 11: the catalog's reads take typed keyword arguments, not query strings."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from catalog import selectors
from catalog.filters import VersionFilterSet, arguments
from common.errors import Invalid, NotFound

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(make_group, make_version):
    iris = make_group("iris")
    for accuracy, team in ((0.8, "a"), (0.95, "b"), (0.9, "b")):
        make_version(iris, metrics={"accuracy": accuracy}, tags={"team": team})
    return iris


def numbers(versions) -> list[int]:
    return [v.version for v in versions]


def test_version_list_takes_metric_bounds_tags_and_ordering(scored):
    versions = selectors.version_list(
        group=scored,
        metrics=[("accuracy", ">=", 0.85)],
        tags=[("team", "b")],
        ordering="-metric:accuracy",
    )

    assert numbers(versions) == [2, 3]


def test_version_list_is_newest_first_by_default(scored):
    assert numbers(selectors.version_list(group=scored)) == [3, 2, 1]


def test_version_list_refuses_an_ordering_it_does_not_know(scored):
    with pytest.raises(Invalid) as caught:
        selectors.version_list(group=scored, ordering="name")

    assert "ordering" in caught.value.fields


def test_group_list_takes_tags_and_ordering(make_group):
    make_group("a", tags={"team": "x"})
    make_group("b", tags={"team": "x"})
    make_group("c", tags={"team": "y"})

    groups = selectors.group_list(tags=[("team", "x")], ordering=["-name"])

    assert [g.name for g in groups] == ["b", "a"]


def test_event_list_takes_kinds(scored):
    events = selectors.event_list(kinds=["group.created"], group="iris")

    assert [e.kind for e in events] == ["group.created"]


def test_a_query_string_becomes_the_same_typed_arguments():
    params = QueryDict("metric=accuracy>=0.9&tag=team:b&ordering=-version&page=2")

    assert arguments(VersionFilterSet, params) == {
        "metrics": [("accuracy", ">=", 0.9)],
        "tags": [("team", "b")],
        "ordering": "-version",
    }


def test_a_bad_query_parameter_is_named():
    with pytest.raises(Invalid) as caught:
        arguments(VersionFilterSet, QueryDict("metric=accuracy~1&version_min=x"))

    assert set(caught.value.fields) == {"metric", "version_min"}


def test_version_get_names_the_missing_group_first(scored):
    with pytest.raises(NotFound, match="Model group 'nope'"):
        selectors.version_get("nope", 1)
    with pytest.raises(NotFound, match="Version 9 of 'iris'"):
        selectors.version_get("iris", 9)
