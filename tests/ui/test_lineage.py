"""A version's lineage: dataset, commit, pipeline run, and where it served and when,
whom it replaced and who replaced it (issue 14, item 10)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.models import Deployment, DeploymentStatus
from tests.ui.helpers import register
from tests.ui.test_query_counts import queries

pytestmark = pytest.mark.django_db
COMMIT = "3f2a9c1d4e5b6a7980123456789abcdef0123456"


def served_after(endpoint, version, previous, minutes):
    return Deployment.objects.create(
        endpoint=endpoint,
        version=version,
        previous_version=previous,
        reason="approval",
        status=DeploymentStatus.SUCCEEDED,
        finished_at=timezone.now() - timedelta(minutes=60 - minutes),
    )


def text(html: str) -> str:
    section = html.split('data-testid="lineage"')[1].split("</ol>")[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", section))


def test_the_lineage_names_dataset_commit_run_and_where_it_served(
    browser_for, viewer, contributor, iris, endpoint
):
    v1 = register(contributor, iris)
    v2 = register(
        contributor,
        iris,
        lineage={
            "dataset_uri": "s3://data/iris/2026-11",
            "commit": COMMIT,
            "pipeline_run": "4711",
        },
    )
    v3 = register(contributor, iris)
    served_after(endpoint, v1, None, 0)
    served_after(endpoint, v2, v1, 10)
    served_after(endpoint, v3, v2, 20)

    html = browser_for(viewer).get("/models/iris/versions/2/").content.decode()

    said = text(html)
    assert "Trained on s3://data/iris/2026-11" in said
    assert "Code at commit 3f2a9c1d4e5b…" in said
    assert "Built by pipeline run 4711" in said
    assert re.search(
        r"Served on iris-prod from [\d: -]+ to [\d: -]+, replacing v1; "
        r"replaced by v3",
        said,
    )


def test_a_version_still_serving_says_until_now(
    browser_for, viewer, contributor, iris, endpoint
):
    v1 = register(contributor, iris)
    served_after(endpoint, v1, None, 0)

    said = text(browser_for(viewer).get("/models/iris/versions/1/").content.decode())

    assert "until now" in said
    assert "replaced by" not in said


def test_the_lineage_costs_the_same_however_often_it_served(
    browser_for, viewer, contributor, iris, endpoint
):
    v1 = register(contributor, iris)
    v2 = register(contributor, iris)
    client = browser_for(viewer)
    served_after(endpoint, v1, None, 0)
    once = queries(client, "/models/iris/versions/1/")
    for minutes in range(1, 20, 2):
        served_after(endpoint, v2, v1, minutes)
        served_after(endpoint, v1, v2, minutes + 1)

    assert queries(client, "/models/iris/versions/1/") == once
