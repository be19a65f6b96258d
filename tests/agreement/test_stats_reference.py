"""Random data checked against independent implementations, and the weights contract.

scikit-learn, statsmodels, the `krippendorff` package and irrCAC are compared
only where they define the statistic the same way; cases a library cannot
compute (no variation, nothing pairable) are covered in test_stats_degenerate.
"""

from __future__ import annotations

import json
import warnings

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from irrCAC.raw import CAC
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

from service.agreement.stats import STATISTICS, compute, confusion_table

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def coded_data(
    draw: st.DrawFn,
    *,
    coders: tuple[int, int] = (2, 5),
    missing: bool = True,
    min_units: int = 2,
) -> tuple[np.ndarray, list[int]]:
    """A units x coders matrix of codes 1..k (NaN for gaps) and its category list.

    Codes are skewed towards agreement so that coefficients spread over their
    whole range instead of clustering near 0.
    """
    seed = draw(st.integers(0, 2**32 - 1))
    units = draw(st.integers(min_units, 40))
    n_coders = draw(st.integers(*coders))
    n_categories = draw(st.integers(2, 5))
    agreement = draw(st.floats(0.0, 0.95))
    gap = draw(st.floats(0.0, 0.4)) if missing else 0.0
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, n_categories + 1, size=(units, 1))
    noise = rng.integers(1, n_categories + 1, size=(units, n_coders))
    ratings = np.where(rng.random((units, n_coders)) < agreement, truth, noise).astype(float)
    ratings[rng.random((units, n_coders)) < gap] = np.nan
    return ratings, list(range(1, n_categories + 1))


def _comparable(estimate) -> bool:
    return estimate.value is not None and estimate.reason is None


@SETTINGS
@given(
    data=coded_data(coders=(2, 2), missing=False),
    weighting=st.sampled_from([None, "linear", "quadratic"]),
)
def test_cohen_kappa_agrees_with_scikit_learn(data, weighting) -> None:
    ratings, categories = data
    statistic = "cohen_kappa" if weighting is None else "weighted_kappa"
    estimate = compute(statistic, ratings=ratings, categories=categories, weighting=weighting)
    if not _comparable(estimate):
        return
    expected = cohen_kappa_score(ratings[:, 0], ratings[:, 1], labels=categories, weights=weighting)
    assert estimate.value == pytest.approx(expected, abs=1e-10)


@SETTINGS
@given(
    data=coded_data(coders=(2, 2), missing=False),
    weighting=st.sampled_from([None, "linear", "quadratic"]),
)
def test_cohen_kappa_standard_errors_agree_with_statsmodels(data, weighting) -> None:
    ratings, categories = data
    table, _ = confusion_table(ratings, categories=categories)
    statistic = "cohen_kappa" if weighting is None else "weighted_kappa"
    estimate = compute(statistic, table=table, categories=categories, weighting=weighting)
    if not _comparable(estimate):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        library = cohens_kappa(table, wt=weighting)
    assert estimate.value == pytest.approx(library.kappa, abs=1e-10)
    # When one coder used a single category a variance is exactly 0 and statsmodels
    # takes the root of a rounding residue (NaN or about 1e-8); we report 0.
    assert estimate.standard_error == pytest.approx(np.nan_to_num(library.std_kappa), abs=1e-7)
    assert estimate.standard_error_h0 == pytest.approx(np.nan_to_num(library.std_kappa0), abs=1e-7)
    if library.std_kappa0 > 1e-6:
        assert estimate.z == pytest.approx(library.z_value, rel=1e-8, abs=1e-8)
        assert estimate.p_value == pytest.approx(library.pvalue_two_sided, abs=1e-9)


@SETTINGS
@given(data=coded_data(missing=False))
def test_fleiss_kappa_agrees_with_statsmodels(data) -> None:
    ratings, categories = data
    estimate = compute("fleiss_kappa", ratings=ratings, categories=categories)
    if not _comparable(estimate):
        return
    counts, _ = aggregate_raters(ratings.astype(int))
    assert estimate.value == pytest.approx(fleiss_kappa(counts), abs=1e-10)


@SETTINGS
@given(data=coded_data(), level=st.sampled_from(["nominal", "ordinal", "interval", "ratio"]))
def test_alpha_agrees_with_krippendorff_package(data, level) -> None:
    ratings, categories = data
    estimate = compute("krippendorff_alpha", ratings=ratings, categories=categories, level=level)
    if not _comparable(estimate):
        return
    expected = krippendorff.alpha(
        reliability_data=ratings.T, level_of_measurement=level, value_domain=categories
    )
    assert estimate.value == pytest.approx(expected, abs=1e-9)


