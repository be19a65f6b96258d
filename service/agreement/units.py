"""Units of analysis for inter-coder agreement, built by sweeping coded intervals.

Coders tag half-open spans ``[start, end)`` of a transcript (offsets in Unicode
code points, as Python string indices) with a theme. Agreement statistics need,
for every (document, theme) cell and every unit of analysis, whether each coder
coded that unit. This module answers that in a compressed form: for each cell,
the distinct coder patterns (one 0/1 entry per coder) and how many units show
each pattern. With two coders the patterns are the four cells of the 2x2 table.

How it works: each coder's spans of one theme in one document are merged first
(overlapping or touching spans become one run), then sorted run endpoints of
all cells are swept together with cumulative sums. Nothing is allocated per
character, so cost and memory follow the number of spans, not the text length.

Units (``unit=``):

``character``
    Every character of the document is a unit, coded or not, as in NVivo's coding
    comparison (its kappa and percent agreement are computed over all characters).
``coded_only``
    Characters that at least one coder coded; the "neither" count is left out.
``word`` / ``sentence`` / ``paragraph``
    The text is split as described in :mod:`service.agreement.segmentation`. A
    unit counts as coded by a coder when the coder coded at least one of its
    characters and at least ``min_share`` of them (default 0: any character;
    spaces inside a sentence or paragraph count as its characters, the
    whitespace between units belongs to no unit). Needs the document text.
``segment``
    MAXQDA-style agreement at segment level, for exactly two coders. Each coder's
    merged run is a unit; it agrees when the other coder has a run of the same
    theme in the same document whose overlap with it is at least ``min_overlap``
    (default 0.9), where overlap = shared characters / characters covered by
    either run (intersection over union; for two overlapping runs the union is
    the stretch from the earlier start to the later end). The pattern rows are
    ``(1, 1)``: agreeing runs of both coders together (a matched pair counts
    twice, once per coder, as MAXQDA counts segments of both documents),
    ``(1, 0)``: first coder's runs without a match, ``(0, 1)``: second coder's
    runs without a match. There is no "neither" row: text nobody coded is not a
    segment. Percent agreement is ``p = both / (both + only_first + only_second)``.
    Cohen's kappa is meaningless with an empty "neither" cell (it can never be
    positive), so the chance-corrected figure is Brennan & Prediger's
    free-marginal kappa ``(p - 1/k) / (1 - 1/k)`` with ``k`` the number of themes
    compared, which is how MAXQDA sets chance agreement at segment level.
    ``UnitTables.segments`` has the counts per coder.
``document``
    One unit per document: a coder coded the theme in the document or not.

A "coder" is one coder id or a group of ids (any ``set``, ``frozenset``,
``tuple`` or ``list``); a group codes whatever any member coded. ``parents``
(child theme → parent theme) adds each span to every ancestor theme as well,
like an NVivo aggregate node; the child themes keep their own cells.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

import numpy as np

from service.agreement import intervals
from service.agreement.segmentation import corpus_units

_I64 = np.int64
MAX_CODERS = 62  # patterns are bit masks in one int64


class Unit(StrEnum):
    character = "character"
    coded_only = "coded_only"
    word = "word"
    sentence = "sentence"
    paragraph = "paragraph"
    segment = "segment"
    document = "document"


TEXT_UNITS = frozenset({Unit.word, Unit.sentence, Unit.paragraph})


class UnitInputError(ValueError):
    """The spans or parameters cannot describe a coding comparison (maps to HTTP 422)."""

    code = "invalid_unit_input"


class CodedSpan(NamedTuple):
    document: Hashable
    theme: Hashable
    coder: Hashable
    start: int
    end: int


@dataclass(frozen=True, slots=True, eq=False)
class EncodedSpans:
    """Validated spans as integer arrays, ready for :func:`tables_from_encoded`.

    ``document``, ``theme`` and ``coder`` hold positions in the label tuples
    (``coder`` is the column, i.e. the group, not the individual id). ``texts``
    has one entry per document, ``None`` where only the length is known.
    """

    document: np.ndarray
    theme: np.ndarray
    coder: np.ndarray
    start: np.ndarray
    end: np.ndarray
    document_lengths: np.ndarray
    documents: tuple[Hashable, ...]
    themes: tuple[Hashable, ...]
    coders: tuple[Hashable, ...]
    texts: tuple[str | None, ...]

    @classmethod
    def from_arrays(
        cls,
        *,
        document: Any,
        theme: Any,
        coder: Any,
        start: Any,
        end: Any,
        document_lengths: Any,
        n_themes: int,
        n_coders: int,
        texts: Sequence[str] | None = None,
    ) -> EncodedSpans:
        """Wrap integer-coded spans, checking them; labels become ``0 .. n - 1``."""
        lengths = _int_array(document_lengths, "document lengths")
        named = {"document": document, "theme": theme, "coder": coder, "start": start, "end": end}
        columns = {name: _int_array(values, name) for name, values in named.items()}
        if len({c.shape for c in columns.values()}) > 1:
            raise UnitInputError("span columns must have the same length")
        _check_coder_count(n_coders)
        for name, n in (("document", lengths.shape[0]), ("theme", n_themes), ("coder", n_coders)):
            _check_codes(columns[name], n, name)
        if (lengths < 0).any():
            raise UnitInputError("document lengths must not be negative")
        if texts is not None and [len(t) for t in texts] != lengths.tolist():
            raise UnitInputError("texts must match the document lengths")
        _check_offsets(
            columns["start"],
            columns["end"],
            lengths[columns["document"]],
            describe=lambda i: f"span {i}",
        )
        n_docs = lengths.shape[0]
        return cls(
            **columns,
            document_lengths=lengths,
            documents=tuple(range(n_docs)),
            themes=tuple(range(n_themes)),
            coders=tuple(range(n_coders)),
            texts=tuple(texts) if texts is not None else (None,) * n_docs,
        )


@dataclass(frozen=True, slots=True, eq=False)
class SegmentCounts:
    """Per-cell segment counts of the ``segment`` unit (arrays of one entry per cell)."""

    first_agreeing: np.ndarray
    first_total: np.ndarray
    second_agreeing: np.ndarray
    second_total: np.ndarray


@dataclass(frozen=True, slots=True, eq=False)
class UnitTables:
    """Coder patterns and their unit counts for every (document, theme) cell.

    Cell ``i`` is document ``documents[i // len(themes)]`` and theme
    ``themes[i % len(themes)]``; its rows are ``offsets[i]:offsets[i + 1]`` of
    ``masks`` and ``weights``. Bit ``k`` of a mask is set when coder column ``k``
    coded the unit; ``weights`` counts the units with that pattern. Rows are
    sorted by mask within a cell and only patterns that occur are listed.
    """

    unit: Unit
    documents: tuple[Hashable, ...]
    themes: tuple[Hashable, ...]
    coders: tuple[Hashable, ...]
    offsets: np.ndarray
    masks: np.ndarray
    weights: np.ndarray
    segments: SegmentCounts | None = None

    @property
    def patterns(self) -> np.ndarray:
        """Rows of 0/1, one column per coder (``uint8``, shape ``(rows, coders)``)."""
        return _patterns(self.masks, len(self.coders))

    def cell(self, document: Hashable, theme: Hashable) -> tuple[np.ndarray, np.ndarray]:
        """``(patterns, weights)`` of one cell."""
        try:
            i = self.documents.index(document) * len(self.themes) + self.themes.index(theme)
        except ValueError:
            raise KeyError((document, theme)) from None
        rows = slice(self.offsets[i], self.offsets[i + 1])
        return _patterns(self.masks[rows], len(self.coders)), self.weights[rows]

    def cells(self) -> Iterator[tuple[Hashable, Hashable, np.ndarray, np.ndarray]]:
        """``(document, theme, patterns, weights)`` for every cell, in cell order."""
        patterns = self.patterns
        for i in range(self.offsets.shape[0] - 1):
            rows = slice(self.offsets[i], self.offsets[i + 1])
            document, theme = divmod(i, len(self.themes))
            yield self.documents[document], self.themes[theme], patterns[rows], self.weights[rows]

    def two_by_two(self) -> np.ndarray:
        """For two coders: ``table[cell, a, b]`` counts units where coder 1 is ``a`` and 2 is ``b``.

        ``table[:, 1, 1]`` is "both", ``[:, 1, 0]`` "only the first",
        ``[:, 0, 1]`` "only the second" and ``[:, 0, 0]`` "neither".
        """
        if len(self.coders) != 2:
            raise UnitInputError("a 2x2 table needs exactly two coders")
        n_cells = self.offsets.shape[0] - 1
        flat = self._row_cells() * 4 + (self.masks & 1) * 2 + (self.masks >> 1)
        counts = np.bincount(flat, weights=self.weights, minlength=n_cells * 4)
        return counts.astype(_I64).reshape(n_cells, 2, 2)

    def pooled(self) -> dict[Hashable, tuple[np.ndarray, np.ndarray]]:
        """``theme -> (patterns, weights)`` summed over all documents."""
        theme = self._row_cells() % len(self.themes)
        line, mask, weight = intervals.sum_by_line_and_mask(
            theme, self.masks, self.weights, len(self.themes), len(self.coders)
        )
        bounds = np.searchsorted(line, np.arange(len(self.themes) + 1))
        return {
            label: (
                _patterns(mask[bounds[t] : bounds[t + 1]], len(self.coders)),
                weight[bounds[t] : bounds[t + 1]],
            )
            for t, label in enumerate(self.themes)
        }

    def _row_cells(self) -> np.ndarray:
        return np.repeat(np.arange(self.offsets.shape[0] - 1, dtype=_I64), np.diff(self.offsets))


def unit_tables(
    *,
    spans: Iterable[CodedSpan | Sequence[Any]],
    documents: Mapping[Hashable, str | int],
    coders: Sequence[Hashable | Collection[Hashable]],
    unit: Unit | str = Unit.character,
    themes: Sequence[Hashable] | None = None,
    parents: Mapping[Hashable, Hashable] | None = None,
    min_share: float = 0.0,
    min_overlap: float = 0.9,
) -> UnitTables:
    """Coder patterns per unit for every (document, theme) cell.

    ``spans`` are ``(document, theme, coder, start, end)`` records. ``documents``
    maps every document id to its text, or to its length when no text unit is
    asked for. ``coders`` lists the compared coders (columns); an entry that is a
    set, frozenset, tuple or list is a group. ``themes`` selects and orders the
    reported themes (default: every theme that has a span or receives one through
    ``parents``, sorted); spans of other themes are ignored. Every document x
    theme cell is reported, including cells nobody coded. See the module
    documentation for the units and ``parents``.

    Raises :class:`UnitInputError` for spans outside their document, empty or
    reversed spans, unknown documents or coders, and bad parameters.
    """
    encoded = encode_spans(
        spans=spans, documents=documents, coders=coders, themes=themes, parents=parents
    )
    return tables_from_encoded(encoded, unit=unit, min_share=min_share, min_overlap=min_overlap)


def encode_spans(
    *,
    spans: Iterable[CodedSpan | Sequence[Any]],
    documents: Mapping[Hashable, str | int],
    coders: Sequence[Hashable | Collection[Hashable]],
    themes: Sequence[Hashable] | None = None,
    parents: Mapping[Hashable, Hashable] | None = None,
) -> EncodedSpans:
    """Check labelled spans and turn them into :class:`EncodedSpans`."""
    doc_ids = tuple(documents)
    doc_index = {d: i for i, d in enumerate(doc_ids)}
    texts = tuple(v if isinstance(v, str) else None for v in documents.values())
    lengths = np.array([_document_length(d, v) for d, v in documents.items()], dtype=_I64)
    coder_labels, column_of = _coder_columns(coders)

    records = list(spans)
    try:
        columns: list[tuple[Any, ...]] = list(zip(*records, strict=True)) if records else [()] * 5
    except (TypeError, ValueError):
        columns = []
    if len(columns) != 5:
        raise UnitInputError("each span needs (document, theme, coder, start, end)")
    doc_labels, theme_labels, coder_ids, starts, ends = columns
    doc = _lookup(doc_labels, doc_index, "document")
    coder = _lookup(coder_ids, column_of, "coder")
    start = _int_array(list(starts), "start")
    end = _int_array(list(ends), "end")
    _check_offsets(start, end, lengths[doc], describe=lambda i: _describe(records[i]))

    span_of, theme, theme_labels_out = _assign_themes(theme_labels, themes, parents or {})
    return EncodedSpans(
        doc[span_of],
        theme,
        coder[span_of],
        start[span_of],
        end[span_of],
        lengths,
        doc_ids,
        theme_labels_out,
        coder_labels,
        texts,
    )


def tables_from_encoded(
    encoded: EncodedSpans,
    *,
    unit: Unit | str = Unit.character,
    min_share: float = 0.0,
    min_overlap: float = 0.9,
) -> UnitTables:
    """The sweep itself, on already validated integer spans."""
    unit = _parse_unit(unit)
    if not 0 <= min_share <= 1:
        raise UnitInputError("min_share must be between 0 and 1")
    if not 0 < min_overlap <= 1:
        raise UnitInputError("min_overlap must be greater than 0 and at most 1")
    n_docs, n_themes, n_coders = len(encoded.documents), len(encoded.themes), len(encoded.coders)
    n_cells = n_docs * n_themes
    cell_length = np.repeat(encoded.document_lengths, n_themes)

    cell = encoded.document * n_themes + encoded.theme
    key, start, end = intervals.merge_runs(
        cell * n_coders + encoded.coder, encoded.start, encoded.end
    )
    run_cell, run_coder = key // n_coders, key % n_coders

    segments = None
    if unit in (Unit.character, Unit.coded_only):
        counts = intervals.pattern_counts(
            line=run_cell,
            coder=run_coder,
            start=start,
            end=end,
            line_length=cell_length,
            n_coders=n_coders,
            include_uncovered=unit is Unit.character,
        )
        line, mask, weight = counts.line, counts.mask, counts.weight
    elif unit in TEXT_UNITS:
        line, mask, weight = _text_unit_counts(encoded, unit, key, start, end, min_share=min_share)
    elif unit is Unit.document:
        line, mask, weight = _document_counts(key, n_coders, n_cells)
    else:
        line, mask, weight, segments = _segment_counts(
            run_cell, run_coder, start, end, n_cells, n_coders, min_overlap
        )
    offsets = np.concatenate(([0], np.cumsum(np.bincount(line, minlength=n_cells)))).astype(_I64)
    return UnitTables(
        unit,
        encoded.documents,
        encoded.themes,
        encoded.coders,
        offsets,
        mask.astype(_I64, copy=False),
        weight.astype(_I64, copy=False),
        segments,
    )


# --- unit-specific counting -------------------------------------------------


_Rows = tuple[np.ndarray, np.ndarray, np.ndarray]  # (cell, mask, weight) of each row


def _text_unit_counts(
    encoded: EncodedSpans,
    unit: Unit,
    key: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    *,
    min_share: float,
) -> _Rows:
    missing = [d for d, t in zip(encoded.documents, encoded.texts, strict=True) if t is None]
    if missing:
        raise UnitInputError(f"the {unit} unit needs the text of document {missing[0]!r}")
    n_themes, n_coders = len(encoded.themes), len(encoded.coders)
    units = corpus_units(encoded.texts, unit)
    heads = intervals.first_of_group(key)
    group = np.cumsum(heads, dtype=_I64) - 1
    group_key = key[heads]
    group, first, stop = intervals.coded_unit_runs(
        group=group,
        start=start,
        end=end,
        group_doc=group_key // n_coders // n_themes,
        unit_start=units.start,
        unit_end=units.end,
        doc_first_unit=units.first,
        stride=int(encoded.document_lengths.max(initial=0)) + 1,
        min_share=intervals.exact_share(min_share),
    )
    # Neighbouring runs can claim the same boundary unit: merge in index space.
    key, first, stop = intervals.merge_runs(group_key[group], first, stop)
    counts = intervals.pattern_counts(
        line=key // n_coders,
        coder=key % n_coders,
        start=first,
        end=stop,
        line_length=np.repeat(units.counts, n_themes),
        n_coders=n_coders,
    )
    return counts.line, counts.mask, counts.weight


def _document_counts(key: np.ndarray, n_coders: int, n_cells: int) -> _Rows:
    present = key[intervals.first_of_group(key)]  # one entry per (cell, coder) with a run
    bits = np.left_shift(_I64(1), present % n_coders)
    mask = np.bincount(present // n_coders, weights=bits, minlength=n_cells)
    return np.arange(n_cells, dtype=_I64), mask.astype(_I64), np.ones(n_cells, dtype=_I64)


def _segment_counts(
    run_cell: np.ndarray,
    run_coder: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    n_cells: int,
    n_coders: int,
    min_overlap: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, SegmentCounts]:
    if n_coders != 2:
        raise UnitInputError("the segment unit compares exactly two coders (or coder groups)")
    agree = intervals.matched_runs(
        line=run_cell,
        coder=run_coder,
        start=start,
        end=end,
        min_overlap=intervals.exact_share(min_overlap),
    )

    def per_cell(selected: np.ndarray) -> np.ndarray:
        return np.bincount(run_cell[selected], minlength=n_cells).astype(_I64)

    first, second = run_coder == 0, run_coder == 1
    seg = SegmentCounts(
        per_cell(first & agree), per_cell(first), per_cell(second & agree), per_cell(second)
    )
    # One row per mask 1 (only first), 2 (only second), 3 (both), per cell.
    weight = np.stack(
        (
            seg.first_total - seg.first_agreeing,
            seg.second_total - seg.second_agreeing,
            seg.first_agreeing + seg.second_agreeing,
        ),
        axis=1,
    ).ravel()
    line = np.repeat(np.arange(n_cells, dtype=_I64), 3)
    mask = np.tile(np.array([1, 2, 3], dtype=_I64), n_cells)
    keep = weight > 0
    return line[keep], mask[keep], weight[keep], seg


# --- input handling ---------------------------------------------------------


def _parse_unit(unit: Unit | str) -> Unit:
    try:
        return Unit(unit)
    except ValueError:
        choices = ", ".join(u.value for u in Unit)
        raise UnitInputError(f"unknown unit {unit!r}; choose one of {choices}") from None


def _document_length(document: Hashable, value: str | int) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise UnitInputError(f"document {document!r} needs its text or a non-negative length")
    return int(value)


def _coder_columns(
    coders: Sequence[Hashable | Collection[Hashable]],
) -> tuple[tuple[Hashable, ...], dict[Hashable, int]]:
    labels: list[Hashable] = []
    column_of: dict[Hashable, int] = {}
    for column, entry in enumerate(coders):
        is_group = isinstance(entry, (set, frozenset, tuple, list))
        members = list(entry) if is_group else [entry]  # type: ignore[arg-type]
        if not members:
            raise UnitInputError(f"coder group {column} is empty")
        for member in members:
            # A person on both sides of a comparison would agree with themself.
            if member in column_of:
                raise UnitInputError(f"coder {member!r} is listed more than once")
            column_of[member] = column
        labels.append(frozenset(members) if isinstance(entry, (set, list)) else entry)
    _check_coder_count(len(labels))
    return tuple(labels), column_of


def _check_coder_count(n_coders: int) -> None:
    if not 1 <= n_coders <= MAX_CODERS:
        raise UnitInputError(f"compare between 1 and {MAX_CODERS} coders, not {n_coders}")


def _lookup(labels: Sequence[Hashable], index: Mapping[Hashable, int], what: str) -> np.ndarray:
    try:
        return np.fromiter(map(index.__getitem__, labels), dtype=_I64, count=len(labels))
    except (KeyError, TypeError):
        i, label = next((i, x) for i, x in enumerate(labels) if not _known(x, index))
        raise UnitInputError(f"span {i}: unknown {what} {label!r}") from None


def _known(label: Any, index: Mapping[Hashable, int]) -> bool:
    try:
        return label in index
    except TypeError:  # unhashable
        return False


def _int_array(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.size == 0:
        return np.zeros(0, dtype=_I64)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise UnitInputError(f"{name} values must be a flat list of integers")
    return array.astype(_I64, copy=False)


def _check_codes(values: np.ndarray, n: int, what: str) -> None:
    bad = np.flatnonzero((values < 0) | (values >= n))
    if bad.shape[0]:
        raise UnitInputError(f"span {bad[0]}: unknown {what} {values[bad[0]]}")


def _check_offsets(start, end, doc_length, *, describe) -> None:
    checks = (
        (start < 0, "starts before the document (negative offset)"),
        (end <= start, "is empty or reversed (start must be less than end)"),
        (end > doc_length, "ends after the end of its document"),
    )
    for bad, problem in checks:
        where = np.flatnonzero(bad)
        if where.shape[0]:
            i = int(where[0])
            raise UnitInputError(
                f"{describe(i)} [{start[i]}, {end[i]}) {problem}"
                + (f"; {where.shape[0]} spans affected" if where.shape[0] > 1 else "")
            )


def _describe(record: Sequence[Any]) -> str:
    document, theme, coder = record[0], record[1], record[2]
    return f"span of document {document!r}, theme {theme!r}, coder {coder!r}"


def _lineage(theme: Hashable, parents: Mapping[Hashable, Hashable]) -> list[Hashable]:
    chain = [theme]
    while chain[-1] in parents:
        parent = parents[chain[-1]]
        if parent in chain:
            raise UnitInputError(f"theme parents form a cycle through {parent!r}")
        chain.append(parent)
    return chain


def _assign_themes(
    labels: Sequence[Hashable],
    themes: Sequence[Hashable] | None,
    parents: Mapping[Hashable, Hashable],
) -> tuple[np.ndarray, np.ndarray, tuple[Hashable, ...]]:
    """Theme column of each span copy: a span counts for its theme and each ancestor.

    Returns ``(span_of, theme, vocabulary)``: copy ``j`` comes from span
    ``span_of[j]`` and belongs to theme ``vocabulary[theme[j]]``. Spans of themes
    outside ``themes`` (and without a selected ancestor) are left out.
    """
    try:
        seen = {t: i for i, t in enumerate(dict.fromkeys(labels))}
    except TypeError:
        raise UnitInputError("theme labels must be hashable") from None
    local = np.fromiter(map(seen.__getitem__, labels), _I64, len(labels))
    chains = [_lineage(theme, parents) for theme in seen]
    if themes is None:
        found = {t for chain in chains for t in chain}
        try:
            vocabulary = tuple(sorted(found))  # type: ignore[type-var]
        except TypeError:
            vocabulary = tuple(dict.fromkeys(t for chain in chains for t in chain))
    else:
        vocabulary = tuple(themes)
        if len(set(vocabulary)) != len(vocabulary):
            raise UnitInputError("themes are listed more than once")
    position = {t: i for i, t in enumerate(vocabulary)}
    targets = [[position[t] for t in chain if t in position] for chain in chains]
    flat = np.array([t for chain in targets for t in chain], dtype=_I64)
    count = np.array([len(chain) for chain in targets], dtype=_I64)
    head = np.cumsum(count) - count
    span_of, slot = intervals.expand_ranges(head[local], head[local] + count[local])
    return span_of, flat[slot], vocabulary


def _patterns(masks: np.ndarray, n_coders: int) -> np.ndarray:
    return ((masks[:, None] >> np.arange(n_coders, dtype=_I64)) & 1).astype(np.uint8)
