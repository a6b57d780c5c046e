"""Issue 13: a pickle model served from its limited child. A child that dies under a
call is a 503 with the reason (never a 500), and the model is marked stopped, so the
next request loads it in a new child (tests/deployments/test_isolated_serving.py)."""

from __future__ import annotations

import os
import signal
import tempfile
from typing import Any

import pytest

from deployments import isolated_serving, serving
from modelformats import confine
from tests import models as real_models
from tests.helpers import SAMPLE

pytestmark = pytest.mark.skipif(
    not confine.available(), reason="Landlock is not available"
)


@pytest.fixture
def live(settings: Any) -> Any:
    settings.REGISTRY_SKOPS_TRUSTED_TYPES = []
    with tempfile.NamedTemporaryFile(suffix=".pkl") as handle:
        handle.write(real_models.iris_pickle())
        handle.flush()
        predictor = isolated_serving.load(handle.name, "pickle")
    yield serving.Live(1, 1, predictor)
    predictor.close()


def test_a_child_that_dies_is_a_503_naming_it_and_marks_the_model_stopped(
    live: Any,
) -> None:
    assert serving.run(live, SAMPLE)  # answers while alive
    assert not live.predictor.stopped

    os.kill(live.predictor.pid, signal.SIGKILL)
    with pytest.raises(serving.NotServing, match="loads again on the next request"):
        serving.run(live, SAMPLE)

    assert live.predictor.stopped
