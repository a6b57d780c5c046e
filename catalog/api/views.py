"""REST API for the catalog: thin views that validate input and call one service."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import FileResponse, HttpResponseNotModified
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.idempotency import idempotent
from accounts.roles import Role, require_role
from catalog import (
    attestations,
    evaluation,
    feed,
    filters,
    folders,
    selectors,
    services,
)
from catalog.api import serializers as s
from catalog.filters import EventFilterSet, GroupFilterSet, VersionFilterSet
from catalog.models import Alias, Event, ModelGroup, ModelVersion
from common.errors import Invalid, NotFound
from common.jsonsafe import SafeJSONParser
from common.pagination import CursorPagination


class ModelGroupViewSet(viewsets.ModelViewSet):
    """Model groups: ``GET, POST /model-groups/``; ``GET, PATCH, DELETE /model-groups/{name}/``."""

    serializer_class = s.ModelGroupSerializer
    filterset_class = GroupFilterSet
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> Any:
        return selectors.group_list()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        found = filters.arguments(GroupFilterSet, request.query_params)
        # Aggregate versions only for the page's groups: aggregating before paging
        # would join every version of the catalog, on the page and in its COUNT.
        page = self.paginate_queryset(selectors.group_list(**found)) or []
        selectors.with_version_stats(page)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def get_object(self) -> Any:
        group = selectors.group_get(self.kwargs["name"])
        self.check_object_permissions(self.request, group)
        return selectors.with_version_stats([group])[0]

    @extend_schema(
        request=s.GroupCreateSerializer, responses={201: s.ModelGroupSerializer}
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.GroupCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        group = services.group_create(actor=request.user, **data.validated_data)
        group = selectors.with_version_stats([selectors.group_get(group.name)])[0]
        return Response(self.get_serializer(group).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.GroupUpdateSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        group = self.get_object()
        data = s.GroupUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        protected = fields.pop("protected_aliases", None)
        require_signature = fields.pop("require_model_signature", None)
        with transaction.atomic():
            if require_signature is not None:
                group = services.group_signature_policy_set(
                    actor=request.user, group=group, require=require_signature
                )
            if protected is not None:
                group = services.group_protected_aliases_set(
                    actor=request.user, group=group, names=protected
                )
            group = services.group_update(actor=request.user, group=group, **fields)
        group = selectors.with_version_stats([selectors.group_get(group.name)])[0]
        return Response(self.get_serializer(group).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.group_delete(actor=request.user, group=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupChildMixin:
    """Views under ``/model-groups/{group_name}/``: an unknown group is a 404."""

    kwargs: dict[str, Any]

    def get_group(self) -> ModelGroup:
        if getattr(self, "swagger_fake_view", False):
            return ModelGroup(pk=0, name="schema")
        if not hasattr(self, "_group"):
            self._group = selectors.group_get(self.kwargs["group_name"])
        return self._group


FOLDER_PART = "file:"


def _folder_parts(request: Request) -> dict[str, Any]:
    """The files of a folder upload: multipart parts named ``file:<path>``."""
    found: dict[str, Any] = {}
    for name, uploads in request.FILES.lists():
        if not name.startswith(FOLDER_PART):
            continue
        if len(uploads) > 1:
            raise Invalid.on(name, "Each file of a folder is sent once.")
        found[name.removeprefix(FOLDER_PART)] = uploads[0]
    return found


class ModelVersionViewSet(GroupChildMixin, viewsets.ModelViewSet):
    """Versions of a group, their metadata and artifact."""

    serializer_class = s.ModelVersionSerializer
    filterset_class = VersionFilterSet
    lookup_field = "version"
    lookup_value_regex = r"[0-9]+"
    parser_classes = [MultiPartParser, FormParser, SafeJSONParser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> Any:
        return selectors.version_list(group=self.get_group())

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        found = filters.arguments(VersionFilterSet, request.query_params)
        versions = selectors.version_list(group=self.get_group(), **found)
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def get_object(self) -> ModelVersion:
        return selectors.version_get(self.kwargs["group_name"], self.kwargs["version"])

    @extend_schema(
        request={"multipart/form-data": s.VersionRegisterSerializer},
        responses={201: s.ModelVersionSerializer},
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        group = self.get_group()
        data = s.VersionRegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        folder = _folder_parts(request)
        if folder:
            for single in ("artifact", "sha256", "model_signature"):
                if fields.get(single):
                    raise Invalid.on(
                        single, "Send a model file or a folder's file:<path> parts."
                    )
            version = folders.version_register_folder(
                actor=request.user, group=group, files=folder, **fields
            )
        elif "artifact" not in fields:
            raise Invalid.on(
                "artifact",
                "No file was submitted: send the model file as artifact, or a "
                "folder as file:<path> parts.",
            )
        else:
            version = services.version_register(
                actor=request.user,
                group=group,
                artifact=fields.pop("artifact"),
                sha256=fields.pop("sha256", None) or None,
                model_signature=fields.pop("model_signature", None),
                **fields,
            )
        version = selectors.version_created(version)
        return Response(
            self.get_serializer(version).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=s.VersionUpdateSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        version = self.get_object()
        data = s.VersionUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.version_update(
            actor=request.user, version=version, **data.validated_data
        )
        return Response(self.get_serializer(self.get_object()).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.version_delete(actor=request.user, version=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["GET"], responses={(200, "application/octet-stream"): bytes}
    )
    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": s.ArtifactAttachSerializer},
        responses={200: s.ModelVersionSerializer},
    )
    @action(detail=True, methods=["get", "post"], url_path="artifact")
    def artifact(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        version = self.get_object()
        if request.method == "POST":
            return self._attach(request, version)
        if version.artifact_absent:
            raise NotFound(
                f"Version {version.version} was recorded without a model file."
            )
        etag = f'"{version.artifact_sha256}"'
        if etag in request.headers.get("If-None-Match", ""):
            return HttpResponseNotModified(headers={"ETag": etag})
        handle = services.artifact_open(
            version.artifact_key, f"version {version.version}"
        )
        extension = {"onnx": "onnx", "skops": "skops"}.get(
            version.artifact_format, "bin"
        )
        response = FileResponse(
            handle,
            as_attachment=True,
            content_type="application/octet-stream",
            filename=f"{version.group.name}-v{version.version}.{extension}",
        )
        response["ETag"] = etag
        response["X-Artifact-SHA256"] = version.artifact_sha256
        response["Content-Length"] = str(version.artifact_size)
        return response

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(
        detail=True,
        methods=["get"],
        url_path=r"files/(?P<path>.+)",
        url_name="file",
    )
    def file(self, request: Request, *args: Any, path: str, **kwargs: Any) -> Any:
        """One file of a folder artifact (an MLflow model), named by its manifest."""
        version = self.get_object()
        entry = selectors.folder_file(version, path)
        etag = f'"{entry["sha256"]}"'
        if etag in request.headers.get("If-None-Match", ""):
            return HttpResponseNotModified(headers={"ETag": etag})
        handle = services.artifact_open(entry["key"], f"{path!r}")
        response = FileResponse(
            handle,
            as_attachment=True,
            content_type="application/octet-stream",
            filename=path.rsplit("/", 1)[-1],
        )
        response["ETag"] = etag
        response["X-Artifact-SHA256"] = entry["sha256"]
        response["Content-Length"] = str(entry["size"])
        return response

    @extend_schema(responses={200: s.AttestationSerializer})
    @action(detail=True, methods=["get"], url_path="attestation")
    def attestation(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The signed approval attestation (a DSSE envelope); with ``revocation``
        the signed revocation when the approval was revoked since."""
        version = self.get_object()
        current = attestations.attestation_current(version)
        if current is None:
            raise NotFound(f"Version {version.version} has never been approved.")
        body = dict(current.approval.envelope)
        if current.revocation is not None:
            body["revocation"] = current.revocation.envelope
        return Response(body)

    @extend_schema(
        request=s.EvaluateSerializer, responses={202: s.EvaluationSerializer}
    )
    @action(detail=True, methods=["post"], url_path="evaluate")
    def evaluate(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Measure the version on an evaluation set, in the background."""
        version = self.get_object()
        require_role(
            request.user, *services.WRITE_ROLES, action="evaluate model versions"
        )
        data = s.EvaluateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        found = evaluation.version_evaluate(
            actor=request.user,
            version=version,
            evaluation_set=data.validated_data.get("evaluation_set"),
        )
        found = selectors.evaluation_get(found.pk)
        return Response(
            s.EvaluationSerializer(found).data, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(responses={200: s.EvaluationSerializer(many=True)})
    @action(detail=True, methods=["get"], url_path="evaluations")
    def evaluations(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The registry's evaluations of the version (status, metrics, error)."""
        found = selectors.evaluation_list(version=self.get_object())
        return Response(s.EvaluationSerializer(found, many=True).data)

    def _attach(self, request: Request, version: ModelVersion) -> Response:
        """``POST …/artifact``: the model file of a version recorded without one."""
        data = s.ArtifactAttachSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.version_attach_artifact(
            actor=request.user,
            version=version,
            artifact=data.validated_data["artifact"],
            sha256=data.validated_data.get("sha256") or None,
        )
        version = selectors.version_get(version.group.name, version.version)
        return Response(self.get_serializer(version).data)


class EvaluationSetViewSet(
    GroupChildMixin, mixins.ListModelMixin, viewsets.GenericViewSet
):
    """``GET, POST /model-groups/{name}/evaluation-sets/``; ``GET …/{n}``."""

    serializer_class = s.EvaluationSetSerializer
    lookup_field = "version"
    lookup_value_regex = r"[0-9]+"
    parser_classes = [MultiPartParser, FormParser, SafeJSONParser]

    def get_queryset(self) -> Any:
        return selectors.evaluation_set_list(group=self.get_group())

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        found = selectors.evaluation_set_get(
            group=self.get_group(), number=int(self.kwargs["version"])
        )
        return Response(self.get_serializer(found).data)

    @extend_schema(
        request={"multipart/form-data": s.EvaluationSetCreateSerializer},
        responses={201: s.EvaluationSetSerializer},
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        group = self.get_group()
        # The role first: a viewer is refused, whatever the body.
        require_role(request.user, *services.WRITE_ROLES, action="add evaluation sets")
        data = s.EvaluationSetCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = evaluation.evaluation_set_create(
            actor=request.user, group=group, **data.validated_data
        )
        found = selectors.evaluation_set_get(group=group, number=created.version)
        return Response(self.get_serializer(found).data, status=status.HTTP_201_CREATED)


class TrustedKeyViewSet(
    GroupChildMixin, mixins.ListModelMixin, viewsets.GenericViewSet
):
    """The public keys whose model-signing signatures a group trusts:
    ``GET, POST /model-groups/{name}/trusted-keys/``; ``GET, DELETE …/{id}``
    (admins change them)."""

    serializer_class = s.TrustedKeySerializer
    lookup_value_regex = r"[0-9]+"
    pagination_class = None

    def get_queryset(self) -> Any:
        return selectors.trusted_key_list(group=self.get_group())

    def get_object(self) -> Any:
        return selectors.trusted_key_get(
            group=self.get_group(), key_id=self.kwargs["pk"]
        )

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        request=s.TrustedKeyCreateSerializer, responses={201: s.TrustedKeySerializer}
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        group = self.get_group()
        # The role first: a non-admin is refused, whatever the body.
        require_role(request.user, Role.ADMIN, action="change trusted signing keys")
        data = s.TrustedKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = services.trusted_key_add(
            actor=request.user, group=group, **data.validated_data
        )
        found = selectors.trusted_key_get(group=group, key_id=key.pk)
        return Response(self.get_serializer(found).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The role first: a non-admin learns nothing about which keys exist.
        require_role(request.user, Role.ADMIN, action="change trusted signing keys")
        services.trusted_key_delete(actor=request.user, key=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class AliasViewSet(GroupChildMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """``GET /aliases/``; ``GET, PUT, DELETE /aliases/{alias}``. ``latest`` is reserved."""

    serializer_class = s.AliasSerializer
    lookup_field = "alias"
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> Any:
        return selectors.alias_list(self.get_group())

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        group, name = self.get_group(), kwargs["alias"]
        if name == "latest":
            latest = services.version_by_alias(group, name)
            if latest is None:
                raise NotFound(f"{group.name!r} has no versions yet.")
            return Response(
                {
                    "alias": "latest",
                    "version": latest.version,
                    "updated_by": None,
                    "updated_at": latest.created_at,
                }
            )
        return Response(self.get_serializer(self.get_object()).data)

    def get_object(self) -> Alias:
        """The alias named in the URL (the lookup is by name, not a field called alias)."""
        return selectors.alias_get(self.get_group(), self.kwargs["alias"])

    @extend_schema(request=s.AliasSetSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.AliasSetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alias = services.alias_set(
            actor=request.user,
            group=self.get_group(),
            name=kwargs["alias"],
            version_number=data.validated_data["version"],
        )
        alias = selectors.alias_get(alias.group, alias.name)
        return Response(self.get_serializer(alias).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        group, name = self.get_group(), kwargs["alias"]
        selectors.alias_get(group, name)
        services.alias_delete(actor=request.user, group=group, name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail, newest first; with ``after=<cursor>`` a feed, oldest first.

    Feed mode answers ``{"results": [...], "next_cursor": "...", "has_more": bool}``:
    poll again with ``after=<next_cursor>``; every event comes exactly once. Start
    with ``after=0`` (everything) or ``after=now`` (only what happens next).
    """

    serializer_class = s.EventSerializer
    filterset_class = EventFilterSet
    pagination_class = CursorPagination
    queryset = Event.objects.all()

    def get_object(self) -> Event:
        event = selectors.event_get(int(self.kwargs["pk"]))
        self.check_object_permissions(self.request, event)
        return event

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "after", str, description="feed cursor: 0, now, or next_cursor"
            ),
            OpenApiParameter("limit", int, description="feed page size (max 1000)"),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        events = selectors.event_list(
            **filters.arguments(EventFilterSet, request.query_params)
        )
        after = request.query_params.get("after")
        if after is None:
            page = self.paginate_queryset(events)
            return self.get_paginated_response(
                self.get_serializer(page, many=True).data
            )
        try:
            limit = min(max(int(request.query_params.get("limit", "100")), 1), 1000)
        except ValueError as exc:
            raise Invalid.on("limit", "Must be a whole number.") from exc
        batch, next_cursor, more = feed.page(events, after, limit)
        return Response(
            {
                "results": self.get_serializer(batch, many=True).data,
                "next_cursor": next_cursor,
                "has_more": more,
            }
        )


class SigningKeyListView(APIView):
    """Every public key the registry has signed attestations with; ``active`` is
    the one it signs with now, the others verify older attestations."""

    @extend_schema(responses={200: s.SigningKeySerializer(many=True)})
    def get(self, request: Request) -> Response:
        keys = attestations.signing_keys()
        return Response(s.SigningKeySerializer(keys, many=True).data)


class RevocationListView(APIView):
    """Every signed revocation statement (DSSE envelopes): the revocation list
    that ``modelreg verify --revocations`` takes."""

    @extend_schema(responses={200: s.AttestationSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response([row.envelope for row in attestations.revocations()])
