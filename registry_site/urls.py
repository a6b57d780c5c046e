from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.views import SignInView
from registry_site import views
from sagemaker_api import views as sagemaker_views

api_v1 = [
    path("", include("catalog.api.urls")),
    path("", include("approvals.api.urls")),
    path("", include("deployments.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("webhooks.api.urls")),
]

handler500 = "registry_site.views.server_error"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("api/v1/", include((api_v1, "api"))),
    # boto3 posts to the endpoint URL as given (…/sagemaker), others to …/sagemaker/.
    path("sagemaker", sagemaker_views.dispatch),
    path("sagemaker/", include("sagemaker_api.urls")),
    # MLflow's registry REST API and the mirror its web UI calls.
    path("api/2.0/mlflow/", include(("mlflow_api.urls", "mlflow"))),
    path("ajax-api/2.0/mlflow/", include(("mlflow_api.urls", "mlflow-ajax"))),
    path(
        "api/2.0/mlflow-artifacts/",
        include(("mlflow_api.artifact_urls", "mlflow-artifacts")),
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        # The split view serves its start-up script as a file (Content-Security-Policy).
        SpectacularSwaggerSplitView.as_view(url_name="schema"),
        name="swagger-ui",
    ),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("registry_site.ui_urls")),
]

handler404 = "common.handlers.not_found"
