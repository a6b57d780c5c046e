"""The child process: a bare environment, resource limits, a JSON answer."""

from __future__ import annotations

import subprocess

import pytest

from modelformats import sandbox

CHILD = "tests.modelformats.child_env"


def test_the_child_sees_none_of_the_service_environment(monkeypatch):
    monkeypatch.setenv("REGISTRY_SECRET_KEY", "do-not-leak")
    monkeypatch.setenv("REGISTRY_SKOPS_TRUSTED_TYPES", "fractions.Fraction")

    outcome = sandbox.run(CHILD, [], stdin=b"job", timeout=30, memory=2 * 1024**3)

    assert outcome.returncode == 0
    assert set(outcome.result["env"]) == {
        "PATH",
        "LANG",
        "OMP_NUM_THREADS",
        "PYTHONPATH",
    }
    assert outcome.result["stdin"] == "job"
    assert outcome.result["memory"] == 2 * 1024**3


def test_a_child_that_answers_no_json_has_no_result():
    outcome = sandbox.run(
        "this_module_does_not_exist", [], timeout=30, memory=2 * 1024**3
    )

    assert outcome.result is None
    assert outcome.returncode != 0
    assert "No module named" in outcome.stderr_tail


def test_the_wall_time_limit_raises():
    with pytest.raises(subprocess.TimeoutExpired):
        sandbox.run(
            "tests.modelformats.child_env", [], timeout=0.01, memory=2 * 1024**3
        )
