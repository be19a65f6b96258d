"""From per-cell coder patterns to the figures a study reports, each aggregation named.

Pure numpy (no FastAPI, no database). The input is a `UnitTables` from
:mod:`service.agreement.units`: for every (document, theme) cell, how many units
show each coder pattern, where a unit is "coded" (1) or "not coded" (0) for the
theme. The figures:

``cell``
    The statistic of one (document, theme) cell.
``pooled``
    The statistic of the tables summed first: per theme over its documents, and
    overall over every theme and document. Pooling is not averaging: a long
    document weighs by its units, and a theme's figure is the kappa of its summed
    table, not the mean of its cells' kappas.
``cell_mean``
    The unweighted mean of the cells' values (cells without a value left out).
``cell_weighted_mean``
    The mean of the cells' values weighted by their number of units.
``theme_mean``
    Overall only: the unweighted mean of the themes' pooled values.

Per-cell values come from the statistics package's own models, evaluated for all
cells at once (each cell is one row of a cells x patterns multiplicity matrix, the
form the models use for bootstrap resamples), so a corpus of 40,000 cells costs
one matrix product per statistic. Pooled figures are full `Estimate` objects from
`stats.compute`, with standard errors and intervals.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from service.agreement.alpha import AlphaModel
from service.agreement.bands import BANDS
from service.agreement.inputs import prepare_ratings
from service.agreement.kappa import CohenModel
from service.agreement.reliability import ChanceCorrectedModel
from service.agreement.results import NO_UNITS, NO_VARIATION, NO_VARIATION_AS_ONE, Estimate
from service.agreement.stats import STATISTICS, compute
from service.agreement.units import UnitTables

AGGREGATIONS = ("pooled", "theme_mean", "cell_mean", "cell_weighted_mean")
THEME_AGGREGATIONS = ("pooled", "cell_mean", "cell_weighted_mean")
# Presence of a theme is coded 0 (not coded) or 1 (coded).
PRESENCE = (0, 1)
NO_DEFINED_VALUES = "no_defined_values"
UNDEFINED = "undefined"


def schemes_for(statistic: str) -> tuple[str, ...]:
    """The interpretation bands that fit a statistic: Krippendorff's rule for alpha,
    Landis & Koch and McHugh for the kappa family, none for raw percent agreement."""
    if statistic == "percent_agreement":
        return ()
    if statistic == "krippendorff_alpha":
        return ("krippendorff",)
    return ("landis_koch", "mchugh")


def band_names(values: np.ndarray, scheme: str) -> np.ndarray:
    """`bands.interpret` for many values at once (None where a value is NaN)."""
    bands = BANDS[scheme]
    rounded = np.round(values, 9)
    chosen = np.zeros(values.shape[0], dtype=np.int64)
    with np.errstate(invalid="ignore"):
        for i, band in enumerate(bands[1:], start=1):
            above = rounded > band.lower
            if band.lower_inclusive:
                above |= rounded == band.lower
            chosen[above] = i
    names = np.array([band.name for band in bands], dtype=object)[chosen]
    names[np.isnan(values)] = None
    return names


def bands_of(statistic: str, value: float | None) -> dict[str, str]:
    """Band names of one value under every scheme that fits the statistic."""
    if value is None:
        return {}
    array = np.array([value], dtype=float)
    return {scheme: band_names(array, scheme)[0] for scheme in schemes_for(statistic)}


# --- per cell -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class CellFigures:
    """One statistic for every cell: ``values`` NaN where undefined, ``reasons`` the
    machine-readable reason (or None), ``as_one`` where the no-variation convention
    "one" supplied the value."""

    statistic: str
    values: np.ndarray
    reasons: np.ndarray
    as_one: np.ndarray


def _model(statistic: str, patterns):
    if statistic == "cohen_kappa":
        return CohenModel(patterns, weighting=None)
    if statistic == "krippendorff_alpha":
        return AlphaModel(patterns, level="nominal")
    return ChanceCorrectedModel(patterns, kind=statistic, weighting=None)


def _cell_weights(tables: UnitTables) -> tuple[np.ndarray, np.ndarray]:
    """The distinct masks and a cells x masks matrix of unit counts."""
    n_cells = tables.offsets.shape[0] - 1
    masks, column = np.unique(tables.masks, return_inverse=True)
    row = np.repeat(np.arange(n_cells, dtype=np.int64), np.diff(tables.offsets))
    flat = np.bincount(
        row * masks.shape[0] + column.reshape(-1),
        weights=tables.weights,
        minlength=n_cells * masks.shape[0],
    )
    return masks, flat.reshape(n_cells, masks.shape[0])


def cell_units(tables: UnitTables) -> np.ndarray:
    """Number of units in each cell."""
    n_cells = tables.offsets.shape[0] - 1
    row = np.repeat(np.arange(n_cells, dtype=np.int64), np.diff(tables.offsets))
    return np.bincount(row, weights=tables.weights, minlength=n_cells).astype(np.int64)


def cell_figures(
    tables: UnitTables, statistics: Sequence[str], *, no_variation: str = "null"
) -> dict[str, CellFigures]:
    """Every statistic for every cell, vectorised over cells."""
    n_coders = len(tables.coders)
    masks, weights = _cell_weights(tables)
    n_units = weights.sum(axis=1)
    out: dict[str, CellFigures] = {}
    if masks.shape[0] == 0:  # no cell has a unit
        for statistic in statistics:
            nan = np.full(n_units.shape[0], np.nan)
            reasons = np.full(n_units.shape[0], NO_UNITS, dtype=object)
            out[statistic] = CellFigures(statistic, nan, reasons, np.zeros(nan.shape, bool))
        return out
    ratings = ((masks[:, None] >> np.arange(n_coders)) & 1).astype(float)
    patterns = prepare_ratings(ratings, categories=PRESENCE)
    # prepare_ratings sorts the patterns: find where each of our masks went.
    prepared_masks = (patterns.codes << np.arange(n_coders)).sum(axis=1)
    order = np.searchsorted(masks, prepared_masks)
    matrix = weights[:, order]
    for statistic in statistics:
        values, flat = _model(statistic, patterns).resample_values(matrix)
        values = np.asarray(values, dtype=float)
        reasons = np.full(values.shape[0], None, dtype=object)
        reasons[np.isnan(values)] = UNDEFINED
        reasons[flat] = NO_VARIATION
        reasons[n_units == 0] = NO_UNITS
        as_one = flat & (n_units > 0) if no_variation == "one" else np.zeros(flat.shape, bool)
        values = np.where(as_one, 1.0, values)
        out[statistic] = CellFigures(statistic, values, reasons, as_one)
    return out


# --- aggregated ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mean:
    """A mean of cell (or theme) values: how many entered it and how many had none."""

    value: float | None
    reason: str | None
    n_values: int
    n_undefined: int


def mean_of(values: np.ndarray, weights: np.ndarray | None = None) -> Mean:
    defined = ~np.isnan(values)
    if weights is not None:
        defined &= weights > 0
    n_values = int(defined.sum())
    undefined = int(values.shape[0] - n_values)
    if n_values == 0:
        return Mean(None, NO_DEFINED_VALUES, 0, undefined)
    if weights is None:
        value = float(values[defined].mean())
    else:
        value = float(np.average(values[defined], weights=weights[defined]))
    return Mean(value, None, n_values, undefined)


def patterns_of(masks: np.ndarray, weights: np.ndarray, n_coders: int):
    """0/1 ratings rows and their counts for a set of (mask, count) rows."""
    distinct, inverse = np.unique(masks, return_inverse=True)
    counts = np.bincount(inverse.reshape(-1), weights=weights, minlength=distinct.shape[0])
    ratings = ((distinct[:, None] >> np.arange(n_coders)) & 1).astype(np.uint8)
    return ratings, counts.astype(np.int64)


def pooled_estimate(
    statistic: str,
    ratings: np.ndarray,
    counts: np.ndarray,
    *,
    no_variation: str = "null",
    confidence: float = 0.95,
    bootstrap_resamples: int | None = None,
    seed: int | None = None,
) -> Estimate:
    """The full estimate of a summed table (presence coded 0/1)."""
    return compute(
        statistic,
        ratings=ratings,
        weights=counts,
        categories=PRESENCE,
        no_variation=no_variation,
        confidence=confidence,
        bootstrap_resamples=bootstrap_resamples,
        seed=seed,
    )


@dataclass(frozen=True, slots=True)
class ThemeFigures:
    theme: Hashable
    n_units: int
    patterns: tuple[np.ndarray, np.ndarray]  # (0/1 ratings rows, counts) summed
    pooled: dict[str, Estimate]
    cell_mean: dict[str, Mean]
    cell_weighted_mean: dict[str, Mean]


@dataclass(frozen=True, slots=True)
class OverallFigures:
    n_units: int
    patterns: tuple[np.ndarray, np.ndarray]
    pooled: dict[str, Estimate]
    theme_mean: dict[str, Mean]
    cell_mean: dict[str, Mean]
    cell_weighted_mean: dict[str, Mean]


@dataclass(frozen=True, slots=True)
class Aggregates:
    statistics: tuple[str, ...]
    cell_units: np.ndarray
    cells: dict[str, CellFigures]
    themes: list[ThemeFigures]
    overall: OverallFigures


def aggregate(
    tables: UnitTables,
    statistics: Sequence[str],
    *,
    no_variation: str = "null",
    confidence: float = 0.95,
    bootstrap_resamples: int | None = None,
    seed: int | None = None,
) -> Aggregates:
    """Per-cell, per-theme and overall figures of every statistic."""
    for statistic in statistics:
        if statistic not in STATISTICS:
            raise ValueError(f"unknown statistic {statistic!r}")
    options = {
        "no_variation": no_variation,
        "confidence": confidence,
        "bootstrap_resamples": bootstrap_resamples,
        "seed": seed,
    }
    n_themes, n_coders = len(tables.themes), len(tables.coders)
    units = cell_units(tables)
    cells = cell_figures(tables, statistics, no_variation=no_variation)
    grid = units.reshape(-1, n_themes) if n_themes else units.reshape(0, 0)

    themes = []
    for t, (theme, (ratings, counts)) in enumerate(tables.pooled().items()):
        theme_units = grid[:, t]
        values = {s: cells[s].values.reshape(-1, n_themes)[:, t] for s in statistics}
        themes.append(
            ThemeFigures(
                theme=theme,
                n_units=int(theme_units.sum()),
                patterns=(ratings, counts),
                pooled={s: pooled_estimate(s, ratings, counts, **options) for s in statistics},
                cell_mean={s: mean_of(values[s]) for s in statistics},
                cell_weighted_mean={s: mean_of(values[s], theme_units) for s in statistics},
            )
        )

    ratings, counts = patterns_of(tables.masks, tables.weights, n_coders)
    theme_values = {
        s: np.array([_value(f.pooled[s]) for f in themes], dtype=float) for s in statistics
    }
    overall = OverallFigures(
        n_units=int(units.sum()),
        patterns=(ratings, counts),
        pooled={s: pooled_estimate(s, ratings, counts, **options) for s in statistics},
        theme_mean={s: mean_of(theme_values[s]) for s in statistics},
        cell_mean={s: mean_of(cells[s].values) for s in statistics},
        cell_weighted_mean={s: mean_of(cells[s].values, units) for s in statistics},
    )
    return Aggregates(tuple(statistics), units, cells, themes, overall)


def _value(estimate: Estimate) -> float:
    return np.nan if estimate.value is None else estimate.value


def overall_value(aggregates: Aggregates, statistic: str, aggregation: str):
    """``(value, reason)`` of the overall figure under a named aggregation."""
    figure = getattr(aggregates.overall, aggregation)[statistic]
    return figure.value, figure.reason


def theme_value(theme: ThemeFigures, statistic: str, aggregation: str):
    """``(value, reason)`` of a theme's figure under the aggregation that corresponds
    to an overall one (a theme's own "mean of themes" is its pooled figure)."""
    name = "pooled" if aggregation == "theme_mean" else aggregation
    figure = getattr(theme, name)[statistic]
    return figure.value, figure.reason


__all__ = [
    "AGGREGATIONS",
    "NO_VARIATION_AS_ONE",
    "Aggregates",
    "CellFigures",
    "Mean",
    "aggregate",
    "band_names",
    "bands_of",
    "cell_figures",
    "mean_of",
    "overall_value",
    "pooled_estimate",
    "schemes_for",
    "theme_value",
]
