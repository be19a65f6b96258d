"""GET /v1/studies/{id}/disagreements: what differs, quoted, and in meeting order."""

import numpy as np
import pytest

from service.agreement.disagreements import disagreement_spans
from service.agreement.schemas import DisagreementPublic
from service.http.pagination import Page

TEXT = "We walk on Thursdays. The dog gets me out. People judge me, so I stay in."


def test_spans_where_the_pattern_is_neither_nobody_nor_everybody():
    pieces = disagreement_spans(
        line=np.array([0, 0, 0, 1]),
        column=np.array([0, 1, 1, 1]),
        start=np.array([100, 200, 240, 0]),
        end=np.array([250, 245, 300, 5]),
        n_columns=2,
    )
    rows = list(zip(pieces.line, pieces.start, pieces.end, pieces.mask, strict=True))
    # B's two touching segments merge into [200, 300); the shared [200, 250) is agreement.
    assert [tuple(int(v) for v in r) for r in rows] == [
        (0, 100, 200, 1),
        (0, 250, 300, 2),
        (1, 0, 5, 2),
    ]


@pytest.fixture
def meeting(coded):
    a, b = coded.coder("A"), coded.coder("B")
    later = coded.document("x" * 200, title="Second interview", order=2)
    first = coded.document(TEXT, title="First interview", order=1)
    segments = {
        "walk_a": coded.segment(first, "4.1", a, 0, 20),
        "walk_b": coded.segment(first, "4.1", b, 0, 20),  # agreement: not listed
        "dog_a": coded.segment(first, "7.2", a, 22, 42),  # only A
        "judge_b": coded.segment(first, "6.2", b, 43, 59),  # only B
        "later_a": coded.segment(later, "1", a, 10, 50),
        "later_b": coded.segment(later, "1", b, 30, 60),
    }
    return coded, a, b, first, later, segments


def test_disagreements_are_quoted_attributed_and_in_meeting_order(client, meeting):
    coded, a, b, first, later, segments = meeting
    response = client.get(
        f"{coded.url}/disagreements", params={"coder": [a, b]}, headers=coded.viewer
    )
    assert response.status_code == 200, response.text
    page = response.json()
    Page[DisagreementPublic].model_validate(page)  # the documented shape
    assert page["next_cursor"] is None
    items = page["items"]
    summary = [(i["document_title"], i["theme_code"], i["start"], i["end"]) for i in items]
    assert summary == [
        ("First interview", "7.2", 22, 42),
        ("First interview", "6.2", 43, 59),
        ("Second interview", "1", 10, 30),
        ("Second interview", "1", 50, 60),
    ]
    assert [i["document_id"] for i in items] == [first, first, later, later]
    dog = items[0]
    assert dog["text"] == "The dog gets me out."
    assert dog["coded_by"] == [[a]] and dog["not_coded_by"] == [[b]]
    assert dog["segments"] == [{"id": segments["dog_a"], "coder_id": a, "start": 22, "end": 42}]
    judged = items[1]
    assert judged["text"] == "People judge me,"
    assert judged["coded_by"] == [[b]] and judged["theme_label"] == "Feeling judged and excluded"
    overlap = items[3]
    assert overlap["segments"][0]["id"] == segments["later_b"]


def test_disagreements_are_paginated_with_a_cursor(client, meeting):
    coded, a, b, *_ = meeting
    seen, cursor = [], None
    while True:
        params = {"coder": [a, b], "limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"{coded.url}/disagreements", params=params, headers=coded.owner).json()
        seen += [(i["document_id"], i["start"], i["theme_id"]) for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 4 and len(set(seen)) == 4
    bad = client.get(
        f"{coded.url}/disagreements",
        params={"coder": [a, b], "cursor": "nonsense"},
        headers=coded.owner,
    )
    assert bad.status_code == 400


def test_min_length_hides_boundary_jitter_and_theme_filter_applies(client, meeting):
    coded, a, b, *_ = meeting
    params = {"coder": [a, b], "min_length": 17, "theme": ["1", "6.2"]}
    items = client.get(f"{coded.url}/disagreements", params=params, headers=coded.owner).json()
    assert [(i["theme_code"], i["start"]) for i in items["items"]] == [("1", 10)]
