"""MLflow's artifact proxy paths, served under /api/2.0/mlflow-artifacts/ (read only)."""

from django.urls import path

from mlflow_api import artifacts

urlpatterns = [
    path("artifacts", artifacts.ArtifactListView.as_view()),
    path("artifacts/<path:path>", artifacts.ArtifactFileView.as_view()),
]
