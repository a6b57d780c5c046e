"""REST API of endpoints and deployments, and the invocation path."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import InvocationTokenAuthentication
from accounts.idempotency import idempotent
from accounts.roles import may_invoke
from accounts.throttling import InvocationThrottle
from catalog.models import ApprovalStatus, ModelGroup, ModelVersion
from catalog.services import artifact_open
from common import jsonsafe, outbound
from common.errors import Forbidden, Invalid, NotFound, TooLarge
from deployments import selectors, services, serving
from deployments.api import serializers as s
from deployments.filters import DeploymentFilterSet, EndpointFilterSet
from deployments.loader import InputError
from deployments.models import Deployment, Endpoint
from deployments.services import ray_target


class EndpointViewSet(viewsets.ModelViewSet):
    """``GET, POST /endpoints/``; ``GET, PATCH, DELETE /endpoints/{name}/``."""

    serializer_class = s.EndpointSerializer
    filterset_class = EndpointFilterSet
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Endpoint]:
        return Endpoint.objects.select_related("group", "live_version", "created_by")

    def get_object(self) -> Endpoint:
        return selectors.endpoint_get(self.kwargs["name"])

    @extend_schema(
        request=s.EndpointCreateSerializer, responses={201: s.EndpointSerializer}
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.EndpointCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        group = ModelGroup.objects.filter(name=fields.pop("model_group")).first()
        if group is None:
            raise Invalid.on("model_group", "No such model group.")
        endpoint = services.endpoint_create(actor=request.user, group=group, **fields)
        return Response(
            self.get_serializer(self.get_queryset().get(pk=endpoint.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=s.EndpointUpdateSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        data = s.EndpointUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.endpoint_update(
            actor=request.user, endpoint=endpoint, **data.validated_data
        )
        return Response(self.get_serializer(self.get_object()).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.endpoint_delete(actor=request.user, endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=s.DeployRequestSerializer, responses={202: s.DeploymentSerializer}
    )
    @action(detail=True, methods=["get", "post"], url_path="deployments")
    @idempotent
    def deployments(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        if request.method == "GET":
            rows = _deployments().filter(endpoint=endpoint)
            page = self.paginate_queryset(rows)
            return self.get_paginated_response(
                s.DeploymentSerializer(page, many=True).data
            )
        data = s.DeployRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deployment = services.deployment_request(
            actor=request.user,
            endpoint=endpoint,
            version_number=data.validated_data["version"],
        )
        return Response(
            s.DeploymentSerializer(_deployments().get(pk=deployment.pk)).data,
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(request=None, responses={202: s.DeploymentSerializer})
    @action(detail=True, methods=["post"], url_path="rollback")
    @idempotent
    def rollback(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        deployment = services.deployment_rollback(
            actor=request.user, endpoint=self.get_object()
        )
        return Response(
            s.DeploymentSerializer(_deployments().get(pk=deployment.pk)).data,
            status=status.HTTP_202_ACCEPTED,
        )


def _deployments() -> QuerySet[Deployment]:
    return (
        Deployment.objects.select_related(
            "endpoint", "version__group", "previous_version", "requested_by"
        )
        .prefetch_related("log_lines")
        .order_by("-id")
    )


class DeploymentViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.DeploymentSerializer
    filterset_class = DeploymentFilterSet

    def get_queryset(self) -> QuerySet[Deployment]:
        return _deployments()


class DeploymentStatusView(APIView):
    """``POST /deployments/{id}/status``: the webhook target reports the outcome.

    Authenticated either by a deployer/admin, or by the endpoint's webhook secret:
    ``X-Registry-Timestamp`` (within five minutes) and ``X-Registry-Signature``, the
    HMAC of ``"<timestamp>.<deployment id>.<raw body>"``: bound to this deployment,
    so a callback cannot be replayed onto another one.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    metadata_class = None  # OPTIONS would describe the view to anyone: 405

    def initialize_request(self, request: Any, *args: Any, **kwargs: Any) -> Request:
        self._raw_body = request.body
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(request=s.StatusReportSerializer, responses=s.DeploymentSerializer)
    def post(self, request: Request, pk: str) -> Response:
        deployment = _deployments().select_related("endpoint").filter(pk=pk).first()
        if deployment is None:
            raise NotFound(f"Deployment {pk} does not exist.")
        if not self._signed_by_endpoint(request, deployment) and not self._deployer(
            request
        ):
            raise Forbidden(
                "Sign the callback with the endpoint's webhook secret "
                "(X-Registry-Timestamp: a current unix time; X-Registry-Signature: "
                'the HMAC of "<timestamp>.<deployment id>.<body>") or use a '
                "deployer's token."
            )
        data = s.StatusReportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deployment = services.deployment_report(
            deployment=deployment, **data.validated_data
        )
        return Response(
            s.DeploymentSerializer(_deployments().get(pk=deployment.pk)).data
        )

    def _signed_by_endpoint(self, request: Request, deployment: Deployment) -> bool:
        secret = deployment.endpoint.webhook_secret
        return bool(secret) and outbound.verify(
            secret,
            request.headers.get("X-Registry-Timestamp", ""),
            request.headers.get("X-Registry-Signature", ""),
            self._raw_body,
            scope=str(deployment.pk),
        )

    def _deployer(self, request: Request) -> bool:
        from accounts.authentication import TokenAuthentication
        from accounts.roles import Role, has_role

        result = TokenAuthentication().authenticate(request)
        return result is not None and has_role(result[0], Role.DEPLOYER)


