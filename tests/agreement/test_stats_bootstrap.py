"""Percentile bootstrap over units, with multiplicities drawn as multinomial counts."""

from __future__ import annotations

import time

import numpy as np
import pytest

from service.agreement.stats import (
    BOOTSTRAP_METHOD,
    MAX_BOOTSTRAP_RESAMPLES,
    AgreementInputError,
    BootstrapLimitError,
    compute,
)

nan = np.nan

PATTERNS = np.array([[1, 1], [2, 2], [3, 3], [1, 2], [2, 3], [3, 1], [1, nan]])
COUNTS = np.array([30, 25, 20, 6, 5, 4, 3])


def test_the_resample_limit_is_exported_and_enforced() -> None:
    assert MAX_BOOTSTRAP_RESAMPLES == 10_000
    with pytest.raises(BootstrapLimitError, match="10000") as caught:
        compute("cohen_kappa", table=[[5, 1], [2, 6]], bootstrap_resamples=10_001, seed=1)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("resamples", [0, -5, 2.5, True])
def test_resample_count_must_be_a_positive_whole_number(resamples: object) -> None:
    with pytest.raises(AgreementInputError, match="bootstrap_resamples"):
        compute("cohen_kappa", table=[[5, 1], [2, 6]], bootstrap_resamples=resamples)


def test_seed_must_be_a_non_negative_whole_number() -> None:
    with pytest.raises(AgreementInputError, match="seed"):
        compute("cohen_kappa", table=[[5, 1], [2, 6]], bootstrap_resamples=10, seed=-1)


def test_same_seed_same_interval_and_the_seed_is_reported() -> None:
    first = compute(
        "fleiss_kappa", ratings=PATTERNS, weights=COUNTS, bootstrap_resamples=500, seed=11
    )
    second = compute(
        "fleiss_kappa", ratings=PATTERNS, weights=COUNTS, bootstrap_resamples=500, seed=11
    )
    assert first.ci == second.ci
    assert first.ci.method == BOOTSTRAP_METHOD
    assert (first.ci.resamples, first.ci.seed, first.ci.level) == (500, 11, 0.95)
    assert first.standard_error is not None  # the analytic error is still reported


def test_a_fresh_seed_is_drawn_and_reported_when_none_is_given() -> None:
    estimate = compute("cohen_kappa", ratings=PATTERNS, weights=COUNTS, bootstrap_resamples=200)
    again = compute(
        "cohen_kappa",
        ratings=PATTERNS,
        weights=COUNTS,
        bootstrap_resamples=200,
        seed=estimate.ci.seed,
    )
    assert isinstance(estimate.ci.seed, int)
    assert again.ci == estimate.ci


@pytest.mark.parametrize(
    "statistic", ["cohen_kappa", "scott_pi", "gwet_ac1", "krippendorff_alpha", "percent_agreement"]
)
def test_weights_and_repeated_rows_give_the_same_bootstrap(statistic: str) -> None:
    """Both forms compress to the same patterns, so the same seed draws the same units."""
    weighted = compute(statistic, ratings=PATTERNS, weights=COUNTS, bootstrap_resamples=300, seed=5)
    repeated = compute(
        statistic,
        ratings=np.repeat(PATTERNS, COUNTS, axis=0),
        bootstrap_resamples=300,
        seed=5,
    )
    assert weighted.ci == repeated.ci


def _naive_bootstrap(ratings: np.ndarray, statistic: str, resamples: int) -> np.ndarray:
    """Resample unit rows directly: slow, obviously right."""
    rng = np.random.default_rng(99)
    values = []
    for _ in range(resamples):
        rows = ratings[rng.integers(0, ratings.shape[0], ratings.shape[0])]
        value = compute(statistic, ratings=rows, categories=[1, 2, 3]).value
        if value is not None:
            values.append(value)
    return np.quantile(values, [0.025, 0.975])


@pytest.mark.parametrize("statistic", ["cohen_kappa", "krippendorff_alpha"])
def test_interval_matches_a_direct_unit_bootstrap(statistic: str) -> None:
    ratings = np.repeat(PATTERNS, COUNTS, axis=0)
    fast = compute(statistic, ratings=PATTERNS, weights=COUNTS, bootstrap_resamples=2000, seed=3).ci
    low, high = _naive_bootstrap(ratings, statistic, 400)
    assert fast.low == pytest.approx(low, abs=0.04)
    assert fast.high == pytest.approx(high, abs=0.04)


def test_bootstrap_agrees_with_the_analytic_interval_on_a_large_sample() -> None:
    table = np.array([[400, 60, 20], [50, 300, 40], [10, 30, 90]])
    estimate = compute("cohen_kappa", table=table, bootstrap_resamples=2000, seed=8)
    analytic = compute("cohen_kappa", table=table).ci
    assert estimate.ci.low == pytest.approx(analytic.low, abs=0.01)
    assert estimate.ci.high == pytest.approx(analytic.high, abs=0.01)


def test_millions_of_units_in_a_few_patterns_resample_quickly() -> None:
    counts = COUNTS * 200_000  # 18.6 million coded characters
    started = time.perf_counter()
    estimate = compute(
        "krippendorff_alpha", ratings=PATTERNS, weights=counts, bootstrap_resamples=2000, seed=2
    )
    assert time.perf_counter() - started < 5.0
    assert estimate.ci.low <= estimate.value <= estimate.ci.high
    assert estimate.ci.high - estimate.ci.low < 0.002


def test_resamples_without_variation_are_counted_and_left_out() -> None:
    ratings = np.array([[1, 1]] * 6 + [[2, 2], [1, 2]])
    estimate = compute("cohen_kappa", ratings=ratings, bootstrap_resamples=1000, seed=4)
    assert estimate.ci.undefined_resamples > 0
    assert -1.0 <= estimate.ci.low <= estimate.ci.high <= 1.0
    as_one = compute(
        "cohen_kappa", ratings=ratings, bootstrap_resamples=1000, seed=4, no_variation="one"
    )
    assert as_one.ci.undefined_resamples == 0
    assert as_one.ci.high == 1.0


def test_no_interval_when_the_coefficient_itself_is_undefined() -> None:
    estimate = compute("cohen_kappa", ratings=np.zeros((10, 2)), bootstrap_resamples=100, seed=1)
    assert estimate.value is None and estimate.ci is None


def test_confidence_level_is_respected() -> None:
    wide = compute(
        "gwet_ac1",
        ratings=PATTERNS,
        weights=COUNTS,
        bootstrap_resamples=1000,
        seed=6,
        confidence=0.99,
    )
    narrow = compute(
        "gwet_ac1",
        ratings=PATTERNS,
        weights=COUNTS,
        bootstrap_resamples=1000,
        seed=6,
        confidence=0.80,
    )
    assert wide.ci.low < narrow.ci.low < narrow.ci.high < wide.ci.high
    assert (wide.ci.level, narrow.ci.level) == (0.99, 0.80)
