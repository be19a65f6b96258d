"""Coefficients built from per-unit category counts, for any number of coders.

Percent agreement, Fleiss' kappa, Scott's pi, Gwet's AC1/AC2 and
Brennan-Prediger share one observed-agreement term and differ only in chance
agreement. With unequal numbers of codes per unit they follow the forms in
Gwet's Handbook of Inter-Rater Reliability (4th ed., 2014): observed agreement
is averaged over units with at least two codes, category prevalence over all
units with at least one code. Their standard errors are Gwet's linearisation
estimators (Gwet 2008, British Journal of Mathematical and Statistical
Psychology 61:29-48), with no finite-population correction. For Fleiss' kappa
and Scott's pi with the same number of coders on every unit, the standard
error under kappa = 0 of Fleiss, Nee & Landis (1979) is reported as well and
used for the z test.
"""

from __future__ import annotations

import numpy as np

from service.agreement.inputs import (
    TwoCodersRequiredError,
    UnitPatterns,
    category_weights,
)
from service.agreement.results import (
    NO_PAIRABLE_UNITS,
    NO_UNITS,
    NO_VARIATION,
    Estimate,
    normal_inference,
    standard_error_from_variance,
    undefined,
)

KINDS = (
    "percent_agreement",
    "fleiss_kappa",
    "scott_pi",
    "gwet_ac1",
    "gwet_ac2",
    "brennan_prediger",
)


