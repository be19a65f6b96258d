"""Where the coders differ: spans of text that some compared coders coded for a theme
and others did not, ordered for a reconciliation meeting.

`disagreement_spans` is pure numpy: each coder's (or group's) segments of one theme in
one document are merged, and one sweep over all cells finds the maximal stretches
with a constant coder pattern that is neither "nobody" nor "everybody". Text all
coders coded, or nobody coded, is agreement and is not listed.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlmodel import Session

from service.agreement import dataset
from service.agreement.dataset import StudyData
from service.agreement.intervals import merge_runs
from service.agreement.schemas import AgreementRequest
from service.agreement.service import encode, expand, gc_paused
from service.coding.access import StudyAccess
from service.errors import BadRequest
from service.http.pagination import PageParams


@dataclass(frozen=True, slots=True, eq=False)
class Pieces:
    """Disagreement spans as parallel arrays, sorted by (line, start)."""

    line: np.ndarray
    start: np.ndarray
    end: np.ndarray
    mask: np.ndarray


def disagreement_spans(
    *, line: np.ndarray, column: np.ndarray, start: np.ndarray, end: np.ndarray, n_columns: int
) -> Pieces:
    """Maximal spans of each line on which the set of columns covering them is neither
    empty nor complete. ``mask`` has bit k set when column k covers the span."""
    key, run_start, run_end = merge_runs(line * n_columns + column, start, end)
    if key.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Pieces(empty, empty, empty, empty)
    run_line, bit = key // n_columns, np.left_shift(np.int64(1), key % n_columns)
    stride = int(run_end.max()) + 1
    ev_line = np.concatenate((run_line, run_line))
    ev_pos = np.concatenate((run_start, run_end))
    order = np.argsort(ev_line * stride + ev_pos, kind="stable")
    ev_line, ev_pos = ev_line[order], ev_pos[order]
    running = np.cumsum(np.concatenate((bit, -bit))[order])
    full = (1 << n_columns) - 1
    mask = running[:-1]
    keep = (ev_line[1:] == ev_line[:-1]) & (ev_pos[1:] > ev_pos[:-1]) & (mask != 0) & (mask != full)
    line_k, start_k = ev_line[:-1][keep], ev_pos[:-1][keep]
    end_k, mask_k = ev_pos[1:][keep], mask[keep]
    # Neighbouring stretches with the same pattern (events that cancel out) are one span.
    joined = np.ones(line_k.shape[0], dtype=bool)
    joined[1:] = ~(
        (line_k[1:] == line_k[:-1]) & (start_k[1:] == end_k[:-1]) & (mask_k[1:] == mask_k[:-1])
    )
    heads = np.flatnonzero(joined)
    ends = np.maximum.reduceat(end_k, heads) if heads.shape[0] else end_k
    return Pieces(line_k[heads], start_k[heads], ends, mask_k[heads])


# --- the listing -----------------------------------------------------------------------------


def _encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != 4:
            raise ValueError
        return values
    except (ValueError, TypeError) as exc:
        raise BadRequest("The cursor is not valid; start again without one.") from exc


def _after(order: tuple[np.ndarray, ...], cursor: tuple[int, ...]) -> np.ndarray:
    """Rows whose (document, start, theme, end) comes strictly after the cursor."""
    after = np.zeros(order[0].shape[0], dtype=bool)
    equal = np.ones(order[0].shape[0], dtype=bool)
    for column, value in zip(order, cursor, strict=True):
        after |= equal & (column > value)
        equal &= column == value
    return after


def list_disagreements(
    *,
    session: Session,
    access: StudyAccess,
    request: AgreementRequest,
    page: PageParams,
    min_length: int = 1,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of disagreements, in document interview order, then offset, then theme
    (codebook order), as dicts shaped like `schemas.DisagreementPublic`."""
    with gc_paused():
        data = dataset.load(session=session, access=access, request=request)
    encoded = encode(data, None)
    n_themes, n_columns = len(data.themes), len(data.columns)
    line = encoded.document * n_themes + encoded.theme
    pieces = disagreement_spans(
        line=line,
        column=encoded.coder,
        start=encoded.start,
        end=encoded.end,
        n_columns=n_columns,
    )
    long_enough = pieces.end - pieces.start >= min_length
    document, theme = np.divmod(pieces.line[long_enough], n_themes)
    start, end = pieces.start[long_enough], pieces.end[long_enough]
    mask = pieces.mask[long_enough]
    order = (document, start, theme, end)
    if page.cursor:
        doc_id, at, theme_id, until = _decode_cursor(page.cursor)
        try:
            position = (
                [str(d.id) for d in data.documents].index(doc_id),
                int(at),
                [str(t.id) for t in data.themes].index(theme_id),
                int(until),
            )
        except (ValueError, TypeError) as exc:
            raise BadRequest("The cursor is not valid; start again without one.") from exc
        chosen = np.flatnonzero(_after(order, position))
    else:
        chosen = np.arange(document.shape[0])
    ranked = chosen[np.lexsort(tuple(column[chosen] for column in reversed(order)))]
    shown = ranked[: page.limit]
    next_cursor = None
    if ranked.shape[0] > page.limit:
        last = shown[-1]
        next_cursor = _encode_cursor(
            [
                str(data.documents[document[last]].id),
                int(start[last]),
                str(data.themes[theme[last]].id),
                int(end[last]),
            ]
        )
    items = _items(
        session, data, encoded, document[shown], theme[shown], start[shown], end[shown], mask[shown]
    )
    return items, next_cursor


def _items(session, data: StudyData, encoded, document, theme, start, end, mask) -> list[dict]:
    used_docs = sorted(set(document.tolist()))
    texts = dict(
        zip(
            used_docs,
            dataset.texts(session=session, documents=[data.documents[d] for d in used_docs]),
            strict=True,
        )
    )
    # The expanded spans, sorted by line, remember which segment each came from.
    n_themes = len(data.themes)
    line = encoded.document * n_themes + encoded.theme
    order = np.argsort(line, kind="stable")
    sorted_line = line[order]
    source, _ = expand(data)
    source = source.tolist()
    columns = [[str(c.id) for c in column] for column in data.columns]
    items = []
    for d, t, s, e, m in zip(
        document.tolist(), theme.tolist(), start.tolist(), end.tolist(), mask.tolist(), strict=True
    ):
        lo, hi = np.searchsorted(sorted_line, [d * n_themes + t, d * n_themes + t + 1])
        rows = order[lo:hi]
        covering = rows[
            (encoded.start[rows] < e)
            & (encoded.end[rows] > s)
            & (((m >> encoded.coder[rows]) & 1) == 1)
        ]
        segments = sorted(
            {source[i] for i in covering.tolist()},
            key=lambda k: (data.spans.start[k], data.spans.end[k], data.spans.ids[k].tobytes()),
        )
        document_row, theme_row = data.documents[d], data.themes[t]
        items.append(
            {
                "document_id": str(document_row.id),
                "document_title": document_row.title,
                "theme_id": str(theme_row.id),
                "theme_code": theme_row.code,
                "theme_label": theme_row.label,
                "start": s,
                "end": e,
                "text": texts[d][s:e],
                "coded_by": [c for k, c in enumerate(columns) if (m >> k) & 1],
                "not_coded_by": [c for k, c in enumerate(columns) if not (m >> k) & 1],
                "segments": [
                    {
                        "id": str(data.spans.segment_id(k)),
                        "coder_id": str(data.coder_rows[data.spans.coder[k]].id),
                        "start": int(data.spans.start[k]),
                        "end": int(data.spans.end[k]),
                    }
                    for k in segments
                ],
            }
        )
    return items
