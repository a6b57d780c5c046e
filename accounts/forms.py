"""Forms of the accounts pages."""

from __future__ import annotations

from django import forms

from accounts.models import DEFAULT_SCOPES, SCOPES


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        required=False,
        help_text="What the token is for, e.g. “CI pipeline”.",
    )
    expires_days = forms.IntegerField(
        label="Expires after (days)",
        min_value=1,
        max_value=3650,
        required=False,
        initial=90,
        help_text="Leave empty for a token that never expires.",
    )
    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in SCOPES],
        initial=list(DEFAULT_SCOPES),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="What the token may do (none ticked: all but tokens), never more "
        "than your roles allow. “tokens” lets it manage your tokens.",
    )
