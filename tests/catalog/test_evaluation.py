"""Issue 15: registry-computed evaluation. A group holds evaluation sets (uploaded,
validated, hashed, numbered); a version that becomes Ready is run on the latest set
in the limited child process deployments use, and the metrics computed from its
predictions are kept apart from the reported ones, mismatches flagged."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import pytest
from django.core.files.base import ContentFile
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from catalog import evaluation, metrics, outbox, selectors
from catalog.models import Evaluation, EvaluationSet, Event, ModelVersion
from common.errors import Conflict, Invalid
from tests import models as real_models
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris_csv(
    *, columns: list[str] | None = None, labels: Any = None, label: str = "species"
) -> bytes:
    _, features, target = real_models.iris_classifier()
    target = target if labels is None else labels
    names = columns or FEATURES
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*names, label])
    for row, y in zip(features, target, strict=True):
        writer.writerow([*(f"{float(v):.9g}" for v in row[: len(names)]), int(y)])
    return out.getvalue().encode()


def wrong_labels() -> np.ndarray:
    """Iris labels with every third one moved to the next class."""
    _, _, target = real_models.iris_classifier()
    labels = target.copy()
    labels[::3] = (labels[::3] + 1) % 3
    return labels


def upload(api: Any, content: bytes, **fields: Any) -> Any:
    body = {
        "file": ContentFile(content, name="iris.csv"),
        "label_column": "species",
        "task": "classification",
        **fields,
    }
    return api.post(
        "/api/v1/model-groups/iris/evaluation-sets/", body, format="multipart"
    )


def run_all(version: ModelVersion) -> list[Evaluation]:
    """Run the version's queued evaluations here (the task's body, no broker)."""
    found = list(Evaluation.objects.filter(version=version))
    for item in found:
        evaluation.evaluation_run(item.pk)
    return [Evaluation.objects.get(pk=item.pk) for item in found]


def dispatch_events() -> None:
    """What the outbox doorbell does after commit, here and at once."""
    for event_id in Event.objects.order_by("id").values_list("pk", flat=True):
        outbox.dispatch(event_id)


# --- Evaluation sets ------------------------------------------------------------------


def test_a_contributor_uploads_an_evaluation_set_hashed_and_numbered(api, group):
    first = upload(api, iris_csv())
    second = upload(api, iris_csv(), metrics="accuracy,f1")

    assert first.status_code == 201, first.content
    body = first.json()
    assert body["version"] == 1
    assert body["sha256"] == __import__("hashlib").sha256(iris_csv()).hexdigest()
    assert body["feature_columns"] == FEATURES
    assert body["rows"] == 150
    assert body["metrics"] == metrics.DEFAULT_METRICS["classification"]
    assert second.json()["version"] == 2
    assert second.json()["metrics"] == ["accuracy", "f1"]
    listed = api.get("/api/v1/model-groups/iris/evaluation-sets/").json()
    assert [s["version"] for s in listed["results"]] == [2, 1]


@pytest.mark.parametrize(
    ("content", "fields", "field"),
    [
        (iris_csv(label="kind"), {}, "label_column"),
        (b"a,b,species\n1,x,0\n", {}, "file"),
        (b"", {}, "file"),
        (b"a,b,species\n", {}, "file"),
        (iris_csv(), {"task": "ranking"}, "task"),
        (iris_csv(), {"metrics": "rmse"}, "metrics"),
        (iris_csv(), {"metrics": "speed"}, "metrics"),
        (b"a,species\n1,cat\n", {"task": "regression"}, "label_column"),
    ],
    ids=[
        "no-label-column",
        "non-numeric",
        "empty",
        "no-rows",
        "wrong-task",
        "metric-of-other-task",
        "unknown-metric",
        "text-label-regression",
    ],
)
def test_a_bad_upload_is_a_400_naming_the_field(api, group, content, fields, field):
    response = upload(api, content, **fields)

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert not EvaluationSet.objects.exists()


def test_a_viewer_may_not_upload_and_an_unknown_group_is_a_404(
    client_for, viewer, api, group
):
    assert upload(client_for(viewer), iris_csv()).status_code == 403
    response = api.post(
        "/api/v1/model-groups/nope/evaluation-sets/",
        {
            "file": ContentFile(iris_csv(), name="x.csv"),
            "label_column": "species",
            "task": "classification",
        },
        format="multipart",
    )
    assert response.status_code == 404


def test_evaluation_sets_are_append_only(api, group):
    upload(api, iris_csv())
    found = EvaluationSet.objects.get()

    with pytest.raises(PermissionError):
        found.save()


# --- Computing ---------------------------------------------------------------------


def test_computed_accuracy_equals_scikit_learns_on_the_same_predictions(
    api, group, register
):
    upload(api, iris_csv())
    created = register(artifact=ContentFile(real_models.iris_skops(), name="m.skops"))
    assert created.status_code == 201, created.content
    dispatch_events()
    version = ModelVersion.objects.get()

    [done] = run_all(version)

    assert done.status == "Succeeded", done.error
    model, features, target = real_models.iris_classifier()
    predicted = model.predict(features)
    assert done.metrics["accuracy"] == accuracy_score(target, predicted)
    assert done.metrics["f1"] == pytest.approx(
        f1_score(target, predicted, average="macro")
    )
    proba = model.predict_proba(features)
    assert done.metrics["roc_auc"] == pytest.approx(
        roc_auc_score(target, proba, multi_class="ovr")
    )
    assert done.metrics["log_loss"] == pytest.approx(log_loss(target, proba))
    body = api.get("/api/v1/model-groups/iris/versions/1/").json()
    assert body["computed_metrics"]["accuracy"] == {
        "value": accuracy_score(target, predicted),
        "evaluation_set": 1,
        "sha256": EvaluationSet.objects.get().sha256,
    }
    assert body["metric_mismatches"] == []


def test_an_onnx_model_is_measured_the_same(api, group, register):
    upload(api, iris_csv(), metrics="accuracy")
    register()
    dispatch_events()

    [done] = run_all(ModelVersion.objects.get())

    model, features, target = real_models.iris_classifier()
    assert done.status == "Succeeded", done.error
    assert done.metrics["accuracy"] == pytest.approx(
        accuracy_score(target, model.predict(features)), abs=1 / 150
    )


def test_a_model_that_lies_about_its_accuracy_is_flagged(api, group, register):
    upload(api, iris_csv(labels=wrong_labels()), metrics="accuracy")
    register(metrics={"accuracy": 0.99})
    dispatch_events()

    [done] = run_all(ModelVersion.objects.get())

    assert done.status == "Succeeded", done.error
    body = api.get("/api/v1/model-groups/iris/versions/1/").json()
    assert body["metrics"] == {"accuracy": 0.99}
    computed = body["computed_metrics"]["accuracy"]["value"]
    assert computed < 0.8
    assert body["metric_mismatches"] == [
        {
            "metric": "accuracy",
            "reported": 0.99,
            "computed": computed,
            "difference": pytest.approx(0.99 - computed),
            "evaluation_set": 1,
        }
    ]


def test_a_model_whose_columns_do_not_match_ends_with_a_readable_error(
    api, group, register
):
    upload(api, iris_csv(columns=FEATURES[:3]))
    register()
    dispatch_events()

    [done] = run_all(ModelVersion.objects.get())

    assert done.status == "Failed"
    assert done.error == (
        "the model takes 4 feature columns; the evaluation set has 3 "
        "(sepal_length, sepal_width, petal_length)"
    )
    assert ModelVersion.objects.get().computed_metrics == {}
    listed = api.get("/api/v1/model-groups/iris/versions/1/evaluations").json()
    assert listed[0]["status"] == "Failed"
    assert "4 feature columns" in listed[0]["error"]


def test_a_model_past_its_time_limit_fails_with_the_reason(
    api, group, register, settings
):
    upload(api, iris_csv())
    register()
    dispatch_events()
    settings.REGISTRY_EVALUATION_TIMEOUT = 0.01

    [done] = run_all(ModelVersion.objects.get())

    assert done.status == "Failed"
    assert "took over 0.01 s" in done.error


def test_a_model_past_its_memory_limit_fails_with_the_reason(
    api, group, register, settings
):
    upload(api, iris_csv())
    register()
    dispatch_events()
    settings.REGISTRY_EVALUATION_MEMORY = 64 * 1024**2

    [done] = run_all(ModelVersion.objects.get())

    assert done.status == "Failed"
    assert "memory" in done.error, done.error
    assert done.error.startswith("the model process died") or (
        done.error == "the model needs more memory than allowed"
    )


def test_a_new_set_measures_the_versions_waiting_for_review(api, group, register):
    register()
    register()
    dispatch_events()
    assert not Evaluation.objects.exists()

    upload(api, iris_csv(), metrics="accuracy")

    queued = Evaluation.objects.order_by("version__version")
    assert [(e.version.version, e.evaluation_set.version) for e in queued] == [
        (1, 1),
        (2, 1),
    ]
    assert {e.status for e in queued} == {"Queued"}


def test_evaluation_on_demand_is_queued_and_answers_202(api, group, register):
    register()
    upload(api, iris_csv())

    response = api.post("/api/v1/model-groups/iris/versions/1/evaluate", {})

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "Queued"
    assert response.json()["evaluation_set"] == 1
    assert (
        api.post(
            "/api/v1/model-groups/iris/versions/1/evaluate", {"evaluation_set": 7}
        ).status_code
        == 400
    )


def test_evaluation_on_demand_needs_a_set(api, group, register):
    register()

    response = api.post("/api/v1/model-groups/iris/versions/1/evaluate", {})

    assert response.status_code == 409


def test_a_queued_evaluation_is_claimed_once(api, group, register):
    upload(api, iris_csv())
    register()
    dispatch_events()
    found = Evaluation.objects.get()

    assert evaluation.evaluation_run(found.pk) == "succeeded"
    assert evaluation.evaluation_run(found.pk) == "skipped"


def test_the_sweep_rings_again_for_evaluations_nobody_holds(api, group, register):
    from datetime import timedelta

    from django.utils import timezone

    upload(api, iris_csv())
    register()
    dispatch_events()
    Evaluation.objects.update(requested_at=timezone.now() - timedelta(minutes=1))

    assert evaluation.evaluations_sweep() == 1
    evaluation.evaluation_run(Evaluation.objects.get().pk)
    assert evaluation.evaluations_sweep() == 0


def test_a_list_of_versions_costs_the_same_queries_with_computed_metrics(
    api, group, register
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def list_queries() -> tuple[int, list[dict[str, Any]]]:
        with CaptureQueriesContext(connection) as seen:
            body = api.get("/api/v1/model-groups/iris/versions/").json()
        return len(seen), body["results"]

    upload(api, iris_csv(), metrics="accuracy")
    register(metrics={"accuracy": 0.5})
    dispatch_events()
    run_all(ModelVersion.objects.get())
    one, _ = list_queries()
    for _ in range(3):
        register(metrics={"accuracy": 0.5})
    dispatch_events()
    for version in ModelVersion.objects.all():
        run_all(version)

    four, results = list_queries()

    assert four == one
    assert len(results) == 4
    assert all(v["computed_metrics"] for v in results)
    assert all(v["metric_mismatches"] for v in results)


def test_a_regression_set_computes_rmse_mae_and_r2_as_scikit_learn(api, group):
    import skops.io
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    _, features, _ = real_models.iris_classifier()
    x, y = features[:, :3].astype(np.float64), features[:, 3].astype(np.float64)
    model = LinearRegression().fit(x, y)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["a", "b", "c", "width"])
    writer.writerows(
        [
            [*map(repr, map(float, row)), repr(float(t))]
            for row, t in zip(x, y, strict=True)
        ]
    )
    created = upload(
        api, out.getvalue().encode(), label_column="width", task="regression"
    )
    assert created.status_code == 201, created.content
    response = api.post(
        "/api/v1/model-groups/iris/versions/",
        {"artifact": ContentFile(skops.io.dumps(model), name="r.skops")},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    dispatch_events()

    [done] = run_all(ModelVersion.objects.get())

    assert done.status == "Succeeded", done.error
    predicted = model.predict(x)
    assert done.metrics == {
        "rmse": pytest.approx(mean_squared_error(y, predicted) ** 0.5),
        "mae": pytest.approx(mean_absolute_error(y, predicted)),
        "r2": pytest.approx(r2_score(y, predicted)),
    }


def test_a_parquet_set_is_read_like_a_csv(api, group):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    _, features, target = real_models.iris_classifier()
    table = pa.table(
        {
            **{name: features[:, i].astype(float) for i, name in enumerate(FEATURES)},
            "species": target.astype(int),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)

    response = upload(api, buffer.getvalue())

    assert response.status_code == 201, response.content
    assert response.json()["file_format"] == "parquet"
    assert response.json()["feature_columns"] == FEATURES
    assert response.json()["rows"] == 150


def test_a_version_checked_later_is_evaluated_once_ready(api, group, settings):
    from catalog import services

    upload(api, iris_csv(), metrics="accuracy")
    settings.REGISTRY_INLINE_CHECK_MAX = 64
    response = api.post(
        "/api/v1/model-groups/iris/versions/",
        {"artifact": ContentFile(real_models.iris_onnx(), name="m.onnx")},
        format="multipart",
    )
    version = ModelVersion.objects.get()
    assert version.registration_status == "Pending", response.content
    dispatch_events()
    assert not Evaluation.objects.exists()

    assert services.version_check(version.pk) == "ready"
    dispatch_events()

    [done] = run_all(version)
    assert done.status == "Succeeded", done.error


def test_the_selector_reads_metrics_computed_on_a_given_set(api, group, register):
    upload(api, iris_csv(), metrics="accuracy")
    register()
    dispatch_events()
    version = ModelVersion.objects.get()
    run_all(version)

    assert set(selectors.computed_on([version.pk], 1)[version.pk]) == {"accuracy"}
    assert selectors.computed_on([version.pk], 2) == {}


def test_services_refuse_what_the_api_refuses(contributor, api, group, register):
    register()
    version = ModelVersion.objects.get()

    with pytest.raises(Conflict):
        evaluation.version_evaluate(actor=contributor, version=version)
    with pytest.raises(Invalid):
        metrics.metric_names("regression", ["accuracy"])


# --- A real worker -------------------------------------------------------------------


def test_the_real_worker_evaluates_a_registered_version(worker, api, group, register):
    upload(api, iris_csv(), metrics="accuracy")
    created = register(metrics={"accuracy": 0.5})
    assert created.status_code == 201, created.content

    done = wait_for(
        lambda: Evaluation.objects.filter(status__in=["Succeeded", "Failed"]).first(),
        timeout=60,
        message="the worker to evaluate the version",
    )

    assert done.status == "Succeeded", done.error + worker.log_tail()
    model, features, target = real_models.iris_classifier()
    expected = accuracy_score(target, model.predict(features))
    version = ModelVersion.objects.get()
    assert version.computed_metrics["accuracy"]["value"] == pytest.approx(
        expected, abs=1 / 150
    )
    assert [m["metric"] for m in evaluation.mismatches(version)] == ["accuracy"]


def named_model_version(api: Any) -> Any:
    """A model trained on a table with named columns (it remembers the names)."""
    pd = pytest.importorskip("pandas")
    import skops.io
    from sklearn.linear_model import LogisticRegression

    _, features, target = real_models.iris_classifier()
    frame = pd.DataFrame(features.astype(np.float64), columns=FEATURES)
    model = LogisticRegression(max_iter=300).fit(frame, target)
    response = api.post(
        "/api/v1/model-groups/iris/versions/",
        {"artifact": ContentFile(skops.io.dumps(model), name="named.skops")},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return model, frame, target


def test_columns_are_matched_by_name_where_the_model_knows_them(api, group):
    model, frame, target = named_model_version(api)
    shuffled = FEATURES[::-1]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["species", *shuffled])
    for (_, row), y in zip(frame.iterrows(), target, strict=True):
        writer.writerow([int(y), *(repr(float(row[c])) for c in shuffled)])
    upload(api, out.getvalue().encode(), metrics="accuracy")
    evaluation.version_evaluate(
        actor=ModelVersion.objects.get().created_by, version=ModelVersion.objects.get()
    )

    [done] = run_all(ModelVersion.objects.get())

    assert done.status == "Succeeded", done.error
    assert done.metrics["accuracy"] == accuracy_score(target, model.predict(frame))


def test_a_missing_named_column_ends_with_an_error_naming_it(api, group):
    named_model_version(api)
    renamed = ["sepal_length", "sepal_width", "petal_length", "petal_w"]
    upload(api, iris_csv(columns=renamed), metrics="accuracy")
    evaluation.version_evaluate(
        actor=ModelVersion.objects.get().created_by, version=ModelVersion.objects.get()
    )

    [done] = run_all(ModelVersion.objects.get())

    assert done.status == "Failed"
    assert done.error.startswith(
        f"the model expects columns {FEATURES}; the evaluation set lacks "
        "['petal_width']"
    ), done.error


def test_a_group_without_versions_is_deleted_with_its_evaluation_sets(api, group):
    upload(api, iris_csv())

    response = api.delete("/api/v1/model-groups/iris/")

    assert response.status_code == 204, response.content
    assert not EvaluationSet.objects.exists()
