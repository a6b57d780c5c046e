"""Forms of the catalog pages; the catalog services do the real validation."""

from __future__ import annotations

from typing import Any

from django import forms

from catalog.models import ApprovalStatus, ModelVersion
from catalog.services import FROZEN_WHEN_APPROVED
from common.jsonsafe import SafeJSONFormField

JSON_HELP = "A JSON object, e.g. {}."


def _json(label: str, help_text: str) -> forms.JSONField:
    return SafeJSONFormField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
    )


class VersionEditForm(forms.Form):
    """The metadata of a version that contributors may change after registration."""

    description = forms.CharField(
        required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 3})
    )
    model_card = forms.CharField(
        label="Model card (Markdown)",
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 10}),
    )
    tags = _json("Tags", JSON_HELP.format('{"team": "growth"}'))
    customer_metadata = _json("Customer metadata", JSON_HELP.format('{"owner": "…"}'))
    lineage = _json(
        "Lineage", JSON_HELP.format('{"commit": "3f2a9c1", "dataset_uri": "s3://…"}')
    )
    sample_payload = _json(
        "Sample payload", 'The request body "try it" sends: {"inputs": [[…]]}.'
    )

    DICT_FIELDS = ("tags", "customer_metadata", "lineage")

    def __init__(self, *args: Any, version: ModelVersion, **kwargs: Any) -> None:
        """A form showing ``version``'s values; what reviewers judged is read-only
        once the version has left review (the service refuses changes anyway)."""
        kwargs["initial"] = {name: getattr(version, name) for name in self.base_fields}
        super().__init__(*args, **kwargs)
        if version.approval_status != ApprovalStatus.PENDING:
            for name in sorted(FROZEN_WHEN_APPROVED & set(self.fields)):
                self.fields[name].disabled = True
                self.fields[
                    name
                ].help_text = (
                    "Frozen once reviewed: register a new version to change it."
                )

    def changes(self) -> dict[str, Any]:
        """The cleaned values as the service takes them (empty objects, not null)."""
        data = dict(self.cleaned_data)
        for name in self.DICT_FIELDS:
            if data.get(name) is None:
                data[name] = {}
        return data
