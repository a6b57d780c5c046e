"""REST API of the review workflow; each write calls one service."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.idempotency import idempotent
from accounts.roles import Role, require_role
from approvals import directions, policies, selectors, services
from approvals.api import serializers as s
from approvals.models import Review
from catalog import selectors as catalog_selectors
from catalog.api.serializers import ModelVersionSerializer
from catalog.api.views import GroupChildMixin
from catalog.models import Alias, ModelVersion
from common.errors import Forbidden, Invalid


class VersionChildMixin(GroupChildMixin):
    def get_version(self) -> ModelVersion:
        return catalog_selectors.version_get(
            self.kwargs["group_name"],
            self.kwargs["version"],
            related=("group__approval_policy",),
        )


class ReviewListCreate(VersionChildMixin, generics.ListAPIView):
    """``GET`` the version's review timeline; ``POST`` a review."""

    serializer_class = s.ReviewSerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Review.objects.none()
        return selectors.version_reviews(self.get_version())

    @extend_schema(
        request=s.ReviewCreateSerializer, responses={201: s.ReviewSerializer}
    )
    @idempotent
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        version = self.get_version()
        allowed, reason = policies.may_review(
            request.user, policies.policy_for(version.group)
        )
        if not allowed:
            raise Forbidden(reason)
        data = s.ReviewCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = services.review_submit(
            actor=request.user, version=version, **data.validated_data
        )
        body: dict[str, Any] = {
            "review": s.ReviewSerializer(outcome.review).data
            if outcome.review
            else None,
            "approval_status": outcome.version.approval_status,
            "created": outcome.created,
            "verdict": policies.verdict(outcome.version, request.user),
        }
        code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
        return Response(body, status=code)


class Resubmit(VersionChildMixin, APIView):
    @extend_schema(request=s.ResubmitSerializer, responses=OpenApiTypes.OBJECT)
    @idempotent
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        version = self.get_version()
        require_role(request.user, Role.CONTRIBUTOR, action="resubmit versions")
        data = s.ResubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = services.version_resubmit(
            actor=request.user, version=version, comment=data.validated_data["comment"]
        )
        return Response(
            {
                "review": s.ReviewSerializer(outcome.review).data
                if outcome.review
                else None,
                "approval_status": outcome.version.approval_status,
                "created": outcome.created,
            },
            status=status.HTTP_200_OK,
        )


class Verdict(VersionChildMixin, APIView):
    """The policy's verdict in words: votes, gates, and whether the caller may approve."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(policies.verdict(self.get_version(), request.user))


class PolicyDetail(GroupChildMixin, APIView):
    """``GET, PUT, PATCH /model-groups/{name}/approval-policy``."""

    @extend_schema(responses=s.ApprovalPolicySerializer)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        policy = policies.policy_for(self.get_group())
        return Response(s.ApprovalPolicySerializer(policy).data)

    @extend_schema(
        request=s.PolicyWriteSerializer, responses=s.ApprovalPolicySerializer
    )
    def put(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Replace the policy: fields left out go back to their defaults."""
        return self._write(request, replace=True)

    @extend_schema(
        request=s.PolicyWriteSerializer, responses=s.ApprovalPolicySerializer
    )
    def patch(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change only the fields given."""
        return self._write(request, replace=False)

    def _write(self, request: Request, *, replace: bool) -> Response:
        group = self.get_group()
        require_role(request.user, Role.ADMIN, action="edit approval policies")
        data = s.PolicyWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = services.policy_update(
            actor=request.user, group=group, replace=replace, **data.validated_data
        )
        return Response(s.ApprovalPolicySerializer(policy).data)


class MetricDirections(GroupChildMixin, APIView):
    """``GET /model-groups/{name}/metric-directions``: which way each metric the group
    reports is better, from the group's own setting or the rule of names."""

    @extend_schema(responses=s.MetricDirectionSerializer(many=True))
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(directions.group_directions(self.get_group().pk))


class MetricDirectionDetail(GroupChildMixin, APIView):
    """``PUT`` (``{"higher_is_better": bool}``, admins) sets a metric's direction for
    the group; ``DELETE`` returns it to the rule of names."""

    @extend_schema(
        request=s.MetricDirectionWriteSerializer, responses=s.MetricDirectionSerializer
    )
    def put(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        group = self.get_group()
        require_role(request.user, Role.ADMIN, action="set metric directions")
        body = request.data if isinstance(request.data, dict) else {}
        if "higher_is_better" not in body:
            raise Invalid.on("higher_is_better", "This field is required.")
        services.metric_direction_set(
            actor=request.user,
            group=group,
            metric=kwargs["metric"],
            higher_is_better=body["higher_is_better"],
        )
        found = directions.group_directions(group.pk)
        return Response(next(d for d in found if d["metric"] == kwargs["metric"]))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.metric_direction_clear(
            actor=request.user, group=self.get_group(), metric=kwargs["metric"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class Inbox(generics.ListAPIView):
    """Versions waiting for the caller's review, oldest first."""

    serializer_class = ModelVersionSerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return ModelVersion.objects.none()
        from django.db.models import Prefetch

        return (
            selectors.inbox(self.request.user)
            .select_related("group", "created_by")
            .prefetch_related(
                Prefetch(
                    "aliases", queryset=Alias.objects.only("id", "name", "version_id")
                )
            )
        )
