"""Inter-coder agreement statistics: the public entry point.

Pure numpy, no web framework, no database. Call `compute` with a statistic name
from `STATISTICS` and either a two-coder confusion ``table`` or a units x coders
``ratings`` matrix (NaN for a missing code, optional per-row ``weights``):

    compute("cohen_kappa", table=[[13, 0, 0], [0, 20, 7], [0, 4, 56]])
    compute("krippendorff_alpha", ratings=matrix, level="ordinal")
    compute("fleiss_kappa", ratings=patterns, weights=counts, bootstrap_resamples=2000, seed=7)

Results are `Estimate` objects; undefined coefficients come back as
``value=None`` with a ``reason`` (see `results`), never as NaN. Invalid input
raises `AgreementInputError` (a ValueError) or one of its subclasses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import MappingProxyType

from service.agreement.alpha import AlphaModel
from service.agreement.bands import BANDS, SCHEMES, Band, interpret
from service.agreement.bootstrap import (
    MAX_BOOTSTRAP_RESAMPLES,
    bootstrap_interval,
    check_resamples,
    check_seed,
)
from service.agreement.inputs import (
    LEVELS,
    WEIGHTINGS,
    AgreementInputError,
    BootstrapLimitError,
    CategoriesRequiredError,
    ConfusionTable,
    TooFewCodersError,
    TwoCodersRequiredError,
    UnitPatterns,
    UnknownStatisticError,
    confusion_table,
    prepare_ratings,
    prepare_table,
)
from service.agreement.kappa import CohenModel
from service.agreement.reliability import ChanceCorrectedModel
from service.agreement.results import (
    BOOTSTRAP_METHOD,
    NO_PAIRABLE_UNITS,
    NO_UNITS,
    NO_VARIATION,
    NO_VARIATION_AS_ONE,
    NO_VARIATION_OPTIONS,
    NORMAL_METHOD,
    ConfidenceInterval,
    Estimate,
    check_confidence,
)

__all__ = [
    "BANDS",
    "BOOTSTRAP_METHOD",
    "LEVELS",
    "MAX_BOOTSTRAP_RESAMPLES",
    "NORMAL_METHOD",
    "NO_PAIRABLE_UNITS",
    "NO_UNITS",
    "NO_VARIATION",
    "NO_VARIATION_AS_ONE",
    "NO_VARIATION_OPTIONS",
    "SCHEMES",
    "STATISTICS",
    "WEIGHTINGS",
    "AgreementInputError",
    "Band",
    "BootstrapLimitError",
    "CategoriesRequiredError",
    "ConfidenceInterval",
    "ConfusionTable",
    "Estimate",
    "StatisticInfo",
    "TooFewCodersError",
    "TwoCodersRequiredError",
    "UnknownStatisticError",
    "compute",
    "confusion_table",
    "interpret",
]


@dataclass(frozen=True)
class StatisticInfo:
    """What a statistic accepts, for listing it over HTTP.

    ``weighting`` is "none", "optional" or "required"; ``standard_error`` names
    the analytic method, or "bootstrap_only".
    """

    name: str
    title: str
    two_coders_only: bool
    weighting: str
    levels: bool
    standard_error: str


_FCE = "fleiss_cohen_everitt_1969"
_GWET = "gwet_2008_linearisation"


def _info(
    name: str,
    title: str,
    *,
    two_coders_only: bool = False,
    weighting: str = "optional",
    levels: bool = False,
    standard_error: str = _GWET,
) -> StatisticInfo:
    return StatisticInfo(name, title, two_coders_only, weighting, levels, standard_error)


STATISTICS = MappingProxyType(
    {
        info.name: info
        for info in (
            _info("percent_agreement", "Percent agreement"),
            _info(
                "cohen_kappa",
                "Cohen's kappa",
                two_coders_only=True,
                weighting="none",
                standard_error=_FCE,
            ),
            _info(
                "weighted_kappa",
                "Weighted kappa",
                two_coders_only=True,
                weighting="required",
                standard_error=_FCE,
            ),
            _info("scott_pi", "Scott's pi", two_coders_only=True),
            _info("fleiss_kappa", "Fleiss' kappa"),
            _info(
                "krippendorff_alpha",
                "Krippendorff's alpha",
                weighting="none",
                levels=True,
                standard_error="bootstrap_only",
            ),
            _info("gwet_ac1", "Gwet's AC1", weighting="none"),
            _info("gwet_ac2", "Gwet's AC2", weighting="required"),
            _info("brennan_prediger", "Brennan-Prediger"),
        )
    }
)


def _check_options(
    info: StatisticInfo,
    *,
    categories: object,
    weighting: str | None,
    level: str,
    no_variation: str,
) -> None:
    if weighting is not None and weighting not in WEIGHTINGS:
        raise AgreementInputError(
            f"weighting must be one of {', '.join(WEIGHTINGS)} or omitted, got {weighting!r}"
        )
    if info.weighting == "none" and weighting is not None:
        hint = {"cohen_kappa": "weighted_kappa", "gwet_ac1": "gwet_ac2"}.get(info.name)
        advice = f"; use {hint}" if hint else ""
        if info.name == "krippendorff_alpha":
            advice = "; choose the level of measurement instead"
        raise AgreementInputError(f"{info.name} takes no weighting{advice}")
    if info.weighting == "required" and weighting is None:
        raise AgreementInputError(
            f"{info.name} needs weighting={' or '.join(map(repr, WEIGHTINGS))}"
        )
    if weighting is not None and categories is None:
        raise CategoriesRequiredError(
            f"{weighting} weighting needs the ordered list of categories, "
            "so that partial credit follows the codebook's order"
        )
    if level not in LEVELS:
        raise AgreementInputError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if level != "nominal" and not info.levels:
        raise AgreementInputError(
            f"{info.name} has no levels of measurement; use krippendorff_alpha"
        )
    if no_variation not in NO_VARIATION_OPTIONS:
        raise AgreementInputError(
            f"no_variation must be one of {', '.join(NO_VARIATION_OPTIONS)}, got {no_variation!r}"
        )


def _prepare(
    *, table: object, ratings: object, weights: object, categories: object
) -> UnitPatterns:
    if (table is None) == (ratings is None):
        raise AgreementInputError("give either a confusion table or a ratings matrix")
    if table is not None:
        if weights is not None:
            raise AgreementInputError("weights apply to ratings rows; a table already has counts")
        return prepare_table(table, categories=categories)
    return prepare_ratings(ratings, weights=weights, categories=categories)


def _model(
    info: StatisticInfo, patterns: UnitPatterns, *, weighting: str | None, level: str
) -> CohenModel | AlphaModel | ChanceCorrectedModel:
    if info.name in ("cohen_kappa", "weighted_kappa"):
        return CohenModel(patterns, weighting=weighting)
    if info.name == "krippendorff_alpha":
        return AlphaModel(patterns, level=level)
    return ChanceCorrectedModel(patterns, kind=info.name, weighting=weighting)


def compute(
    statistic: str,
    *,
    table: object = None,
    ratings: object = None,
    weights: object = None,
    categories: object = None,
    weighting: str | None = None,
    level: str = "nominal",
    no_variation: str = "null",
    confidence: float = 0.95,
    bootstrap_resamples: int | None = None,
    seed: int | None = None,
) -> Estimate:
    """Compute one agreement statistic.

    Args:
        statistic: a name from `STATISTICS`.
        table: k x k counts, first coder in rows, second in columns.
        ratings: units x coders matrix of numeric codes, NaN where a coder gave none.
        weights: how many units each ratings row stands for (whole numbers).
        categories: the codebook's codes in order. Required for weighting; also
            fixes the number of categories for AC1/AC2 and Brennan-Prediger,
            and the rank order for ordinal alpha.
        weighting: "linear" or "quadratic" partial credit by category position.
        level: Krippendorff's level of measurement.
        no_variation: "null" leaves a coefficient without variation undefined,
            "one" reports it as 1.0 with ``convention="no_variation_as_one"``.
        confidence: level of the confidence interval.
        bootstrap_resamples: when given, the interval is a percentile bootstrap
            over units (at most `MAX_BOOTSTRAP_RESAMPLES`) instead of the
            normal-theory one.
        seed: seed for the bootstrap; a fresh one is drawn and reported in the
            interval when omitted.
    """
    info = STATISTICS.get(statistic)
    if info is None:
        raise UnknownStatisticError(
            f"unknown statistic {statistic!r}; choose one of {', '.join(STATISTICS)}"
        )
    _check_options(
        info, categories=categories, weighting=weighting, level=level, no_variation=no_variation
    )
    level_of_confidence = check_confidence(confidence)
    resamples = None if bootstrap_resamples is None else check_resamples(bootstrap_resamples)
    bootstrap_seed = None if resamples is None else check_seed(seed)

    patterns = _prepare(table=table, ratings=ratings, weights=weights, categories=categories)
    model = _model(info, patterns, weighting=weighting, level=level)
    estimate = model.estimate(
        statistic=statistic, no_variation=no_variation, confidence=level_of_confidence
    )
    if resamples is None or estimate.reason is not None:
        return estimate
    interval = bootstrap_interval(
        model,
        model.patterns.weights,
        resamples=resamples,
        confidence=level_of_confidence,
        seed=bootstrap_seed,
        no_variation=no_variation,
    )
    return dataclasses.replace(estimate, ci=interval)
