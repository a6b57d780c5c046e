"""Issue 15: the version page says whether the version is attested, by which key,
with a download of the signed attestation."""

from __future__ import annotations

from approvals.services import review_submit
from catalog.models import Attestation


def test_an_approved_version_shows_its_attestation_and_a_download(
    browser_for, viewer, reviewer, v1, approve
):
    approve(v1, reviewer)
    keyid = Attestation.objects.get(version=v1).keyid

    page = browser_for(viewer).get("/models/iris/versions/1/").content.decode()

    assert "Attested</strong>, signed by key" in page
    assert keyid[:16] in page
    assert 'href="/api/v1/model-groups/iris/versions/1/attestation"' in page
    download = browser_for(viewer).get(
        "/api/v1/model-groups/iris/versions/1/attestation"
    )
    assert download.status_code == 200
    assert download.json()["signatures"][0]["keyid"] == keyid


def test_a_pending_version_shows_no_attestation(browser_for, viewer, v1):
    page = browser_for(viewer).get("/models/iris/versions/1/").content.decode()

    assert 'data-testid="attestation"' not in page


def test_a_revoked_version_says_its_attestation_was_revoked(
    browser_for, viewer, reviewer, v1, approve
):
    approve(v1, reviewer)
    review_submit(actor=reviewer, version=v1, decision="reject", comment="leak")

    page = browser_for(viewer).get("/models/iris/versions/1/").content.decode()

    assert "Attestation revoked</strong>" in page
    assert f"revoked by {reviewer.username}" in page
