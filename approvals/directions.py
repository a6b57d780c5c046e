"""Which way a metric is better: a group's own setting, else a rule of names.

Reviewers read deltas against the live version; "better" needs a direction. Names
that measure a cost (loss, error, latency, ...) are better lower; the rest higher.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from approvals.models import MetricDirection

# Parts of a metric name that say "lower is better" (matched inside the name).
LOWER_PARTS = (
    "loss",
    "error",
    "latency",
    "rmse",
    "mse",
    "mae",
    "mape",
    "perplexity",
    "duration",
)
# Whole words of a name that say the same (too short to match inside words).
LOWER_WORDS = frozenset({"fpr", "fnr", "cost", "time", "ms", "seconds", "wer", "cer"})


def higher_is_better(name: str, overrides: dict[str, bool] | None = None) -> bool:
    """The group's setting for ``name`` if it has one, else the rule of names."""
    if overrides and name in overrides:
        return overrides[name]
    lowered = name.lower()
    if any(part in lowered for part in LOWER_PARTS):
        return False
    return not (set(re.split(r"[^a-z0-9]+", lowered)) & LOWER_WORDS)


def directions_by_group(group_ids: Iterable[int]) -> dict[int, dict[str, bool]]:
    """Each group's own metric directions, in one query."""
    found: dict[int, dict[str, bool]] = defaultdict(dict)
    rows = MetricDirection.objects.filter(group_id__in=list(group_ids)).values_list(
        "group_id", "metric", "higher_is_better"
    )
    for group_id, metric, higher in rows:
        found[group_id][metric] = higher
    return found


def group_directions(group_id: int, limit: int = 500) -> list[dict[str, object]]:
    """Every metric the group has reported or set a direction for, with its
    direction and where it comes from (``group`` or ``default``), by name: two
    queries."""
    from catalog.models import Metric

    own = directions_by_group([group_id]).get(group_id, {})
    reported = (
        Metric.objects.filter(group_id=group_id)
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()[:limit]
    )
    names = sorted(set(reported) | set(own))
    return [
        {
            "metric": name,
            "higher_is_better": higher_is_better(name, own),
            "source": "group" if name in own else "default",
        }
        for name in names
    ]
