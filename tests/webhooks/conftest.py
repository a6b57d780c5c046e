from __future__ import annotations

from typing import Any

import pytest

from tests.receiver import Receiver


@pytest.fixture
def receiver() -> Any:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def deployer(make_user: Any) -> Any:
    return make_user("deployer")
