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

from accounts import services
from accounts.api import serializers as s
from accounts.models import ApiToken, ServiceAccount
from accounts.roles import Role, has_role, require_role
from registry_site.errors import Invalid, NotFound


class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """``GET, POST /tokens/``; ``POST /tokens/{id}/revoke`` (or ``DELETE``)."""

    serializer_class = s.ApiTokenSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        tokens = ApiToken.objects.select_related("user").order_by("-created_at")
        if has_role(self.request.user, Role.ADMIN):
            user = self.request.query_params.get("user")
            return tokens.filter(user__username=user) if user else tokens
        return tokens.filter(user_id=self.request.user.pk or 0)

    @extend_schema(
        request=s.TokenCreateSerializer, responses={201: OpenApiTypes.OBJECT}
    )
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
                raise Invalid("user: No such user.", fields={"user": "No such user."})
        days = fields.get("expires_in_days")
        token, key = services.token_issue(
            user=user,
            actor=request.user,
            name=fields["name"],
            scopes=fields.get("scopes"),
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
        body = {**s.ApiTokenSerializer(token).data, "key": key}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        token = services.token_revoke(token=self.get_object(), actor=request.user)
        return Response(s.ApiTokenSerializer(token).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.token_revoke(token=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_object(self) -> ApiToken:
        token = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
        if token is None:
            raise NotFound("No such token.")
        return token


class ServiceAccountViewSet(viewsets.ViewSet):
    """``GET, POST /service-accounts/`` (admins)."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def list(self, request: Request) -> Response:
        require_role(request.user, Role.ADMIN, action="list service accounts")
        rows = ServiceAccount.objects.select_related("user").prefetch_related(
            "user__groups"
        )
        return Response([_account(row.user, row.description) for row in rows])

    @extend_schema(
        request=s.ServiceAccountSerializer, responses={201: OpenApiTypes.OBJECT}
    )
    def create(self, request: Request) -> Response:
        require_role(request.user, Role.ADMIN, action="create service accounts")
        data = s.ServiceAccountSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.service_account_create(
            actor=request.user, **data.validated_data
        )
        return Response(
            _account(user, data.validated_data["description"]),
            status=status.HTTP_201_CREATED,
        )


def _account(user: Any, description: str) -> dict[str, Any]:
    return {
        "username": user.username,
        "description": description,
        "roles": sorted(g.name for g in user.groups.all()),
    }
