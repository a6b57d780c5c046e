"""An approval that expires under a revoking policy rolls the endpoint back like any
revocation (issue 15); time is advanced by passing ``now``, never slept."""

from __future__ import annotations

from approvals import services as approvals
from approvals.policies import verdict
from catalog import outbox
from catalog.models import Event, ModelVersion
from deployments import services as deploy
from deployments.models import Deployment


def test_an_expired_live_version_is_revoked_and_the_endpoint_rolls_back(
    endpoint, register_version, approve_and_deploy, admin_user, make_user
):
    approvals.policy_update(
        actor=admin_user,
        group=endpoint.group,
        approval_valid_days=30,
        on_expiry="revoke",
    )
    first, second = register_version(), register_version()
    approve_and_deploy(first)
    approve_and_deploy(second)
    approvals.review_submit(  # first re-certified after second was approved
        actor=make_user("reviewer", username="second-reviewer"),
        version=first,
        decision="approve",
        comment="still good",
    )
    second_ends = verdict(ModelVersion.objects.get(pk=second.pk))["approval_expires_at"]
    first_ends = verdict(ModelVersion.objects.get(pk=first.pk))["approval_expires_at"]
    assert second_ends < first_ends

    assert (
        approvals.approvals_expire(now=second_ends + (first_ends - second_ends) / 2)
        == 1
    )

    second.refresh_from_db()
    first.refresh_from_db()
    assert (first.approval_status, second.approval_status) == ("Approved", "Rejected")
    outbox.dispatch(Event.objects.get(kind="version.rejected", version=second).pk)
    deploy.deployment_run(Deployment.objects.get(reason="revocation").pk)
    endpoint.refresh_from_db()
    assert endpoint.live_version == first
