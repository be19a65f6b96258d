"""Agreement of a study's coders: check the request, load, sweep, aggregate, present.

The figures are built as plain JSON-ready dicts (not models) because a large study
has tens of thousands of cells; `schemas.AgreementResult` documents their shape.
"""

from __future__ import annotations

import gc
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlmodel import Session

from service.agreement import aggregate as agg
from service.agreement import dataset
from service.agreement.dataset import QUERY, TEXT_UNITS, StudyData, Where, invalid
from service.agreement.intervals import expand_ranges
from service.agreement.results import Estimate
from service.agreement.schemas import AgreementComputeRequest, AgreementRequest
from service.agreement.stats import STATISTICS, AgreementInputError
from service.agreement.stats import compute as stats_compute
from service.agreement.units import EncodedSpans, UnitInputError, UnitTables, tables_from_encoded
from service.coding.access import StudyAccess

DEFAULT_MIN_OVERLAP = 90.0
THRESHOLD_RULE = "value > threshold"


def default_statistics(n_columns: int, unit: str) -> list[str]:
    if n_columns > 2:
        return ["krippendorff_alpha", "fleiss_kappa", "percent_agreement"]
    if unit == "segment":  # no "neither" cell: Cohen's kappa cannot be positive
        return ["percent_agreement", "brennan_prediger"]
    return ["cohen_kappa", "percent_agreement"]


def threshold_statistic(statistics: list[str]) -> str:
    """The first chance-corrected statistic asked for (percent agreement otherwise)."""
    return next((s for s in statistics if s != "percent_agreement"), statistics[0])


def check_request(request: AgreementRequest, unit: str, where: Where) -> list[str]:
    """Refuse what the study's data cannot support before loading anything."""
    n_columns = len(request.coders)
    if request.min_share is not None and unit not in TEXT_UNITS:
        raise invalid(
            where("min_share"),
            f"min_share applies to the word, sentence and paragraph units, not to {unit}",
        )
    if request.min_overlap is not None and unit != "segment":
        raise invalid(where("min_overlap"), f"min_overlap applies to the segment unit, not {unit}")
    if unit == "segment" and n_columns > 2:
        raise invalid(
            where("unit"),
            "the segment unit compares exactly two coders (or two coder groups)",
            "two_coders_required",
        )
    statistics = list(dict.fromkeys(request.statistics or default_statistics(n_columns, unit)))
    for i, name in enumerate(statistics):
        info = STATISTICS[name]
        if info.weighting == "required":
            raise invalid(
                where("statistics", i),
                f"{name} needs an ordered category set, and theme coding is a yes/no "
                "code; send ordered codes to POST /v1/agreement instead",
                "categories_required",
            )
        if info.two_coders_only and n_columns > 2:
            raise invalid(
                where("statistics", i),
                f"{name} compares exactly two coders; use krippendorff_alpha or fleiss_kappa",
                "two_coders_required",
            )
    return statistics


def expand(data: StudyData) -> tuple[np.ndarray, np.ndarray]:
    """``(span_of, theme)``: each used span once per selected theme it counts for (its
    own and, with subthemes folded, its parent's), in span order."""
    count = np.array([len(t) for t in data.targets], dtype=np.int64)
    flat = np.array([i for t in data.targets for i in t], dtype=np.int64)
    head = np.cumsum(count) - count
    theme = data.spans.theme
    span_of, slot = expand_ranges(head[theme], head[theme] + count[theme])
    return span_of, flat[slot]


def encode(data: StudyData, texts: list[str] | None) -> EncodedSpans:
    """Integer spans for the sweep (see `expand`)."""
    spans = data.spans
    span_of, theme = expand(data)
    return EncodedSpans.from_arrays(
        document=spans.document[span_of],
        theme=theme,
        coder=spans.column[span_of],
        start=spans.start[span_of],
        end=spans.end[span_of],
        document_lengths=np.array([d.length for d in data.documents], dtype=np.int64),
        n_themes=len(data.themes),
        n_coders=len(data.columns),
        texts=texts,
    )


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around bulk work.

    Loading 200,000 segments and presenting 40,000 cells creates hundreds of thousands
    of tuples and dicts that all live until the response is sent; the collections
    their allocation triggers scan every one of them, find nothing to free, and cost
    more than the computation. Reference counting still frees memory meanwhile. Only
    the caller that found the collector enabled enables it again, so overlapping
    requests never leave it off.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def compute(
    *,
    session: Session,
    access: StudyAccess,
    request: AgreementRequest,
    where: Where = QUERY,
) -> dict[str, Any]:
    """The full result (`schemas.AgreementResult` as a dict) for one request."""
    with gc_paused():
        return _compute(session=session, access=access, request=request, where=where)


