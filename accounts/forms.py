"""Forms of the accounts pages."""

from __future__ import annotations

from typing import Any

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
        help_text="What the token may do (none ticked: all of these but tokens). "
        "Only the scopes your roles allow are offered. “tokens” lets it manage "
        "your tokens.",
    )

    def __init__(self, *args: Any, allowed: list[str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.allowed = list(SCOPES) if allowed is None else allowed
        field = self.fields["scopes"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(scope, scope) for scope in self.allowed]
        field.initial = [s for s in DEFAULT_SCOPES if s in self.allowed]

    def chosen_scopes(self) -> list[str]:
        """The ticked scopes, or the default ones the user's roles allow."""
        return list(self.cleaned_data["scopes"]) or [
            s for s in DEFAULT_SCOPES if s in self.allowed
        ]


class AccessKeyForm(TokenForm):
    """An access key pair: a name and scopes (keys do not expire; revoke them)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        del self.fields["expires_days"]
        self.fields[
            "name"
        ].help_text = "What the key is for, e.g. “SageMaker pipeline”."
        self.fields["scopes"].help_text = (
            "What requests signed with the key may do (none ticked: all of these but "
            "tokens). Only the scopes your roles allow are offered."
        )
