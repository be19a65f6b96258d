"""Validation and compression of agreement data.

Every statistic in this package works on the same prepared form, `UnitPatterns`:
the distinct coding patterns found in the data (one row per distinct combination
of coder codes) together with how many units showed each pattern. Repeating a
row of the input and giving it a multiplicity are therefore the same thing by
construction, which is what lets the text-unit sweep hand over millions of
characters as a handful of weighted patterns.

Codes are numbers (``np.nan`` for a missing code). A declared category set fixes
the order of the categories (needed for weighted statistics and ordinal alpha)
and the number of categories (used by AC1 and Brennan-Prediger).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

WEIGHTINGS = ("linear", "quadratic")
LEVELS = ("nominal", "ordinal", "interval", "ratio")
# Beyond these the float arithmetic of the statistics breaks down (1 - expected
# agreement rounds to 0, squared code distances overflow, the bootstrap cannot draw
# that many units); no real codebook or corpus comes near them.
MAX_UNITS = 10**12
MAX_CODE = 10**9


class AgreementInputError(ValueError):
    """The data or options cannot be used; the HTTP layer answers 422."""

    code = "invalid_agreement_input"


class TooFewCodersError(AgreementInputError):
    code = "too_few_coders"


class TwoCodersRequiredError(AgreementInputError):
    code = "two_coders_required"


class CategoriesRequiredError(AgreementInputError):
    code = "categories_required"


class UnknownStatisticError(AgreementInputError):
    code = "unknown_statistic"


class BootstrapLimitError(AgreementInputError):
    code = "bootstrap_limit"


@dataclass(frozen=True, eq=False)
class UnitPatterns:
    """Distinct coding patterns with their multiplicities.

    ``codes[i, j]`` is the index into ``categories`` given by coder ``j`` in
    pattern ``i``, or -1 when that coder gave no code. ``counts[i, k]`` is how
    many coders put pattern ``i`` into category ``k``. Patterns nobody coded
    and patterns with multiplicity zero are dropped during preparation.
    """

    codes: np.ndarray
    weights: np.ndarray
    counts: np.ndarray
    categories: np.ndarray
    categories_declared: bool
    n_coders: int

    @property
    def n_categories(self) -> int:
        return int(self.categories.shape[0])

    @property
    def n_units(self) -> int:
        return int(self.weights.sum())


class ConfusionTable(NamedTuple):
    """Counts of two coders' codes: ``counts[i, j]`` units got category i from
    the first coder and category j from the second."""

    counts: np.ndarray
    categories: tuple[float | int, ...]


def _as_float_array(value: object, what: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise AgreementInputError(f"{what} must contain numbers only") from exc


def _check_counts(values: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(values)):
        raise AgreementInputError(f"{what} must be finite numbers")
    if np.any(values < 0):
        raise AgreementInputError(f"{what} must not be negative")
    if np.any(values != np.floor(values)):
        raise AgreementInputError(f"{what} must be whole numbers (counts of units)")
    if np.any(values > MAX_UNITS) or values.sum() > MAX_UNITS:
        raise AgreementInputError(f"{what} may count at most {MAX_UNITS:.0e} units in all")


def _check_codes(values: np.ndarray, what: str) -> None:
    if np.any(np.abs(values[~np.isnan(values)]) > MAX_CODE):
        raise AgreementInputError(f"{what} must lie between -{MAX_CODE:.0e} and {MAX_CODE:.0e}")


def _declared_categories(categories: object) -> np.ndarray:
    declared = _as_float_array(categories, "categories")
    if declared.ndim != 1 or declared.size == 0:
        raise AgreementInputError("categories must be a non-empty list of codes")
    if not np.all(np.isfinite(declared)):
        raise AgreementInputError("categories must be finite numbers")
    _check_codes(declared, "categories")
    if np.unique(declared).size != declared.size:
        raise AgreementInputError("categories must not repeat a code")
    return declared


def _encode(values: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """Map codes to indices into ``categories`` (-1 for missing)."""
    indices = np.full(values.shape, -1, dtype=np.int64)
    present = ~np.isnan(values)
    if not present.any():
        return indices
    order = np.argsort(categories, kind="stable")
    sorted_categories = categories[order]
    found = np.searchsorted(sorted_categories, values[present])
    found = np.clip(found, 0, sorted_categories.size - 1)
    matches = sorted_categories[found] == values[present]
    if not matches.all():
        unknown = np.unique(values[present][~matches])[:5]
        listed = ", ".join(format(_plain_number(v)) for v in unknown)
        raise AgreementInputError(f"codes not in the declared categories: {listed}")
    indices[present] = order[found]
    return indices


def _compress(codes: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge identical patterns, adding up their multiplicities."""
    if codes.shape[0] == 0:
        return codes, weights
    distinct, inverse = np.unique(codes, axis=0, return_inverse=True)
    summed = np.bincount(inverse.reshape(-1), weights=weights, minlength=distinct.shape[0])
    return distinct, summed


