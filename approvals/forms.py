"""Forms of the review pages; approvals.services decides what a review does."""

from __future__ import annotations

from django import forms

from approvals.models import Decision

DECISIONS = [
    (Decision.APPROVE, "Approve"),
    (Decision.REJECT, "Reject"),
    (Decision.COMMENT, "Comment"),
]


class ReviewForm(forms.Form):
    """One review: the decision comes from the button pressed."""

    decision = forms.ChoiceField(choices=DECISIONS)
    comment = forms.CharField(
        label="Comment",
        required=False,
        max_length=10_000,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required to reject or to comment.",
    )


class ResubmitForm(forms.Form):
    comment = forms.CharField(
        label="What changed",
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
