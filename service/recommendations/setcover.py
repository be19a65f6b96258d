"""Minimum set cover over bit masks: the search behind a plan's choice of components.

Pure and generic: a component is a key with a mask of the domains (bits) it covers.
The exact search tries sizes in increasing order while the combinations of that size,
added to those already counted, stay within ``limit``; among the covers of the first
size that has any, the best by ``score`` wins. Beyond the limit a greedy cover is used
and the method states its ln(n) + 1 bound.

The covers of one size are enumerated by branching on the masks that can cover a
still uncovered bit rather than by scanning every combination; the covers found are the
same, so the answer is the one a full scan gives (a property test compares the two) and
only the work differs. The limit still counts every combination of each size tried, so
whether the answer is exact does not depend on how well the pruning does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from service.recommendations.schemas import Method

Score = tuple[int, int, int]


def cover(
    masks: dict[str, int], universe: list[str], score: dict[str, Score], *, limit: int
) -> tuple[list[str], Method]:
    """Smallest set of keys whose masks OR to every bit of ``universe``.

    Ties between equally small covers go to the highest summed ``score`` (compared
    element by element), then to the lowest sorted tuple of keys.
    """
    full = (1 << len(universe)) - 1
    keys = sorted(masks)
    n, u = len(keys), len(universe)
    if not u:
        return [], Method(name="none", description="No domain needed covering.")

    def rank(combo: Iterable[str]) -> tuple:
        chosen = sorted(combo)
        totals = [sum(score[k][i] for k in chosen) for i in range(3)]
        return (-totals[0], -totals[1], -totals[2], tuple(chosen))

    widest = max(m.bit_count() for m in masks.values())
    searched = 0
    for size in range(max(1, math.ceil(u / widest)), n + 1):
        if searched + math.comb(n, size) > limit:
            break
        searched += math.comb(n, size)
        covers = list(_covers_of_size([masks[k] for k in keys], size, full))
        if covers:
            best = min(([keys[i] for i in combo] for combo in covers), key=rank)
            return best, Method(
                name="exact_set_cover",
                description=(
                    f"Exact minimum set cover: combinations of the {n} available components "
                    f"were tried in increasing size ({searched} examined) and the first size "
                    f"covering all {u} domains in need was kept. Ties: need severity covered, "
                    "peer or shared-experience settings when a barrier is present, the "
                    "person's preferences, then component key."
                ),
            )
    chosen = _greedy(masks, keys, full, rank)
    bound = math.log(u) + 1
    return sorted(chosen), Method(
        name="greedy_set_cover",
        description=(
            f"Greedy set cover: an exact search over the {n} available components would "
            f"examine more than {limit} combinations, so components were added "
            "one at a time by how many uncovered domains each covers, then redundant ones "
            f"dropped. The plan has at most ln({u}) + 1 = {bound:.2f} times as many "
            "components as the smallest possible plan."
        ),
    )


def _covers_of_size(masks: list[int], size: int, full: int) -> Iterator[tuple[int, ...]]:
    """Index tuples of ``size`` masks whose union is ``full``, when no fewer masks can
    cover ``full`` (the caller tries sizes in increasing order).

    Such covers have no redundant member, so each is found exactly once by branching on
    which mask covers a still uncovered bit: the one with the fewest candidates left,
    taking the candidates in turn and ruling out, in each branch, those tried before it.
    """
    bits = full.bit_length()
    by_bit = [sum(1 << i for i, m in enumerate(masks) if m >> b & 1) for b in range(bits)]
    widest = max(m.bit_count() for m in masks)

    def walk(picked: int, covered: int, ruled_out: int, left: int) -> Iterator[int]:
        if covered == full:
            if left == 0:
                yield picked
            return
        missing = full & ~covered
        if left == 0 or missing.bit_count() > left * widest:
            return
        candidates, fewest = 0, len(masks) + 1
        for b in range(bits):
            if missing >> b & 1:
                here = by_bit[b] & ~ruled_out
                count = here.bit_count()
                if count < fewest:
                    candidates, fewest = here, count
                    if count <= 1:
                        break
        while candidates:
            low = candidates & -candidates
            i = low.bit_length() - 1
            yield from walk(picked | low, covered | masks[i], ruled_out, left - 1)
            ruled_out |= low
            candidates ^= low

    for picked in walk(0, 0, 0, size):
        yield tuple(i for i in range(len(masks)) if picked >> i & 1)


def _greedy(masks: dict[str, int], keys: list[str], full: int, rank) -> list[str]:
    chosen: list[str] = []
    covered = 0
    while covered != full:
        best = min(
            (k for k in keys if k not in chosen and masks[k] & ~covered),
            key=lambda k: (-(masks[k] & ~covered).bit_count(), *rank([k])),
        )
        chosen.append(best)
        covered |= masks[best]
    for k in reversed(list(chosen)):  # drop any component the later picks made redundant
        rest = [o for o in chosen if o != k]
        if _union(masks[o] for o in rest) == full:
            chosen = rest
    return chosen


def _union(masks: Iterable[int]) -> int:
    out = 0
    for m in masks:
        out |= m
    return out
