from __future__ import annotations

from typing import Any

import pytest

from tests.receiver import Receiver


@pytest.fixture
def receiver() -> Any:
    server = Receiver().start()
    yield server
    server.stop()
