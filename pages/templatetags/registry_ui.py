"""Template helpers of the web UI: Markdown, status badges, JSON and number display."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import markdown as md
import nh3
from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

BADGES = {
    "PendingManualApproval": ("Pending review", "pending"),
    "Approved": ("Approved", "ok"),
    "Rejected": ("Rejected", "bad"),
    "Queued": ("Queued", "muted"),
    "Running": ("Running", "info"),
    "Succeeded": ("Succeeded", "ok"),
    "Failed": ("Failed", "bad"),
    "Superseded": ("Superseded", "muted"),
    "Cancelled": ("Cancelled", "muted"),
    "Ready": ("Ready", "ok"),
    "Pending": ("Pending", "pending"),
    # Webhook deliveries (lower-case values), in the same words as deployments.
    "pending": ("Pending", "pending"),
    "succeeded": ("Succeeded", "ok"),
    "failed": ("Failed", "bad"),
    "cancelled": ("Cancelled", "muted"),
}


def status_name(status: str) -> str:
    """The one name of a status everywhere (badges, filters, compare, messages)."""
    return BADGES.get(status, (status, ""))[0]


@register.filter
def markdown(text: str) -> SafeString:
    """Markdown rendered to HTML, then sanitised: scripts, handlers and unsafe URLs go."""
    html = md.markdown(text or "", extensions=["extra", "sane_lists"])
    return mark_safe(nh3.clean(html))  # noqa: S308 - nh3 made it safe


@register.simple_tag
def badge(status: str) -> str:
    label, tone = BADGES.get(status, (status, "muted"))
    return format_html('<span class="badge badge-{}">{}</span>', tone, label)


@register.filter
def status_label(status: str) -> str:
    return status_name(status)


@register.simple_tag
def metric_cell(metrics: Any, name: str, decimals: dict[str, int]) -> str:
    """A metric in a table column: every value of the column to the same decimals."""
    value = metrics.get(name) if isinstance(metrics, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return number(value)
    return f"{value:.{decimals.get(name, 4)}f}"


def column_decimals(values: list[Any], significant: int = 4) -> int:
    """Decimals that show ``significant`` digits of the column's largest value."""
    numbers = [
        abs(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    largest = max((n for n in numbers if n > 0), default=0.0)
    if not largest or not math.isfinite(largest):
        return 0 if all(float(n).is_integer() for n in numbers) else significant
    if all(float(n).is_integer() for n in numbers):
        return 0
    return max(0, min(6, significant - 1 - math.floor(math.log10(largest))))


@register.filter
def get(mapping: Any, key: Any) -> Any:
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def number(value: Any) -> str:
    """A metric for display: up to 6 significant digits; missing is a dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return f"{value:.6g}"
    return str(value)


@register.filter
def scalar(value: Any) -> str:
    """A JSON value for a table cell: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)


@register.filter
def pairs(mapping: Any) -> list[tuple[str, Any]]:
    """A dict's items sorted by key (safe for a key named "items")."""
    if not isinstance(mapping, dict):
        return []
    return sorted(mapping.items(), key=lambda item: str(item[0]))


@register.filter
def lines(items: Any) -> str:
    """A list of log lines as one block of text."""
    return "\n".join(str(item) for item in items or [])


ARROWS = {"better": "▲", "worse": "▼", "same": "="}


@register.simple_tag
def delta(item: Any) -> str:
    """A baseline cell: the baseline's value, then the change marked better/worse by
    the metric's direction (words for screen readers, not colour alone)."""
    if item.base is None:
        return mark_safe('<span class="muted">not reported</span>')
    base = format_html('<span class="base">{}</span>', number(item.base))
    if item.delta is None:
        return base
    direction = "higher" if item.higher_is_better else "lower"
    percent = f" ({item.percent:+.1f}%)" if item.percent is not None else ""
    return format_html(
        '{} <span class="delta delta-{}" title="{} is better">{}{} {}'
        '<span class="sr-only"> {}</span></span>',
        base,
        item.verdict,
        direction,
        f"{item.delta:+.4g}",
        percent,
        ARROWS[item.verdict],
        item.verdict,
    )


HASHLIKE = re.compile(r"^[0-9a-fA-F]{20,}$")


@register.filter
def is_hash(value: Any) -> bool:
    """A long hexadecimal string (a commit, a digest): shown short, copied whole."""
    return isinstance(value, str) and bool(HASHLIKE.match(value))


@register.simple_tag
def short_hash(value: str, label: str = "the hash", testid: str = "") -> str:
    """The first 12 characters, the whole value in the title and the Copy button."""
    return format_html(
        '<code class="hash-short" title="{}"{}>{}…</code> '
        '<button type="button" class="copy" data-copy-text="{}" '
        'aria-label="Copy {}">Copy</button>',
        value,
        format_html(' data-testid="{}"', testid) if testid else "",
        value[:12],
        value,
        label,
    )
