"""The catalog's pages. They keep the ``catalog:`` URL names they always had: the
names say what a page is about, not which app composes it."""

from django.urls import path

import common.converters  # noqa: F401  (registers <id:…>)
from pages import views

app_name = "catalog"

urlpatterns = [
    path("", views.catalog, name="index"),
    path("activity/", views.activity, name="activity"),
    path("reviews/", views.inbox, name="inbox"),
    path("models/<str:group>/", views.group, name="group"),
    path("models/<str:group>/compare/", views.compare, name="compare"),
    path("models/<str:group>/aliases/", views.alias_set, name="alias-set"),
    path(
        "models/<str:group>/aliases/<str:name>/delete/",
        views.alias_delete,
        name="alias-delete",
    ),
    path("models/<str:group>/versions/<id:number>/", views.version, name="version"),
    path(
        "models/<str:group>/versions/<id:number>/revoke/",
        views.version_revoke,
        name="version-revoke",
    ),
    path(
        "models/<str:group>/versions/<id:number>/edit/",
        views.version_edit,
        name="version-edit",
    ),
]