def unit_agreement(counts: np.ndarray, credit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of agreeing coder pairs within each unit, and which units have a pair.

    With partial credit a pair coded (k, l) contributes ``credit[k, l]``.
    Units with fewer than two codes get 0 and are flagged as not pairable.
    """
    coded = counts.sum(axis=1)
    pairable = coded >= 2
    pair_credit = (counts * (counts @ credit.T - 1.0)).sum(axis=1)
    pairs = np.where(pairable, coded * (coded - 1.0), 1.0)
    return np.where(pairable, pair_credit / pairs, 0.0), pairable


class ChanceCorrectedModel:
    """One of the count-based coefficients, reusable for resampling."""

    def __init__(self, patterns: UnitPatterns, *, kind: str, weighting: str | None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown coefficient {kind!r}")
        self.kind = kind
        self.weighting = weighting
        self.patterns = patterns
        # Scott's pi only looks at units both coders coded; the others stay in
        # the data (so that resampling draws from all units) with no influence.
        included = np.ones(patterns.codes.shape[0])
        if kind == "scott_pi":
            if patterns.n_coders != 2:
                raise TwoCodersRequiredError(
                    f"Scott's pi compares exactly 2 coders, got {patterns.n_coders}; "
                    "use fleiss_kappa for more"
                )
            included = (patterns.codes >= 0).all(axis=1).astype(float)
        self._included = included
        size = patterns.n_categories
        self.credit = category_weights(size, weighting)
        counts = patterns.counts * included[:, None]
        coded = counts.sum(axis=1)
        self._counts = counts
        self._coded = coded
        self._agreement, pairable = unit_agreement(counts, self.credit)
        self._pairable = pairable.astype(float)
        self._share = counts / np.where(coded > 0, coded, 1.0)[:, None]
        self._used = (counts > 0).astype(float)
        self._credit_total = float(self.credit.sum())

    def _chance(self, prevalence: np.ndarray) -> np.ndarray:
        size = self.patterns.n_categories
        if self.kind == "percent_agreement":
            return np.zeros(prevalence.shape[0])
        if self.kind in ("fleiss_kappa", "scott_pi"):
            return np.einsum("bk,kl,bl->b", prevalence, self.credit, prevalence)
        if self.kind in ("gwet_ac1", "gwet_ac2"):
            if size < 2:
                return np.ones(prevalence.shape[0])
            spread = (prevalence * (1.0 - prevalence)).sum(axis=1)
            return self._credit_total * spread / (size * (size - 1))
        return np.full(prevalence.shape[0], self._credit_total / size**2)

    def resample_values(self, unit_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coefficient for each row of a (resamples x patterns) multiplicity matrix.

        Returns the values (NaN where undefined) and a flag for resamples whose
        coefficient is undefined because only one category was used.
        """
        n = unit_weights @ self._included
        n_pairable = unit_weights @ self._pairable
        with np.errstate(divide="ignore", invalid="ignore"):
            observed = (unit_weights @ self._agreement) / n_pairable
            prevalence = (unit_weights @ self._share) / n[:, None]
            expected = self._chance(prevalence)
            values = (observed - expected) / (1.0 - expected)
        if self.kind == "percent_agreement":
            no_variation = np.zeros(n.shape[0], dtype=bool)
        else:
            no_variation = ((unit_weights @ self._used) > 0).sum(axis=1) <= 1
        no_pairs = n_pairable == 0
        values[no_pairs | no_variation] = np.nan
        return values, no_variation & ~no_pairs

    def _unit_chance(self, prevalence: np.ndarray, expected: float) -> np.ndarray:
        """Each unit's contribution to chance agreement (Gwet's linearisation)."""
        counts = self._counts
        coded = np.where(self._coded > 0, self._coded, 1.0)
        size = self.patterns.n_categories
        if self.kind in ("fleiss_kappa", "scott_pi"):
            symmetric = (self.credit @ prevalence + self.credit.T @ prevalence) / 2.0
            return (counts @ symmetric) / coded
        if self.kind in ("gwet_ac1", "gwet_ac2"):
            factor = self._credit_total / (size * (size - 1))
            return factor * (counts @ (1.0 - prevalence)) / coded
        return np.full(coded.shape[0], expected)

    def _variance_h0(self, prevalence: np.ndarray, n: float) -> float | None:
        """Fleiss, Nee & Landis (1979) variance of Fleiss' kappa when kappa = 0.

        Only defined without partial credit and with the same number of codes on
        every unit.
        """
        if self.kind not in ("fleiss_kappa", "scott_pi") or self.weighting is not None:
            return None
        coded = self._coded[self._included > 0]
        if coded.size == 0 or not np.all(coded == coded[0]) or coded[0] < 2:
            return None
        m = float(coded[0])
        spread = prevalence * (1.0 - prevalence)
        total = float(spread.sum())
        if total <= 0:
            return None
        skew = float((spread * (1.0 - 2.0 * prevalence)).sum())
        return 2.0 * (total**2 - skew) / (n * m * (m - 1.0) * total**2)

    def estimate(self, *, statistic: str, no_variation: str, confidence: float) -> Estimate:
        patterns = self.patterns
        weights = patterns.weights * self._included
        n = float(weights.sum())
        n_pairable = float(weights @ self._pairable)
        common = {
            "n_units": patterns.n_units,
            "n_pairable_units": int(n_pairable),
            "n_coders": patterns.n_coders,
            "n_categories": patterns.n_categories,
            "weighting": self.weighting,
        }
        if patterns.n_units == 0:
            return undefined(statistic, NO_UNITS, no_variation=no_variation, **common)
        if n_pairable == 0:
            return undefined(statistic, NO_PAIRABLE_UNITS, no_variation=no_variation, **common)

        exact, _ = unit_agreement(self._counts, np.eye(patterns.n_categories))
        percent = float(weights @ exact) / n_pairable
        observed = float(weights @ self._agreement) / n_pairable
        prevalence = (weights @ self._share) / n
        expected = float(self._chance(prevalence[None, :])[0])
        agreement = {"percent_agreement": percent, "observed_agreement": observed}
        if self.kind != "percent_agreement" and np.count_nonzero(prevalence > 0) <= 1:
            return undefined(
                statistic,
                NO_VARIATION,
                no_variation=no_variation,
                expected_agreement=expected,
                **agreement,
                **common,
            )

        value = (observed - expected) / (1.0 - expected)
        unit_value = (n / n_pairable) * (self._agreement - expected * self._pairable)
        unit_value /= 1.0 - expected
        unit_chance = self._unit_chance(prevalence, expected)
        linearised = unit_value - 2.0 * (1.0 - value) * (unit_chance - expected) / (1.0 - expected)
        variance = None
        if n > 1:
            variance = float(weights @ (linearised - value) ** 2) / (n * (n - 1.0))
        variance_h0 = self._variance_h0(prevalence, n)

        standard_error = standard_error_from_variance(variance)
        standard_error_h0 = standard_error_from_variance(variance_h0)
        inference = normal_inference(
            float(value),
            standard_error=standard_error,
            standard_error_h0=standard_error_h0,
            confidence=confidence,
            bounds=(0.0, 1.0) if self.kind == "percent_agreement" else (-1.0, 1.0),
        )
        if self.kind == "percent_agreement":
            # Raw agreement has no chance-level null worth testing against 0.
            inference |= {"z": None, "p_value": None}
        return Estimate(
            statistic=statistic,
            value=float(value),
            expected_agreement=expected,
            standard_error=standard_error,
            standard_error_h0=standard_error_h0,
            **inference,
            **agreement,
            **common,
        )
