"""Bulk import of segments: JSON array and NDJSON, all or nothing, every bad row
reported, and the limits."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select

from service.audit.models import AuditEvent
from service.coding import bulk_import
from service.coding.models import Segment
from tests.coding.conftest import TRANSCRIPT

NDJSON = {"Content-Type": "application/x-ndjson"}
JSON = {"Content-Type": "application/json"}


def _rows(document, coder_id, count, **extra):
    """``count`` valid rows spread over the transcript and over a few themes."""
    length = len(TRANSCRIPT)
    codes = ["1", "1.1", "4.1", "6.2", "7.2"]
    return [
        {
            "document_id": document.id,
            "start": index % (length - 20),
            "end": index % (length - 20) + 1 + index % 20,
            "theme_code": codes[index % len(codes)],
            "coder_id": coder_id,
            "negative_case": index % 11 == 0,
        }
        | extra
        for index in range(count)
    ]


def _ndjson(rows) -> bytes:
    return b"\n".join(json.dumps(row).encode() for row in rows) + b"\n"


def _import(client, study, body: bytes, headers=None, content_type=JSON):
    return client.post(
        f"{study.url}/segments:bulk",
        content=body,
        headers={**(headers or study.owner.headers), **content_type},
    )


def _stored(app, study) -> int:
    with app.state.sessionmaker() as session:
        return session.scalar(select(func.count()).where(Segment.study_id == uuid.UUID(study.id)))


@pytest.mark.parametrize("content_type", [JSON, NDJSON], ids=["json", "ndjson"])
def test_import_stores_every_row_and_returns_ids_in_order(
    client, app, study, document, coders, content_type
):
    rows = _rows(document, coders["coder"], 50, memo="tab\there, a newline\nand a \\ too")
    body = json.dumps(rows).encode() if content_type is JSON else _ndjson(rows)
    response = _import(client, study, body, study.coder.headers, content_type)
    assert response.status_code == 201, response.text
    result = response.json()
    assert (result["created"], result["documents"], len(result["ids"])) == (50, 1, 50)
    assert {uuid.UUID(i).version for i in result["ids"]} == {4}
    assert len(set(result["ids"])) == 50
    assert _stored(app, study) == 50
    for index in (0, 17, 49):
        stored = client.get(
            f"{study.url}/segments/{result['ids'][index]}", headers=study.coder.headers
        )
        assert stored.status_code == 200
        row = rows[index]
        expected = {
            "start": row["start"],
            "end": row["end"],
            "text": TRANSCRIPT[row["start"] : row["end"]],
            "theme_code": row["theme_code"],
            "coder_id": row["coder_id"],
            "memo": row["memo"],
            "negative_case": row["negative_case"],
            "exemplar": False,
            "pass_id": None,
        }
        assert {key: stored.json()[key] for key in expected} == expected


def test_one_bad_row_in_ten_thousand_stores_nothing(client, app, study, document, coders):
    rows = _rows(document, coders["owner"], 10_000)
    rows[6789]["end"] = len(TRANSCRIPT) + 1
    response = _import(client, study, json.dumps(rows).encode())
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"] == [
        {
            "loc": ["body", 6789, "end"],
            "msg": f"end ({len(TRANSCRIPT) + 1}) is beyond the end of the document "
            f"({len(TRANSCRIPT)} code points)",
            "type": "offset_out_of_range",
        }
    ]
    assert (problem["invalid_rows"], problem["unlisted_rows"]) == (1, 0)
    assert "nothing was stored" in problem["detail"]
    assert _stored(app, study) == 0


def test_every_bad_row_is_reported_with_its_index(client, app, study, document, coders):
    rows = _rows(document, coders["coder"], 12)
    rows[1]["start"] = rows[1]["end"]
    rows[3]["theme_code"] = "9.9"
    rows[4]["coder_id"] = coders["owner"]  # a coder may not code as someone else
    rows[5]["colour"] = "red"
    rows[6]["start"] = "early"
    rows[7]["document_id"] = "not-a-uuid"
    rows[8]["coder_id"] = str(uuid.uuid4())
    rows[9]["pass_id"] = str(uuid.uuid4())
    del rows[10]["theme_code"]
    rows[11]["document_id"] = rows[11]["document_id"].upper()  # still the same UUID
    response = _import(client, study, _ndjson(rows), study.coder.headers, NDJSON)
    assert response.status_code == 422, response.text
    found = [
        (error["loc"][1], error["loc"][2], error["type"]) for error in response.json()["errors"]
    ]
    assert found == [
        (1, "end", "empty_span"),
        (3, "theme_code", "theme_not_in_framework"),
        (4, "coder_id", "coder_not_allowed"),
        (5, "colour", "extra_forbidden"),
        (6, "start", "int_parsing"),
        (7, "document_id", "uuid_parsing"),
        (8, "coder_id", "coder_not_in_study"),
        (9, "pass_id", "pass_not_in_study"),
        (10, "theme_id", "theme_required"),
    ]
    assert response.json()["invalid_rows"] == 9
    assert _stored(app, study) == 0


def test_more_than_a_thousand_bad_rows_are_counted_not_all_listed(
    client, app, study, document, coders
):
    rows = _rows(document, coders["owner"], 3_000, theme_code="none")
    response = _import(client, study, json.dumps(rows).encode())
    assert response.status_code == 422
    problem = response.json()
    assert (problem["invalid_rows"], problem["unlisted_rows"]) == (3_000, 2_000)
    assert len(problem["errors"]) == 1_000
    assert problem["errors"][-1]["loc"][1] == 999
    assert "2,000 more" in problem["detail"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'[{"document_id": ', JSON),
        (b'{"document_id": "x"}', JSON),
        (b"[]", JSON),
        (b"\n\n", NDJSON),
    ],
    ids=["malformed", "not-an-array", "empty-array", "empty-ndjson"],
)
def test_unreadable_bodies_are_422(client, study, body, content_type):
    response = _import(client, study, body, content_type=content_type)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body"]


def test_a_malformed_ndjson_line_is_reported_by_its_row(client, study, document, coders):
    lines = _ndjson(_rows(document, coders["owner"], 3)).split(b"\n")
    lines[1] = b'{"document_id": '
    response = _import(client, study, b"\n".join(lines), content_type=NDJSON)
    assert response.status_code == 422
    assert [error["loc"][:2] for error in response.json()["errors"]] == [["body", 1]]


@pytest.mark.parametrize("content_type", [JSON, NDJSON], ids=["json", "ndjson"])
def test_more_than_the_row_limit_is_413(client, study, content_type):
    rows = [b"{}"] * (bulk_import.MAX_ROWS + 1)
    body = b"[" + b",".join(rows) + b"]" if content_type is JSON else b"\n".join(rows)
    response = _import(client, study, body, content_type=content_type)
    assert response.status_code == 413
    assert response.json()["detail"].startswith("100,001 segments sent; at most 100,000")


def test_who_may_import(client, study, document, coders):
    body = json.dumps(_rows(document, coders["co_researcher"], 2)).encode()
    assert _import(client, study, body, study.viewer.headers).status_code == 403
    assert _import(client, study, body, study.outsider.headers).status_code == 404
    assert _import(client, study, body, study.admin.headers).status_code == 201
    other = _import(client, study, body, content_type={"Content-Type": "text/csv"})
    assert other.status_code == 415


def test_the_import_is_audited_without_its_content(client, app, study, document, coders):
    body = json.dumps(_rows(document, coders["owner"], 5, memo="private words")).encode()
    assert _import(client, study, body).status_code == 201
    with app.state.sessionmaker() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "segments.bulk_imported")
        ).one()
    assert (event.resource_id, event.details) == (study.id, {"created": 5, "documents": 1})


def test_large_imports_return_counts_without_ids(client, app, study, document, coders):
    rows = _rows(document, coders["owner"], bulk_import.IDS_LISTED_UP_TO + 1)
    response = _import(client, study, _ndjson(rows), content_type=NDJSON)
    assert response.status_code == 201, response.text
    assert (response.json()["created"], response.json()["ids"]) == (len(rows), None)


@pytest.mark.postgres_only
def test_hundred_thousand_rows_on_postgresql(client, app, study, document, coders):
    if app.state.engine.dialect.name != "postgresql":
        pytest.skip("the full-size import is checked on PostgreSQL (COPY)")
    rows = _rows(document, coders["owner"], bulk_import.MAX_ROWS)
    response = _import(client, study, json.dumps(rows).encode())
    assert response.status_code == 201, response.text
    assert response.json()["created"] == bulk_import.MAX_ROWS
    assert _stored(app, study) == bulk_import.MAX_ROWS
    listed = client.get(
        f"{study.url}/segments",
        params={"limit": 3, "theme_code": "7.2"},
        headers=study.viewer.headers,
    )
    assert [item["theme_code"] for item in listed.json()["items"]] == ["7.2"] * 3