def _category_counts(codes: np.ndarray, n_categories: int) -> np.ndarray:
    counts = np.zeros((codes.shape[0], n_categories))
    rows = np.arange(codes.shape[0])
    for column in codes.T:
        coded = column >= 0
        counts[rows[coded], column[coded]] += 1
    return counts


def _build(
    codes: np.ndarray,
    weights: np.ndarray,
    categories: np.ndarray,
    *,
    declared: bool,
    n_coders: int,
) -> UnitPatterns:
    keep = (weights > 0) & (codes >= 0).any(axis=1)
    codes, weights = _compress(codes[keep], weights[keep])
    return UnitPatterns(
        codes=codes,
        weights=weights.astype(float),
        counts=_category_counts(codes, categories.size),
        categories=categories,
        categories_declared=declared,
        n_coders=n_coders,
    )


def prepare_ratings(
    ratings: object,
    *,
    weights: object = None,
    categories: object = None,
) -> UnitPatterns:
    """Validate a units x coders matrix of codes and compress it.

    ``weights`` gives each row's multiplicity (a whole number of units).
    Without ``categories`` the category set is the sorted set of codes seen.
    """
    matrix = _as_float_array(ratings, "ratings")
    if matrix.ndim != 2:
        raise AgreementInputError("ratings must be a units x coders matrix")
    n_rows, n_coders = matrix.shape
    if n_coders < 2:
        raise TooFewCodersError(f"agreement needs at least 2 coders, got {n_coders}")
    if np.isinf(matrix).any():
        raise AgreementInputError("ratings must be finite codes or missing (NaN)")
    _check_codes(matrix, "ratings")

    if weights is None:
        multiplicity = np.ones(n_rows)
    else:
        multiplicity = _as_float_array(weights, "weights")
        if multiplicity.shape != (n_rows,):
            raise AgreementInputError(
                f"weights must give one count per ratings row ({n_rows}), "
                f"got shape {multiplicity.shape}"
            )
        _check_counts(multiplicity, "weights")

    if categories is None:
        category_values = np.unique(matrix[~np.isnan(matrix)])
        declared = False
    else:
        category_values = _declared_categories(categories)
        declared = True

    codes = _encode(matrix, category_values)
    return _build(codes, multiplicity, category_values, declared=declared, n_coders=n_coders)


def prepare_table(table: object, *, categories: object = None) -> UnitPatterns:
    """Validate a k x k confusion table of two coders' counts.

    Rows are the first coder's categories, columns the second's, in the order
    of ``categories`` when given (otherwise codes 0..k-1 are assumed).
    """
    counts = _as_float_array(table, "table")
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise AgreementInputError("table must be a non-empty square k x k matrix of counts")
    _check_counts(counts, "table")
    size = counts.shape[0]
    if categories is None:
        category_values = np.arange(size, dtype=float)
        declared = False
    else:
        category_values = _declared_categories(categories)
        if category_values.size != size:
            raise AgreementInputError(
                f"categories lists {category_values.size} codes but the table is {size} x {size}"
            )
        declared = True
    first, second = np.nonzero(counts)
    codes = np.column_stack([first, second]).astype(np.int64)
    return _build(codes, counts[first, second], category_values, declared=declared, n_coders=2)


def confusion_table(
    ratings: object,
    *,
    weights: object = None,
    categories: object = None,
) -> ConfusionTable:
    """Cross-tabulate a two-coder ratings matrix.

    Units that either coder left uncoded are not counted. Without
    ``categories`` the table covers every code seen in ``ratings``.
    """
    patterns = prepare_ratings(ratings, weights=weights, categories=categories)
    if patterns.n_coders != 2:
        raise TwoCodersRequiredError(
            f"a confusion table needs exactly 2 coders, got {patterns.n_coders}"
        )
    return ConfusionTable(
        counts=pair_table(patterns).astype(np.int64),
        categories=tuple(_plain_number(value) for value in patterns.categories),
    )


def pair_table(patterns: UnitPatterns) -> np.ndarray:
    """The k x k table of units coded by both of two coders (float counts)."""
    complete = (patterns.codes >= 0).all(axis=1)
    size = patterns.n_categories
    flat = patterns.codes[complete, 0] * size + patterns.codes[complete, 1]
    return np.bincount(flat, weights=patterns.weights[complete], minlength=size * size).reshape(
        size, size
    )


def category_weights(n_categories: int, weighting: str | None) -> np.ndarray:
    """Agreement credit for each pair of category positions (1 on the diagonal).

    Linear: 1 - |i - j| / (k - 1). Quadratic: 1 - (i - j)^2 / (k - 1)^2. The
    credit depends on positions in the ordered category set, not on the codes.
    """
    if weighting is None or n_categories < 2:
        return np.eye(n_categories)
    positions = np.arange(n_categories, dtype=float)
    distance = np.abs(positions[:, None] - positions[None, :]) / (n_categories - 1)
    if weighting == "linear":
        return 1.0 - distance
    if weighting == "quadratic":
        return 1.0 - distance**2
    raise AgreementInputError(f"weighting must be one of {', '.join(WEIGHTINGS)}")


def _plain_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)
