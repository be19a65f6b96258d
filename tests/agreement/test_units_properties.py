"""Random cases: every unit's tables equal a per-character brute force."""

import itertools
import random
import re
from collections import Counter
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from service.agreement.intervals import two_coder_table
from service.agreement.segmentation import paragraph_bounds, sentence_bounds, word_bounds
from service.agreement.units import Unit, unit_tables

ALPHABET = "ab Z.!?\n\r\u2029\u3000\u00e9\u201d"
THEMES = ("t0", "t1", "t2")
PARENT_CHOICES = ({}, {"t1": "t0"}, {"t2": "t1", "t1": "t0"}, {"t2": "t0", "t1": "t0"})
SHARES = (0.0, 0.25, 0.3, 0.5, 1.0)
OVERLAPS = (0.9, 0.5, 0.3, 1.0)


def runs_of(flags):
    """Maximal runs of True as [start, end) pairs."""
    padded = np.concatenate(([False], flags, [False])).astype(np.int8)
    edges = np.diff(padded)
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def reference_units(text, unit):
    if unit == Unit.word:
        return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    if unit == Unit.paragraph:
        out, pos = [], 0
        for line in text.splitlines(keepends=True):
            body = line.rstrip("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
            stripped = body.strip()
            if stripped:
                lead = len(body) - len(body.lstrip())
                out.append((pos + lead, pos + lead + len(stripped)))
            pos += len(line)
        return out
    starts, ends = sentence_bounds(text)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def brute_force(spans, documents, columns, unit, themes, parents, min_share, min_overlap):
    """(document, theme) -> Counter of coder patterns, one character array at a time."""
    column_of = {
        m: k for k, col in enumerate(columns) for m in (col if isinstance(col, tuple) else (col,))
    }

    def lineage(theme):
        chain = [theme]
        while chain[-1] in parents:
            chain.append(parents[chain[-1]])
        return chain

    out = {}
    for doc, text in documents.items():
        length = len(text) if isinstance(text, str) else text
        for theme in themes:
            coded = np.zeros((len(columns), length), dtype=bool)
            for d, t, c, s, e in spans:
                if d == doc and theme in lineage(t):
                    coded[column_of[c], s:e] = True
            table = Counter()
            if unit in (Unit.character, Unit.coded_only):
                table.update(tuple(int(v) for v in coded[:, i]) for i in range(length))
                if unit == Unit.coded_only:
                    table.pop((0,) * len(columns), None)
            elif unit == Unit.document:
                table[tuple(int(v) for v in coded.any(axis=1))] += 1
            elif unit == Unit.segment:
                runs = [runs_of(coded[k]) for k in range(2)]

                def matches(a, b):
                    shared = min(a[1], b[1]) - max(a[0], b[0])
                    spanned = max(a[1], b[1]) - min(a[0], b[0])
                    return shared > 0 and shared >= Fraction(str(min_overlap)) * spanned

                for k, pattern in ((0, (1, 0)), (1, (0, 1))):
                    for run in runs[k]:
                        hit = any(matches(run, other) for other in runs[1 - k])
                        table[(1, 1) if hit else pattern] += 1
            else:
                share = Fraction(str(min_share))
                for s, e in reference_units(text, unit):
                    covered = coded[:, s:e].sum(axis=1)
                    pattern = tuple(int(c > 0 and c >= share * (e - s)) for c in covered)
                    table[pattern] += 1
            out[doc, theme] = +table
    return out


@st.composite
def cases(draw):
    n_ids = draw(st.integers(2, 5))
    ids = [f"c{i}" for i in range(n_ids)]
    unit = draw(st.sampled_from(list(Unit)))
    n_columns = 2 if unit == Unit.segment else draw(st.integers(2, min(4, n_ids)))
    assignment = draw(
        st.permutations(
            list(range(n_columns))
            + [draw(st.integers(0, n_columns - 1)) for _ in range(n_ids - n_columns)]
        )
    )
    columns = []
    for k in range(n_columns):
        members = tuple(i for i, col in zip(ids, assignment, strict=True) if col == k)
        columns.append(members[0] if len(members) == 1 else members)
    # Units that need no text get bare lengths: cheaper to draw, and it covers
    # the length-only input.
    needs_text = unit in (Unit.word, Unit.sentence, Unit.paragraph)
    content = st.text(alphabet=ALPHABET, max_size=40) if needs_text else st.integers(0, 40)
    documents = {f"d{i}": draw(content) for i in range(draw(st.integers(1, 3)))}
    # Spans come from a seeded generator: one draw instead of dozens keeps
    # thousands of cases fast, and a failure still reports a reproducible case.
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    spans = []
    for doc, value in documents.items():
        length = len(value) if needs_text else value
        for _ in range(rng.randint(0, 8) if length else 0):
            start = rng.randrange(length)
            end = rng.randint(start + 1, min(length, start + rng.choice((1, 3, 10, 40))))
            spans.append((doc, rng.choice(THEMES), rng.choice(ids), start, end))
    parents = draw(st.sampled_from(PARENT_CHOICES))
    return {
        "spans": spans,
        "documents": documents,
        "columns": columns,
        "unit": unit,
        "parents": parents,
        "min_share": draw(st.sampled_from(SHARES)),
        "min_overlap": draw(st.sampled_from(OVERLAPS)),
    }


@settings(max_examples=2000, deadline=None)
@given(cases())
def test_every_unit_matches_a_per_character_brute_force(case):
    tables = unit_tables(
        spans=case["spans"],
        documents=case["documents"],
        coders=case["columns"],
        unit=case["unit"],
        themes=THEMES,
        parents=case["parents"],
        min_share=case["min_share"],
        min_overlap=case["min_overlap"],
    )
    expected = brute_force(
        case["spans"],
        case["documents"],
        case["columns"],
        case["unit"],
        THEMES,
        case["parents"],
        case["min_share"],
        case["min_overlap"],
    )
    got = {
        (doc, theme): Counter(
            {tuple(int(v) for v in p): int(w) for p, w in zip(patterns, weights, strict=True)}
        )
        for doc, theme, patterns, weights in tables.cells()
    }
    assert got == expected
    assert (tables.weights > 0).all()


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=60))
def test_words_and_paragraphs_match_simple_reference_splitters(text):
    for unit, split in ((Unit.word, word_bounds), (Unit.paragraph, paragraph_bounds)):
        starts, ends = split(text)
        assert list(zip(starts.tolist(), ends.tolist(), strict=True)) == reference_units(text, unit)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=ALPHABET + "Dr", max_size=60))
