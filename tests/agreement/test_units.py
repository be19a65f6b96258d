"""Hand-made cases for the agreement units, one behaviour per test."""

from fractions import Fraction

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from service.agreement.intervals import (
    merge_runs,
    pattern_counts,
    sum_by_line_and_mask,
    two_coder_table,
)
from service.agreement.segmentation import paragraph_bounds, sentence_bounds, word_bounds
from service.agreement.units import (
    CodedSpan,
    EncodedSpans,
    Unit,
    UnitInputError,
    encode_spans,
    tables_from_encoded,
    unit_tables,
)


def as_dict(tables, document, theme):
    patterns, weights = tables.cell(document, theme)
    return {tuple(int(v) for v in p): int(w) for p, w in zip(patterns, weights, strict=True)}


def kappa(table):
    """Cohen's kappa of a 2x2 count table, exactly."""
    n = table.sum()
    observed = Fraction(int(table[0, 0] + table[1, 1]), int(n))
    chance = sum(
        Fraction(int(table[k, :].sum()), int(n)) * Fraction(int(table[:, k].sum()), int(n))
        for k in range(2)
    )
    return observed, (observed - chance) / (1 - chance)


NVIVO_SPANS = [CodedSpan("doc", "Trust", "A", 100, 250), CodedSpan("doc", "Trust", "B", 200, 300)]


def test_character_unit_reproduces_the_nvivo_example():
    tables = unit_tables(spans=NVIVO_SPANS, documents={"doc": 1000}, coders=["A", "B"])
    table = tables.two_by_two()[0]
    assert table.tolist() == [[800, 50], [100, 50]]
    agreement, k = kappa(table)
    assert agreement == Fraction(85, 100)
    assert k == Fraction(7, 22)  # 0.3181...
    # The weighted patterns give the same kappa as the per-character vectors.
    patterns, weights = tables.cell("doc", "Trust")
    sk = cohen_kappa_score(patterns[:, 0], patterns[:, 1], sample_weight=weights)
    assert sk == pytest.approx(0.318181818, abs=1e-9)


def test_coded_only_drops_text_nobody_coded():
    tables = unit_tables(
        spans=NVIVO_SPANS, documents={"doc": 1000}, coders=["A", "B"], unit="coded_only"
    )
    assert as_dict(tables, "doc", "Trust") == {(1, 0): 100, (0, 1): 50, (1, 1): 50}


def test_overlapping_and_touching_spans_of_one_coder_are_merged():
    spans = [("d", "T", "A", 0, 10), ("d", "T", "A", 5, 20), ("d", "T", "A", 20, 25)]
    tables = unit_tables(spans=spans, documents={"d": 30}, coders=["A", "B"])
    assert as_dict(tables, "d", "T") == {(0, 0): 5, (1, 0): 25}
    _, start, end = merge_runs(np.zeros(3), [0, 5, 20], [10, 20, 25])
    assert (start.tolist(), end.tolist()) == ([0], [25])


def test_merge_handles_keys_too_large_to_combine_with_offsets():
    key = np.array([2**40, 0, 2**40, 0])
    _, start, end = merge_runs(key, [2**30, 5, 2**30 + 3, 0], [2**30 + 5, 9, 2**30 + 9, 5])
    assert start.tolist() == [0, 2**30] and end.tolist() == [9, 2**30 + 9]


