from django.urls import path

from deployments import views

app_name = "deployments"

urlpatterns = [
    path("endpoints/", views.endpoint_list, name="endpoints"),
    path("endpoints/<str:name>/", views.endpoint_detail, name="endpoint"),
    path("endpoints/<str:name>/panel/", views.endpoint_panel, name="endpoint-panel"),
    path("endpoints/<str:name>/rollback/", views.endpoint_rollback, name="rollback"),
    path("endpoints/<str:name>/deploy/", views.endpoint_deploy, name="deploy"),
    path("endpoints/<str:name>/try/", views.endpoint_try, name="try"),
    path(
        "endpoints/<str:name>/settings/",
        views.endpoint_settings,
        name="endpoint-settings",
    ),
]
