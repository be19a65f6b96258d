"""Degenerate data gets a defined answer, and bad input a clear error."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from service.agreement.stats import (
    NO_PAIRABLE_UNITS,
    NO_UNITS,
    NO_VARIATION,
    NO_VARIATION_AS_ONE,
    STATISTICS,
    AgreementInputError,
    CategoriesRequiredError,
    TooFewCodersError,
    TwoCodersRequiredError,
    UnknownStatisticError,
    compute,
)

nan = np.nan
CHANCE_CORRECTED = sorted(set(STATISTICS) - {"percent_agreement"})


def _options(statistic: str) -> dict:
    if STATISTICS[statistic].weighting == "required":
        return {"weighting": "linear", "categories": [0, 1]}
    return {}


def _json(estimate) -> dict:
    return json.loads(json.dumps(estimate.to_dict(), allow_nan=False))


@pytest.mark.parametrize("statistic", CHANCE_CORRECTED)
def test_coders_who_both_coded_nothing_have_no_variation(statistic: str) -> None:
    """Two coders marking 'code absent' (0) everywhere agree trivially; no
    coefficient can say whether they could tell presence from absence."""
    estimate = compute(statistic, ratings=np.zeros((50, 2)), **_options(statistic))
    assert estimate.value is None
    assert estimate.reason == NO_VARIATION
    assert estimate.convention is None
    assert estimate.percent_agreement == 1.0
    assert estimate.standard_error is None and estimate.ci is None
    assert estimate.n_units == 50
    assert _json(estimate)["value"] is None


@pytest.mark.parametrize("statistic", CHANCE_CORRECTED)
def test_one_category_used_is_no_variation_even_with_more_declared(statistic: str) -> None:
    """AC1 and Brennan-Prediger would give a formal 1.0 here; it is reported as
    no variation like every other coefficient rather than as silent perfection."""
    ratings = np.full((20, 2), 2.0)
    options = _options(statistic) | {"categories": [1, 2, 3]}
    estimate = compute(statistic, ratings=ratings, **options)
    assert (estimate.value, estimate.reason) == (None, NO_VARIATION)
    assert estimate.n_categories == 3


@pytest.mark.parametrize("statistic", CHANCE_CORRECTED)
def test_no_variation_can_be_reported_as_one_with_a_label(statistic: str) -> None:
    estimate = compute(
        statistic, ratings=np.ones((5, 2)), no_variation="one", **_options(statistic)
    )
    assert estimate.value == 1.0
    assert estimate.reason == NO_VARIATION
    assert estimate.convention == NO_VARIATION_AS_ONE
    assert estimate.standard_error is None and estimate.z is None


def test_percent_agreement_is_defined_without_variation() -> None:
    estimate = compute("percent_agreement", ratings=np.zeros((8, 3)))
    assert (estimate.value, estimate.reason) == (1.0, None)


def test_one_coder_always_using_one_category_gives_kappa_zero_not_undefined() -> None:
    """Two categories are in play, so kappa is defined: it is exactly 0, and the
    z test is undefined because the null standard error is 0."""
    ratings = np.array([[1, 1], [1, 2], [1, 2], [1, 1]], dtype=float)
    estimate = compute("cohen_kappa", ratings=ratings)
    assert estimate.value == pytest.approx(0.0, abs=1e-15)
    assert estimate.reason is None
    assert estimate.standard_error_h0 == pytest.approx(0.0, abs=1e-7)
    assert estimate.z is None and estimate.p_value is None
    _json(estimate)


@pytest.mark.parametrize("statistic", sorted(STATISTICS))
@pytest.mark.parametrize(
    "ratings",
    [np.empty((0, 2)), np.full((4, 2), nan)],
    ids=["no rows", "nothing coded"],
)
def test_no_units(statistic: str, ratings: np.ndarray) -> None:
    estimate = compute(statistic, ratings=ratings, **_options(statistic))
    assert (estimate.value, estimate.reason) == (None, NO_UNITS)
    assert estimate.percent_agreement is None
    assert estimate.n_units == 0


@pytest.mark.parametrize("statistic", sorted(STATISTICS))
def test_no_units_from_zero_weights_or_an_empty_table(statistic: str) -> None:
    zero_weights = compute(
        statistic, ratings=[[0, 1], [1, 1]], weights=[0, 0], **_options(statistic)
    )
    empty_table = compute(statistic, table=np.zeros((2, 2)), **_options(statistic))
    assert zero_weights.reason == NO_UNITS
    assert empty_table.reason == NO_UNITS


@pytest.mark.parametrize("statistic", sorted(STATISTICS))
def test_nothing_pairable(statistic: str) -> None:
    """Each unit coded by one coder only: nothing to compare."""
    ratings = np.array([[1, nan], [nan, 2], [2, nan]])
    estimate = compute(statistic, ratings=ratings, **(_options(statistic) | {"categories": [1, 2]}))
    assert (estimate.value, estimate.reason) == (None, NO_PAIRABLE_UNITS)
    assert estimate.n_units == 3
    assert estimate.n_pairable_units == 0
    assert estimate.percent_agreement is None


def test_units_with_one_value_are_not_pairable_for_alpha() -> None:
    ratings = np.array([[1, 1], [2, 2], [1, 2], [3, nan], [nan, 1]])
    estimate = compute("krippendorff_alpha", ratings=ratings)
    alone = compute("krippendorff_alpha", ratings=ratings[:3], categories=[1, 2, 3])
    assert estimate.value == pytest.approx(alone.value)
    assert (estimate.n_units, estimate.n_pairable_units) == (5, 3)


def test_undefined_standard_error_is_none_not_nan() -> None:
    """With a single unit Gwet's variance (divided by n - 1) is undefined."""
    estimate = compute("fleiss_kappa", ratings=[[1, 2]])
    assert estimate.value == pytest.approx(-1.0)
    assert estimate.standard_error is None
    assert estimate.ci is None
    assert estimate.standard_error_h0 is not None and estimate.z is not None
    assert not any(
        isinstance(value, float) and not math.isfinite(value) for value in _json(estimate).values()
    )


