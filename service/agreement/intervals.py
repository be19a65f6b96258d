"""Vectorised interval arithmetic behind the agreement units.

Every function here works on flat integer arrays that describe many independent
"lines" at once (one line per document x theme x coder, or per document x theme),
so a whole corpus is handled by a few sorts and cumulative sums instead of a
Python loop per segment. Positions are half-open ``[start, end)`` integers; a line
is identified by an integer key, and a position on a line is turned into one
sortable int64 by ``key * stride + position`` where ``stride`` exceeds every
position, which lets one ``argsort``/``searchsorted`` serve all lines together.

Nothing here allocates per character: memory grows with the number of intervals,
never with the length of the text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

_I64 = np.int64


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=_I64)


def first_of_group(keys: np.ndarray) -> np.ndarray:
    """Boolean mask marking the first element of each run of equal, sorted keys."""
    first = np.ones(keys.shape[0], dtype=bool)
    if keys.shape[0] > 1:
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
    return first


def _order_by(major: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """Indices sorting by (major, minor) for non-negative integers.

    One argsort of a combined int64 key is several times faster than lexsort;
    lexsort remains for keys too large to combine.
    """
    stride = int(minor.max()) + 1
    if int(major.max()) < (2**62) // stride:
        return np.argsort(major * stride + minor)
    return np.lexsort((minor, major))


def merge_runs(
    key: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of intervals per key: overlapping or touching intervals become one run.

    Returns ``(key, start, end)`` of the merged runs, sorted by key then start.
    Touching intervals (``[0, 5)`` and ``[5, 9)``) are merged too, so a coder who
    coded two adjacent passages separately covers the same text as one who coded
    them together.
    """
    key = np.asarray(key, dtype=_I64)
    start = np.asarray(start, dtype=_I64)
    end = np.asarray(end, dtype=_I64)
    if key.shape[0] == 0:
        return _empty(), _empty(), _empty()
    order = _order_by(key, start)
    key, start, end = key[order], start[order], end[order]
    first = first_of_group(key)
    group = np.cumsum(first, dtype=_I64) - 1
    # Offsetting each group by group * stride makes one running maximum restart
    # at every group boundary: values of an earlier group are always smaller.
    stride = int(end.max()) + 1
    reach = np.maximum.accumulate(group * stride + end)
    new_run = first.copy()
    new_run[1:] |= group[1:] * stride + start[1:] > reach[:-1]
    heads = np.flatnonzero(new_run)
    return key[heads], start[heads], np.maximum.reduceat(end, heads)


@dataclass(frozen=True, slots=True)
class PatternCounts:
    """How many positions of each line carry each coder pattern.

    ``line``/``mask``/``weight`` are parallel rows sorted by (line, mask); bit ``k``
    of ``mask`` is set when coder ``k`` covers the position. Only non-empty rows
    are listed.
    """

    line: np.ndarray
    mask: np.ndarray
    weight: np.ndarray


