"""Issue 15: the version page and compare show registry-computed metrics beside the
reported ones, and flag a reported metric that differs from its computed twin."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from catalog import evaluation
from catalog.models import Evaluation, Event
from tests.catalog.test_evaluation import iris_csv, wrong_labels

pytestmark = pytest.mark.django_db


@pytest.fixture
def measured(contributor, iris, v2):
    """v1 and v2 (accuracy 0.9 and 0.95 reported) measured on a set where they
    score about 0.67."""
    evaluation.evaluation_set_create(
        actor=contributor,
        group=iris,
        file=ContentFile(iris_csv(labels=wrong_labels()), name="iris.csv"),
        label_column="species",
        task="classification",
        metrics=["accuracy"],
    )
    for version in v2.group.versions.all():
        evaluation.version_evaluate(actor=contributor, version=version)
    for pk in Evaluation.objects.values_list("pk", flat=True):
        assert evaluation.evaluation_run(pk) == "succeeded"
    assert not Event.objects.filter(kind="version.evaluation_failed").exists()
    return v2


def test_the_version_page_shows_computed_beside_reported_and_flags_mismatches(
    browser_for, viewer, measured
):
    html = browser_for(viewer).get("/models/iris/versions/2/").content.decode()

    assert 'data-testid="computed-metrics"' in html
    assert 'data-mismatch="accuracy"' in html
    assert "≠ computed" in html
    assert "v1</td>" in html  # the evaluation set


def test_the_version_page_says_when_nothing_is_computed(browser_for, viewer, v2):
    html = browser_for(viewer).get("/models/iris/versions/2/").content.decode()

    assert "No metrics computed yet" in html


def test_compare_shows_computed_metrics_and_flags_mismatches(
    browser_for, viewer, measured
):
    html = (
        browser_for(viewer).get("/models/iris/compare/?versions=1,2").content.decode()
    )

    assert 'data-row="Computed metrics:accuracy"' in html
    assert 'data-row="Computed metrics:reported ≠ computed"' in html
    assert "accuracy: reported 0.95" in html
