"""Forms of the endpoint pages; deployments.services and serving do the work."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.db.models import URLField
from django.forms.models import fields_for_model, model_to_dict

from common import jsonsafe
from deployments.models import Endpoint, Target


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


class EndpointSettingsForm(forms.Form):
    """The settings a deployer changes on the endpoint page: auto-deploy, and for a
    ``ray`` endpoint its replicas, CPUs and cluster addresses. It only parses; the
    service checks the values (``deployments.services.endpoint_update``) and
    ``changes()`` sends it only what differs from the endpoint."""

    LABELS = {
        "auto_deploy": "Auto-deploy: each version once it is approved",
        "ray_num_replicas": "Replicas",
        "ray_min_replicas": "Autoscaling: at least",
        "ray_max_replicas": "Autoscaling: at most",
        "ray_num_cpus": "CPUs per replica",
        "ray_dashboard_url": "Ray dashboard",
        "ray_serve_url": "Ray Serve HTTP proxy",
    }
    HELP = {
        "ray_num_replicas": "A fixed number, 1 to 100 (when autoscaling is off).",
        "ray_max_replicas": "Leave empty for a fixed number of replicas.",
        "ray_dashboard_url": "Leave empty for the cluster the registry is set up with.",
        "ray_serve_url": "Leave empty for the cluster the registry is set up with.",
    }

    def __init__(self, *args: Any, endpoint: Endpoint, **kwargs: Any) -> None:
        names = list(self.LABELS)
        if endpoint.target != Target.RAY:
            names = ["auto_deploy"]
        kwargs.setdefault("initial", model_to_dict(endpoint, fields=names))
        super().__init__(*args, **kwargs)
        self.fields.update(
            fields_for_model(
                Endpoint,
                fields=names,
                labels=self.LABELS,
                help_texts=self.HELP,
                formfield_callback=_formfield,
            )
        )
        for name in ("ray_dashboard_url", "ray_serve_url"):
            if name in self.fields:
                self.fields[name].widget.attrs["placeholder"] = getattr(
                    endpoint, name.removesuffix("_url")
                )

    def changes(self) -> dict[str, Any]:
        """The cleaned values that differ from the endpoint's."""
        return {name: self.cleaned_data[name] for name in self.changed_data}


def _formfield(field: Any, **kwargs: Any) -> forms.Field | None:
    if isinstance(field, URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)