def sum_by_line_and_mask(
    line: np.ndarray, mask: np.ndarray, weight: np.ndarray, n_lines: int, n_coders: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add up weights of equal (line, mask) pairs; result sorted by (line, mask)."""
    if line.shape[0] == 0:
        return _empty(), _empty(), _empty()
    n_masks = 1 << n_coders
    if n_lines * n_masks <= max(4 * line.shape[0], 1 << 16):
        # Small key space: one bincount, already in (line, mask) order.
        sums = np.bincount(line * n_masks + mask, weights=weight, minlength=n_lines * n_masks)
        flat = np.flatnonzero(sums)
        return flat // n_masks, flat % n_masks, sums[flat].astype(_I64)
    order = np.lexsort((mask, line))
    line, mask, weight = line[order], mask[order], weight[order]
    heads = np.flatnonzero(first_of_group(line) | first_of_group(mask))
    return line[heads], mask[heads], np.add.reduceat(weight, heads)


def pattern_counts(
    *,
    line: np.ndarray,
    coder: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    line_length: np.ndarray,
    n_coders: int,
    include_uncovered: bool = True,
) -> PatternCounts:
    """Event sweep: count positions per coder pattern on every line at once.

    ``(line, coder, start, end)`` must already be merged per (line, coder), so each
    coder contributes at most once to any position and the running sum of
    ``+2**coder`` (at a start) and ``-2**coder`` (at an end) is exactly the bit
    mask of the coders covering the stretch up to the next event. Positions no
    coder covers (mask 0) are the line length minus everything counted, which
    also covers lines without any interval. ``line_length`` has one entry per
    line.
    """
    line_length = np.asarray(line_length, dtype=_I64)
    n_lines = line_length.shape[0]
    line = np.asarray(line, dtype=_I64)
    if line.shape[0]:
        # Dense line ids keep the sort keys small whatever the number of lines.
        if (line[1:] >= line[:-1]).all():
            heads = first_of_group(line)
            used, dense = line[heads], np.cumsum(heads, dtype=_I64) - 1
        else:
            used, dense = np.unique(line, return_inverse=True)
        bit = np.left_shift(_I64(1), np.asarray(coder, dtype=_I64))
        stride = int(line_length.max()) + 1
        ev_line = np.concatenate((dense, dense))
        ev_pos = np.concatenate((start, end)).astype(_I64, copy=False)
        order = np.argsort(ev_line * stride + ev_pos, kind="stable")
        ev_line, ev_pos = ev_line[order], ev_pos[order]
        running = np.cumsum(np.concatenate((bit, -bit))[order])
        stretch = ev_pos[1:] - ev_pos[:-1]
        keep = (ev_line[1:] == ev_line[:-1]) & (stretch > 0) & (running[:-1] != 0)
        covered_line = used[ev_line[:-1][keep]]
        covered_mask = running[:-1][keep]
        covered_weight = stretch[keep]
    else:
        covered_line = covered_mask = covered_weight = _empty()
    out_line, out_mask, out_weight = sum_by_line_and_mask(
        covered_line, covered_mask, covered_weight, n_lines, n_coders
    )
    if not include_uncovered:
        return PatternCounts(out_line, out_mask, out_weight)
    counted = np.bincount(out_line, weights=out_weight, minlength=n_lines).astype(_I64)
    rest = line_length - counted
    rest_line = np.flatnonzero(rest > 0)
    # Mask 0 sorts before any other mask, so listing those rows first and then
    # sorting stably by line keeps the (line, mask) order.
    all_line = np.concatenate((rest_line, out_line))
    order = np.argsort(all_line, kind="stable")
    return PatternCounts(
        all_line[order],
        np.concatenate((np.zeros(rest_line.shape[0], dtype=_I64), out_mask))[order],
        np.concatenate((rest[rest_line], out_weight))[order],
    )


def exact_share(value: float) -> Fraction:
    """An exact fraction for a share threshold (0.3 becomes 3/10), so that integer
    comparisons decide the borderline cases the way a person reading them would."""
    return Fraction(value).limit_denominator(1_000_000)


def covered_before(
    run_start: np.ndarray, run_end: np.ndarray, covered_through: np.ndarray, query: np.ndarray
) -> np.ndarray:
    """Covered length before each query position, counted over all runs up to it.

    ``run_start``/``run_end`` are keyed positions (``group * stride + pos``) of
    merged, sorted runs and ``covered_through`` the inclusive running total of run
    lengths. The difference of two queries on the same group is the number of
    covered positions between them, found by binary search instead of a scan.
    """
    k = np.searchsorted(run_start, query, side="right") - 1
    kk = np.maximum(k, 0)
    inside = np.minimum(query, run_end[kk]) - run_start[kk]
    value = covered_through[kk] - (run_end[kk] - run_start[kk]) + inside
    return np.where(k >= 0, value, 0)


def coded_unit_runs(
    *,
    group: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    group_doc: np.ndarray,
    unit_start: np.ndarray,
    unit_end: np.ndarray,
    doc_first_unit: np.ndarray,
    stride: int,
    min_share: Fraction,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn merged character runs into runs of coded unit indices.

    ``group``/``start``/``end`` are merged runs sorted by (group, start), with dense
    group ids; group ``g`` belongs to document ``group_doc[g]``. Units are disjoint
    and sorted within each document and stored document after document, the units
    of document ``d`` being ``doc_first_unit[d]:doc_first_unit[d + 1]``. ``stride``
    must exceed every document length. A unit counts as coded by a group when the
    group covers at least one of its characters and at least ``min_share`` of them.

    Units strictly inside a run are fully covered, so only the first and the last
    unit a run touches need their coverage measured; a boundary unit may also be
    partly covered by the neighbouring run, which the prefix sums account for.
    Returns ``(group, first, stop)``: half-open runs of unit indices counted from
    the first unit of the group's document, not yet merged.
    """
    if group.shape[0] == 0:
        return _empty(), _empty(), _empty()
    n_docs = doc_first_unit.shape[0] - 1
    unit_doc = np.repeat(np.arange(n_docs, dtype=_I64), np.diff(doc_first_unit))
    doc = group_doc[group]
    # A unit [us, ue) overlaps the run [s, e) when ue > s and us < e.
    lo = np.searchsorted(unit_doc * stride + unit_end, doc * stride + start, side="right")
    hi = np.searchsorted(unit_doc * stride + unit_start, doc * stride + end, side="left")
    touched = hi > lo
    if min_share > 0:
        # Prefix sums run over all runs, so a unit also partly covered by the
        # group's neighbouring run gets that share too.
        run_start = group * stride + start
        run_end = group * stride + end
        covered_through = np.cumsum(end - start)
        g = group[touched]

        def meets_share(unit: np.ndarray) -> np.ndarray:
            us, ue = g * stride + unit_start[unit], g * stride + unit_end[unit]
            covered = covered_before(run_start, run_end, covered_through, ue) - covered_before(
                run_start, run_end, covered_through, us
            )
            return covered * min_share.denominator >= min_share.numerator * (ue - us)

        lo[touched] += ~meets_share(lo[touched])
        hi[touched] -= ~meets_share(hi[touched] - 1)
    keep = hi > lo
    base = doc_first_unit[doc[keep]]
    return group[keep], lo[keep] - base, hi[keep] - base


def two_coder_table(
    first: Iterable[tuple[int, int]], second: Iterable[tuple[int, int]], length: int
) -> np.ndarray:
    """2x2 character table of one document and theme, by a two-pointer walk.

    ``table[a, b]`` counts characters where the first coder's value is ``a`` and the
    second coder's is ``b`` (1 = coded), so ``table[1, 1]`` is "both" and
    ``table[0, 0]`` "neither". Each coder's intervals are merged first.
    """
    a = _merged_list(first)
    b = _merged_list(second)
    i = j = both = 0
    while i < len(a) and j < len(b):
        overlap = min(a[i][1], b[j][1]) - max(a[i][0], b[j][0])
        both += max(overlap, 0)
        # Advance whichever interval finishes first; it cannot meet anything later.
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    len_a = sum(e - s for s, e in a)
    len_b = sum(e - s for s, e in b)
    table = np.array(
        [[length - len_a - len_b + both, len_b - both], [len_a - both, both]], dtype=_I64
    )
    return table


def _merged_list(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(intervals):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def expand_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ``(owner, index)`` pairs with ``lo[owner] <= index < hi[owner]``, vectorised."""
    count = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(lo.shape[0], dtype=_I64), count)
    offset = np.arange(owner.shape[0], dtype=_I64) - np.repeat(np.cumsum(count) - count, count)
    return owner, lo[owner] + offset


def matched_runs(
    *,
    line: np.ndarray,
    coder: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    min_overlap: Fraction,
) -> np.ndarray:
    """For two coders (0 and 1): does each run meet a run of the other coder?

    Runs must be merged and sorted by (line, coder, start). Two runs on the same
    line match when the characters they share are at least ``min_overlap`` of the
    characters either of them covers (intersection over union; for two
    overlapping intervals the union is the stretch from the earlier start to the
    later end). Returns one boolean per run.
    """
    agree = np.zeros(line.shape[0], dtype=bool)
    first = np.flatnonzero(coder == 0)
    second = np.flatnonzero(coder == 1)
    if first.shape[0] == 0 or second.shape[0] == 0:
        return agree
    _, dense = np.unique(line, return_inverse=True)
    stride = int(end.max()) + 1
    base = dense * stride
    # Runs of one coder on one line are disjoint, so both their starts and their
    # ends are sorted and two binary searches bound the runs a run can overlap.
    lo = np.searchsorted(base[second] + end[second], base[first] + start[first], side="right")
    hi = np.searchsorted(base[second] + start[second], base[first] + end[first], side="left")
    owner, other = expand_ranges(lo, hi)
    a, b = first[owner], second[other]
    shared = np.minimum(end[a], end[b]) - np.maximum(start[a], start[b])
    spanned = np.maximum(end[a], end[b]) - np.minimum(start[a], start[b])
    ok = shared * min_overlap.denominator >= min_overlap.numerator * spanned
    agree[a[ok]] = True
    agree[b[ok]] = True
    return agree
