"""The baseline beside every candidate: each metric's delta against the version live
on each endpoint of the group and against the ``champion`` alias, marked better or
worse by the metric's direction (``approvals.directions``).

A composite read (catalog, deployments, approvals), so it lives here; a constant
number of queries for any number of candidates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from approvals.directions import directions_by_group, higher_is_better
from catalog import selectors as catalog_selectors
from catalog.models import ModelVersion
from deployments import selectors as deployment_selectors

CHAMPION = "champion"


@dataclass(frozen=True)
class Delta:
    """One metric of a candidate beside the same metric of a baseline."""

    metric: str
    value: float | None
    base: float | None
    higher_is_better: bool

    @property
    def delta(self) -> float | None:
        if self.value is None or self.base is None:
            return None
        return self.value - self.base

    @property
    def percent(self) -> float | None:
        delta = self.delta
        if delta is None or not self.base:
            return None
        return 100 * delta / abs(self.base)

    @property
    def verdict(self) -> str:
        """ "better", "worse", "same", or "" when one side lacks the metric."""
        delta = self.delta
        if delta is None:
            return ""
        if math.isclose(delta, 0.0, rel_tol=1e-12, abs_tol=1e-12):
            return "same"
        return "better" if (delta > 0) == self.higher_is_better else "worse"


@dataclass
class Baseline:
    """A version to measure a candidate against: live somewhere, or an alias."""

    number: int
    version_id: int
    endpoints: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    deltas: list[Delta] = field(default_factory=list)

    @property
    def label(self) -> str:
        """ "iris-prod" / "@champion" / "iris-prod, @champion"."""
        return ", ".join([*self.endpoints, *(f"@{a}" for a in self.aliases)])

    @property
    def live(self) -> bool:
        return bool(self.endpoints)


def _numeric(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def baselines(versions: list[ModelVersion]) -> dict[int, list[Baseline]]:
    """For each candidate, its baselines (live ones first), skipping itself."""
    group_ids = {v.group_id for v in versions}
    if not group_ids:
        return {}
    endpoints = deployment_selectors.endpoints_by_group(group_ids)
    champions = catalog_selectors.alias_targets(group_ids, CHAMPION)
    by_group: dict[int, dict[int, Baseline]] = {}
    for group_id in group_ids:
        found: dict[int, Baseline] = {}
        for endpoint in endpoints.get(group_id, []):
            live = endpoint.live_version
            if live is not None:
                found.setdefault(live.pk, Baseline(live.version, live.pk))
                found[live.pk].endpoints.append(endpoint.name)
        if group_id in champions:
            pk = champions[group_id]
            found.setdefault(pk, Baseline(0, pk)).aliases.append(CHAMPION)
        by_group[group_id] = found
    wanted = {pk for found in by_group.values() for pk in found}
    metrics = catalog_selectors.version_metrics(wanted) if wanted else {}
    directions = directions_by_group(group_ids)
    result: dict[int, list[Baseline]] = {}
    for version in versions:
        rows = []
        for pk, template in by_group[version.group_id].items():
            if pk == version.pk or pk not in metrics:
                continue
            number, base_metrics = metrics[pk]
            rows.append(_measured(version, template, number, base_metrics, directions))
        result[version.pk] = sorted(rows, key=lambda b: (not b.live, -b.number))
    return result


def _measured(
    version: ModelVersion,
    template: Baseline,
    number: int,
    base_metrics: dict,
    directions: dict[int, dict[str, bool]],
) -> Baseline:
    own = directions.get(version.group_id, {})
    names = sorted(version.metrics or {})
    return Baseline(
        number=number,
        version_id=template.version_id,
        endpoints=list(template.endpoints),
        aliases=list(template.aliases),
        deltas=[
            Delta(
                metric=name,
                value=_numeric(version.metrics.get(name)),
                base=_numeric(base_metrics.get(name)),
                higher_is_better=higher_is_better(name, own),
            )
            for name in names
        ],
    )


def metric_rows(
    version: ModelVersion, found: list[Baseline]
) -> list[tuple[str, object, list[Delta]]]:
    """The table of the version page: per metric, its value and one delta per baseline."""
    return [
        (name, version.metrics[name], [b.deltas[i] for b in found])
        for i, name in enumerate(sorted(version.metrics or {}))
    ]
