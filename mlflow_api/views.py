"""MLflow's model-registry REST API (``/api/2.0/mlflow/...``) over the catalog.

Each handler reads MLflow's request fields, calls one catalog service or selector,
and answers the message of ``mlflow/protos/model_registry.proto`` as JSON. Errors
take MLflow's shape (``mlflow_api.errors``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.db import transaction
from django.http import JsonResponse
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.permissions import HasAnyRole
from catalog import selectors, services
from catalog.models import ModelGroup, ModelVersion
from common.errors import NotFound
from common.jsonsafe import SafeJSONParser
from mlflow_api import errors, search, shapes
from mlflow_api.authentication import BasicAuthentication, BearerAuthentication
from mlflow_api.errors import MlflowError, invalid

Params = dict[str, Any]
Handler = Callable[[Request, Params], dict[str, Any]]

MODELS_PAGE = 100
MODELS_LIMIT = 1000
VERSIONS_PAGE = 10_000
VERSIONS_LIMIT = 10_000


class MlflowView(APIView):
    """One MLflow endpoint: ``handlers`` maps an HTTP method to its handler."""

    handlers: ClassVar[dict[str, Handler]] = {}
    creating = False
    authentication_classes = [BearerAuthentication, BasicAuthentication]
    permission_classes = [HasAnyRole]
    parser_classes = [SafeJSONParser]

    def http_method_not_allowed(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        raise MlflowError(
            errors.ENDPOINT_NOT_FOUND,
            f"{request.method} is not served at {request.path}.",
        )

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        allowed = {m.lower() for m in self.handlers}
        for method in ("get", "post", "put", "patch", "delete"):
            if method in allowed:
                setattr(self, method, self._handle)
        return super().dispatch(request, *args, **kwargs)

    def _handle(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        handler = self.handlers[request.method or "GET"]
        return JsonResponse(handler(request, _params(request)))

    def handle_exception(self, exc: Exception) -> Any:
        answer = errors.from_exception(exc, creating=self.creating)
        if answer is None:
            return super().handle_exception(exc)
        return answer


def _params(request: Request) -> Params:
    """GET: the query string (repeated keys as lists); else the JSON body (a DELETE
    without a body may use the query string)."""
    query = {
        key: values if len(values) > 1 else values[0]
        for key, values in request.query_params.lists()
    }
    if request.method == "GET":
        return query
    try:
        body = request.data
    except (ParseError, UnsupportedMediaType) as exc:
        raise invalid(f"The request body must be a JSON object: {exc.detail}") from exc
    if not body:
        return query
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return dict(body)


# --- Reading request fields -------------------------------------------------------


def _string(params: Params, name: str, *, required: bool = True) -> str:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise invalid(f"Missing value for required parameter '{name}'.")
        return ""
    if not isinstance(value, str):
        raise invalid(f"Parameter '{name}' must be a string.")
    return value


def _list(params: Params, name: str) -> list[Any]:
    value = params.get(name)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _number(params: Params, name: str = "version") -> int:
    value = params.get(name)
    text = str(value) if isinstance(value, str | int) else ""
    if isinstance(value, bool) or not text.strip().isdigit() or len(text) > 18:
        raise invalid(f"Parameter '{name}' must be a version number, got {value!r}.")
    return int(text)


def _tag_list(params: Params) -> dict[str, str]:
    found: dict[str, str] = {}
    for tag in _list(params, "tags"):
        if not isinstance(tag, dict) or not isinstance(tag.get("key"), str):
            raise invalid("Each tag must be an object with a string 'key'.")
        value = tag.get("value", "")
        found[tag["key"]] = value if isinstance(value, str) else str(value)
    return found


def _writable_tag(key: str) -> str:
    if key == shapes.APPROVAL_TAG:
        raise MlflowError(
            errors.PERMISSION_DENIED,
            f"Tag '{key}' is set by the registry's approvals; review the version "
            "instead.",
        )
    return key


def _group(params: Params) -> ModelGroup:
    name = _string(params, "name")
    try:
        return selectors.group_get(name)
    except NotFound as exc:
        raise MlflowError(
            errors.RESOURCE_DOES_NOT_EXIST,
            f"Registered Model with name={name} not found",
        ) from exc


def _version(params: Params) -> ModelVersion:
    name, number = _string(params, "name"), _number(params)
    try:
        return selectors.version_get(name, number)  # names an unknown model first
    except NotFound as exc:
        raise MlflowError(errors.RESOURCE_DOES_NOT_EXIST, exc.message) from exc


def _artifact_uri(request: Request) -> Callable[[ModelVersion], str]:
    """Where this registry's artifact proxy serves a version's folder."""

    def uri(version: ModelVersion) -> str:
        if shapes.unservable(version):
            return ""
        return shapes.artifact_root(request, version)

    return uri


def _model(request: Request, group: ModelGroup) -> dict[str, Any]:
    latest = selectors.latest_by_stage([group])[group.pk]
    aliases = selectors.aliases_of([group])[group.pk]
    return shapes.registered_model(group, latest, aliases, _artifact_uri(request))


def _version_shape(request: Request, version: ModelVersion) -> dict[str, Any]:
    return shapes.model_version(version, _artifact_uri(request)(version))


def _reload(request: Request, version: ModelVersion) -> dict[str, Any]:
    fresh = selectors.version_get(version.group.name, version.version)
    return {"model_version": _version_shape(request, fresh)}


# --- Registered models ------------------------------------------------------------


def model_create(request: Request, params: Params) -> dict[str, Any]:
    group = services.group_create(
        actor=request.user,
        name=_string(params, "name"),
        description=_string(params, "description", required=False),
        tags=_tag_list(params),
    )
    return {"registered_model": _model(request, selectors.group_get(group.name))}


def model_get(request: Request, params: Params) -> dict[str, Any]:
    return {"registered_model": _model(request, _group(params))}


def model_update(request: Request, params: Params) -> dict[str, Any]:
    group = _group(params)
    if "description" in params:
        description = _string(params, "description", required=False)
        group = services.group_update(
            actor=request.user, group=group, description=description
        )
    return {"registered_model": _model(request, selectors.group_get(group.name))}


def model_rename(request: Request, params: Params) -> dict[str, Any]:
    group = services.group_rename(
        actor=request.user,
        group=_group(params),
        new_name=_string(params, "new_name"),
    )
    return {"registered_model": _model(request, selectors.group_get(group.name))}


def model_delete(request: Request, params: Params) -> dict[str, Any]:
    services.group_delete(actor=request.user, group=_group(params))
    return {}


def model_search(request: Request, params: Params) -> dict[str, Any]:
    conditions = search.conditions(params.get("filter"), versions=False)
    ordering = search.ordering(_list(params, "order_by"), versions=False)
    limit = search.max_results(
        params.get("max_results"), default=MODELS_PAGE, limit=MODELS_LIMIT
    )
    offset = search.page_offset(params.get("page_token"))
    found = selectors.group_search(
        conditions=conditions, ordering=ordering or [("name", False)]
    )
    rows = list(found[offset : offset + limit + 1])
    page = rows[:limit]
    latest = selectors.latest_by_stage(page)
    aliases = selectors.aliases_of(page)
    uri = _artifact_uri(request)
    answer: dict[str, Any] = {
        "registered_models": [
            shapes.registered_model(g, latest[g.pk], aliases[g.pk], uri) for g in page
        ]
    }
    if len(rows) > limit:
        answer["next_page_token"] = search.page_token(offset + limit)
    return answer


def model_set_tag(request: Request, params: Params) -> dict[str, Any]:
    services.group_tag_set(
        actor=request.user,
        group=_group(params),
        key=_string(params, "key"),
        value=_string(params, "value", required=False),
    )
    return {}


def model_delete_tag(request: Request, params: Params) -> dict[str, Any]:
    services.group_tag_delete(
        actor=request.user, group=_group(params), key=_string(params, "key")
    )
    return {}


def alias_set(request: Request, params: Params) -> dict[str, Any]:
    services.alias_set(
        actor=request.user,
        group=_group(params),
        name=_string(params, "alias"),
        version_number=_number(params),
    )
    return {}


def alias_delete(request: Request, params: Params) -> dict[str, Any]:
    services.alias_delete(
        actor=request.user, group=_group(params), name=_string(params, "alias")
    )
    return {}


def alias_get(request: Request, params: Params) -> dict[str, Any]:
    group, alias = _group(params), _string(params, "alias")
    try:
        version = selectors.version_by_alias(group, alias)
    except NotFound as exc:
        raise MlflowError(
            errors.RESOURCE_DOES_NOT_EXIST,
            f"Registered model alias {alias} not found.",
        ) from exc
    return {"model_version": _version_shape(request, version)}


def latest_versions(request: Request, params: Params) -> dict[str, Any]:
    group = _group(params)
    stages = []
    for stage in _list(params, "stages"):
        if not isinstance(stage, str):
            raise invalid("stages must be strings.")
        stages.append(_stage_name(stage))
    found = selectors.latest_by_stage([group], stages)[group.pk]
    return {"model_versions": [_version_shape(request, v) for v in found]}


def _stage_name(stage: str) -> str:
    for name in ("None", "Staging", "Production", "Archived"):
        if stage.lower() == name.lower():
            return name
    raise invalid(
        f"Invalid Model Version stage: {stage}. Value must be one of "
        "None, Staging, Production, Archived."
    )


# --- Model versions ---------------------------------------------------------------


def version_create(request: Request, params: Params) -> dict[str, Any]:
    group = _group(params)
    tags = {_writable_tag(k): v for k, v in _tag_list(params).items()}
    source = _string(params, "source", required=False)
    fields = {
        "actor": request.user,
        "group": group,
        "source_uri": source,
        "run_id": _string(params, "run_id", required=False),
        "description": _string(params, "description", required=False),
        "tags": tags,
    }
    batch = shapes.staged_batch(request, source)
    if batch is not None:
        version = services.version_register_staged(batch=batch, **fields)
    else:
        version = services.version_register_from_source(
            model_id=_string(params, "model_id", required=False), **fields
        )
    return _reload(request, version)


def version_get(request: Request, params: Params) -> dict[str, Any]:
    return {"model_version": _version_shape(request, _version(params))}


def version_update(request: Request, params: Params) -> dict[str, Any]:
    version = _version(params)
    if "description" in params:
        description = _string(params, "description", required=False)
        version = services.version_update(
            actor=request.user, version=version, description=description
        )
    return _reload(request, version)


def version_delete(request: Request, params: Params) -> dict[str, Any]:
    services.version_delete(actor=request.user, version=_version(params))
    return {}


def version_search(request: Request, params: Params) -> dict[str, Any]:
    conditions = search.conditions(params.get("filter"), versions=True)
    ordering = search.ordering(_list(params, "order_by"), versions=True)
    limit = search.max_results(
        params.get("max_results"), default=VERSIONS_PAGE, limit=VERSIONS_LIMIT
    )
    offset = search.page_offset(params.get("page_token"))
    found = selectors.version_search(
        conditions=conditions,
        ordering=ordering or [("name", False), ("version", True)],
    )
    rows = list(found[offset : offset + limit + 1])
    answer: dict[str, Any] = {
        "model_versions": [_version_shape(request, v) for v in rows[:limit]]
    }
    if len(rows) > limit:
        answer["next_page_token"] = search.page_token(offset + limit)
    return answer


def version_set_tag(request: Request, params: Params) -> dict[str, Any]:
    services.version_tag_set(
        actor=request.user,
        version=_version(params),
        key=_writable_tag(_string(params, "key")),
        value=_string(params, "value", required=False),
    )
    return {}


def version_delete_tag(request: Request, params: Params) -> dict[str, Any]:
    services.version_tag_delete(
        actor=request.user,
        version=_version(params),
        key=_writable_tag(_string(params, "key")),
    )
    return {}


def version_stage(request: Request, params: Params) -> dict[str, Any]:
    archive = params.get("archive_existing_versions", False)
    if isinstance(archive, str) and archive.lower() in ("true", "false"):
        archive = archive.lower() == "true"
    if not isinstance(archive, bool):
        raise invalid("archive_existing_versions must be true or false.")
    version = services.version_stage_set(
        actor=request.user,
        version=_version(params),
        stage=_stage_name(_string(params, "stage")),
        archive_existing_versions=archive,
    )
    return _reload(request, version)


def version_download_uri(request: Request, params: Params) -> dict[str, Any]:
    version = _version(params)
    reason = shapes.unservable(version)
    if reason:
        raise MlflowError(errors.RESOURCE_DOES_NOT_EXIST, reason)
    return {"artifact_uri": _artifact_uri(request)(version)}


def view(creating: bool = False, **handlers: Handler) -> Any:
    """The view of one endpoint, its handlers by HTTP method; writes are atomic."""
    wrapped = {
        method: transaction.atomic()(handler) if method != "GET" else handler
        for method, handler in handlers.items()
    }
    return MlflowView.as_view(handlers=wrapped, creating=creating)