def test_sweep_does_not_need_lines_in_order():
    rng = np.random.default_rng(3)
    line = rng.integers(0, 50, 400)
    coder = rng.integers(0, 3, 400)
    start = rng.integers(0, 90, 400)
    key, start, end = merge_runs(line * 3 + coder, start, start + rng.integers(1, 10, 400))
    shuffled = rng.permutation(key.shape[0])
    length = np.full(50, 100)
    ordered = pattern_counts(
        line=key // 3, coder=key % 3, start=start, end=end, line_length=length, n_coders=3
    )
    unordered = pattern_counts(
        line=(key // 3)[shuffled],
        coder=(key % 3)[shuffled],
        start=start[shuffled],
        end=end[shuffled],
        line_length=length,
        n_coders=3,
    )
    for a, b in zip(ordered.__slots__, unordered.__slots__, strict=True):
        assert np.array_equal(getattr(ordered, a), getattr(unordered, b))


def test_sum_by_line_and_mask_gives_the_same_rows_for_any_key_space():
    rng = np.random.default_rng(4)
    line, mask, weight = rng.integers(0, 30, 200), rng.integers(0, 8, 200), rng.integers(1, 9, 200)
    small = sum_by_line_and_mask(line, mask, weight, 30, 3)
    large = sum_by_line_and_mask(line, mask, weight, 30, 40)  # 2**40 masks: sorting path
    for a, b in zip(small, large, strict=True):
        assert a.tolist() == b.tolist()
    assert small[2].sum() == weight.sum()


def test_every_document_and_theme_cell_is_reported_in_order():
    spans = [("d2", "Trust", "A", 0, 3)]
    tables = unit_tables(
        spans=spans,
        documents={"d1": 5, "d2": 4},
        coders=["A", "B"],
        themes=["Trust", "Closeness"],
    )
    cells = [(d, t, {tuple(p): int(w) for p, w in zip(ps.tolist(), ws, strict=True)})
             for d, t, ps, ws in tables.cells()]  # fmt: skip
    assert cells == [
        ("d1", "Trust", {(0, 0): 5}),
        ("d1", "Closeness", {(0, 0): 5}),
        ("d2", "Trust", {(0, 0): 1, (1, 0): 3}),
        ("d2", "Closeness", {(0, 0): 4}),
    ]


def test_themes_default_to_the_sorted_themes_with_spans():
    spans = [("d", "b", "A", 0, 1), ("d", "a", "B", 0, 1)]
    tables = unit_tables(spans=spans, documents={"d": 2}, coders=["A", "B"])
    assert tables.themes == ("a", "b")


def test_a_coder_group_codes_what_any_member_coded():
    spans = [("d", "T", "A1", 0, 4), ("d", "T", "A2", 2, 6), ("d", "T", "B", 0, 6)]
    tables = unit_tables(spans=spans, documents={"d": 10}, coders=[("A1", "A2"), "B"])
    assert as_dict(tables, "d", "T") == {(0, 0): 4, (1, 1): 6}
    assert tables.coders == (("A1", "A2"), "B")


def test_three_coders_give_patterns_over_three_columns():
    spans = [("d", "T", "A", 0, 4), ("d", "T", "B", 2, 6), ("d", "T", "C", 3, 8)]
    tables = unit_tables(spans=spans, documents={"d": 10}, coders=["A", "B", "C"])
    assert as_dict(tables, "d", "T") == {
        (0, 0, 0): 2,
        (1, 0, 0): 2,
        (1, 1, 0): 1,
        (1, 1, 1): 1,
        (0, 1, 1): 2,
        (0, 0, 1): 2,
    }


def test_parents_aggregate_child_coding_and_keep_the_child_cell():
    spans = [("d", "Closeness.Trust", "A", 0, 5), ("d", "Closeness", "B", 3, 8)]
    parents = {"Closeness.Trust": "Closeness"}
    tables = unit_tables(spans=spans, documents={"d": 10}, coders=["A", "B"], parents=parents)
    assert as_dict(tables, "d", "Closeness") == {(0, 0): 2, (1, 0): 3, (1, 1): 2, (0, 1): 3}
    assert as_dict(tables, "d", "Closeness.Trust") == {(0, 0): 5, (1, 0): 5}


def test_grandchildren_reach_every_ancestor():
    spans = [("d", "leaf", "A", 0, 5)]
    parents = {"leaf": "mid", "mid": "root"}
    tables = unit_tables(
        spans=spans, documents={"d": 5}, coders=["A", "B"], parents=parents, themes=["root"]
    )
    assert as_dict(tables, "d", "root") == {(1, 0): 5}


TEXT = "Alpha beta gamma delta"  # words at [0,5) [6,10) [11,16) [17,22)


def test_word_unit_counts_any_coded_character_by_default():
    spans = [("d", "T", "A", 2, 8), ("d", "T", "B", 6, 10)]
    tables = unit_tables(spans=spans, documents={"d": TEXT}, coders=["A", "B"], unit="word")
    assert as_dict(tables, "d", "T") == {(0, 0): 2, (1, 0): 1, (1, 1): 1}


def test_word_unit_share_threshold_is_inclusive():
    spans = [("d", "T", "A", 2, 8), ("d", "T", "B", 6, 10)]
    # A covers 3/5 of "Alpha" and 2/4 of "beta".
    half = unit_tables(
        spans=spans, documents={"d": TEXT}, coders=["A", "B"], unit="word", min_share=0.5
    )
    assert as_dict(half, "d", "T") == {(0, 0): 2, (1, 0): 1, (1, 1): 1}
    more = unit_tables(
        spans=spans, documents={"d": TEXT}, coders=["A", "B"], unit="word", min_share=0.6
    )
    assert as_dict(more, "d", "T") == {(0, 0): 2, (1, 0): 1, (0, 1): 1}


def test_share_adds_up_every_run_of_the_coder_inside_a_unit():
    text = "abcdefghij"
    spans = [("d", "T", "A", 0, 3), ("d", "T", "A", 7, 10)]
    tables = unit_tables(
        spans=spans, documents={"d": text}, coders=["A", "B"], unit="word", min_share=0.6
    )
    assert as_dict(tables, "d", "T") == {(1, 0): 1}
    tables = unit_tables(
        spans=spans, documents={"d": text}, coders=["A", "B"], unit="word", min_share=0.7
    )
    assert as_dict(tables, "d", "T") == {(0, 0): 1}


def test_whitespace_between_units_cannot_count():
    spans = [("d", "T", "A", 5, 6)]  # the space after "Alpha"
    tables = unit_tables(spans=spans, documents={"d": TEXT}, coders=["A", "B"], unit="word")
    assert as_dict(tables, "d", "T") == {(0, 0): 4}


def test_sentence_splitter_rules():
    text = 'Dr. Smith came. "Really?" she said. I saw it, e.g. there.\nNo stop here\nEnd'
    starts, ends = sentence_bounds(text)
    assert [text[s:e] for s, e in zip(starts, ends, strict=True)] == [
        "Dr. Smith came.",
        '"Really?" she said.',
        "I saw it, e.g. there.",
        "No stop here",
        "End",
    ]


def test_sentence_unit_table():
    text = "We met weekly. It helped a lot! Did it?"
    spans = [("d", "T", "A", 0, 20), ("d", "T", "B", 15, 31)]
    tables = unit_tables(spans=spans, documents={"d": text}, coders=["A", "B"], unit="sentence")
    assert as_dict(tables, "d", "T") == {(0, 0): 1, (1, 0): 1, (1, 1): 1}


def test_paragraphs_are_lines_and_blank_lines_only_separate():
    text = "First turn\r\nSecond turn\n\n  \n  Third turn  \u2029Fourth"
    starts, ends = paragraph_bounds(text)
    pieces = [text[s:e] for s, e in zip(starts, ends, strict=True)]
    assert pieces == ["First turn", "Second turn", "Third turn", "Fourth"]
    spans = [("d", "T", "A", 0, 3), ("d", "T", "B", 12, 40)]
    tables = unit_tables(spans=spans, documents={"d": text}, coders=["A", "B"], unit="paragraph")
    assert as_dict(tables, "d", "T") == {(1, 0): 1, (0, 1): 2, (0, 0): 1}


def test_words_are_runs_of_non_space_including_unicode_spaces():
    text = "caf\u00e9\u3000well-being,\ttea"
    starts, ends = word_bounds(text)
    assert [text[s:e] for s, e in zip(starts, ends, strict=True)] == [
        "caf\u00e9",
        "well-being,",
        "tea",
    ]


def test_offsets_are_code_points_not_utf16_units():
    text = "\U0001f600 ok"  # one emoji: a single code point
    spans = [("d", "T", "A", 2, 4)]
    tables = unit_tables(spans=spans, documents={"d": text}, coders=["A", "B"], unit="word")
    assert as_dict(tables, "d", "T") == {(0, 0): 1, (1, 0): 1}


def test_segment_unit_counts_agreeing_segments_of_both_coders():
    spans = [
        ("d", "T", "A", 0, 100),
        ("d", "T", "B", 5, 100),  # overlap 95/100 = 0.95: agrees
        ("d", "T", "A", 200, 300),
        ("d", "T", "B", 250, 300),  # overlap 50/100: does not agree at 90 %
        ("d", "T", "A", 400, 450),  # nothing from B
    ]
    tables = unit_tables(spans=spans, documents={"d": 500}, coders=["A", "B"], unit="segment")
    assert as_dict(tables, "d", "T") == {(1, 1): 2, (1, 0): 2, (0, 1): 1}
    seg = tables.segments
    assert (seg.first_agreeing[0], seg.first_total[0]) == (1, 3)
    assert (seg.second_agreeing[0], seg.second_total[0]) == (1, 2)
    # Percent agreement as MAXQDA reports it: agreeing segments over all segments.
    table = tables.two_by_two()[0]
    assert Fraction(int(table[1, 1]), int(table.sum())) == Fraction(2, 5)

    loose = unit_tables(
        spans=spans, documents={"d": 500}, coders=["A", "B"], unit="segment", min_overlap=0.5
    )
    assert as_dict(loose, "d", "T") == {(1, 1): 4, (1, 0): 1}


def test_segment_overlap_is_intersection_over_union_and_inclusive():
    spans = [("d", "T", "A", 0, 100), ("d", "T", "B", 0, 90)]  # 90 / 100 exactly
    tables = unit_tables(spans=spans, documents={"d": 100}, coders=["A", "B"], unit="segment")
    assert as_dict(tables, "d", "T") == {(1, 1): 2}
    spans = [("d", "T", "A", 0, 100), ("d", "T", "B", 5, 95)]  # 90 / 100 inside A
    tables = unit_tables(spans=spans, documents={"d": 100}, coders=["A", "B"], unit="segment")
    assert as_dict(tables, "d", "T") == {(1, 1): 2}
    spans = [("d", "T", "A", 0, 100), ("d", "T", "B", 10, 101)]  # 90 / 101
    tables = unit_tables(spans=spans, documents={"d": 101}, coders=["A", "B"], unit="segment")
    assert as_dict(tables, "d", "T") == {(1, 0): 1, (0, 1): 1}


def test_document_unit_is_presence_of_the_theme():
    spans = [("d1", "T", "A", 0, 1), ("d1", "T", "B", 5, 6), ("d2", "T", "A", 0, 1)]
    tables = unit_tables(
        spans=spans, documents={"d1": 10, "d2": 10, "d3": 10}, coders=["A", "B"], unit="document"
    )
    assert [as_dict(tables, d, "T") for d in ("d1", "d2", "d3")] == [
        {(1, 1): 1},
        {(1, 0): 1},
        {(0, 0): 1},
    ]
    assert tables.pooled()["T"][1].tolist() == [1, 1, 1]


def test_pooled_sums_cells_of_a_theme_over_documents():
    spans = [("d1", "T", "A", 0, 5), ("d2", "T", "B", 0, 5)]
    tables = unit_tables(spans=spans, documents={"d1": 10, "d2": 10}, coders=["A", "B"])
    patterns, weights = tables.pooled()["T"]
    assert dict(zip(map(tuple, patterns.tolist()), weights.tolist(), strict=True)) == {
        (0, 0): 10,
        (1, 0): 5,
        (0, 1): 5,
    }


def test_two_pointer_table_for_one_cell():
    table = two_coder_table([(100, 250)], [(200, 300)], 1000)
    assert table.tolist() == [[800, 50], [100, 50]]


def test_encoded_arrays_skip_the_label_lookup():
    encoded = EncodedSpans.from_arrays(
        document=[0, 0],
        theme=[0, 0],
        coder=[0, 1],
        start=[100, 200],
        end=[250, 300],
        document_lengths=[1000],
        n_themes=1,
        n_coders=2,
    )
    assert tables_from_encoded(encoded).two_by_two()[0].tolist() == [[800, 50], [100, 50]]


def test_no_spans_gives_all_uncoded_cells():
    tables = unit_tables(spans=[], documents={"d": 7}, coders=["A", "B"], themes=["T"])
    assert as_dict(tables, "d", "T") == {(0, 0): 7}
    encoded = encode_spans(spans=[], documents={"d": 7}, coders=["A", "B"])
    assert encoded.themes == ()


@pytest.mark.parametrize(
    ("spans", "kwargs", "message"),
    [
        ([("d", "T", "A", -1, 5)], {}, "negative offset"),
        ([("d", "T", "A", 5, 5)], {}, "start must be less than end"),
        ([("d", "T", "A", 6, 5)], {}, "start must be less than end"),
        ([("d", "T", "A", 0, 11)], {}, "ends after the end of its document"),
        ([("d", "T", "Z", 0, 5)], {}, "unknown coder 'Z'"),
        ([("x", "T", "A", 0, 5)], {}, "unknown document 'x'"),
        ([("d", "T", "A", 0.5, 5)], {}, "integers"),
        ([("d", "T", "A", 0)], {}, "each span needs"),
        ([], {"coders": ["A", ("A", "B")]}, "listed more than once"),
        ([], {"coders": ["A", ()]}, "empty"),
        ([], {"unit": "line"}, "unknown unit 'line'"),
        ([], {"min_share": 1.5}, "min_share"),
        ([], {"min_overlap": 0}, "min_overlap"),
        ([], {"unit": "segment", "coders": ["A", "B", "C"]}, "exactly two coders"),
        ([], {"unit": "word"}, "needs the text of document 'd'"),
        ([("d", "a", "A", 0, 1)], {"parents": {"a": "b", "b": "a"}}, "cycle"),
        ([], {"themes": ["T", "T"]}, "more than once"),
        ([], {"documents": {"d": -1}}, "non-negative length"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_problem(spans, kwargs, message):
    arguments = {"spans": spans, "documents": {"d": 10}, "coders": ["A", "B"], **kwargs}
    with pytest.raises(UnitInputError, match=message) as raised:
        unit_tables(**arguments)
    assert isinstance(raised.value, ValueError)


def test_bad_span_message_names_the_span():
    with pytest.raises(UnitInputError) as raised:
        unit_tables(
            spans=[("d", "T", "A", 0, 5), ("d", "T", "B", 3, 12), ("d", "T", "B", 3, 13)],
            documents={"d": 10},
            coders=["A", "B"],
        )
    text = str(raised.value)
    assert "document 'd', theme 'T', coder 'B'" in text
    assert "[3, 12)" in text and "2 spans affected" in text


def test_encoded_arrays_are_checked_too():
    with pytest.raises(UnitInputError, match="unknown coder"):
        EncodedSpans.from_arrays(
            document=[0],
            theme=[0],
            coder=[2],
            start=[0],
            end=[1],
            document_lengths=[5],
            n_themes=1,
            n_coders=2,
        )
    with pytest.raises(UnitInputError, match="ends after"):
        EncodedSpans.from_arrays(
            document=[0],
            theme=[0],
            coder=[0],
            start=[0],
            end=[6],
            document_lengths=[5],
            n_themes=1,
            n_coders=2,
        )


def test_unit_names_are_the_documented_ones():
    assert [u.value for u in Unit] == [
        "character",
        "coded_only",
        "word",
        "sentence",
        "paragraph",
        "segment",
        "document",
    ]
