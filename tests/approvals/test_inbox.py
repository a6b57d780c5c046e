"""GET /reviews/inbox/: the pending versions that wait for the caller's review."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from approvals import services
from tests.approvals.helpers import (
    INBOX,
    approve,
    reject,
    resubmit,
)
from tests.helpers import query_count


@pytest.fixture
def inbox_of(client_for):
    def read(user):
        response = client_for(user).get(INBOX)
        assert response.status_code == 200, response.content
        return [f"{v['group']} v{v['version']}" for v in response.json()["results"]]

    return read


def test_it_lists_pending_versions_oldest_first(
    make_group, make_version, iris, make_reviewer, inbox_of
):
    make_version(make_group("churn"))
    make_version(iris)
    make_version(iris)

    assert inbox_of(make_reviewer()) == ["churn v1", "iris v1", "iris v2"]


def test_it_leaves_out_approved_and_rejected_versions(
    make_version, make_reviewer, inbox_of
):
    approved, rejected, _ = make_version(), make_version(), make_version()
    approve(make_reviewer(), approved)
    reject(make_reviewer(), rejected)

    assert inbox_of(make_reviewer()) == ["iris v3"]


def test_it_leaves_out_versions_the_caller_registered(
    make_user, make_version, inbox_of
):
    registrant = make_user("contributor", "reviewer")
    make_version(actor=registrant)
    make_version()

    assert inbox_of(registrant) == ["iris v2"]


def test_it_lists_own_versions_where_self_approval_is_allowed(
    make_user, make_version, set_policy, inbox_of
):
    registrant = make_user("contributor", "reviewer")
    set_policy(allow_self_approval=True)
    make_version(actor=registrant)

    assert inbox_of(registrant) == ["iris v1"]


@pytest.mark.parametrize("vote", [approve, reject], ids=["approved", "rejected"])
def test_it_leaves_out_versions_the_caller_voted_on_in_this_round(
    vote, version, set_policy, make_reviewer, inbox_of
):
    set_policy(required_approvals=2, reject_on_first_rejection=False)
    voter, other = make_reviewer(), make_reviewer()
    vote(voter, version)

    assert (inbox_of(voter), inbox_of(other)) == ([], ["iris v1"])


def test_a_comment_does_not_take_a_version_out_of_the_inbox(
    version, make_reviewer, inbox_of
):
    reviewer = make_reviewer()
    services.review_submit(
        actor=reviewer, version=version, decision="comment", comment="Why?"
    )

    assert inbox_of(reviewer) == ["iris v1"]


def test_a_resubmitted_version_returns_to_the_inbox_of_earlier_voters(
    version, set_policy, make_reviewer, contributor, inbox_of
):
    set_policy(required_approvals=2)
    first = make_reviewer()
    approve(first, version)
    reject(make_reviewer(), version)

    resubmit(contributor, version)

    assert inbox_of(first) == ["iris v1"]


@pytest.fixture
def restricted(make_group, make_version, iris, set_policy):
    """``iris`` is reviewed only by ``fraud-team``; ``churn`` by every reviewer."""
    team = Group.objects.create(name="fraud-team")
    set_policy(reviewers="fraud-team")
    make_version(iris)
    make_version(make_group("churn"))
    return team


def test_it_leaves_out_groups_whose_reviewers_the_caller_is_not_among(
    restricted, make_reviewer, inbox_of
):
    assert inbox_of(make_reviewer()) == ["churn v1"]


def test_it_lists_groups_whose_reviewer_group_the_caller_is_in(
    restricted, make_reviewer, inbox_of
):
    member = make_reviewer()
    member.groups.add(restricted)

    assert inbox_of(member) == ["iris v1", "churn v1"]


def test_an_admin_sees_every_group(restricted, admin_user, inbox_of):
    assert inbox_of(admin_user) == ["iris v1", "churn v1"]


def test_the_inbox_uses_a_constant_number_of_queries(
    make_version, make_reviewer, client_for
):
    client = client_for(make_reviewer())
    make_version()
    client.get(INBOX)  # the caller's roles are read once, then cached
    few = query_count(lambda: client.get(INBOX))
    for _ in range(4):
        make_version()

    assert query_count(lambda: client.get(INBOX)) == few
