"""The activity log reads as sentences, with the details on demand (issue 14, item 7)."""

from __future__ import annotations

import re

import pytest

from approvals.services import review_submit
from catalog import services as catalog_services
from deployments import services as deploy
from deployments.models import Deployment
from deployments.services import transitions
from tests.ui.helpers import register

pytestmark = pytest.mark.django_db


def sentences(html: str) -> list[str]:
    found = re.findall(r'<span class="sentence">(.*?)</span>', html, re.S)
    return [re.sub(r"<[^>]+>", "", s) for s in found]


def test_reviews_and_revocations_read_as_sentences(
    browser_for, viewer, make_user, contributor, iris
):
    rita = make_user("reviewer", username="rita")
    version = register(contributor, iris)
    review_submit(actor=rita, version=version, decision="approve", comment="ok")
    review_submit(actor=rita, version=version, decision="reject", comment="leak")

    said = sentences(browser_for(viewer).get("/activity/").content.decode())

    assert said[:4] == [
        "rita revoked the approval of iris v1",
        "rita voted to reject iris v1 (round 1)",
        "rita approved iris v1 (1 approval)",
        "rita voted to approve iris v1 (round 1)",
    ]
    assert f"{contributor.username} registered iris v1" in said
    assert f"{contributor.username} created iris" in said


def test_deployments_and_aliases_read_as_sentences(
    browser_for, viewer, contributor, deployer, iris, v1
):
    endpoint = deploy.endpoint_create(actor=deployer, name="iris-prod", group=iris)
    catalog_services.alias_set(
        actor=contributor, group=iris, name="candidate", version_number=1
    )
    deployment = Deployment.objects.create(
        endpoint=endpoint, version=v1, reason="manual"
    )
    transitions.queued(deployment, actor=deployer)

    said = sentences(browser_for(viewer).get("/activity/").content.decode())

    assert said[0] == f"{deployer.username} queued iris v1 for iris-prod"
    assert f"{contributor.username} pointed @candidate at iris v1" in said
    assert f"{deployer.username} created endpoint iris-prod for iris" in said


def test_the_details_are_there_on_demand(browser_for, viewer, v1):
    html = browser_for(viewer).get("/activity/").content.decode()

    assert '<details class="event-details"><summary>Details' in html
    assert "<code>version.registered</code>" in html


def test_dates_are_iso_text_inputs_and_a_plain_date_filters(browser_for, viewer, v1):
    client = browser_for(viewer)

    html = client.get("/activity/", {"since": "2999-01-01"}).content.decode()

    assert 'type="datetime-local"' not in html
    assert 'placeholder="2026-11-30 or 2026-11-30T09:00"' in html
    assert sentences(html) == []
    assert (
        len(
            sentences(
                client.get("/activity/", {"until": "2999-01-01"}).content.decode()
            )
        )
        == 2
    )


def test_the_group_picker_offers_the_group_names(browser_for, viewer, iris):
    html = browser_for(viewer).get("/activity/").content.decode()

    assert '<datalist id="a-groups"><option value="iris"></option></datalist>' in html
