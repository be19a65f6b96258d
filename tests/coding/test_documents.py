"""Documents: normalisation on entry, code-point offsets, the text freeze, roles."""

from __future__ import annotations

import hashlib
import unicodedata
import uuid

from sqlalchemy import event, func, select

from service.coding.models import Segment
from tests.coding.conftest import READERS, ROLES, WRITERS, expected_by_role

# "Café" written with a combining acute accent (5 code points before NFC, 4 after),
# Windows and old-Mac line endings, and a character outside the BMP (one code point,
# two UTF-16 units, four UTF-8 bytes).
RAW = (
    "Interviewer: Where do you go?\r\nP02: The Cafe\u0301 on the corner.\rP02: It feels safe 😊\r\n"
)
NORMALISED = "Interviewer: Where do you go?\nP02: The Café on the corner.\nP02: It feels safe 😊\n"


def _create(client, study, headers=None, **body):
    body = {"title": "Interview 2", "text": "P02: A short answer.\n"} | body
    return client.post(f"{study.url}/documents", json=body, headers=headers or study.coder.headers)


def test_text_is_normalised_to_nfc_with_newline_endings(client, study, participant):
    assert unicodedata.normalize("NFC", RAW) != RAW and "\r" in RAW
    response = _create(
        client,
        study,
        text=RAW,
        participant_id=participant.id,
        interview_date="2019-03-14",
        interview_order=2,
    )
    assert response.status_code == 201, response.text
    document = response.json()
    assert document["text"] == NORMALISED
    assert document["length"] == len(NORMALISED) == 80  # 81 UTF-16 units, 84 bytes
    assert document["content_hash"] == hashlib.sha256(NORMALISED.encode()).hexdigest()
    assert document["text_frozen"] is False
    assert (
        document["participant_id"],
        document["interview_date"],
        document["interview_order"],
    ) == (
        participant.id,
        "2019-03-14",
        2,
    )
    assert response.headers["location"] == f"/v1/studies/{study.id}/documents/{document['id']}"


def test_spans_count_code_points_of_the_normalised_text(client, study):
    document = _create(client, study, text=RAW).json()
    url = f"{study.url}/documents/{document['id']}/text"
    cafe = NORMALISED.index("Café")
    span = client.get(url, params={"start": cafe, "end": cafe + 4}, headers=study.viewer.headers)
    assert span.status_code == 200
    assert span.json() == {
        "document_id": document["id"],
        "start": cafe,
        "end": cafe + 4,
        "text": "Café",
        "content_hash": document["content_hash"],
    }
    smile = NORMALISED.index("😊")
    one = client.get(url, params={"start": smile, "end": smile + 1}, headers=study.viewer.headers)
    assert one.json()["text"] == "😊"
    tail = client.get(url, params={"start": smile}, headers=study.viewer.headers).json()
    assert (tail["text"], tail["end"]) == ("😊\n", document["length"])
    whole = client.get(url, headers=study.viewer.headers)
    assert whole.json()["text"] == NORMALISED
    revalidated = client.get(
        url, headers={**study.viewer.headers, "If-None-Match": whole.headers["etag"]}
    )
    assert revalidated.status_code == 304
    assert whole.headers["etag"] != span.headers["etag"]


def test_spans_outside_the_text_are_422(client, study, document):
    url = f"{document.url}/text"
    for params in (
        {"start": 0, "end": document.length + 1},
        {"start": 10, "end": 5},
        {"start": document.length + 1},
        {"start": -1},
    ):
        response = client.get(url, params=params, headers=study.viewer.headers)
        assert response.status_code == 422, params


def test_document_bodies_are_checked(client, study, make_study):
    other = make_study()
    other_participant = client.post(
        f"{other.url}/participants",
        json={"label": "P99", "group": "staff"},
        headers=other.owner.headers,
    ).json()
    for body in (
        {"text": ""},
        {"text": "nul \u0000 inside"},
        {"title": ""},
        {"participant_id": str(uuid.uuid4())},
        {"participant_id": other_participant["id"]},
        {"interview_order": 0},
        # Past a 32-bit INTEGER (PostgreSQL) or a 64-bit one (SQLite): was a 500.
        {"interview_order": 2**31},
        {"interview_order": 10**30},
        {"speaker": "P02"},
    ):
        response = _create(client, study, **body)
        assert response.status_code == 422, body
    assert (
        "participant" in _create(client, study, participant_id=str(uuid.uuid4())).json()["detail"]
    )


def test_who_may_add_and_read_documents(client, study):
    created = None
    for role, status in expected_by_role(201, WRITERS).items():
        response = _create(client, study, study.headers_for(role), title=f"By {role}")
        assert response.status_code == status, role
        created = created or response.json()
    url = f"{study.url}/documents/{created['id']}"
    for role, status in expected_by_role(200, READERS).items():
        headers = study.headers_for(role)
        assert client.get(url, headers=headers).status_code == status, role
        assert client.get(f"{url}/text", headers=headers).status_code == status, role
        assert client.get(f"{study.url}/documents", headers=headers).status_code == status, role


def test_list_leaves_text_out_unless_asked_and_filters_by_participant(
    client, study, participant, document
):
    _create(client, study, title="Unlinked")
    listed = client.get(f"{study.url}/documents", headers=study.viewer.headers).json()["items"]
    assert [(d["title"], d["text"]) for d in listed] == [("Interview 1", None), ("Unlinked", None)]
    with_text = client.get(
        f"{study.url}/documents",
        params={"include_text": True, "participant_id": participant.id},
        headers=study.viewer.headers,
    ).json()["items"]
    assert [(d["id"], d["text"]) for d in with_text] == [(document.id, document.text)]


