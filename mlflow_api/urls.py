"""MLflow's registry REST paths, served under /api/2.0/mlflow/ and /ajax-api/2.0/mlflow/."""

from django.urls import path

from mlflow_api import views as v

MODELS = "registered-models"
VERSIONS = "model-versions"

urlpatterns = [
    path(f"{MODELS}/create", v.view(creating=True, POST=v.model_create)),
    path(f"{MODELS}/get", v.view(GET=v.model_get)),
    path(f"{MODELS}/update", v.view(PATCH=v.model_update)),
    path(f"{MODELS}/rename", v.view(POST=v.model_rename)),
    path(f"{MODELS}/delete", v.view(DELETE=v.model_delete)),
    path(f"{MODELS}/search", v.view(GET=v.model_search)),
    path(f"{MODELS}/set-tag", v.view(POST=v.model_set_tag)),
    path(f"{MODELS}/delete-tag", v.view(DELETE=v.model_delete_tag)),
    path(
        f"{MODELS}/alias",
        v.view(POST=v.alias_set, DELETE=v.alias_delete, GET=v.alias_get),
    ),
    path(
        f"{MODELS}/get-latest-versions",
        v.view(POST=v.latest_versions, GET=v.latest_versions),
    ),
    path(f"{VERSIONS}/create", v.view(POST=v.version_create)),
    path(f"{VERSIONS}/get", v.view(GET=v.version_get)),
    path(f"{VERSIONS}/update", v.view(PATCH=v.version_update)),
    path(f"{VERSIONS}/delete", v.view(DELETE=v.version_delete)),
    path(f"{VERSIONS}/search", v.view(GET=v.version_search)),
    path(f"{VERSIONS}/set-tag", v.view(POST=v.version_set_tag)),
    path(f"{VERSIONS}/delete-tag", v.view(DELETE=v.version_delete_tag)),
    path(f"{VERSIONS}/transition-stage", v.view(POST=v.version_stage)),
    path(f"{VERSIONS}/get-download-uri", v.view(GET=v.version_download_uri)),
]
