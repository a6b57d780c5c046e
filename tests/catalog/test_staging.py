"""Issue 17: upload batches (the MLflow proxy's PUT) stay within a folder version's
limits, and a batch never registered is swept."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta
from typing import Any

import pytest

from catalog import staging
from common.errors import Forbidden, Invalid, TooLarge

pytestmark = pytest.mark.django_db


def test_a_batch_stays_within_the_size_limit_and_a_replaced_file_counts_once(
    contributor: Any, settings: Any
) -> None:
    settings.REGISTRY_MAX_ARTIFACT_SIZE = 10
    staging.staged_put(
        actor=contributor, batch="b", path="a", stream=io.BytesIO(b"123456")
    )
    staging.staged_put(
        actor=contributor, batch="b", path="a", stream=io.BytesIO(b"1234")
    )
    staging.staged_put(
        actor=contributor, batch="b", path="c", stream=io.BytesIO(b"123456")
    )

    with pytest.raises(TooLarge):
        staging.staged_put(
            actor=contributor, batch="b", path="d", stream=io.BytesIO(b"1")
        )
    assert staging.staged_list(actor=contributor, batch="b") == {"a": 4, "c": 6}


def test_a_batch_holds_at_most_the_folder_file_count(
    contributor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staging.mlmodel, "MAX_FILES", 2)
    for name in ("a", "b"):
        staging.staged_put(
            actor=contributor, batch="b", path=name, stream=io.BytesIO(b"x")
        )

    with pytest.raises(Invalid, match="at most 2 files"):
        staging.staged_put(
            actor=contributor, batch="b", path="c", stream=io.BytesIO(b"x")
        )
    staging.staged_put(actor=contributor, batch="b", path="a", stream=io.BytesIO(b"y"))


def test_viewers_cannot_stage(make_user: Any) -> None:
    with pytest.raises(Forbidden):
        staging.staged_put(
            actor=make_user("viewer"), batch="b", path="a", stream=io.BytesIO(b"x")
        )


def test_batches_never_registered_are_swept(
    contributor: Any, artifact_root: Any
) -> None:
    staging.staged_put(
        actor=contributor, batch="old", path="a", stream=io.BytesIO(b"x")
    )
    staging.staged_put(
        actor=contributor, batch="new", path="a", stream=io.BytesIO(b"x")
    )
    old = artifact_root / "staging" / str(contributor.pk) / "old" / "a"
    then = time.time() - 2 * 86400
    os.utime(old, (then, then))

    assert staging.staging_sweep(grace=timedelta(hours=24)) == 1
    assert staging.staged_list(actor=contributor, batch="old") == {}
    assert staging.staged_list(actor=contributor, batch="new") == {"a": 1}
