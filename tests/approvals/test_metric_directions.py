"""GET/PUT/DELETE /model-groups/{name}/metric-directions[/{metric}] (issue 14): which
way each metric is better, per group; admins set it, everyone reads it."""

from __future__ import annotations

import pytest

from approvals.models import MetricDirection
from catalog.models import Event
from tests.approvals.helpers import error_of

pytestmark = pytest.mark.django_db
URL = "/api/v1/model-groups/iris/metric-directions"


def test_reported_metrics_follow_the_rule_of_names_until_set(
    make_version, client_for, viewer
):
    make_version(metrics={"accuracy": 0.9, "log_loss": 0.2, "latency_ms": 3.0})

    answer = client_for(viewer).get(URL)

    assert answer.status_code == 200
    assert answer.json() == [
        {"metric": "accuracy", "higher_is_better": True, "source": "default"},
        {"metric": "latency_ms", "higher_is_better": False, "source": "default"},
        {"metric": "log_loss", "higher_is_better": False, "source": "default"},
    ]


def test_an_admin_sets_and_clears_a_direction(
    make_version, client_for, admin_user, viewer
):
    make_version(metrics={"coverage": 0.5})
    admin = client_for(admin_user)

    put = admin.put(f"{URL}/coverage", {"higher_is_better": False}, format="json")

    assert put.status_code == 200, put.content
    assert put.json() == {
        "metric": "coverage",
        "higher_is_better": False,
        "source": "group",
    }
    assert client_for(viewer).get(URL).json()[0]["source"] == "group"
    event = Event.objects.filter(kind="policy.updated").latest("id")
    assert event.payload == {"metric_direction": {"coverage": "lower"}}

    assert admin.delete(f"{URL}/coverage").status_code == 204
    assert not MetricDirection.objects.exists()
    assert client_for(viewer).get(URL).json() == [
        {"metric": "coverage", "higher_is_better": True, "source": "default"}
    ]


def test_a_direction_for_a_metric_not_reported_yet_is_listed(
    iris, client_for, admin_user
):
    client_for(admin_user).put(
        f"{URL}/drift", {"higher_is_better": False}, format="json"
    )

    assert client_for(admin_user).get(URL).json() == [
        {"metric": "drift", "higher_is_better": False, "source": "group"}
    ]


def test_only_admins_set_directions(iris, client_for, reviewer):
    answer = client_for(reviewer).put(
        f"{URL}/auc", {"higher_is_better": True}, format="json"
    )

    assert answer.status_code == 403
    assert not MetricDirection.objects.exists()


@pytest.mark.parametrize(
    ("metric", "body", "field"),
    [
        ("auc", {}, "higher_is_better"),
        ("auc", {"higher_is_better": "yes"}, "higher_is_better"),
        ("auc", {"higher_is_better": 1}, "higher_is_better"),
        ("not a name!", {"higher_is_better": True}, "metric"),
    ],
)
def test_bad_input_names_the_field(iris, client_for, admin_user, metric, body, field):
    answer = client_for(admin_user).put(f"{URL}/{metric}", body, format="json")

    assert answer.status_code == 400
    assert field in error_of(answer)["fields"]
    assert not MetricDirection.objects.exists()


def test_an_unknown_group_is_404(db, client_for, admin_user):
    answer = client_for(admin_user).get("/api/v1/model-groups/nope/metric-directions")

    assert answer.status_code == 404
