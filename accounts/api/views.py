"""API tokens and service accounts: users manage their own tokens, admins everyone's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, services
from accounts.api import serializers as s
from accounts.idempotency import idempotent, idempotent_without
from accounts.models import AccessKey, ApiToken, ServiceAccount
from accounts.roles import Role, require_role
from common.errors import Invalid, NotFound


class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """``GET, POST /tokens/``; ``POST /tokens/{id}/revoke`` (or ``DELETE``)."""

    serializer_class = s.ApiTokenSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        read = (
            selectors.token_list
            if self.action in ("list", "retrieve")
            else selectors.tokens_visible
        )
        return read(
            actor=self.request.user, username=self.request.query_params.get("user")
        )

    @extend_schema(
        request=s.TokenCreateSerializer, responses={201: OpenApiTypes.OBJECT}
    )
    @idempotent_without("key")
    def create(self, request: Request) -> Response:
        data = s.TokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        user: Any = request.user
        if fields.get("user") and fields["user"] != request.user.username:
            require_role(
                request.user, Role.ADMIN, action="issue tokens for other users"
            )
            user = get_user_model().objects.filter(username=fields["user"]).first()
            if user is None:
                raise Invalid.on("user", "No such user.")
        days = fields.get("expires_in_days")
        token, key = services.token_issue(
            user=user,
            actor=request.user,
            name=fields["name"],
            scopes=fields.get("scopes"),
            expires_at=timezone.now() + timedelta(days=days) if days else None,
            via="api",
        )
        body = {**s.ApiTokenSerializer(token).data, "key": key}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    @idempotent
    def revoke(self, request: Request, pk: str) -> Response:
        token = services.token_revoke(
            token=self.get_object(), actor=request.user, via="api"
        )
        return Response(s.ApiTokenSerializer(token).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.token_revoke(token=self.get_object(), actor=request.user, via="api")
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_object(self) -> ApiToken:
        token = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
        if token is None:
            raise NotFound("No such token.")
        return token


class AccessKeyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """``GET, POST /access-keys/``; ``POST /access-keys/{id}/revoke`` (or ``DELETE``).

    AWS-style key pairs for the SageMaker-compatible API; the secret is shown once.
    """

    serializer_class = s.AccessKeySerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self) -> QuerySet[AccessKey]:
        if getattr(self, "swagger_fake_view", False):
            return AccessKey.objects.none()
        if self.action in ("list", "retrieve"):
            return selectors.access_key_list(actor=self.request.user)
        return selectors.access_keys_visible(actor=self.request.user)

    @extend_schema(
        request=s.AccessKeyCreateSerializer, responses={201: OpenApiTypes.OBJECT}
    )
    @idempotent_without("secret_access_key")
    def create(self, request: Request) -> Response:
        data = s.AccessKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        key, secret = services.access_key_issue(
            actor=request.user,
            name=fields["name"],
            scopes=fields.get("scopes"),
            via="api",
        )
        body = {**s.AccessKeySerializer(key).data, "secret_access_key": secret}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    @idempotent
    def revoke(self, request: Request, pk: str) -> Response:
        key = services.access_key_revoke(
            key=self.get_object(), actor=request.user, via="api"
        )
        return Response(s.AccessKeySerializer(key).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.access_key_revoke(key=self.get_object(), actor=request.user, via="api")
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_object(self) -> AccessKey:
        key = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
        if key is None:
            raise NotFound("No such access key.")
        return key


class ServiceAccountViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """``GET, POST /service-accounts/`` (admins)."""

    serializer_class = s.ServiceAccountOutSerializer

    def get_queryset(self) -> QuerySet[ServiceAccount]:
        return (
            ServiceAccount.objects.select_related("user", "created_by")
            .prefetch_related("user__groups")
            .order_by("user__username")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        require_role(request.user, Role.ADMIN, action="list service accounts")
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=s.ServiceAccountSerializer,
        responses={201: s.ServiceAccountOutSerializer},
    )
    @idempotent
    def create(self, request: Request) -> Response:
        require_role(request.user, Role.ADMIN, action="create service accounts")
        data = s.ServiceAccountSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.service_account_create(
            actor=request.user, via="api", **data.validated_data
        )
        return Response(
            self.get_serializer(self.get_queryset().get(user=user)).data,
            status=status.HTTP_201_CREATED,
        )