def _compute(
    *, session: Session, access: StudyAccess, request: AgreementRequest, where: Where
) -> dict[str, Any]:
    study = access.study
    unit = request.unit or study.default_agreement_unit
    statistics = check_request(request, unit, where)
    data = dataset.load(session=session, access=access, request=request, where=where)
    texts = None
    if unit in TEXT_UNITS:
        texts = dataset.texts(session=session, documents=data.documents)
        for document, text in zip(data.documents, texts, strict=True):
            if not text.strip():
                raise invalid(
                    where("unit"),
                    f"the {unit} unit needs text, and document {document.id} "
                    f"({document.title!r}) has none",
                    "unit_unsupported",
                )
    min_share = request.min_share if unit in TEXT_UNITS else None
    min_overlap = (request.min_overlap or DEFAULT_MIN_OVERLAP) if unit == "segment" else None
    try:
        tables = tables_from_encoded(
            encode(data, texts),
            unit=unit,
            min_share=(min_share or 0.0) / 100,
            min_overlap=(min_overlap or DEFAULT_MIN_OVERLAP) / 100,
        )
    except UnitInputError as exc:
        raise invalid(where("unit"), str(exc), exc.code) from exc
    seed = request.seed
    if request.bootstrap_resamples is not None and seed is None:
        seed = secrets.randbits(63)  # drawn here so that the parameters reproduce it
    aggregates = agg.aggregate(
        tables,
        statistics,
        no_variation=request.no_variation,
        confidence=request.confidence,
        bootstrap_resamples=request.bootstrap_resamples,
        seed=seed,
    )
    parameters = {
        "coders": [[str(c.id) for c in column] for column in data.columns],
        "documents": [str(d.id) for d in data.documents],
        "documents_default": data.documents_default,
        "themes": [str(t.id) for t in data.themes],
        "passes": None if data.passes is None else [str(p) for p in data.passes],
        "unit": unit,
        "statistics": statistics,
        "min_share": min_share,
        "min_overlap": min_overlap,
        "include_subthemes": request.include_subthemes,
        "aggregation": request.aggregation,
        "no_variation": request.no_variation,
        "confidence": request.confidence,
        "bootstrap_resamples": request.bootstrap_resamples,
        "seed": seed,
        "cells": request.cells,
    }
    return present(
        data=data,
        tables=tables,
        aggregates=aggregates,
        parameters=parameters,
        threshold=study.agreement_threshold,
        study_id=str(study.id),
    )


def to_request(parameters: dict[str, Any]) -> AgreementRequest:
    """The request that reproduces a result's exact parameters."""
    fields = {k: v for k, v in parameters.items() if k != "documents_default"}
    return AgreementRequest.model_validate(fields)


# --- presenting ------------------------------------------------------------------------------


def estimate_dict(estimate: Estimate) -> dict[str, Any]:
    return estimate.to_dict() | {"bands": agg.bands_of(estimate.statistic, estimate.value)}


def mean_dict(statistic: str, mean: agg.Mean) -> dict[str, Any]:
    return {
        "value": mean.value,
        "reason": mean.reason,
        "n_values": mean.n_values,
        "n_undefined": mean.n_undefined,
        "bands": agg.bands_of(statistic, mean.value),
    }


def _counts(ratings: np.ndarray, counts: np.ndarray, n_columns: int) -> dict[str, Any]:
    if n_columns == 2:
        table = {(int(a), int(b)): int(c) for (a, b), c in zip(ratings, counts, strict=True)}
        return {
            "table": _table(
                table.get((1, 1), 0),
                table.get((1, 0), 0),
                table.get((0, 1), 0),
                table.get((0, 0), 0),
            ),
            "patterns": None,
        }
    patterns = [
        {"coded": [int(v) for v in row], "units": int(c)}
        for row, c in zip(ratings, counts, strict=True)
    ]
    return {"table": None, "patterns": patterns}