def test_list_marks_frozen_documents_in_a_bounded_number_of_queries(
    app, client, study, document, coders, make_segment
):
    make_segment(study, document, coders["coder"])

    def listed() -> tuple[list[dict], int]:
        statements: list[str] = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        client.get(f"{study.url}/documents", headers=study.viewer.headers)  # key now in use
        event.listen(app.state.engine, "before_cursor_execute", count)
        try:
            response = client.get(f"{study.url}/documents", headers=study.viewer.headers)
        finally:
            event.remove(app.state.engine, "before_cursor_execute", count)
        return response.json()["items"], len(statements)

    _, with_one = listed()
    for n in range(6):
        _create(client, study, title=f"Extra {n}")
    items, with_seven = listed()
    assert len(items) == 7
    assert [d["id"] for d in items if d["text_frozen"]] == [document.id]
    assert with_seven == with_one <= 6  # key, study, membership, coders, page, frozen


def test_document_etag_and_stale_if_match(client, study, document):
    etag = client.get(document.url, headers=study.coder.headers).headers["etag"]
    assert (
        client.get(document.url, headers={**study.coder.headers, "If-None-Match": etag}).status_code
        == 304
    )
    client.patch(document.url, json={"title": "Renamed"}, headers=study.coder.headers)
    stale = client.patch(
        document.url, json={"title": "Again"}, headers={**study.coder.headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert (
        client.delete(document.url, headers={**study.coder.headers, "If-Match": etag}).status_code
        == 412
    )


def test_text_edits_renormalise_until_a_segment_freezes_the_text(
    client, study, document, coders, make_segment
):
    edited = client.patch(
        document.url, json={"text": "P01: Cafe\u0301\r\n"}, headers=study.coder.headers
    )
    assert edited.status_code == 200
    assert (edited.json()["text"], edited.json()["length"]) == ("P01: Café\n", 10)
    assert edited.json()["content_hash"] == hashlib.sha256("P01: Café\n".encode()).hexdigest()

    make_segment(study, document, coders["coder"], start=0, end=4)
    assert client.get(document.url, headers=study.coder.headers).json()["text_frozen"] is True
    frozen = client.patch(
        document.url, json={"text": "Something else\n"}, headers=study.coder.headers
    )
    assert frozen.status_code == 409 and "frozen" in frozen.json()["detail"]
    unchanged = client.patch(  # the same text, as another client would send it
        document.url,
        json={"text": "P01: Cafe\u0301\n", "title": "Renamed"},
        headers=study.coder.headers,
    )
    assert unchanged.status_code == 200 and unchanged.json()["title"] == "Renamed"
    details = client.patch(
        document.url,
        json={"interview_date": "2019-04-01", "interview_order": 3, "participant_id": None},
        headers=study.coder.headers,
    )
    assert details.status_code == 200 and details.json()["participant_id"] is None


def test_document_patches_are_checked(client, study, document):
    for order in (2**31, 2**63):  # beyond the INTEGER column: was a 500
        response = client.patch(
            document.url, json={"interview_order": order}, headers=study.coder.headers
        )
        assert response.status_code == 422, order
        assert response.json()["errors"][0]["loc"] == ["body", "interview_order"]
    for body in ({"title": None}, {"text": None}, {"participant_id": str(uuid.uuid4())}, {"x": 1}):
        response = client.patch(document.url, json=body, headers=study.coder.headers)
        assert response.status_code == 422, body


def test_who_may_change_documents(client, study, document):
    for role, status in expected_by_role(200, WRITERS).items():
        response = client.patch(document.url, json={"title": role}, headers=study.headers_for(role))
        assert response.status_code == status, role


def test_who_may_delete_documents(client, study):
    for role in ROLES:
        created = _create(client, study, title=role).json()
        url = f"{study.url}/documents/{created['id']}"
        status = expected_by_role(204, WRITERS)[role]
        assert client.delete(url, headers=study.headers_for(role)).status_code == status, role
        if status == 204:
            assert client.get(url, headers=study.owner.headers).status_code == 404


def test_document_with_segments_needs_cascade(app, client, study, document, coders, make_segment):
    make_segment(study, document, coders["coder"])
    refused = client.delete(document.url, headers=study.coder.headers)
    assert refused.status_code == 409 and "cascade=true" in refused.json()["detail"]
    deleted = client.delete(document.url, params={"cascade": True}, headers=study.coder.headers)
    assert deleted.status_code == 204
    assert client.get(document.url, headers=study.coder.headers).status_code == 404
    with app.state.sessionmaker() as session:
        remaining = select(func.count()).where(Segment.document_id == uuid.UUID(document.id))
        assert session.scalar(remaining) == 0


def test_unknown_documents_and_those_of_other_studies_are_404(client, make_study, document):
    other = make_study()
    for url in (f"{other.url}/documents/{document.id}", f"{other.url}/documents/{uuid.uuid4()}"):
        headers = other.owner.headers
        assert client.get(url, headers=headers).status_code == 404
        assert client.get(f"{url}/text", headers=headers).status_code == 404
        assert client.patch(url, json={"title": "x"}, headers=headers).status_code == 404
        assert client.delete(url, headers=headers).status_code == 404