class InvocationView(APIView):
    """``POST /endpoints/{name}/invocations`` with ``{"inputs": [[...], ...]}``."""

    # Service accounts may hold only the invoke permission and no registry role.
    permission_classes = [IsAuthenticated]
    authentication_classes = [InvocationTokenAuthentication, SessionAuthentication]
    # The invoke permission is checked in post(): OPTIONS would describe the view to
    # any signed-in user.
    metadata_class = None
    throttle_classes = [InvocationThrottle]

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, name: str) -> Response:
        allowed = getattr(request.auth, "may_invoke", None)
        if allowed is None:
            allowed = may_invoke(request.user)
        if not allowed:
            raise Forbidden("You need the invoke permission to call endpoints.")
        inputs = _read_inputs(request)
        try:
            number, body = serving.answer(name, inputs)
        except serving.UnknownEndpoint as exc:
            raise NotFound(f"Endpoint {name!r} does not exist.") from exc
        except serving.NotServing as exc:
            return _unavailable("not_serving", str(exc))
        except serving.TimedOut as exc:
            return _unavailable("timeout", str(exc))
        except InputError as exc:
            raise Invalid(
                str(exc), fields={"inputs": str(exc).removeprefix("inputs: ")}
            ) from exc
        return Response(body, headers={"X-Model-Version": str(number)})


def _unavailable(code: str, message: str) -> Response:
    return Response(
        {"error": {"status": 503, "code": code, "message": message, "fields": {}}},
        status=503,
    )


class RayArtifactView(APIView):
    """``GET /ray-artifacts/{signed}``: an approved version's artifact for Ray's
    replicas, authorised by the signed URL the deployment gave them."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes: list[Any] = []

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, token: str) -> Any:
        try:
            named = ray_target.artifact_token_load(token)
        except signing.BadSignature as exc:
            raise NotFound("This artifact URL is not valid (or has expired).") from exc
        version = (
            ModelVersion.objects.select_related("group")
            .filter(pk=named["v"], artifact_sha256=named["sha256"])
            .first()
        )
        if version is None or version.approval_status != ApprovalStatus.APPROVED:
            raise NotFound("This artifact URL names no approved version.")
        handle = artifact_open(
            version.artifact_key, f"{version.group.name} v{version.version}"
        )
        response = FileResponse(handle, content_type="application/octet-stream")
        response["X-Artifact-SHA256"] = version.artifact_sha256
        response["Content-Length"] = str(version.artifact_size)
        return response


def _read_inputs(request: Request) -> Any:
    limit = settings.REGISTRY_MAX_INVOCATION_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise TooLarge(f"The request body is larger than {limit} bytes.")
    raw = request._request.read(limit + 1)
    if len(raw) > limit:
        raise TooLarge(f"The request body is larger than {limit} bytes.")
    body = jsonsafe.field_loads(raw, "body")
    if not isinstance(body, dict) or ("inputs" not in body and "instances" not in body):
        message = 'Send a JSON object {"inputs": [[...], ...]} (or "instances").'
        raise Invalid.on("inputs", message)
    return body.get("inputs", body.get("instances"))
