"""The baseline beside every candidate (issue 14, item 3): deltas against the version
live on each endpoint and against @champion, better/worse by each metric's direction."""

from __future__ import annotations

import re

import pytest

from approvals.directions import higher_is_better
from approvals.models import MetricDirection
from catalog.models import Alias
from deployments.models import Endpoint
from tests.ui.helpers import register, served
from tests.ui.test_query_counts import queries

pytestmark = pytest.mark.django_db
V3 = "/models/iris/versions/3/"


@pytest.fixture
def candidate(contributor, iris, endpoint, approve, reviewer):
    """v1 live on iris-prod, v2 the @champion, v3 the candidate under review."""
    v1 = approve(
        register(contributor, iris, metrics={"accuracy": 0.90, "loss": 0.30}),
        reviewer,
    )
    served(endpoint, v1)
    v2 = register(contributor, iris, metrics={"accuracy": 0.92, "loss": 0.25})
    Alias.objects.create(
        group=iris, name="champion", version=v2, updated_by=contributor
    )
    return register(
        contributor, iris, metrics={"accuracy": 0.95, "loss": 0.28, "f1": 0.8}
    )


def cell(html: str, metric: str, baseline: int) -> str:
    row = html.split(f'<tr data-metric="{metric}">')[1].split("</tr>")[0]
    found = re.search(rf'data-baseline="{baseline}">(.*?)</td>', row, re.S)
    assert found, row
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_each_metric_shows_its_delta_against_live_and_champion(
    browser_for, viewer, candidate
):
    html = browser_for(viewer).get(V3).content.decode()

    assert "vs iris-prod" in html
    assert "vs @champion" in html
    assert cell(html, "accuracy", 0) == "0.9 +0.05 (+5.6%) ▲ better"
    assert cell(html, "loss", 0) == "0.3 -0.02 (-6.7%) ▲ better"
    assert cell(html, "accuracy", 1) == "0.92 +0.03 (+3.3%) ▲ better"
    assert cell(html, "loss", 1) == "0.25 +0.03 (+12.0%) ▼ worse"
    assert cell(html, "f1", 0) == "not reported"


def test_a_groups_own_direction_overrides_the_rule_of_names(
    browser_for, viewer, candidate, iris
):
    MetricDirection.objects.create(group=iris, metric="loss", higher_is_better=True)

    html = browser_for(viewer).get(V3).content.decode()

    assert cell(html, "loss", 0).endswith("▼ worse")


def test_compare_with_live_is_one_click(browser_for, viewer, candidate):
    html = browser_for(viewer).get(V3).content.decode()

    assert re.search(
        r'href="/models/iris/compare/\?versions=1,3" data-testid="compare-live">'
        r"compare with live \(v1 on iris-prod\)",
        html,
    )


def test_the_live_version_itself_is_not_its_own_baseline(
    browser_for, viewer, candidate
):
    html = browser_for(viewer).get("/models/iris/versions/1/").content.decode()

    assert "vs iris-prod" not in html
    assert "vs @champion" in html
    assert 'data-testid="compare-live"' not in html


@pytest.mark.parametrize(
    ("name", "higher"),
    [
        ("accuracy", True),
        ("auc", True),
        ("val_loss", False),
        ("logloss", False),
        ("mean_absolute_error", False),
        ("p99_latency_ms", False),
        ("rmse", False),
        ("mae", False),
        ("train_time", False),
        ("f1", True),
        ("recall", True),
    ],
)
def test_the_rule_of_names(name, higher):
    assert higher_is_better(name) is higher


def test_the_version_page_costs_the_same_with_more_baselines(
    browser_for, viewer, candidate, iris, deployer, contributor
):
    client = browser_for(viewer)
    one = queries(client, V3)
    for number in range(4):
        extra = register(contributor, iris, metrics={"accuracy": 0.8 + number / 100})
        served(
            Endpoint.objects.create(
                name=f"ep-{number}", group=iris, created_by=deployer
            ),
            extra,
        )

    assert queries(client, V3) == one <= 20


# --- The inbox ---------------------------------------------------------------------


def test_the_inbox_shows_each_candidate_beside_what_is_live(
    browser_for, reviewer, candidate
):
    html = browser_for(reviewer).get("/reviews/").content.decode()

    item = html.split('data-testid="inbox-iris-3"')[1].split("</article>")[0]
    assert cell(item, "accuracy", 0) == "0.9 +0.05 (+5.6%) ▲ better"
    assert cell(item, "loss", 1) == "0.25 +0.03 (+12.0%) ▼ worse"
    assert '<details class="comment-box"><summary>Add a comment</summary>' in item


def test_the_inbox_filters_by_group_and_shows_totals(
    browser_for, reviewer, contributor, candidate
):
    from catalog import services as catalog_services

    churn = catalog_services.group_create(actor=contributor, name="churn")
    register(contributor, churn)
    client = browser_for(reviewer)

    everything = client.get("/reviews/").content.decode()
    only_churn = client.get("/reviews/?group=churn").content.decode()

    assert "3 versions in 2 groups waiting for you" in everything
    assert '<option value="churn">churn (1)</option>' in everything
    assert '<option value="iris">iris (2)</option>' in everything
    assert re.findall(r'data-testid="inbox-([\w-]+)"', only_churn) == ["churn-1"]
    assert '<option value="churn" selected>churn (1)</option>' in only_churn


def test_the_inbox_costs_the_same_with_baselines_on_every_item(
    browser_for, reviewer, contributor, deployer
):
    from tests.ui.helpers import add_groups

    client = browser_for(reviewer)

    def grow(count: int) -> int:
        for group in add_groups(count, by=contributor, versions=2):
            live, _ = group.versions.order_by("version")
            endpoint = Endpoint.objects.create(
                name=f"ep-{group.name}", group=group, created_by=deployer
            )
            served(endpoint, live)
            Alias.objects.create(
                group=group, name="champion", version=live, updated_by=contributor
            )
        return queries(client, "/reviews/")

    assert grow(3) == grow(12) <= 14
