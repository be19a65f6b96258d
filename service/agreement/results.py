"""The result type shared by every statistic, and normal-theory inference.

An `Estimate` never carries NaN or infinity: anything undefined is ``None``,
and a missing coefficient always comes with a machine-readable ``reason``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from service.agreement.inputs import AgreementInputError

NO_UNITS = "no_units"
NO_PAIRABLE_UNITS = "no_pairable_units"
NO_VARIATION = "no_variation"

# How a coefficient without variation is reported: "null" leaves it undefined,
# "one" reports 1.0 (as NVivo does) and marks the result with this convention.
NO_VARIATION_OPTIONS = ("null", "one")
NO_VARIATION_AS_ONE = "no_variation_as_one"

NORMAL_METHOD = "normal"
BOOTSTRAP_METHOD = "bootstrap_percentile"


@dataclass(frozen=True)
class ConfidenceInterval:
    low: float
    high: float
    level: float
    method: str
    resamples: int | None = None
    undefined_resamples: int | None = None
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "method": self.method,
            "resamples": self.resamples,
            "undefined_resamples": self.undefined_resamples,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class Estimate:
    """One agreement coefficient and what is known about its precision.

    ``percent_agreement`` is the plain share of agreeing coder pairs (averaged
    over units with at least two codes); ``observed_agreement`` and
    ``expected_agreement`` are the (possibly weighted) terms the coefficient is
    built from. ``z`` and ``p_value`` test "coefficient = 0", using
    ``standard_error_h0`` when the statistic has one and ``standard_error``
    otherwise.
    """

    statistic: str
    value: float | None
    reason: str | None = None
    convention: str | None = None
    percent_agreement: float | None = None
    observed_agreement: float | None = None
    expected_agreement: float | None = None
    n_units: int = 0
    n_pairable_units: int = 0
    n_coders: int = 0
    n_categories: int = 0
    weighting: str | None = None
    level: str | None = None
    standard_error: float | None = None
    standard_error_h0: float | None = None
    z: float | None = None
    p_value: float | None = None
    ci: ConfidenceInterval | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "statistic": self.statistic,
            "value": self.value,
            "reason": self.reason,
            "convention": self.convention,
            "percent_agreement": self.percent_agreement,
            "observed_agreement": self.observed_agreement,
            "expected_agreement": self.expected_agreement,
            "n_units": self.n_units,
            "n_pairable_units": self.n_pairable_units,
            "n_coders": self.n_coders,
            "n_categories": self.n_categories,
            "weighting": self.weighting,
            "level": self.level,
            "standard_error": self.standard_error,
            "standard_error_h0": self.standard_error_h0,
            "z": self.z,
            "p_value": self.p_value,
            "ci": None if self.ci is None else self.ci.to_dict(),
        }


def clean(value: object) -> float | None:
    """A plain finite float, or None for anything undefined."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def standard_error_from_variance(variance: float | None) -> float | None:
    """Square root of a variance; tiny negative rounding residue counts as 0."""
    variance = clean(variance)
    if variance is None:
        return None
    if variance < 0:
        return 0.0 if variance > -1e-12 else None
    return math.sqrt(variance)


def check_confidence(confidence: object) -> float:
    try:
        level = clean(confidence)
    except (TypeError, ValueError) as exc:
        raise AgreementInputError("confidence must be a number") from exc
    if level is None or not 0.0 < level < 1.0:
        raise AgreementInputError(
            f"confidence must lie strictly between 0 and 1, got {confidence!r}"
        )
    return level


def normal_inference(
    value: float,
    *,
    standard_error: float | None,
    standard_error_h0: float | None,
    confidence: float,
    bounds: tuple[float, float] = (-1.0, 1.0),
) -> dict[str, Any]:
    """z, two-sided p and a Wald interval (clipped to the coefficient's range)."""
    test_se = standard_error if standard_error_h0 is None else standard_error_h0
    # A zero standard error leaves the test undefined rather than infinitely significant.
    z = value / test_se if test_se else None
    p_value = math.erfc(abs(z) / math.sqrt(2.0)) if z is not None else None
    ci = None
    if standard_error is not None:
        half_width = NormalDist().inv_cdf(0.5 + confidence / 2.0) * standard_error
        ci = ConfidenceInterval(
            low=max(bounds[0], value - half_width),
            high=min(bounds[1], value + half_width),
            level=confidence,
            method=NORMAL_METHOD,
        )
    return {"z": clean(z), "p_value": clean(p_value), "ci": ci}


def undefined(
    statistic: str,
    reason: str,
    *,
    no_variation: str,
    **fields: Any,
) -> Estimate:
    """An estimate whose coefficient the data cannot determine."""
    if reason == NO_VARIATION and no_variation == "one":
        return Estimate(
            statistic=statistic,
            value=1.0,
            reason=reason,
            convention=NO_VARIATION_AS_ONE,
            **fields,
        )
    return Estimate(statistic=statistic, value=None, reason=reason, **fields)
