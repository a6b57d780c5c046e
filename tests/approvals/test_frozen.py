"""Issue 10, defect 3: what a reviewer approved cannot change (and defect 9: PUT/PATCH
of the approval policy)."""

from __future__ import annotations

import pytest

from catalog import services as catalog_services
from catalog.models import Event, ModelVersion
from common.errors import Conflict
from tests.approvals.helpers import (
    APPROVED,
    PENDING,
    approve,
    policy_url,
    reject,
    version_url,
)
from tests.concurrency import run_at_once

FROZEN = {
    "metrics": {"auc": 0.5},
    "hyperparameters": {"C": 2},
    "lineage": {"commit": "abc1234"},
    "input_schema": {"shape": [-1, 4]},
    "output_schema": {"shape": [-1]},
    "sample_payload": {"inputs": [[1, 2, 3, 4]]},
    "model_card": "# Changed after approval",
}
MUTABLE = {
    "description": "Now documented.",
    "tags": {"team": "vision"},
    "customer_metadata": {"owner": "ml-platform"},
}


@pytest.mark.parametrize("field", sorted(FROZEN))
def test_it_refuses_to_change_what_reviewers_approved(
    field, version, make_reviewer, contributor, client_for
):
    approve(make_reviewer(), version)
    before = ModelVersion.objects.get(pk=version.pk)

    response = client_for(contributor).patch(
        version_url(version), {field: FROZEN[field]}, format="json"
    )

    assert response.status_code == 409, response.content
    assert field in response.json()["error"]["fields"]
    after = ModelVersion.objects.get(pk=version.pk)
    assert getattr(after, field) == getattr(before, field)
    assert not Event.objects.filter(kind="version.updated").exists()


@pytest.mark.parametrize("field", sorted(FROZEN))
def test_a_rejected_version_keeps_its_reviewed_metadata_too(
    field, version, make_reviewer, contributor
):
    reject(make_reviewer(), version)

    with pytest.raises(Conflict):
        catalog_services.version_update(
            actor=contributor, version=version, **{field: FROZEN[field]}
        )


@pytest.mark.parametrize("field", sorted(MUTABLE))
def test_description_tags_and_customer_metadata_stay_editable_with_an_event(
    field, version, make_reviewer, contributor, client_for
):
    approve(make_reviewer(), version)

    response = client_for(contributor).patch(
        version_url(version), {field: MUTABLE[field]}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()[field] == MUTABLE[field]
    (event,) = Event.objects.filter(kind="version.updated", version_id=version.pk)
    assert event.payload == {"fields": [field], field: MUTABLE[field]}


@pytest.mark.parametrize("field", sorted(FROZEN))
def test_a_pending_version_is_still_editable(field, version, contributor, client_for):
    response = client_for(contributor).patch(
        version_url(version), {field: FROZEN[field]}, format="json"
    )

    assert response.status_code == 200, response.content


def test_the_version_page_shows_metadata_edits_in_the_timeline(
    version, make_reviewer, contributor, client
):
    approve(make_reviewer(), version)
    catalog_services.version_update(
        actor=contributor, version=version, description="Clarified."
    )
    client.force_login(contributor)

    page = client.get(f"/models/iris/versions/{version.version}/").content.decode()

    assert 'data-testid="timeline-edit"' in page
    assert "Edited</strong> description by owner" not in page  # edited by contributor
    assert f"description by {contributor.username}" in page


def test_the_edit_form_of_an_approved_version_keeps_frozen_fields_read_only(
    version, make_reviewer, contributor, client
):
    catalog_services.version_update(
        actor=contributor, version=version, model_card="line one\nline two"
    )
    approve(make_reviewer(), version)
    client.force_login(contributor)

    # A browser posts every field back, with CRLF line ends in text areas.
    response = client.post(
        f"/models/iris/versions/{version.version}/edit/",
        {
            "description": "New words.",
            "model_card": "line one\r\nline two",
            "tags": "{}",
            "customer_metadata": "{}",
            "lineage": '{"commit": "forged"}',
            "sample_payload": "",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    version.refresh_from_db()
    assert version.description == "New words."
    assert version.lineage == {}
    assert version.model_card == "line one\nline two"


@pytest.mark.django_db(transaction=True)
def test_a_metrics_edit_racing_an_approval_never_leaves_an_approved_version_failing_its_gate(
    make_version, set_policy, make_reviewer, contributor
):
    set_policy(metric_gates=[{"metric": "auc", "op": ">=", "value": 0.9}])
    reviewer = make_reviewer()
    versions = [make_version(metrics={"auc": 0.95}) for _ in range(8)]
    jobs = []
    for version in versions:
        # Each side holds its own copy, read before the other side writes, as a
        # view does between get_object() and the service call.
        stale = ModelVersion.objects.select_related("group").get(pk=version.pk)
        fresh = ModelVersion.objects.select_related("group").get(pk=version.pk)
        jobs.append(lambda v=fresh: approve(reviewer, v))
        jobs.append(
            lambda v=stale: catalog_services.version_update(
                actor=contributor, version=v, metrics={"auc": 0.1}
            )
        )

    run_at_once(jobs)

    for version in versions:
        version.refresh_from_db()
        if version.approval_status == APPROVED:
            assert version.metrics == {"auc": 0.95}
        else:
            assert version.approval_status == PENDING
            assert version.metrics == {"auc": 0.1}


def test_put_replaces_the_policy_and_patch_changes_only_what_it_names(
    iris, admin_user, client_for
):
    client = client_for(admin_user)
    first = client.put(
        policy_url(),
        {"required_approvals": 3, "require_model_card": True},
        format="json",
    )
    assert first.status_code == 200, first.content

    patched = client.patch(policy_url(), {"allow_self_approval": True}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["required_approvals"] == 3
    assert patched.json()["require_model_card"] is True

    replaced = client.put(policy_url(), {"required_approvals": 2}, format="json")
    assert replaced.status_code == 200, replaced.content
    body = replaced.json()
    assert body["required_approvals"] == 2
    assert body["require_model_card"] is False
    assert body["allow_self_approval"] is False
