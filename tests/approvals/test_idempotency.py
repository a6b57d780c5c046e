"""Reviews and resubmissions honour ``Idempotency-Key`` (issue 10, defect 7)."""

from __future__ import annotations

from approvals.models import Review

REVIEWS = "/api/v1/model-groups/iris/versions/1/reviews/"


def test_a_retried_review_is_recorded_once(version, make_reviewer, client_for):
    client = client_for(make_reviewer())
    body = {"decision": "comment", "comment": "one question"}

    first = client.post(REVIEWS, body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    again = client.post(REVIEWS, body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Review.objects.filter(decision="comment").count() == 1


def test_a_retried_resubmission_is_recorded_once(
    version, make_reviewer, owner, client_for
):
    rejected = client_for(make_reviewer()).post(
        REVIEWS, {"decision": "reject", "comment": "no"}, format="json"
    )
    assert rejected.status_code == 201, rejected.content
    client = client_for(owner)
    path = "/api/v1/model-groups/iris/versions/1/resubmit"
    reviews = Review.objects.count()

    first = client.post(
        path, {"comment": "fixed"}, format="json", HTTP_IDEMPOTENCY_KEY="s"
    )
    again = client.post(
        path, {"comment": "fixed"}, format="json", HTTP_IDEMPOTENCY_KEY="s"
    )

    assert first.status_code == again.status_code
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Review.objects.count() == reviews + 1
