"""The public entry point: registry, dispatcher, result shape, confusion tables."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from service.agreement import alpha as alpha_module
from service.agreement import stats
from service.agreement.stats import (
    STATISTICS,
    ConfusionTable,
    Estimate,
    TwoCodersRequiredError,
    compute,
    confusion_table,
)

nan = np.nan
RATINGS = np.array([[1, 1], [2, 2], [3, 3], [1, 2], [2, 2], [3, 1], [1, 1], [2, nan]])


def test_registry_lists_every_statistic_the_api_offers() -> None:
    assert list(STATISTICS) == [
        "percent_agreement",
        "cohen_kappa",
        "weighted_kappa",
        "scott_pi",
        "fleiss_kappa",
        "krippendorff_alpha",
        "gwet_ac1",
        "gwet_ac2",
        "brennan_prediger",
    ]
    for name, info in STATISTICS.items():
        assert info.name == name
        assert info.weighting in ("none", "optional", "required")
    with pytest.raises(TypeError):
        STATISTICS["new"] = STATISTICS["cohen_kappa"]  # type: ignore[index]


@pytest.mark.parametrize("statistic", list(STATISTICS))
def test_every_registered_statistic_computes_by_name(statistic: str) -> None:
    info = STATISTICS[statistic]
    weighting = "linear" if info.weighting == "required" else None
    estimate = compute(statistic, ratings=RATINGS, categories=[1, 2, 3], weighting=weighting)
    assert estimate.statistic == statistic
    assert isinstance(estimate.value, float)
    assert estimate.reason is None
    assert (estimate.n_units, estimate.n_coders, estimate.n_categories) == (8, 2, 3)
    assert estimate.n_pairable_units == 7
    assert estimate.percent_agreement == pytest.approx(5 / 7)
    if info.standard_error == "bootstrap_only":
        assert estimate.standard_error is None
    else:
        assert estimate.standard_error > 0 and estimate.ci.method == "normal"


def _plain(value: object) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return value is None or type(value) in (str, int, float, bool)


def test_to_dict_holds_only_plain_json_types() -> None:
    estimate = compute("cohen_kappa", ratings=RATINGS, bootstrap_resamples=50, seed=1)
    as_dict = estimate.to_dict()
    assert _plain(as_dict)
    assert json.loads(json.dumps(as_dict, allow_nan=False)) == as_dict
    assert set(as_dict) == {field.name for field in dataclasses.fields(Estimate)}
    assert set(as_dict["ci"]) == {"low", "high", "level", "method", "resamples",
                                  "undefined_resamples", "seed"}  # fmt: skip


def test_estimates_are_immutable() -> None:
    estimate = compute("fleiss_kappa", ratings=RATINGS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        estimate.value = 1.0  # type: ignore[misc]


def test_weighted_statistics_report_their_weighting_and_alpha_its_level() -> None:
    ac2 = compute("gwet_ac2", ratings=RATINGS, categories=[1, 2, 3], weighting="quadratic")
    alpha = compute("krippendorff_alpha", ratings=RATINGS, level="interval")
    assert (ac2.weighting, ac2.level) == ("quadratic", None)
    assert (alpha.weighting, alpha.level) == (None, "interval")
    assert ac2.observed_agreement > ac2.percent_agreement  # partial credit for near misses


def test_category_order_drives_partial_credit() -> None:
    ratings = np.array([[1, 2], [1, 2], [2, 2], [3, 3], [1, 1], [3, 2]])
    in_order = compute("weighted_kappa", ratings=ratings, categories=[1, 2, 3], weighting="linear")
    reordered = compute("weighted_kappa", ratings=ratings, categories=[2, 1, 3], weighting="linear")
    assert in_order.value != pytest.approx(reordered.value)


def test_confusion_table_counts_units_both_coders_coded() -> None:
    table = confusion_table(RATINGS, weights=[1, 1, 1, 1, 1, 1, 1, 5])
    assert isinstance(table, ConfusionTable)
    assert table.categories == (1, 2, 3)
    assert table.counts.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert table.counts.dtype == np.int64


def test_confusion_table_uses_declared_categories_in_their_order() -> None:
    counts, categories = confusion_table([[0, 1], [1, 1], [1, 0]], categories=[1, 0, 2])
    assert categories == (1, 0, 2)
    assert counts.tolist() == [[1, 1, 0], [1, 0, 0], [0, 0, 0]]


def test_confusion_table_needs_two_coders() -> None:
    with pytest.raises(TwoCodersRequiredError):
        confusion_table([[1, 1, 1]])


def test_non_integer_codes_are_allowed_and_kept() -> None:
    counts, categories = confusion_table([[0.5, 1.5], [1.5, 1.5]])
    assert categories == (0.5, 1.5)
    assert counts.tolist() == [[0, 1], [0, 1]]


def test_percent_agreement_has_an_interval_but_no_test_against_zero() -> None:
    estimate = compute("percent_agreement", ratings=RATINGS)
    assert 0.0 <= estimate.ci.low < estimate.value < estimate.ci.high <= 1.0
    assert estimate.z is None and estimate.p_value is None


def test_missing_codes_may_be_given_as_none() -> None:
    with_none = compute("fleiss_kappa", ratings=[[1, None], [1, 1], [2, 2], [None, None]])
    with_nan = compute("fleiss_kappa", ratings=[[1, nan], [1, 1], [2, 2], [nan, nan]])
    assert with_none == with_nan
    assert (with_none.n_units, with_none.n_pairable_units) == (3, 2)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_without_the_cached_coincidence_table_gives_the_same_answer(
    level: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many patterns times many categories switch alpha to per-resample products."""
    ratings = np.random.default_rng(0).integers(1, 6, size=(60, 3)).astype(float)
    ratings[::7, 1] = nan
    options = {"ratings": ratings, "level": level, "bootstrap_resamples": 50, "seed": 1}
    cached = compute("krippendorff_alpha", **options)
    monkeypatch.setattr(alpha_module, "_FLAT_CELLS", 0)
    recomputed = compute("krippendorff_alpha", **options)
    assert recomputed.value == pytest.approx(cached.value, abs=1e-12)
    assert recomputed.ci.low == pytest.approx(cached.ci.low, abs=1e-12)
    assert recomputed.ci.high == pytest.approx(cached.ci.high, abs=1e-12)


def test_entry_point_re_exports_the_public_names() -> None:
    for name in stats.__all__:
        assert hasattr(stats, name), name
