"""Krippendorff's alpha by the coincidence-matrix method.

Follows Krippendorff, "Computing Krippendorff's Alpha-Reliability" (2011): only
units with at least two codes are pairable; each contributes every ordered pair
of its codes with weight 1 / (codes - 1) to the coincidence matrix, and
alpha = 1 - D_observed / D_expected with the difference function of the chosen
level of measurement. Krippendorff gives no closed-form standard error; use the
bootstrap for an interval.
"""

from __future__ import annotations

import numpy as np

from service.agreement.inputs import LEVELS, AgreementInputError, UnitPatterns
from service.agreement.reliability import unit_agreement
from service.agreement.results import (
    NO_PAIRABLE_UNITS,
    NO_UNITS,
    NO_VARIATION,
    Estimate,
    undefined,
)

# Above this many cells the per-pattern coincidence contributions are not kept
# in memory but recomputed for each resample.
_FLAT_CELLS = 4_000_000


def _fixed_distances(values: np.ndarray, level: str) -> np.ndarray | None:
    """Squared differences that do not depend on the data's marginals."""
    if level == "nominal":
        return 1.0 - np.eye(values.size)
    difference = values[:, None] - values[None, :]
    if level == "interval":
        return difference**2
    if level == "ratio":
        total = values[:, None] + values[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total == 0, 0.0, (difference / total) ** 2)
    return None


def _ordinal_distances(marginals: np.ndarray) -> np.ndarray:
    """Ordinal differences for each row of a (resamples x categories) marginal matrix.

    The distance between ranks c and k counts the values lying between them,
    half-counting the two ends: (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2.
    """
    size = marginals.shape[1]
    index = np.arange(size)
    low = np.minimum(index[:, None], index[None, :])
    high = np.maximum(index[:, None], index[None, :])
    cumulative = np.cumsum(marginals, axis=1)
    between = cumulative[:, high] - cumulative[:, low] + marginals[:, low]
    ends = (marginals[:, :, None] + marginals[:, None, :]) / 2.0
    return (between - ends) ** 2


class AlphaModel:
    """Krippendorff's alpha at one level of measurement, reusable for resampling."""

    def __init__(self, patterns: UnitPatterns, *, level: str) -> None:
        if level not in LEVELS:
            raise AgreementInputError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
        if level == "ratio" and np.any(patterns.categories < 0):
            raise AgreementInputError("the ratio level needs codes that are not negative")
        self.level = level
        self.patterns = patterns
        counts = patterns.counts
        coded = counts.sum(axis=1)
        self._pairable = coded >= 2
        # Each pairable unit adds outer(c, c) - diag(c), scaled by 1 / (codes - 1).
        self._counts = counts
        self._scale = np.where(self._pairable, 1.0 / np.maximum(coded - 1.0, 1.0), 0.0)
        size = counts.shape[1]
        self._flat = None
        if counts.shape[0] * size * size <= _FLAT_CELLS:
            pairs = counts[:, :, None] * counts[:, None, :] - counts[:, :, None] * np.eye(size)
            self._flat = (pairs * self._scale[:, None, None]).reshape(counts.shape[0], size * size)
        self._distances = _fixed_distances(patterns.categories, level)

    def _coincidences(self, unit_weights: np.ndarray) -> np.ndarray:
        """Coincidence matrices, one per row of a (resamples x patterns) matrix."""
        size = self.patterns.n_categories
        if self._flat is not None:
            return (unit_weights @ self._flat).reshape(-1, size, size)
        scaled = unit_weights * self._scale
        counts = self._counts
        result = np.empty((unit_weights.shape[0], size, size))
        for row, unit_scale in enumerate(scaled):
            result[row] = (counts.T * unit_scale) @ counts
            result[row][np.diag_indices(size)] -= unit_scale @ counts
        return result

    def _alpha(self, unit_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        coincidences = self._coincidences(unit_weights)
        marginals = coincidences.sum(axis=2)
        total = marginals.sum(axis=1)
        if self._distances is None:
            distances = _ordinal_distances(marginals)
            expected = np.einsum("bc,bck,bk->b", marginals, distances, marginals)
        else:
            distances = self._distances
            expected = np.einsum("bc,ck,bk->b", marginals, distances, marginals)
        observed = (coincidences * distances).sum(axis=(1, 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            observed_d = observed / total
            expected_d = expected / (total * (total - 1.0))
            values = 1.0 - observed_d / expected_d
        # Codes so close that their distance underflows to 0 differ in name only: no
        # expected disagreement is no variation, not a 0/0.
        no_variation = ((marginals > 0).sum(axis=1) <= 1) | (expected == 0)
        no_pairs = total == 0
        values[no_pairs | no_variation] = np.nan
        return values, no_variation & ~no_pairs, np.stack([observed_d, expected_d], axis=1)

    def resample_values(self, unit_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values, no_variation, _ = self._alpha(unit_weights)
        return values, no_variation

    def estimate(self, *, statistic: str, no_variation: str, confidence: float) -> Estimate:
        del confidence  # no analytic interval for alpha
        patterns = self.patterns
        weights = patterns.weights
        n_pairable = float(weights @ self._pairable)
        common = {
            "n_units": patterns.n_units,
            "n_pairable_units": int(n_pairable),
            "n_coders": patterns.n_coders,
            "n_categories": patterns.n_categories,
            "level": self.level,
        }
        if patterns.n_units == 0:
            return undefined(statistic, NO_UNITS, no_variation=no_variation, **common)
        if n_pairable == 0:
            return undefined(statistic, NO_PAIRABLE_UNITS, no_variation=no_variation, **common)

        exact, _ = unit_agreement(patterns.counts, np.eye(patterns.n_categories))
        percent = float(weights @ exact) / n_pairable
        values, flagged, disagreement = self._alpha(weights[None, :])
        observed_d, expected_d = (float(d) for d in disagreement[0])
        # Disagreements are agreements only on the nominal scale, where
        # differences are 0 or 1; other levels report just the coefficient.
        agreement = {"percent_agreement": percent}
        if self.level == "nominal":
            agreement["observed_agreement"] = 1.0 - observed_d
            if not flagged[0]:
                agreement["expected_agreement"] = 1.0 - expected_d
        if flagged[0]:
            return undefined(
                statistic, NO_VARIATION, no_variation=no_variation, **agreement, **common
            )
        return Estimate(statistic=statistic, value=float(values[0]), **agreement, **common)
