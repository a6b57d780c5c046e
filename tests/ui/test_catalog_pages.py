"""The catalog, a group, a version (with its edit form), compare, and activity pages."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from catalog import services as catalog_services
from catalog.models import Event
from tests.ui.helpers import add_groups, add_versions, served

pytestmark = pytest.mark.django_db


def rows_of(html: str, attribute: str) -> list[str]:
    return re.findall(rf'data-{attribute}="([^"]+)"', html)


# --- Catalog ---------------------------------------------------------------------


def test_the_catalog_lists_groups_with_latest_version_pending_count_and_live_endpoints(
    browser_for, viewer, v2, endpoint, approve, reviewer
):
    approve(v2.group.versions.get(version=1), reviewer)
    served(endpoint, v2.group.versions.get(version=1))

    html = browser_for(viewer).get("/").content.decode()

    row = html.split('data-group="iris"')[1].split("</tr>")[0]
    assert 'href="/models/iris/versions/2/"' in row  # the latest version
    assert "Pending review" in row
    assert '<span class="count warn">1</span>' in row  # v2 awaits review
    assert "iris-prod</a>:" in row
    assert "v1" in row.split("iris-prod</a>:")[1]  # live where


def test_the_catalog_searches_by_name_and_description(browser_for, viewer, iris):
    add_groups(2, by=iris.created_by)

    html = browser_for(viewer).get("/", {"q": "flowers"}).content.decode()

    assert rows_of(html, "group") == ["iris"]


def test_the_catalog_filters_by_tag(browser_for, viewer, iris):
    add_groups(2, by=iris.created_by)

    html = browser_for(viewer).get("/", {"tag": "team:ml"}).content.decode()

    assert rows_of(html, "group") == ["iris"]


def test_a_malformed_tag_filter_is_explained(browser_for, viewer, iris):
    response = browser_for(viewer).get("/", {"tag": "no-colon"})

    assert response.status_code == 400
    assert b"Use tag=key:value" in response.content


def test_the_catalog_sorts_and_paginates(browser_for, viewer, contributor):
    add_groups(30, by=contributor)
    client = browser_for(viewer)

    first = rows_of(client.get("/").content.decode(), "group")
    reverse = rows_of(client.get("/", {"sort": "-name"}).content.decode(), "group")
    second = rows_of(client.get("/", {"page": 2}).content.decode(), "group")

    assert len(first) == 25
    assert first == sorted(first)
    assert reverse[0] == max(first + second)
    assert len(second) == 5
    assert not set(first) & set(second)


# --- Group ---------------------------------------------------------------------------


def test_the_group_page_shows_versions_chart_policy_and_endpoints(
    browser_for, viewer, v2, endpoint, approve, reviewer
):
    served(endpoint, approve(v2.group.versions.get(version=1), reviewer))
    catalog_services.alias_set(
        actor=v2.created_by, group=v2.group, name="candidate", version_number=1
    )

    html = browser_for(viewer).get("/models/iris/").content.decode()

    assert rows_of(html, "version") == ["2", "1"]
    v1_row = html.split('data-version="1"')[1].split("</tr>")[0]
    assert "Approved" in v1_row
    assert "candidate" in v1_row
    assert "0.9" in v1_row  # accuracy column
    assert v2.created_by.username in v1_row
    assert "iris-prod" in v1_row  # deployed on
    assert 'id="metric-series"' in html
    assert "Approval policy" in html
    assert "Approvals required" in html
    assert "serves v1" in html


def test_the_group_page_filters_by_status(browser_for, viewer, v2, approve, reviewer):
    approve(v2.group.versions.get(version=1), reviewer)

    html = (
        browser_for(viewer)
        .get("/models/iris/", {"approval_status": "Approved"})
        .content.decode()
    )

    assert rows_of(html, "version") == ["1"]


def test_the_group_page_filters_by_metric_threshold(browser_for, viewer, v2):
    html = (
        browser_for(viewer).get("/models/iris/", {"metric": "accuracy>=0.93"}).content
    ).decode()

    assert rows_of(html, "version") == ["2"]


def test_a_malformed_metric_filter_is_explained(browser_for, viewer, v2):
    response = browser_for(viewer).get("/models/iris/", {"metric": "accuracy~1"})

    assert response.status_code == 400
    assert b"Use metric=&lt;name&gt;&lt;op&gt;&lt;number&gt;" in response.content


def test_the_group_page_paginates_versions(browser_for, viewer, iris, contributor):
    add_versions(iris, 30, by=contributor)
    client = browser_for(viewer)

    first = rows_of(client.get("/models/iris/").content.decode(), "version")
    second = rows_of(client.get("/models/iris/?page=2").content.decode(), "version")

    assert first[0] == "30"
    assert len(first) == 25
    assert second == ["5", "4", "3", "2", "1"]


def test_the_chart_shows_the_chosen_metrics(browser_for, viewer, v2):
    html = browser_for(viewer).get("/models/iris/?chart=f1").content.decode()

    assert '"shown": ["f1"]' in html


# --- Version ---------------------------------------------------------------------------


def test_the_version_page_shows_its_metadata_and_artifact(browser_for, viewer, v1):
    html = browser_for(viewer).get("/models/iris/versions/1/").content.decode()

    for text in (
        "first",
        "<h1>Card</h1>",
        "<strong>iris</strong>",
        "accuracy",
        "0.9",
        "abc1234",
        "ml-team",
        "stage",
        "ONNX",
        v1.artifact_sha256,
        'href="/api/v1/model-groups/iris/versions/1/artifact"',
        "Never deployed.",
        "Registered</strong> by",
    ):
        assert text in html, text


def test_the_artifact_link_downloads_with_the_session(browser_for, viewer, v1):
    response = browser_for(viewer).get("/api/v1/model-groups/iris/versions/1/artifact")

    assert response.status_code == 200
    assert response["ETag"] == f'"{v1.artifact_sha256}"'


def test_the_model_card_is_sanitised(browser_for, viewer, contributor, v1):
    catalog_services.version_update(
        actor=contributor,
        version=v1,
        model_card=(
            "<script>alert(1)</script>\n\n[x](javascript:alert(2))\n\n"
            '<img src=x onerror="alert(3)">\n\n**kept**'
        ),
    )

    html = browser_for(viewer).get("/models/iris/versions/1/").content.decode()
    card = html.split('data-testid="model-card"')[1].split("</div>")[0]

    assert "<script" not in card
    assert "javascript:" not in card
    assert "onerror" not in card
    assert "<strong>kept</strong>" in card


def test_the_version_page_shows_the_review_timeline_with_comments(
    browser_for, viewer, v1, reviewer, approve
):
    approve(v1, reviewer)

    html = browser_for(viewer).get("/models/iris/versions/1/").content.decode()

    assert f"<strong>Approve</strong> by {reviewer.username}" in html
    assert "<blockquote>ok</blockquote>" in html


def test_the_version_page_lists_its_deployments(
    browser_for, viewer, v1, endpoint, approve, reviewer
):
    served(endpoint, approve(v1, reviewer))

    html = browser_for(viewer).get("/models/iris/versions/1/").content.decode()

    assert "live on" in html
    assert 'href="/endpoints/iris-prod/"' in html
    assert "Succeeded" in html


@pytest.mark.parametrize(
    ("role", "shown"),
    [
        ("viewer", False),
        ("contributor", True),
        ("reviewer", False),
        ("deployer", False),
        ("admin", True),
    ],
)
def test_only_contributors_see_the_edit_form(browser_for, persona, v1, role, shown):
    html = browser_for(persona(role)).get("/models/iris/versions/1/").content.decode()

    assert ("Edit metadata" in html) is shown
    assert ('action="/models/iris/versions/1/edit/"' in html) is shown


def edit_data(**changes):
    data = {
        "description": "first",
        "model_card": "",
        "tags": "{}",
        "customer_metadata": "{}",
        "lineage": "{}",
        "sample_payload": "",
    }
    data.update(changes)
    return data


def test_a_contributor_edits_the_metadata(browser_for, contributor, v1):
    response = browser_for(contributor).post(
        "/models/iris/versions/1/edit/",
        edit_data(description="better words", tags='{"stage": "prod"}'),
    )

    assert response.status_code == 302
    v1.refresh_from_db()
    assert v1.description == "better words"
    assert v1.tags == {"stage": "prod"}
    assert Event.objects.filter(kind="version.updated", version=v1).exists()


def test_an_invalid_edit_shows_the_field_error(browser_for, contributor, v1):
    response = browser_for(contributor).post(
        "/models/iris/versions/1/edit/", edit_data(lineage='{"nope": "x"}')
    )

    assert response.status_code == 400
    assert b"Unknown key(s) nope" in response.content
    v1.refresh_from_db()
    assert v1.lineage == {"commit": "abc1234"}


def test_malformed_json_in_the_edit_form_is_explained(browser_for, contributor, v1):
    response = browser_for(contributor).post(
        "/models/iris/versions/1/edit/", edit_data(tags="{not json")
    )

    assert response.status_code == 400
    assert b"Enter a valid JSON" in response.content


# --- Compare ---------------------------------------------------------------------------


def test_compare_shows_versions_side_by_side(browser_for, viewer, v2):
    html = (
        browser_for(viewer).get("/models/iris/compare/?versions=1,2").content.decode()
    )

    assert ">v1</a></th>" in html
    assert ">v2</a></th>" in html
    assert 'data-row="Summary:Format"' in html  # the same in both
    assert 'data-row="Metrics:accuracy"' in html  # differs
    assert 'id="compare-chart"' in html


def test_differences_only_hides_rows_that_are_equal(browser_for, viewer, v2):
    html = (
        browser_for(viewer)
        .get("/models/iris/compare/", {"versions": "1,2", "diff": "1"})
        .content.decode()
    )

    assert 'data-row="Summary:Format"' not in html
    assert 'data-row="Metrics:f1"' not in html  # 0.88 in both
    assert 'data-row="Metrics:accuracy"' in html
    assert 'data-row="Hyperparameters:C"' in html


def test_compare_takes_repeated_versions_from_the_group_page(browser_for, viewer, v2):
    html = (
        browser_for(viewer)
        .get("/models/iris/compare/", {"versions": ["2", "1"]})
        .content.decode()
    )

    assert html.index(">v2</a></th>") < html.index(">v1</a></th>")


def test_compare_asks_for_two_versions(browser_for, viewer, v2):
    html = browser_for(viewer).get("/models/iris/compare/?versions=1").content.decode()

    assert "Choose two or more versions" in html


# --- Activity ---------------------------------------------------------------------------


def kinds_of(html: str) -> list[str]:
    return re.findall(r'<li data-kind="([a-z._]+)">', html)


def test_activity_lists_events_newest_first(browser_for, viewer, v2):
    html = browser_for(viewer).get("/activity/").content.decode()

    assert kinds_of(html) == [
        "version.registered",
        "version.registered",
        "group.created",
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "group.created"}, ["group.created", "group.created"]),
        ({"group": "other"}, ["group.created"]),
        ({"actor": "nobody"}, []),
    ],
)
def test_activity_filters(browser_for, viewer, contributor, v1, params, expected):
    catalog_services.group_create(actor=contributor, name="other")

    html = browser_for(viewer).get("/activity/", params).content.decode()

    assert kinds_of(html) == expected


def test_activity_filters_by_time(browser_for, viewer, v1):
    later = (timezone.now() + timezone.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    client = browser_for(viewer)

    assert kinds_of(client.get("/activity/", {"since": later}).content.decode()) == []
    assert (
        len(kinds_of(client.get("/activity/", {"until": later}).content.decode())) == 2
    )


def test_activity_pages_by_id(browser_for, viewer, contributor):
    for number in range(60):
        catalog_services.group_create(actor=contributor, name=f"g{number}")
    client = browser_for(viewer)

    first = client.get("/activity/").content.decode()
    before = re.search(r'href="\?before=(\d+)"', first).group(1)
    second = client.get("/activity/", {"before": before}).content.decode()

    assert len(kinds_of(first)) == 50
    assert len(kinds_of(second)) == 10
    assert "g59</a>" in first
    assert "g0</a>" in second


# --- One vocabulary (issue 14, item 9) ---------------------------------------------------


def test_one_name_per_status_in_badges_filters_and_compare(browser_for, viewer, v2):
    client = browser_for(viewer)

    group = client.get("/models/iris/").content.decode()
    compare = client.get("/models/iris/compare/?versions=1,2").content.decode()

    assert '<option value="PendingManualApproval">Pending review</option>' in group
    assert "Pending manual approval" not in group
    assert "Pending manual approval" not in compare
    assert "Pending review" in compare


def test_metrics_share_a_precision_per_column(browser_for, viewer, contributor, iris):
    from tests.ui.helpers import register

    register(contributor, iris, metrics={"accuracy": 0.9, "loss": 12.5})
    register(contributor, iris, metrics={"accuracy": 0.95123, "loss": 3.0})

    html = browser_for(viewer).get("/models/iris/").content.decode()

    assert '<td class="num">0.9000</td>' in html
    assert '<td class="num">0.9512</td>' in html
    assert '<td class="num">12.50</td>' in html
    assert '<td class="num">3.00</td>' in html


def test_compare_shows_sizes_for_people(browser_for, viewer, v2):
    html = (
        browser_for(viewer).get("/models/iris/compare/?versions=1,2").content.decode()
    )

    row = html.split('data-row="Summary:Size"')[1].split("</tr>")[0]
    assert re.search(r"\d+(\.\d)?\xa0(bytes|KB|MB)", row)


# --- Charts (issue 14, item 5) ---------------------------------------------------------


def test_the_chart_shows_gated_then_most_reported_metrics_and_marks(
    browser_for, viewer, admin_user, contributor, iris, endpoint, reviewer, approve
):
    import json

    from approvals import services as approval_services
    from tests.ui.helpers import register, served

    approval_services.policy_update(
        actor=admin_user,
        group=iris,
        metric_gates=[{"metric": "rare", "op": ">=", "value": 0}],
    )
    first = register(contributor, iris, metrics={"rare": 1.0, "a": 1, "b": 1, "c": 1})
    served(endpoint, approve(first, reviewer))
    for _ in range(2):
        register(contributor, iris, metrics={"b": 2, "c": 2, "z": 2})

    html = browser_for(viewer).get("/models/iris/").content.decode()

    data = json.loads(
        re.search(
            r'id="metric-series" type="application/json">(.*?)</script>', html
        ).group(1)
    )
    assert data["shown"] == ["rare", "b", "c"]
    assert data["approved"] == [1]
    assert data["marks"] == {"1": ["live: iris-prod"]}
    assert data["url"] == "/models/iris/"