def test_sentences_partition_the_words_of_each_paragraph(text):
    sentences = list(zip(*sentence_bounds(text), strict=True))
    paragraphs = reference_units(text, Unit.paragraph)
    # Every sentence is trimmed, inside one paragraph, and sentences keep text order.
    for s, e in sentences:
        assert text[s:e] == text[s:e].strip() and e > s
        assert any(ps <= s and e <= pe for ps, pe in paragraphs)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(sentences))
    # Non-space text is covered exactly once.
    covered = "".join(text[s:e] for s, e in sentences)
    assert "".join(covered.split()) == "".join(text.split())
    # A sentence ends a paragraph or ends with terminal punctuation.
    for s, e in sentences:
        ends_paragraph = any(e == pe for _, pe in paragraphs)
        assert ends_paragraph or re.search(r"[.!?][\"'\u201d\u2019\u00bb)\]]*$", text[s:e])


interval_lists = st.lists(
    st.tuples(st.integers(0, 50), st.integers(1, 20)).map(lambda t: (t[0], t[0] + t[1])),
    max_size=8,
)


@settings(max_examples=500, deadline=None)
@given(interval_lists, interval_lists)
def test_two_pointer_table_matches_character_counts(first, second):
    length = 70
    a = np.zeros(length, dtype=bool)
    b = np.zeros(length, dtype=bool)
    for s, e in first:
        a[s:e] = True
    for s, e in second:
        b[s:e] = True
    table = two_coder_table(first, second, length)
    expected = [[np.sum(~a & ~b), np.sum(~a & b)], [np.sum(a & ~b), np.sum(a & b)]]
    assert table.tolist() == expected