def test_perfect_agreement_has_zero_standard_error_and_a_point_interval() -> None:
    estimate = compute("cohen_kappa", table=[[10, 0], [0, 5]])
    assert estimate.value == pytest.approx(1.0)
    assert estimate.standard_error == pytest.approx(0.0, abs=1e-7)
    assert estimate.ci.low == pytest.approx(1.0, abs=1e-6) and estimate.ci.high == 1.0
    assert estimate.z is not None


def test_fewer_than_two_coders_is_an_error() -> None:
    with pytest.raises(TooFewCodersError):
        compute("fleiss_kappa", ratings=[[1], [2]])
    assert issubclass(TooFewCodersError, ValueError)


@pytest.mark.parametrize("statistic", ["cohen_kappa", "scott_pi"])
def test_two_coder_statistics_reject_three_coders(statistic: str) -> None:
    with pytest.raises(TwoCodersRequiredError, match="exactly 2 coders"):
        compute(statistic, ratings=[[1, 1, 2], [2, 2, 2]])


@pytest.mark.parametrize("statistic", ["weighted_kappa", "gwet_ac2", "fleiss_kappa"])
def test_weighting_without_ordered_categories_is_a_422_style_error(statistic: str) -> None:
    with pytest.raises(CategoriesRequiredError, match="ordered list of categories") as caught:
        compute(statistic, ratings=[[1, 2], [2, 2]], weighting="linear")
    assert isinstance(caught.value, AgreementInputError)
    assert isinstance(caught.value, ValueError)
    assert caught.value.code == "categories_required"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"statistic": "kappa_plus"}, "unknown statistic"),
        ({"statistic": "weighted_kappa", "categories": [1, 2]}, "needs weighting"),
        (
            {"statistic": "cohen_kappa", "weighting": "linear", "categories": [1, 2]},
            "weighted_kappa",
        ),
        ({"statistic": "gwet_ac1", "weighting": "linear", "categories": [1, 2]}, "gwet_ac2"),
        ({"statistic": "krippendorff_alpha", "weighting": "linear", "categories": [1, 2]}, "level"),
        ({"statistic": "fleiss_kappa", "weighting": "cubic", "categories": [1, 2]}, "weighting"),
        ({"statistic": "fleiss_kappa", "level": "ordinal"}, "krippendorff_alpha"),
        ({"statistic": "krippendorff_alpha", "level": "circular"}, "level"),
        ({"statistic": "fleiss_kappa", "no_variation": "zero"}, "no_variation"),
        ({"statistic": "fleiss_kappa", "confidence": 1.0}, "confidence"),
        ({"statistic": "fleiss_kappa", "confidence": "high"}, "confidence"),
    ],
)
def test_invalid_options_are_rejected(arguments: dict, message: str) -> None:
    arguments = {"ratings": [[1, 2], [2, 2]]} | arguments
    expected = UnknownStatisticError if "kappa_plus" in str(arguments) else AgreementInputError
    with pytest.raises(expected, match=message):
        compute(**arguments)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"ratings": [[1, 2], [2, 2]], "weights": [1, -1]}, "negative"),
        ({"ratings": [[1, 2], [2, 2]], "weights": [1, 0.5]}, "whole numbers"),
        ({"ratings": [[1, 2], [2, 2]], "weights": [1, 2, 3]}, "one count per"),
        ({"ratings": [[1, 2], [2, 2]], "weights": [1, nan]}, "finite"),
        ({"ratings": [[1, 2], [2, np.inf]]}, "finite"),
        ({"ratings": [["a", "b"], ["b", "b"]]}, "numbers"),
        ({"ratings": [1, 2, 3]}, "units x coders"),
        ({"ratings": [[1, 2], [2, 3]], "categories": [1, 2]}, "not in the declared categories: 3"),
        ({"ratings": [[1, 2]], "categories": [1, 1, 2]}, "repeat"),
        ({"ratings": [[1, 2]], "categories": []}, "non-empty"),
        ({"table": [[1, 2, 3], [4, 5, 6]]}, "square"),
        ({"table": [[1, 2], [3, -4]]}, "negative"),
        ({"table": [[1, 2], [3, 4]], "categories": [1, 2, 3]}, "2 x 2"),
        ({"table": [[1, 2], [3, 4]], "weights": [1, 1]}, "already has counts"),
        ({"table": [[1, 2], [3, 4]], "ratings": [[1, 2]]}, "either"),
        ({}, "either"),
    ],
)
def test_invalid_data_is_rejected(data: dict, message: str) -> None:
    with pytest.raises(AgreementInputError, match=message):
        compute("fleiss_kappa", **data)


def test_ratio_level_rejects_negative_codes() -> None:
    with pytest.raises(AgreementInputError, match="not negative"):
        compute("krippendorff_alpha", ratings=[[-1, 1], [1, 1]], level="ratio")


def test_ratio_level_treats_two_zeros_as_agreement() -> None:
    estimate = compute("krippendorff_alpha", ratings=[[0, 0], [1, 1], [2, 2]], level="ratio")
    assert estimate.value == pytest.approx(1.0)