def _table(both: int, first: int, second: int, neither: int) -> dict[str, int]:
    return {"both": both, "first_only": first, "second_only": second, "neither": neither}


def _verdict(aggregates, data: StudyData, statistic: str, aggregation: str, threshold: float):
    value, reason = agg.overall_value(aggregates, statistic, aggregation)
    below, meets = [], []
    for theme, figures in zip(data.themes, aggregates.themes, strict=True):
        theme_value, _ = agg.theme_value(figures, statistic, aggregation)
        ok = None if theme_value is None else theme_value > threshold
        meets.append(ok)
        if not ok:
            below.append(str(theme.id))
    verdict = {
        "statistic": statistic,
        "aggregation": aggregation,
        "value": value,
        "reason": reason,
        "threshold": threshold,
        "rule": THRESHOLD_RULE,
        "passed": None if value is None else value > threshold,
        "themes_not_meeting": below,
    }
    return verdict, meets


def present(
    *,
    data: StudyData,
    tables: UnitTables,
    aggregates: agg.Aggregates,
    parameters: dict[str, Any],
    threshold: float,
    study_id: str,
) -> dict[str, Any]:
    statistics = list(aggregates.statistics)
    n_columns = len(data.columns)
    verdict, meets = _verdict(
        aggregates, data, threshold_statistic(statistics), parameters["aggregation"], threshold
    )
    themes = []
    for theme, figures, ok in zip(data.themes, aggregates.themes, meets, strict=True):
        themes.append(
            {
                "theme_id": str(theme.id),
                "code": theme.code,
                "label": theme.label,
                "n_units": figures.n_units,
                **_counts(*figures.patterns, n_columns),
                "pooled": {s: estimate_dict(e) for s, e in figures.pooled.items()},
                "cell_mean": {s: mean_dict(s, m) for s, m in figures.cell_mean.items()},
                "cell_weighted_mean": {
                    s: mean_dict(s, m) for s, m in figures.cell_weighted_mean.items()
                },
                "meets_threshold": ok,
            }
        )
    overall = aggregates.overall
    return {
        "study_id": study_id,
        "framework": {
            "id": str(data.framework.id),
            "slug": data.framework.slug,
            "version": data.framework.version,
            "title": data.framework.title,
        },
        "parameters": parameters,
        "data_hash": data.data_hash,
        "n_segments": len(data.spans.ids),
        "coders": [
            {"column": i, "coders": [{"id": str(c.id), "name": c.name} for c in column]}
            for i, column in enumerate(data.columns)
        ],
        "documents": [
            {
                "id": str(d.id),
                "title": d.title,
                "length": d.length,
                "interview_order": d.interview_order,
            }
            for d in data.documents
        ],
        "blind": {
            "study": data.blind_study,
            "passes": [str(p) for p in data.blind_passes],
        },
        "threshold": verdict,
        "overall": {
            "n_units": overall.n_units,
            **_counts(*overall.patterns, n_columns),
            "pooled": {s: estimate_dict(e) for s, e in overall.pooled.items()},
            "theme_mean": {s: mean_dict(s, m) for s, m in overall.theme_mean.items()},
            "cell_mean": {s: mean_dict(s, m) for s, m in overall.cell_mean.items()},
            "cell_weighted_mean": {
                s: mean_dict(s, m) for s, m in overall.cell_weighted_mean.items()
            },
        },
        "themes": themes,
        "cells": _cells(data, tables, aggregates) if parameters["cells"] else None,
    }


def _band_dicts(statistic: str, values: np.ndarray) -> list[dict[str, str]]:
    """Each value's bands, as shared dicts (a handful of distinct ones)."""
    schemes = agg.schemes_for(statistic)
    if not schemes:
        return [{}] * values.shape[0]
    columns = [agg.band_names(values, scheme).tolist() for scheme in schemes]
    cache: dict[tuple, dict[str, str]] = {}
    return [
        cache.setdefault(key, {} if key[0] is None else dict(zip(schemes, key, strict=True)))
        for key in zip(*columns, strict=True)
    ]


