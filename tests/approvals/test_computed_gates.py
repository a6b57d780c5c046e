"""Issue 15: metric gates on registry-computed metrics (``"source": "computed"``). A
model that reports accuracy 0.99 but scores lower on the group's evaluation set
passes its reported gate and fails its computed one; a computed gate with nothing
computed yet fails with the reason."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from approvals import policies
from approvals.models import ApprovalPolicy
from catalog import evaluation, outbox
from catalog.models import Evaluation, Event
from tests.approvals.helpers import error_of, policy_url, post_review, version_url
from tests.catalog.test_evaluation import iris_csv, wrong_labels

pytestmark = pytest.mark.django_db

REPORTED = {"metric": "accuracy", "op": ">=", "value": 0.9}
COMPUTED = {**REPORTED, "source": "computed"}


@pytest.fixture
def admin_api(client_for, admin_user):
    return client_for(admin_user)


def add_set(owner, iris, content: bytes) -> None:
    evaluation.evaluation_set_create(
        actor=owner,
        group=iris,
        file=ContentFile(content, name="iris.csv"),
        label_column="species",
        task="classification",
        metrics=["accuracy"],
    )


def evaluate_all() -> None:
    for event_id in Event.objects.order_by("id").values_list("pk", flat=True):
        outbox.dispatch(event_id)
    for pk in Evaluation.objects.values_list("pk", flat=True):
        evaluation.evaluation_run(pk)


@pytest.fixture
def liar(owner, iris, make_version):
    """A version that reports accuracy 0.99 and scores about 0.67 on set 1."""
    add_set(owner, iris, iris_csv(labels=wrong_labels()))
    version = make_version(metrics={"accuracy": 0.99})
    evaluate_all()
    version.refresh_from_db()
    return version


def test_a_lying_model_passes_its_reported_gate_and_fails_its_computed_one(
    liar, set_policy, client_for, make_reviewer
):
    set_policy(metric_gates=[REPORTED, COMPUTED])

    verdict = client_for(make_reviewer()).get(version_url(liar, "verdict")).json()

    computed = liar.computed_metrics["accuracy"]["value"]
    assert verdict["gates"] == [
        {"name": "accuracy >= 0.9", "passed": True, "detail": "accuracy is 0.99"},
        {
            "name": "computed accuracy >= 0.9",
            "passed": False,
            "detail": f"computed accuracy is {computed:g} on evaluation set v1",
        },
    ]
    assert verdict["gates_pass"] is False
    assert [m["metric"] for m in verdict["metric_mismatches"]] == ["accuracy"]
    assert "reported ≠ computed: accuracy" in verdict["summary"]


def test_a_failing_computed_gate_blocks_approval(
    liar, set_policy, client_for, make_reviewer
):
    set_policy(metric_gates=[COMPUTED])

    response = post_review(client_for(make_reviewer()), liar, "approve")

    assert response.status_code == 400
    assert error_of(response)["fields"]["gates"] == ["computed accuracy >= 0.9"]


def test_a_computed_gate_without_a_computed_value_fails_with_the_reason(
    make_version, set_policy
):
    set_policy(metric_gates=[COMPUTED])
    version = make_version(metrics={"accuracy": 0.99})

    [result] = policies.gate_results(version, policies.policy_for(version.group))

    assert not result.passed
    assert result.detail == (
        "computed accuracy is missing: no successful evaluation has computed it yet"
    )


def test_an_honest_model_passes_its_computed_gate_pinned_to_a_set(
    owner, iris, make_version, set_policy
):
    add_set(owner, iris, iris_csv())
    version = make_version(metrics={"accuracy": 0.97})
    evaluate_all()
    set_policy(metric_gates=[{**COMPUTED, "evaluation_set": 1}])

    [result] = policies.gate_results(version, ApprovalPolicy.objects.get())

    assert result.passed, result.detail
    assert result.name == "computed accuracy >= 0.9 on evaluation set v1"
    set_policy(metric_gates=[{**COMPUTED, "evaluation_set": 2}])
    [pinned] = policies.gate_results(version, ApprovalPolicy.objects.get())
    assert not pinned.passed
    assert "on evaluation set v2" in pinned.detail


def test_the_policy_api_stores_the_source(iris, admin_api):
    response = admin_api.put(
        policy_url(), {"metric_gates": [REPORTED, COMPUTED]}, format="json"
    )

    assert response.status_code == 200, response.content
    assert admin_api.get(policy_url()).json()["metric_gates"] == [REPORTED, COMPUTED]


@pytest.mark.parametrize(
    "gate",
    [
        {**REPORTED, "source": "guessed"},
        {**REPORTED, "evaluation_set": 1},
        {**COMPUTED, "evaluation_set": "v1"},
        {**COMPUTED, "evaluation_set": 0},
    ],
)
def test_a_bad_gate_source_is_a_400_naming_the_gate(iris, admin_api, gate):
    response = admin_api.put(policy_url(), {"metric_gates": [gate]}, format="json")

    assert response.status_code == 400
    assert "metric_gates[0]" in error_of(response)["fields"]
