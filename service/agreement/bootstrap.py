"""Percentile bootstrap intervals over units.

A resample draws as many units as the data has, with replacement. Because
units sharing a coding pattern are interchangeable, drawing units is the same
as drawing a multinomial count for each distinct pattern, so a million coded
characters that form five patterns cost five numbers per resample.
"""

from __future__ import annotations

import secrets
from typing import Protocol

import numpy as np

from service.agreement.inputs import AgreementInputError, BootstrapLimitError, UnitPatterns
from service.agreement.results import BOOTSTRAP_METHOD, ConfidenceInterval

MAX_BOOTSTRAP_RESAMPLES = 10_000

# Resamples are drawn in blocks so that one block's working arrays (resamples x
# patterns, resamples x categories^2) stay around this many cells.
_BLOCK_CELLS = 1_000_000


class Resampleable(Protocol):
    patterns: UnitPatterns

    def resample_values(self, unit_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values (NaN where undefined) and no-variation flags, one per row."""
        ...


def check_resamples(resamples: object) -> int:
    if isinstance(resamples, bool) or not isinstance(resamples, int | np.integer):
        raise AgreementInputError("bootstrap_resamples must be a whole number")
    if resamples < 1:
        raise AgreementInputError("bootstrap_resamples must be at least 1")
    if resamples > MAX_BOOTSTRAP_RESAMPLES:
        raise BootstrapLimitError(
            f"bootstrap_resamples may not exceed {MAX_BOOTSTRAP_RESAMPLES}, got {resamples}"
        )
    return int(resamples)


def check_seed(seed: object) -> int:
    if seed is None:
        return secrets.randbits(63)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise AgreementInputError("seed must be a non-negative whole number")
    return int(seed)


def bootstrap_interval(
    model: Resampleable,
    unit_weights: np.ndarray,
    *,
    resamples: int,
    confidence: float,
    seed: int,
    no_variation: str,
) -> ConfidenceInterval | None:
    """Percentile interval of the coefficient over resampled units.

    Resamples in which the coefficient is undefined are left out and counted;
    under the "one" convention a resample without variation counts as 1.0,
    like the point estimate would. None when no resample gives a value.
    """
    total = int(unit_weights.sum())
    if total == 0:
        return None
    probabilities = unit_weights / unit_weights.sum()
    generator = np.random.default_rng(seed)
    width = unit_weights.size + model.patterns.n_categories**2
    block = max(1, _BLOCK_CELLS // width)
    collected = []
    remaining = resamples
    while remaining > 0:
        size = min(block, remaining)
        drawn = generator.multinomial(total, probabilities, size=size).astype(float)
        values, flat = model.resample_values(drawn)
        if no_variation == "one":
            values = np.where(flat, 1.0, values)
        collected.append(values)
        remaining -= size
    values = np.concatenate(collected)
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        return None
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(defined, [tail, 1.0 - tail])
    return ConfidenceInterval(
        low=float(low),
        high=float(high),
        level=confidence,
        method=BOOTSTRAP_METHOD,
        resamples=resamples,
        undefined_resamples=int(values.size - defined.size),
        seed=seed,
    )
