from django.urls import path

from sagemaker_api import views

# Mounted at ``sagemaker/``; ``sagemaker`` itself (where boto3 posts when given
# ``endpoint_url=…/sagemaker``) is routed to ``views.dispatch`` by the site's urls.
urlpatterns = [
    path("", views.dispatch, name="sagemaker"),
    path(
        "endpoints/<str:name>/invocations",
        views.invocations,
        name="sagemaker-invocations",
    ),
]