def _cells(data: StudyData, tables: UnitTables, aggregates: agg.Aggregates) -> list[dict]:
    """One dict per (document, theme) cell; built column-wise for speed."""
    n_themes = len(data.themes)
    doc_ids = [str(d.id) for d in data.documents]
    theme_ids = [str(t.id) for t in data.themes]
    units = aggregates.cell_units.tolist()
    figures_by_statistic = {}
    for statistic, figures in aggregates.cells.items():
        values = [None if v != v else v for v in figures.values.tolist()]  # NaN -> None
        bands = _band_dicts(statistic, figures.values)
        column = [
            {"value": value, "reason": reason, "bands": band}
            for value, reason, band in zip(values, figures.reasons.tolist(), bands, strict=True)
        ]
        for i in np.flatnonzero(figures.as_one).tolist():
            column[i]["convention"] = agg.NO_VARIATION_AS_ONE
        figures_by_statistic[statistic] = column
    if len(data.columns) == 2:
        table = tables.two_by_two().reshape(-1, 4).tolist()
        counts = [
            {
                "table": {"both": b, "first_only": f, "second_only": s, "neither": n},
                "patterns": None,
            }
            for n, s, f, b in table
        ]
    else:
        counts = [_cell_patterns(tables, i, len(data.columns)) for i in range(len(units))]
    names = list(figures_by_statistic)
    columns = list(figures_by_statistic.values())
    return [
        {
            "document_id": doc_ids[i // n_themes],
            "theme_id": theme_ids[i % n_themes],
            "n_units": n_units,
            **counts[i],
            "statistics": dict(zip(names, [column[i] for column in columns], strict=True)),
        }
        for i, n_units in enumerate(units)
    ]


def _cell_patterns(tables: UnitTables, i: int, n_columns: int) -> dict[str, Any]:
    rows = slice(tables.offsets[i], tables.offsets[i + 1])
    masks, weights = tables.masks[rows], tables.weights[rows]
    return {
        "table": None,
        "patterns": [
            {"coded": [(int(m) >> k) & 1 for k in range(n_columns)], "units": int(w)}
            for m, w in zip(masks, weights, strict=True)
        ],
    }


# --- data sent by the client -----------------------------------------------------------------

_ERROR_FIELDS = {
    "categories_required": "categories",
    "bootstrap_limit": "bootstrap_resamples",
    "unknown_statistic": "statistics",
    "too_few_coders": "ratings",
    "two_coders_required": "statistics",
}


def compute_stateless(body: AgreementComputeRequest) -> dict[str, Any]:
    """Statistics of a confusion table or a units x coders matrix, with bands."""
    ratings = None
    if body.ratings is not None:
        widths = {len(row) for row in body.ratings}
        if len(widths) > 1:
            raise invalid(["body", "ratings"], "every ratings row needs one entry per coder")
        ratings = np.array(
            [[np.nan if v is None else v for v in row] for row in body.ratings], dtype=float
        ).reshape(len(body.ratings), widths.pop() if widths else 0)
        n_coders = ratings.shape[1]
    else:
        n_coders = 2
    statistics = body.statistics or _stateless_defaults(n_coders, body.weighting is not None)
    results = []
    for i, name in enumerate(dict.fromkeys(statistics)):
        info = STATISTICS[name]
        try:
            estimate = stats_compute(
                name,
                table=body.table,
                ratings=ratings,
                weights=body.weights,
                categories=body.categories,
                # Options go to the statistics that take them: a request for weighted and
                # unweighted kappa together is answered, not refused.
                weighting=body.weighting if info.weighting != "none" else None,
                level=body.level if info.levels else "nominal",
                no_variation=body.no_variation,
                confidence=body.confidence,
                bootstrap_resamples=body.bootstrap_resamples,
                seed=body.seed,
            )
        except AgreementInputError as exc:
            field = _ERROR_FIELDS.get(exc.code)
            loc = ["body", field, i] if field == "statistics" else ["body", *filter(None, [field])]
            raise invalid(loc, str(exc), exc.code) from exc
        results.append(estimate_dict(estimate))
    return {"n_coders": n_coders, "results": results}


def _stateless_defaults(n_coders: int, weighted: bool) -> list[str]:
    if n_coders == 2:
        return ["weighted_kappa" if weighted else "cohen_kappa", "percent_agreement"]
    if weighted:
        return ["gwet_ac2", "percent_agreement"]
    return ["krippendorff_alpha", "fleiss_kappa", "percent_agreement"]
