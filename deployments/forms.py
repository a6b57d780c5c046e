"""Forms of the endpoint pages; deployments.services and serving do the work."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from common import jsonsafe


class TryItForm(forms.Form):
    """A request body as the invocation API takes it: {"inputs": [[...], ...]}."""

    body = forms.CharField(
        label="Request body (JSON)",
        required=False,
        max_length=1024 * 1024,
        help_text="Left empty, the live version's sample payload is sent.",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
    )

    @staticmethod
    def initial_body(sample_payload: Any) -> str:
        if sample_payload is None:
            return ""
        if not isinstance(sample_payload, dict):
            sample_payload = {"inputs": sample_payload}
        return json.dumps(sample_payload)

    @staticmethod
    def sample_inputs(sample_payload: Any) -> Any:
        if isinstance(sample_payload, dict):
            return sample_payload.get("inputs", sample_payload.get("instances"))
        return sample_payload

    def clean_body(self) -> Any:
        """The inputs to send, or None for the live version's sample payload."""
        if not self.cleaned_data["body"].strip():
            return None
        try:
            body = jsonsafe.loads(self.cleaned_data["body"])
        except jsonsafe.JSONInputError as exc:
            raise forms.ValidationError(str(exc)) from exc
        if not isinstance(body, dict) or not ({"inputs", "instances"} & set(body)):
            raise forms.ValidationError(
                'Send a JSON object {"inputs": [[...], ...]} (or "instances").'
            )
        return body.get("inputs", body.get("instances"))


class DeployForm(forms.Form):
    version = forms.IntegerField(label="Version", min_value=1)
