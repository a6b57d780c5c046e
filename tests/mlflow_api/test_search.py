"""Issue 17: MLflow's search grammar, ordering and paging through the stock client."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def catalog(mlflow: Any) -> Any:
    """Three models with tags; ``iris`` has versions 1-3 with run ids and sources."""
    mlflow.create_registered_model("iris", tags={"team": "ml", "kind": "flower"})
    mlflow.create_registered_model("Iris-big", tags={"team": "ops"})
    mlflow.create_registered_model("wine", tags={"team": "ml"})
    for number in (1, 2, 3):
        mlflow.create_model_version(
            "iris",
            f"s3://bucket/iris/{number}",
            run_id=f"run{number}",
            tags={"n": str(number)},
        )
    mlflow.create_model_version("wine", "gs://other/wine", run_id="run1")
    return mlflow


def names(models: Any) -> list[str]:
    return [m.name for m in models]


def versions(found: Any) -> list[tuple[str, str]]:
    return [(v.name, v.version) for v in found]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("", ["Iris-big", "iris", "wine"]),
        ("name = 'iris'", ["iris"]),
        ("name != 'iris'", ["Iris-big", "wine"]),
        ("name LIKE 'iris%'", ["iris"]),
        ("name ILIKE 'iris%'", ["Iris-big", "iris"]),
        ("name LIKE '%i_e'", ["wine"]),
        ("tags.team = 'ml'", ["iris", "wine"]),
        ("tags.team != 'ml'", ["Iris-big"]),
        ("tags.team LIKE 'o%'", ["Iris-big"]),
        ("tags.`kind` ILIKE 'FLOWER'", ["iris"]),
        ("tags.team = 'ml' AND name LIKE 'w%'", ["wine"]),
    ],
)
def test_registered_model_filters(catalog: Any, filter_string: str, expected: Any):
    found = catalog.search_registered_models(filter_string=filter_string)

    assert sorted(names(found)) == sorted(expected)


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("name = 'iris'", [("iris", "3"), ("iris", "2"), ("iris", "1")]),
        ("name = 'wine'", [("wine", "1")]),
        ("version_number = 2", [("iris", "2")]),
        ("version_number >= 2", [("iris", "3"), ("iris", "2")]),
        ("version_number IN (1, 3) AND name = 'iris'", [("iris", "3"), ("iris", "1")]),
        ("run_id = 'run1'", [("iris", "1"), ("wine", "1")]),
        ("run_id IN ('run2', 'run3')", [("iris", "3"), ("iris", "2")]),
        ("source_path LIKE 'gs://%'", [("wine", "1")]),
        ("source_path = 's3://bucket/iris/2'", [("iris", "2")]),
        ("tags.n = '3'", [("iris", "3")]),
        ("tags.n != '3'", [("iris", "2"), ("iris", "1"), ("wine", "1")]),
    ],
)
def test_model_version_filters(catalog: Any, filter_string: str, expected: Any):
    found = catalog.search_model_versions(filter_string=filter_string)

    assert versions(found) == expected


def test_registered_models_are_ordered_and_paged(catalog: Any) -> None:
    first = catalog.search_registered_models(max_results=2, order_by=["name DESC"])
    second = catalog.search_registered_models(
        max_results=2, order_by=["name DESC"], page_token=first.token
    )

    assert names(first) == ["wine", "iris"]
    assert names(second) == ["Iris-big"]
    assert not second.token


def test_model_versions_are_ordered_and_paged(catalog: Any) -> None:
    order = ["version_number ASC", "name DESC"]
    first = catalog.search_model_versions(max_results=3, order_by=order)
    second = catalog.search_model_versions(
        max_results=3, order_by=order, page_token=first.token
    )

    assert versions(first) == [("wine", "1"), ("iris", "1"), ("iris", "2")]
    assert versions(second) == [("iris", "3")]


def test_search_shows_latest_versions_and_aliases(catalog: Any) -> None:
    catalog.set_registered_model_alias("iris", "candidate", "2")

    (iris,) = catalog.search_registered_models(filter_string="name = 'iris'")

    assert [v.version for v in iris.latest_versions] == ["3"]
    assert iris.aliases == {"candidate": "2"}
