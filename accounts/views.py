"""Web UI: the sign-in page and the API tokens page."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services, throttling
from accounts.decorators import registry_page
from accounts.forms import AccessKeyForm, TokenForm
from accounts.models import AccessKey, ApiToken
from accounts.roles import scopes_allowed
from common.ui import confirm_page, confirmed

# --- Sign-in -----------------------------------------------------------------------


class SignInView(LoginView):
    """The login page; 429 with ``Retry-After`` once the account or the address has
    failed too often (``accounts.backends`` counts the failures)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = throttling.sign_in_wait(request, request.POST.get("username"))
        if wait is None:
            return super().post(request, *args, **kwargs)
        form = self.get_form_class()(request, initial=request.POST.dict())
        response = self.render_to_response(
            self.get_context_data(form=form, retry_minutes=math.ceil(wait / 60))
        )
        response.status_code = 429
        response["Retry-After"] = str(int(wait))
        return response


# --- API tokens ---------------------------------------------------------------------


# The new key waits in the session for the one page view that shows it.
NEW_KEY = "accounts.new_token_key"


@never_cache
@registry_page
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """The user's API tokens. POST creates one and redirects (a reload creates
    nothing); the page after the redirect shows its key this once."""
    user = cast("User", request.user)  # signed in: registry_page made sure
    form = TokenForm(request.POST or None, allowed=scopes_allowed(user))
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_days"]
        token, key = services.token_issue(
            user=user,
            name=form.cleaned_data["name"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
            scopes=form.chosen_scopes(),
            actor=user,
            via="page",
        )
        request.session[NEW_KEY] = key
        messages.success(request, f"Created token {token.prefix}….")
        return redirect("accounts:tokens")
    new_key = request.session.pop(NEW_KEY, "") if request.method == "GET" else ""
    rows = ApiToken.objects.filter(user=user).order_by("-created_at", "-id")
    status = 400 if form.errors else 200
    return render(
        request,
        "accounts/tokens.html",
        {"form": form, "tokens": rows, "new_key": new_key, "now": timezone.now()},
        status=status,
    )


@registry_page
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of the user's tokens, once they confirmed (a page or a dialog)."""
    user: Any = request.user
    token = get_object_or_404(ApiToken, pk=pk, user=user)
    if token.revoked_at is None and not confirmed(request):
        return confirm_page(
            request,
            title=f"Revoke token {token.prefix}…?",
            consequences=[revoke_consequence(token)],
            button="Revoke token",
            cancel=reverse("accounts:tokens"),
        )
    services.token_revoke(token=token, actor=user, via="page")
    messages.success(
        request, f"Token {token.prefix}… is revoked; requests made with it fail."
    )
    return redirect("accounts:tokens")


def revoke_consequence(token: ApiToken) -> str:
    """What revoking ``token`` does, for the confirmation."""
    what = f"“{token.name}” ({token.prefix}…)" if token.name else f"{token.prefix}…"
    return f"Every request made with {what} will be refused from now on"


# --- Access keys (SigV4, for the SageMaker-compatible API) ----------------------------

NEW_ACCESS_KEY = "accounts.new_access_key"


@never_cache
@registry_page
@require_http_methods(["GET", "POST"])
def access_keys(request: HttpRequest) -> HttpResponse:
    """The user's access keys. POST creates a pair and redirects; the page after the
    redirect shows the secret this once (a reload creates nothing)."""
    user = cast("User", request.user)  # signed in: registry_page made sure
    form = AccessKeyForm(request.POST or None, allowed=scopes_allowed(user))
    if request.method == "POST" and form.is_valid():
        key, secret = services.access_key_issue(
            actor=user,
            name=form.cleaned_data["name"],
            scopes=form.chosen_scopes(),
            via="page",
        )
        request.session[NEW_ACCESS_KEY] = [key.access_key_id, secret]
        messages.success(request, f"Created access key {key.access_key_id}.")
        return redirect("accounts:access-keys")
    new_pair = (
        request.session.pop(NEW_ACCESS_KEY, None) if request.method == "GET" else None
    )
    rows = AccessKey.objects.filter(user=user).order_by("-created_at", "-id")
    return render(
        request,
        "accounts/access_keys.html",
        {"form": form, "keys": rows, "new_pair": new_pair},
        status=400 if form.errors else 200,
    )


@registry_page
@require_POST
def access_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of the user's access keys, once they confirmed."""
    user: Any = request.user
    key = get_object_or_404(AccessKey, pk=pk, user=user)
    if key.revoked_at is None and not confirmed(request):
        return confirm_page(
            request,
            title=f"Revoke access key {key.access_key_id}?",
            consequences=[access_key_consequence(key)],
            button="Revoke access key",
            cancel=reverse("accounts:access-keys"),
        )
    services.access_key_revoke(key=key, actor=user, via="page")
    messages.success(
        request,
        f"Access key {key.access_key_id} is revoked; requests signed with it fail.",
    )
    return redirect("accounts:access-keys")


def access_key_consequence(key: AccessKey) -> str:
    """What revoking ``key`` does, for the confirmation."""
    what = f"“{key.name}” ({key.access_key_id})" if key.name else key.access_key_id
    return f"Every request signed with {what} will be refused from now on"
