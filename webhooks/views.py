"""Web UI: webhook subscriptions and their delivery log (deployers and admins)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import registry_page
from accounts.roles import require_role
from common.ui import act
from webhooks import services
from webhooks.models import Attempt, Delivery, Subscription


@registry_page
@require_GET
def webhook_list(request: HttpRequest) -> HttpResponse:
    require_role(request.user, *services.MANAGE_ROLES, action="see webhooks")
    rows = Subscription.objects.select_related("model_group", "created_by").order_by(
        "id"
    )
    return render(request, "webhooks/list.html", {"subscriptions": rows})


@registry_page
@require_GET
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request.user, *services.MANAGE_ROLES, action="see webhooks")
    subscription = get_object_or_404(
        Subscription.objects.select_related("model_group"), pk=pk
    )
    deliveries = (
        Delivery.objects.filter(subscription=subscription)
        .prefetch_related(Prefetch("attempt_log", Attempt.objects.order_by("number")))
        .order_by("-id")
    )
    page = Paginator(deliveries, 25).get_page(request.GET.get("page"))
    return render(
        request, "webhooks/detail.html", {"subscription": subscription, "page": page}
    )


@registry_page
@require_POST
def webhook_test(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(Subscription, pk=pk)
    return act(
        request,
        lambda: services.delivery_test(actor=request.user, subscription=subscription),
        done="A test event is on its way.",
        back=reverse("webhooks:detail", args=[pk]),
    )


@registry_page
@require_POST
def webhook_redeliver(request: HttpRequest, pk: int, delivery: int) -> HttpResponse:
    original = get_object_or_404(Delivery, pk=delivery, subscription_id=pk)
    return act(
        request,
        lambda: services.delivery_redeliver(actor=request.user, delivery=original),
        done="Queued again as a new delivery.",
        back=reverse("webhooks:detail", args=[pk]),
    )
