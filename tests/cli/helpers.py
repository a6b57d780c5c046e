"""Helpers shared by the CLI tests."""

from __future__ import annotations

import sys
from pathlib import Path

# The ``modelreg`` script installed next to this interpreter.
MODELREG = str(Path(sys.executable).with_name("modelreg"))
