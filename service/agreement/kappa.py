"""Cohen's kappa and weighted kappa for two coders.

The standard errors are the large-sample ones of Fleiss, Cohen & Everitt (1969):
one for building a confidence interval around the estimate, and one valid only
under the hypothesis kappa = 0, which is the one used for the z test (as in
SAS PROC FREQ and Fleiss, Levin & Paik, ch. 18). Only units coded by both
coders enter the coefficient.
"""

from __future__ import annotations

import numpy as np

from service.agreement.inputs import (
    TwoCodersRequiredError,
    UnitPatterns,
    category_weights,
    pair_table,
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


class CohenModel:
    """Cohen's kappa over the units both coders coded, reusable for resampling."""

    def __init__(self, patterns: UnitPatterns, *, weighting: str | None) -> None:
        if patterns.n_coders != 2:
            raise TwoCodersRequiredError(
                f"Cohen's kappa compares exactly 2 coders, got {patterns.n_coders}; "
                "use fleiss_kappa, gwet_ac1 or krippendorff_alpha for more"
            )
        self.patterns = patterns
        self.weighting = weighting
        self.credit = category_weights(patterns.n_categories, weighting)

        codes = patterns.codes
        size = patterns.n_categories
        complete = (codes >= 0).all(axis=1)
        first = np.where(complete, codes[:, 0], 0)
        second = np.where(complete, codes[:, 1], 0)
        identity = np.eye(size)
        self._complete = complete.astype(float)
        self._first = identity[first] * self._complete[:, None]
        self._second = identity[second] * self._complete[:, None]
        self._credit = self.credit[first, second] * self._complete

    def resample_values(self, unit_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Kappa for each row of a (resamples x patterns) multiplicity matrix.

        Returns the values (NaN where undefined) and a flag for resamples whose
        coefficient is undefined because only one category was used.
        """
        n = unit_weights @ self._complete
        first = unit_weights @ self._first
        second = unit_weights @ self._second
        no_variation = ((first + second) > 0).sum(axis=1) <= 1
        with np.errstate(divide="ignore", invalid="ignore"):
            observed = (unit_weights @ self._credit) / n
            expected = np.einsum("bi,ij,bj->b", first, self.credit, second) / n**2
            values = (observed - expected) / (1.0 - expected)
        values[(n == 0) | no_variation] = np.nan
        return values, no_variation & (n > 0)

    def estimate(self, *, statistic: str, no_variation: str, confidence: float) -> Estimate:
        patterns = self.patterns
        table = pair_table(patterns)
        n = float(table.sum())
        common = {
            "n_units": patterns.n_units,
            "n_pairable_units": int(n),
            "n_coders": 2,
            "n_categories": patterns.n_categories,
            "weighting": self.weighting,
        }
        if patterns.n_units == 0:
            return undefined(statistic, NO_UNITS, no_variation=no_variation, **common)
        if n == 0:
            return undefined(statistic, NO_PAIRABLE_UNITS, no_variation=no_variation, **common)

        p = table / n
        rows, cols = p.sum(axis=1), p.sum(axis=0)
        weights = self.credit
        observed = float((weights * p).sum())
        percent = float(np.trace(p))
        if np.count_nonzero((rows + cols) > 0) <= 1:
            return undefined(
                statistic,
                NO_VARIATION,
                no_variation=no_variation,
                percent_agreement=percent,
                observed_agreement=observed,
                expected_agreement=1.0,
                **common,
            )

        expected = float(rows @ weights @ cols)
        kappa = (observed - expected) / (1.0 - expected)

        # Fleiss, Cohen & Everitt (1969): mean credit of row category i against
        # the second coder's marginals, and of column category j against the first's.
        row_mean = weights @ cols
        col_mean = weights.T @ rows
        both = row_mean[:, None] + col_mean[None, :]
        scale = n * (1.0 - expected) ** 2
        variance = (
            (p * (weights - both * (1.0 - kappa)) ** 2).sum()
            - (kappa - expected * (1.0 - kappa)) ** 2
        ) / scale
        variance_h0 = ((np.outer(rows, cols) * (weights - both) ** 2).sum() - expected**2) / scale

        standard_error = standard_error_from_variance(variance)
        standard_error_h0 = standard_error_from_variance(variance_h0)
        return Estimate(
            statistic=statistic,
            value=float(kappa),
            percent_agreement=percent,
            observed_agreement=observed,
            expected_agreement=expected,
            standard_error=standard_error,
            standard_error_h0=standard_error_h0,
            **normal_inference(
                float(kappa),
                standard_error=standard_error,
                standard_error_h0=standard_error_h0,
                confidence=confidence,
            ),
            **common,
        )
