"""Issue 17: 64 concurrent create_model_version calls into one model give 1..64."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_versions_are_numbered_one_to_n(mlflow: Any) -> None:
    mlflow.create_registered_model("iris")

    with ThreadPoolExecutor(max_workers=16) as pool:
        created = list(
            pool.map(
                lambda n: mlflow.create_model_version("iris", f"s3://b/{n}"),
                range(64),
            )
        )

    assert sorted(int(v.version) for v in created) == list(range(1, 65))
    found = mlflow.search_model_versions("name = 'iris'")
    assert sorted(int(v.version) for v in found) == list(range(1, 65))
