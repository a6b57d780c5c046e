"""Issue 10: property-based requests from the OpenAPI schema, as an admin and as a
contributor: no answer is a 5xx, and every answer fits the schema.

Bounded for CI (``SCHEMATHESIS_MAX_EXAMPLES``, default 8 per operation); set it higher
for a longer run (``make fuzz``).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks

from accounts.services import token_issue

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "8"))
CHECKS = [
    schemathesis.checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.content_type_conformance,
]


def _schema() -> Any:
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = WSGIHandler()
    return loaded


schema = _schema()


@pytest.fixture
def keys(make_user: Any, settings: Any) -> Any:
    settings.ALLOWED_HOSTS = ["*"]
    admin = make_user("admin", "contributor", "reviewer", "deployer")
    contributor = make_user("contributor")
    # As Django's test client does: the test's transaction must outlive each request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield {
        "admin": token_issue(user=admin)[1],
        "contributor": token_issue(user=contributor)[1],
    }
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["admin", "contributor"])
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_the_api_never_answers_5xx_or_off_schema(
    case: Any, persona: str, keys: dict[str, str]
) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Token {keys[persona]}"}, checks=CHECKS
    )
