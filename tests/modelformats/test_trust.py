"""The skops trust list is what the caller passes, in this process and in the child."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelformats
from modelformats import ArtifactRefused, LoadError, Trust
from tests import models as real_models

FRACTION = Trust(skops_types=["fractions.Fraction"])


@pytest.fixture
def skops_with_fraction(tmp_path: Path) -> str:
    path = tmp_path / "model.skops"
    path.write_bytes(real_models.iris_skops_naming_a_fraction())
    return str(path)


@pytest.mark.parametrize(
    "inspect", [modelformats.inspect, modelformats.inspect_isolated]
)
def test_a_type_is_refused_unless_the_caller_trusts_it(inspect, skops_with_fraction):
    with pytest.raises(ArtifactRefused) as refused:
        inspect(skops_with_fraction, trust=Trust())

    assert "fractions.Fraction" in refused.value.message
    assert inspect(skops_with_fraction, trust=FRACTION) == "skops"


def test_a_load_trusts_only_what_the_caller_passes(skops_with_fraction):
    with pytest.raises(LoadError, match="untrusted types"):
        modelformats.load(skops_with_fraction, "skops", trust=Trust())

    predictor = modelformats.load(skops_with_fraction, "skops", trust=FRACTION)

    assert predictor.spec.shape == [None, 4]


def test_the_child_process_loads_with_the_trust_it_is_given(skops_with_fraction):
    def run(trust: Trust) -> dict:
        return modelformats.load_and_warm_isolated(
            skops_with_fraction,
            "skops",
            trust=trust,
            payload=None,
            timeout=60,
            memory=3 * 1024**3,
        )

    with pytest.raises(LoadError, match="untrusted types"):
        run(Trust())

    assert run(FRACTION)["outputs"] == ["label", "probabilities"]
