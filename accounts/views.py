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
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services, throttling
from accounts.decorators import registry_page
from accounts.forms import TokenForm
from accounts.models import ApiToken

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


@never_cache
@registry_page
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """The user's API tokens; POST creates one and shows its key this once."""
    user = cast("User", request.user)  # signed in: registry_page made sure
    form = TokenForm(request.POST or None)
    new_key = ""
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_days"]
        _, new_key = services.token_issue(
            user=user,
            name=form.cleaned_data["name"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
            scopes=form.cleaned_data["scopes"] or None,
            actor=user,
            via="page",
        )
        form = TokenForm()
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
    user: Any = request.user
    token = get_object_or_404(ApiToken, pk=pk, user=user)
    services.token_revoke(token=token, actor=user, via="page")
    messages.success(request, f"Token {token.prefix}… is revoked.")
    return redirect("accounts:tokens")
