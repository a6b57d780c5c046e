"""The CLI installs alone: ``pip install ./cli`` into a bare virtualenv gives a working
``modelreg`` without the server's dependencies (issue 11, item 7).

pip finds the three dependencies through its usual configuration and cache; to run
offline, point it at a wheelhouse (``PIP_NO_INDEX=1 PIP_FIND_LINKS=/path``)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = ("github-actions.yml", "gitlab-ci.yml")
SERVER_ONLY = ("django", "rest_framework", "celery", "onnxruntime", "sklearn", "numpy")


def _run(*command: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_cli_installs_without_the_server_and_runs(tmp_path):
    source = tmp_path / "cli"
    shutil.copytree(
        REPO / "cli",
        source,
        ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"),
    )
    venv = tmp_path / "venv"
    made = _run(sys.executable, "-m", "venv", venv)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"

    installed = _run(python, "-m", "pip", "install", "--quiet", source)
    assert installed.returncode == 0, installed.stderr

    help_text = _run(venv / "bin" / "modelreg", "--help")
    assert help_text.returncode == 0, help_text.stderr
    assert "MODELREG_URL" in help_text.stdout
    probe = "import sys, importlib.util as u; print([m for m in sys.argv[1:] if u.find_spec(m)])"
    found = _run(python, "-c", probe, *SERVER_ONLY)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "[]"


def test_the_ci_examples_install_the_cli_not_the_server():
    for example in EXAMPLES:
        text = (REPO / "docs" / "ci" / example).read_text()
        (line,) = re.findall(r"pip install (.+)", text)
        ours = [r for r in shlex.split(line) if "model-registry" in r]
        assert ours == [
            "modelreg @ git+https://github.com/example/model-registry#subdirectory=cli"
        ], example
