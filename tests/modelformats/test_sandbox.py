"""The child process: a bare environment, resource limits, a JSON answer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelformats import sandbox

CHILD = "child_env"


@pytest.fixture(autouse=True)
def child_folder(tmp_path, monkeypatch):
    """The child module in a folder of its own on the import path: where Landlock
    confines the child, it reads that folder and not the source tree."""
    here = Path(__file__).resolve().parent
    (tmp_path / "child_env.py").write_text((here / "child_env.py").read_text())
    monkeypatch.syspath_prepend(str(tmp_path))
    return str(tmp_path)


def test_the_child_sees_none_of_the_service_environment(monkeypatch):
    monkeypatch.setenv("REGISTRY_SECRET_KEY", "do-not-leak")
    monkeypatch.setenv("REGISTRY_SKOPS_TRUSTED_TYPES", "fractions.Fraction")

    outcome = sandbox.run(
        CHILD,
        [],
        stdin=b"job",
        timeout=30,
        memory=2 * 1024**3,
        read=[str(Path(sys.path[0]))],
    )

    assert outcome.returncode == 0
    assert set(outcome.result["env"]) == {
        "PATH",
        "LANG",
        "OMP_NUM_THREADS",
        "PYTHONPATH",
        "TMPDIR",  # its own scratch folder, removed when it ends
        "HOME",
    }
    assert outcome.result["env"]["TMPDIR"] == outcome.result["env"]["HOME"]
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
            CHILD, [], timeout=0.01, memory=2 * 1024**3, read=[str(Path(sys.path[0]))]
        )
