"""Every statistic against published worked examples.

Each expected number is quoted from its publication, and where a reference
library implements the same statistic the test also runs it, so a mistyped
constant shows up as a disagreement between two independent sources.
"""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pandas as pd
import pytest
from irrCAC.raw import CAC
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

from service.agreement.stats import compute, interpret

nan = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
# four observers (rows here are units, columns observers), twelve units, gaps.
# The paper prints alpha = .743 (nominal), .815 (ordinal), .849 (interval),
# .797 (ratio). Gwet's irrCAC README ships the same data as cac.raw4raters.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
).T

# Krippendorff, Content Analysis (2004, 2019): three observers, fifteen units;
# alpha = .691 nominal and .811 interval (six decimals as in the `krippendorff`
# package's own tests of this example).
CONTENT_ANALYSIS = np.array(
    [
        [nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
        [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
        [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4],
    ]
).T

# Fleiss (1971), Psychological Bulletin 76:378-382: 30 patients, 6 psychiatrists,
# 5 diagnoses; kappa = .430. R irr::kappam.fleiss reports 0.4302445 and z = 17.65183
# (quoted in statsmodels' test suite).
FLEISS_1971 = np.array(
    [
        [4, 4, 4, 4, 4, 4],
        [2, 2, 2, 5, 5, 5],
        [2, 3, 3, 3, 3, 5],
        [5, 5, 5, 5, 5, 5],
        [2, 2, 2, 4, 4, 4],
        [1, 1, 3, 3, 3, 3],
        [3, 3, 3, 3, 5, 5],
        [1, 1, 3, 3, 3, 4],
        [1, 1, 4, 4, 4, 4],
        [5, 5, 5, 5, 5, 5],
        [1, 4, 4, 4, 4, 4],
        [1, 2, 4, 4, 4, 4],
        [2, 2, 2, 3, 3, 3],
        [1, 4, 4, 4, 4, 4],
        [2, 2, 4, 4, 4, 5],
        [3, 3, 3, 3, 3, 5],
        [1, 1, 1, 4, 5, 5],
        [1, 1, 1, 1, 1, 2],
        [2, 2, 4, 4, 4, 4],
        [1, 3, 3, 5, 5, 5],
        [5, 5, 5, 5, 5, 5],
        [2, 4, 4, 4, 4, 4],
        [2, 2, 4, 5, 5, 5],
        [1, 1, 4, 4, 4, 4],
        [1, 4, 4, 4, 4, 5],
        [2, 2, 2, 2, 2, 4],
        [1, 1, 1, 1, 5, 5],
        [2, 2, 4, 4, 4, 4],
        [1, 3, 3, 3, 3, 3],
        [5, 5, 5, 5, 5, 5],
    ],
    dtype=float,
)

# Gwet, Handbook of Inter-Rater Reliability (4th ed.), via the irrCAC R package
# README: 15 patients, 6 raters, 5 categories, as counts per category.
DISTRIB_6RATERS = np.array(
    [
        [0, 0, 0, 6, 0],
        [0, 3, 0, 0, 3],
        [0, 1, 4, 0, 1],
        [0, 0, 0, 0, 6],
        [0, 3, 0, 3, 0],
        [2, 0, 4, 0, 0],
        [0, 0, 4, 0, 2],
        [2, 0, 3, 1, 0],
        [2, 0, 0, 4, 0],
        [0, 0, 0, 0, 6],
        [1, 0, 0, 5, 0],
        [1, 1, 0, 4, 0],
        [0, 3, 3, 0, 0],
        [1, 0, 0, 5, 0],
        [0, 2, 0, 3, 1],
    ]
)

# irrCAC README (Gwet): two abstractors, three categories (Ectopic, AIU, NIU).
ABSTRACTORS = np.array([[13, 0, 0], [0, 20, 7], [0, 4, 56]])

# SAS PROC FREQ printout for this table, as reproduced in statsmodels' tests:
# kappa .4842, ASE .1380, 95% CI (.2137, .7547), ASE under H0 .1484, Z 3.2626,
# two-sided p .0011; weighted (scores 0, 1, 2) kappa .4701, ASE .1457,
# CI (.1845, .7558), ASE under H0 .1426, Z 3.2971, p .0010.
SAS_TABLE = np.array([[0, 4, 1], [0, 8, 0], [0, 1, 5]])

# R irr::kappa2 on columns 2-3 of irr's `anxiety` data (values from statsmodels'
# tests). Code 5 is never used by these two raters, so R's factor has the levels
# 1, 2, 3, 4, 6 and the weights step over positions, not codes.
ANXIETY = np.array(
    [
        3, 3, 3, 4, 5, 5, 2, 3, 5, 2, 2, 6, 1, 5, 2, 2, 1, 2, 4, 3, 3, 6, 4,
        6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4, 2, 1, 4, 4, 3, 2,
        1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2,
    ],
    dtype=float,
).reshape(20, 3, order="F")[:, 1:]  # fmt: skip


def counts_to_ratings(counts: np.ndarray) -> np.ndarray:
    """One row per unit, the codes 0..k-1 repeated as often as counted."""
    width = int(counts.sum(axis=1).max())
    rows = []
    for unit in counts:
        codes = np.repeat(np.arange(counts.shape[1]), unit).astype(float)
        rows.append(np.concatenate([codes, np.full(width - codes.size, nan)]))
    return np.array(rows)


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_alpha_matches_krippendorff_2011_worked_example(level: str, published: float) -> None:
    estimate = compute("krippendorff_alpha", ratings=KRIPPENDORFF_2011, level=level)
    library = krippendorff.alpha(reliability_data=KRIPPENDORFF_2011.T, level_of_measurement=level)
    assert round(estimate.value, 3) == published
    assert estimate.value == pytest.approx(library, abs=1e-12)
    # Units 12 (one value) is not pairable; the other 11 are.
    assert estimate.n_units == 12
    assert estimate.n_pairable_units == 11


def test_alpha_worked_example_bands_follow_krippendorffs_rule() -> None:
    nominal = compute("krippendorff_alpha", ratings=KRIPPENDORFF_2011)
    interval = compute("krippendorff_alpha", ratings=KRIPPENDORFF_2011, level="interval")
    assert interpret(nominal.value, scheme="krippendorff") == "tentative"
    assert interpret(interval.value, scheme="krippendorff") == "reliable"


@pytest.mark.parametrize(("level", "published"), [("nominal", 0.691358), ("interval", 0.810845)])
def test_alpha_matches_content_analysis_example(level: str, published: float) -> None:
    estimate = compute("krippendorff_alpha", ratings=CONTENT_ANALYSIS, level=level)
    assert round(estimate.value, 6) == published
    assert estimate.value == pytest.approx(
        krippendorff.alpha(reliability_data=CONTENT_ANALYSIS.T, level_of_measurement=level),
        abs=1e-12,
    )
    # Units 2 and 14 have no values and unit 1 only one: 12 pairable of 13 coded.
    assert (estimate.n_units, estimate.n_pairable_units) == (13, 12)


def test_fleiss_kappa_matches_fleiss_1971() -> None:
    estimate = compute("fleiss_kappa", ratings=FLEISS_1971)
    assert round(estimate.value, 3) == 0.430
    assert estimate.value == pytest.approx(0.4302445, abs=5e-8)
    assert estimate.value == pytest.approx(
        fleiss_kappa(aggregate_raters(FLEISS_1971)[0]), abs=1e-12
    )
    # irr's z uses the Fleiss, Nee & Landis (1979) standard error under kappa = 0.
    assert estimate.z == pytest.approx(17.65183, abs=5e-6)
    assert estimate.p_value == pytest.approx(0.0, abs=1e-60)


def test_cac_raw4raters_matches_gwet_irrcac_readme() -> None:
    """Gwet's README prints pa, coefficient and standard error for each."""
    frame = pd.DataFrame(KRIPPENDORFF_2011)
    published = {
        "percent_agreement": (0.8181818, 0.12561, None),
        "gwet_ac1": (0.77544, 0.14295, "gwet"),
        "fleiss_kappa": (0.76117, 0.15302, "fleiss"),
        "brennan_prediger": (0.77273, 0.14472, "bp"),
        "krippendorff_alpha": (0.74342, None, "krippendorff"),
    }
    for statistic, (value, standard_error, method) in published.items():
        estimate = compute(statistic, ratings=KRIPPENDORFF_2011)
        assert estimate.value == pytest.approx(value, abs=5e-6), statistic
        assert estimate.percent_agreement == pytest.approx(0.8181818, abs=5e-8)
        if standard_error is not None:
            assert estimate.standard_error == pytest.approx(standard_error, abs=5e-6), statistic
        if method is not None:
            library = getattr(CAC(frame), method)()["est"]
            assert estimate.value == pytest.approx(library["coefficient_value"], abs=5e-6)


def test_distrib_6raters_matches_gwet_handbook_values() -> None:
    ratings = counts_to_ratings(DISTRIB_6RATERS)
    published = {
        "gwet_ac1": (0.4448007, 0.08418757),
        "fleiss_kappa": (0.4139265, 0.08119291),
        "brennan_prediger": (0.4388889, 0.08312142),
        "krippendorff_alpha": (0.4204384, None),
    }
    for statistic, (value, standard_error) in published.items():
        estimate = compute(statistic, ratings=ratings, categories=range(5))
        assert estimate.value == pytest.approx(value, abs=5e-8), statistic
        assert estimate.percent_agreement == pytest.approx(0.5511111, abs=5e-8)
        if standard_error is not None:
            assert estimate.standard_error == pytest.approx(standard_error, abs=5e-9), statistic
    ac1 = compute("gwet_ac1", ratings=ratings, categories=range(5))
    assert ac1.expected_agreement == pytest.approx(0.1914815, abs=5e-8)
    assert compute("fleiss_kappa", ratings=ratings).expected_agreement == pytest.approx(
        0.2340741, abs=5e-8
    )


def test_abstractors_table_matches_gwet_irrcac_readme() -> None:
    """Coefficients match the README to its 7 digits. Gwet's two-rater table
    formulas divide the variance by n where his raw-data formulas (used here for
    every input) divide by n - 1, so those standard errors differ by sqrt(n / (n - 1))."""
    n = ABSTRACTORS.sum()
    published = {
        "cohen_kappa": (0.7964094, 0.05891072, 1.0),
        "scott_pi": (0.7962397, 0.05905473, math.sqrt(n / (n - 1))),
        "gwet_ac1": (0.8493305, 0.04321747, math.sqrt(n / (n - 1))),
        "brennan_prediger": (0.835, 0.04693346, math.sqrt(n / (n - 1))),
        "percent_agreement": (0.89, 0.03128898, math.sqrt(n / (n - 1))),
        "krippendorff_alpha": (0.7972585, None, None),
    }
    for statistic, (value, standard_error, factor) in published.items():
        estimate = compute(statistic, table=ABSTRACTORS)
        assert estimate.value == pytest.approx(value, abs=5e-8), statistic
        if standard_error is not None:
            assert estimate.standard_error == pytest.approx(standard_error * factor, abs=5e-8), (
                statistic
            )


def test_cohen_kappa_matches_sas_printout() -> None:
    estimate = compute("cohen_kappa", table=SAS_TABLE)
    printed = [0.4842, 0.1380, 0.2137, 0.7547, 0.1484, 3.2626, 0.0011]
    ours = [
        estimate.value,
        estimate.standard_error,
        estimate.ci.low,
        estimate.ci.high,
        estimate.standard_error_h0,
        estimate.z,
        estimate.p_value,
    ]
    assert ours == pytest.approx(printed, abs=5e-5)
    library = cohens_kappa(SAS_TABLE)
    assert [estimate.value, estimate.standard_error, estimate.standard_error_h0] == pytest.approx(
        [library.kappa, library.std_kappa, library.std_kappa0], abs=1e-12
    )


def test_weighted_kappa_matches_sas_printout() -> None:
    estimate = compute("weighted_kappa", table=SAS_TABLE, categories=[0, 1, 2], weighting="linear")
    printed = [0.4701, 0.1457, 0.1845, 0.7558, 0.1426, 3.2971, 0.0010]
    ours = [
        estimate.value,
        estimate.standard_error,
        estimate.ci.low,
        estimate.ci.high,
        estimate.standard_error_h0,
        estimate.z,
        estimate.p_value,
    ]
    assert ours == pytest.approx(printed, abs=5e-5)


@pytest.mark.parametrize(
    ("weighting", "kappa", "z", "p_value"),
    [
        (None, -0.006289308, -0.0604067, 0.9518317),
        ("linear", 0.1459075, 1.282472, 0.1996772),
        ("quadratic", 0.2520325, 1.437451, 0.1505898),
    ],
)
def test_kappa_matches_r_irr_kappa2_on_anxiety(
    weighting: str | None, kappa: float, z: float, p_value: float
) -> None:
    statistic = "cohen_kappa" if weighting is None else "weighted_kappa"
    estimate = compute(statistic, ratings=ANXIETY, categories=[1, 2, 3, 4, 6], weighting=weighting)
    assert estimate.value == pytest.approx(kappa, abs=5e-8)
    assert estimate.z == pytest.approx(z, abs=5e-6)
    assert estimate.p_value == pytest.approx(p_value, abs=5e-7)
