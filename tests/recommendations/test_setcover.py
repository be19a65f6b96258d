"""The pruned exact search gives what a full scan of the combinations gives."""

from __future__ import annotations

import math
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.recommendations import setcover


def full_scan(masks: dict[str, int], u: int, score: dict, limit: int) -> list[str] | None:
    """The search as first written: every combination of each size, best by rank."""
    keys, full, searched = sorted(masks), (1 << u) - 1, 0
    widest = max(m.bit_count() for m in masks.values())
    for size in range(max(1, math.ceil(u / widest)), len(keys) + 1):
        if searched + math.comb(len(keys), size) > limit:
            return None
        searched += math.comb(len(keys), size)
        covers = []
        for combo in combinations(keys, size):
            union = 0
            for k in combo:
                union |= masks[k]
            if union == full:
                covers.append(combo)
        if covers:
            return list(min(covers, key=lambda c: (*totals(c, score), c)))
    return None


def totals(combo: tuple[str, ...], score: dict) -> tuple[int, ...]:
    return tuple(-sum(score[k][i] for k in combo) for i in range(3))


@st.composite
def instances(draw):
    u = draw(st.integers(1, 9))
    n = draw(st.integers(1, 11))
    masks = {f"c{i:02d}": draw(st.integers(1, (1 << u) - 1)) for i in range(n)}
    full = (1 << u) - 1
    union = 0
    for m in masks.values():
        union |= m
    masks["zz_rest"] = full & ~union or 1  # makes a cover exist
    score = {k: tuple(draw(st.integers(0, 3)) for _ in range(3)) for k in masks}
    return masks, u, score


@settings(max_examples=300, deadline=None)
@given(instances())
def test_exact_search_matches_a_full_scan_of_the_combinations(instance):
    masks, u, score = instance
    chosen, method = setcover.cover(masks, [f"d{i}" for i in range(u)], score, limit=100_000)
    assert method.name == "exact_set_cover"
    assert chosen == full_scan(masks, u, score, 100_000)


def test_past_the_limit_the_greedy_cover_is_used_and_says_so():
    masks = {"a": 0b011, "b": 0b110, "c": 0b100}
    score = dict.fromkeys(masks, (0, 0, 0))
    chosen, method = setcover.cover(masks, ["x", "y", "z"], score, limit=0)
    assert chosen == ["a", "b"] and method.name == "greedy_set_cover"
    assert "more than 0 combinations" in method.description
    assert setcover.cover({}, [], {}, limit=0)[1].name == "none"