_IRRCAC = {
    "gwet_ac1": "gwet",
    "gwet_ac2": "gwet",
    "fleiss_kappa": "fleiss",
    "brennan_prediger": "bp",
    "krippendorff_alpha": "krippendorff",
    "percent_agreement": "bp",
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=coded_data(min_units=3),
    statistic=st.sampled_from(sorted(_IRRCAC)),
    weighting=st.sampled_from([None, "linear", "quadratic"]),
)
def test_multi_coder_coefficients_agree_with_irrcac(data, statistic, weighting) -> None:
    ratings, categories = data
    if statistic == "krippendorff_alpha" or statistic == "gwet_ac1":
        weighting = None
    if statistic == "gwet_ac2" and weighting is None:
        weighting = "linear"
    estimate = compute(statistic, ratings=ratings, categories=categories, weighting=weighting)
    if not _comparable(estimate) or estimate.standard_error in (None, 0.0):
        return
    frame = pd.DataFrame(ratings)
    if frame.dropna(how="all").shape[0] < 2:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = CAC(frame, weights=weighting or "identity", categories=categories)
        result = getattr(reference, _IRRCAC[statistic])()["est"]
    if statistic == "percent_agreement":
        assert estimate.value == pytest.approx(result["pa"], abs=1e-5)
        return
    assert estimate.value == pytest.approx(result["coefficient_value"], abs=1e-5)
    assert estimate.expected_agreement == pytest.approx(result["pe"], abs=1e-5)
    if statistic != "krippendorff_alpha":
        assert estimate.standard_error == pytest.approx(result["se"], abs=1e-5)


def _fields(estimate) -> dict:
    return json.loads(json.dumps(estimate.to_dict(), allow_nan=False))


def _assert_same(left: dict, right: dict) -> None:
    assert left.keys() == right.keys()
    for key, value in left.items():
        if isinstance(value, float):
            assert right[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        elif isinstance(value, dict):
            _assert_same(value, right[key])
        else:
            assert right[key] == value, key


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=coded_data(coders=(2, 4), min_units=1),
    seed=st.integers(0, 2**32 - 1),
    statistic=st.sampled_from(sorted(STATISTICS)),
    level=st.sampled_from(["nominal", "ordinal", "interval", "ratio"]),
)
def test_weights_are_exactly_row_repetition(data, seed, statistic, level) -> None:
    ratings, categories = data
    info = STATISTICS[statistic]
    if info.two_coders_only:
        ratings = ratings[:, :2]
    options = {"categories": categories}
    if info.weighting == "required":
        options["weighting"] = "quadratic"
    if info.levels:
        options["level"] = level
    multiplicity = np.random.default_rng(seed).integers(0, 6, size=ratings.shape[0])
    weighted = compute(statistic, ratings=ratings, weights=multiplicity, **options)
    repeated = compute(statistic, ratings=np.repeat(ratings, multiplicity, axis=0), **options)
    _assert_same(_fields(weighted), _fields(repeated))


@SETTINGS
@given(
    data=coded_data(coders=(2, 2), min_units=1),
    statistic=st.sampled_from(sorted(STATISTICS)),
)
def test_table_and_ratings_give_the_same_result(data, statistic) -> None:
    ratings, categories = data
    options = {"categories": categories}
    if STATISTICS[statistic].weighting == "required":
        options["weighting"] = "linear"
    complete = ratings[~np.isnan(ratings).any(axis=1)]
    table, _ = confusion_table(complete, categories=categories)
    from_table = compute(statistic, table=table, **options)
    from_ratings = compute(statistic, ratings=complete, **options)
    _assert_same(_fields(from_table), _fields(from_ratings))


@SETTINGS
@given(data=coded_data(min_units=0), statistic=st.sampled_from(sorted(STATISTICS)))
def test_every_result_is_json_safe(data, statistic) -> None:
    ratings, categories = data
    info = STATISTICS[statistic]
    if info.two_coders_only:
        ratings = ratings[:, :2]
    weighting = "linear" if info.weighting == "required" else None
    estimate = compute(statistic, ratings=ratings, categories=categories, weighting=weighting)
    encoded = json.dumps(estimate.to_dict(), allow_nan=False)
    assert "NaN" not in encoded and "Infinity" not in encoded
    assert (estimate.value is None) == (estimate.reason is not None and estimate.convention is None)
