"""``/webhooks/``: subscriptions, their delivery log, redelivery and test events."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.idempotency import idempotent
from accounts.roles import require_role
from catalog.models import ModelGroup
from common.errors import Invalid, NotFound
from webhooks import services
from webhooks.api import serializers as s
from webhooks.models import Attempt, Delivery, Subscription


def _group(name: str | None) -> ModelGroup | None:
    if not name:
        return None
    group = ModelGroup.objects.filter(name=name).first()
    if group is None:
        raise Invalid.on("model_group", "No such model group.")
    return group


class SubscriptionViewSet(viewsets.ModelViewSet):
    serializer_class = s.SubscriptionSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        require_role(request.user, *services.MANAGE_ROLES, action="manage webhooks")

    def get_queryset(self) -> QuerySet[Subscription]:
        return Subscription.objects.select_related("model_group", "created_by")

    def get_object(self) -> Subscription:
        found = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
        if found is None:
            raise NotFound("No such webhook.")
        return found

    @extend_schema(
        request=s.SubscriptionWriteSerializer, responses={201: s.SubscriptionSerializer}
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.SubscriptionWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        subscription = services.subscription_create(
            actor=request.user,
            model_group=_group(fields.pop("model_group", None)),
            **fields,
        )
        return Response(
            self.get_serializer(subscription).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=s.SubscriptionWriteSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.SubscriptionWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "model_group" in fields:
            fields["model_group"] = _group(fields["model_group"])
        subscription = services.subscription_update(
            actor=request.user, subscription=self.get_object(), **fields
        )
        return Response(self.get_serializer(subscription).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.subscription_delete(actor=request.user, subscription=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=s.DeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str) -> Response:
        rows = (
            Delivery.objects.filter(subscription=self.get_object())
            .select_related("redelivery_of")
            .prefetch_related(
                Prefetch("attempt_log", Attempt.objects.order_by("number"))
            )
            .order_by("-id")
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(s.DeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={202: s.DeliverySerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def test(self, request: Request, pk: str) -> Response:
        delivery = services.delivery_test(
            actor=request.user, subscription=self.get_object()
        )
        return Response(
            s.DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(request=None, responses={202: s.DeliverySerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path=r"deliveries/(?P<delivery_pk>[0-9]+)/redeliver",
    )
    @idempotent
    def redeliver(self, request: Request, pk: str, delivery_pk: str) -> Response:
        delivery = Delivery.objects.filter(
            subscription=self.get_object(), pk=delivery_pk
        ).first()
        if delivery is None:
            raise NotFound("No such delivery.")
        again = services.delivery_redeliver(actor=request.user, delivery=delivery)
        return Response(
            s.DeliverySerializer(again).data, status=status.HTTP_202_ACCEPTED
        )
