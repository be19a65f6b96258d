"""Coded segments: every route for every caller, offsets in code points, the theme,
coder and pass rules, ETags, filters and pagination."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, select

from service.coding.models import Coder, CodingPass, Document
from service.frameworks.models import Framework, Theme
from tests.coding.conftest import ROLES, TRANSCRIPT, WRITERS, expected_by_role

WALKING_GROUP = (69, 82)  # "walking group"
CAFE_OWNER = (280, 290)  # "café owner": after the é, code points and bytes differ


def _post(client, study, headers=None, **body):
    return client.post(f"{study.url}/segments", json=body, headers=headers or study.owner.headers)


def _body(document, coder_id=None, span=WALKING_GROUP, **extra):
    body = {"document_id": document.id, "start": span[0], "end": span[1], "theme_code": "4.1"}
    if coder_id is not None:
        body["coder_id"] = coder_id
    return body | extra


def _theme_id(app, slug_version: tuple[str, str], code: str) -> str:
    with app.state.sessionmaker() as session:
        return str(
            session.scalars(
                select(Theme.id)
                .join(Framework, Framework.id == Theme.framework_id)
                .where(
                    Framework.slug == slug_version[0],
                    Framework.version == slug_version[1],
                    Theme.code == code,
                )
            ).one()
        )


def test_coder_codes_a_passage_quoted_by_code_points(client, study, document, coders):
    start, end = CAFE_OWNER
    response = _post(
        client,
        study,
        study.coder.headers,
        **_body(document, span=CAFE_OWNER, theme_code="4.2", memo="Casual contact", exemplar=True),
    )
    assert response.status_code == 201, response.text
    segment = response.json()
    assert segment["text"] == TRANSCRIPT[start:end] == "café owner"
    assert (segment["theme_code"], segment["theme_label"]) == ("4.2", "Companionship")
    assert segment["coder_id"] == coders["coder"]  # the caller's own coder by default
    assert (segment["exemplar"], segment["negative_case"], segment["pass_id"]) == (
        True,
        False,
        None,
    )
    assert response.headers["location"] == f"{study.url}/segments/{segment['id']}"
    got = client.get(response.headers["location"], headers=study.viewer.headers)
    assert got.json() == segment
    assert got.headers["etag"] == response.headers["etag"]


@pytest.mark.parametrize("role", ROLES)
def test_every_segment_route_for_every_caller(client, study, document, coders, role):
    headers = study.headers_for(role)
    # Admins and owners code as any coder of the study; a coder as themselves.
    coder_id = coders["coder"] if role == "coder" else coders["co_researcher"]
    create = _post(client, study, headers, **_body(document, coder_id))
    assert create.status_code == expected_by_role(201, WRITERS)[role], create.text

    existing = _post(client, study, study.owner.headers, **_body(document, coders["owner"]))
    url = existing.headers["location"]
    read = 200 if role != "outsider" else 404
    assert client.get(f"{study.url}/segments", headers=headers).status_code == read
    assert client.get(url, headers=headers).status_code == read

    # The owner's segment: owners and admins may change it; a coder may not (403).
    patch = client.patch(url, json={"memo": "Regular contact"}, headers=headers)
    assert patch.status_code == expected_by_role(200, ("owner",))[role], patch.text
    delete = client.delete(url, headers=headers)
    assert delete.status_code == expected_by_role(204, ("owner",))[role]
    if delete.status_code == 204:
        assert client.get(url, headers=headers).status_code == 404


def test_coder_changes_and_deletes_own_segments(client, study, document, coders):
    created = _post(client, study, study.coder.headers, **_body(document))
    url = created.headers["location"]
    changed = client.patch(
        url, json={"theme_code": "1.1", "negative_case": True}, headers=study.coder.headers
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["theme_code"], changed.json()["negative_case"]) == ("1.1", True)
    assert changed.json()["updated_at"] > created.json()["updated_at"]
    assert client.delete(url, headers=study.coder.headers).status_code == 204


def test_owner_codes_as_any_coder_but_a_coder_only_as_themselves(client, study, document, coders):
    for coder_id in coders.values():
        assert _post(client, study, **_body(document, coder_id)).status_code == 201
    for other in ("owner", "co_researcher"):
        refused = _post(client, study, study.coder.headers, **_body(document, coders[other]))
        assert refused.status_code == 403, refused.text
    # The owner has a coder of their own, used when coder_id is left out.
    assert _post(client, study, **_body(document)).json()["coder_id"] == coders["owner"]


def test_coder_outside_the_study_is_422(client, study, make_study, document, coders, app):
    other = make_study()
    with app.state.sessionmaker() as session:
        elsewhere = Coder(study_id=uuid.UUID(other.id), name="Elsewhere")
        session.add(elsewhere)
        session.commit()
        elsewhere_id = str(elsewhere.id)
    for coder_id in (elsewhere_id, str(uuid.uuid4())):
        response = _post(client, study, **_body(document, coder_id))
        assert response.status_code == 422
        assert response.json()["errors"][0]["type"] == "coder_not_in_study"
    # An admin has no coder in the study, so must name one.
    missing = _post(client, study, study.admin.headers, **_body(document))
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["loc"] == ["body", "coder_id"]


@pytest.mark.parametrize(
    ("change", "loc", "kind"),
    [
        ({"end": len(TRANSCRIPT) + 1}, "end", "offset_out_of_range"),
        ({"start": len(TRANSCRIPT), "end": len(TRANSCRIPT) + 5}, "end", "offset_out_of_range"),
        ({"start": 82, "end": 82}, "end", "empty_span"),
        ({"start": 90, "end": 82}, "end", "empty_span"),
        ({"start": -1}, "start", "greater_than_equal"),
        ({"theme_code": "9.9"}, "theme_code", "theme_not_in_framework"),
        ({"theme_code": None}, "theme_id", "theme_required"),
        ({"theme_code": None, "theme_id": str(uuid.uuid4())}, "theme_id", "theme_not_in_framework"),
        ({"pass_id": str(uuid.uuid4())}, "pass_id", "pass_not_in_study"),
        ({"document_id": str(uuid.uuid4())}, "document_id", "document_not_in_study"),
        ({"memo": "a\x00b"}, "memo", "string_nul"),
        ({"colour": "red"}, "colour", "extra_forbidden"),
        ({"start": "early"}, "start", "int_parsing"),
    ],
)
def test_invalid_segments_are_422(client, study, document, coders, change, loc, kind):
    response = _post(client, study, study.coder.headers, **(_body(document) | change))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["loc"][-1] for error in response.json()["errors"]] == [loc]
    assert response.json()["errors"][0]["type"] == kind


def test_theme_from_another_framework_version_is_422(client, study, document, coders, app):
    v1_closeness = _theme_id(app, ("civic", "1"), "1")
    both = _post(client, study, **_body(document, theme_code=None, theme_id=v1_closeness))
    assert both.status_code == 422
    assert both.json()["errors"][0]["type"] == "theme_not_in_framework"
    v2_closeness = _theme_id(app, ("civic", "2"), "1")
    ok = _post(client, study, **_body(document, theme_code=None, theme_id=v2_closeness))
    assert ok.status_code == 201
    twice = _post(client, study, **_body(document, theme_id=v2_closeness))
    assert twice.json()["errors"][0]["type"] == "theme_required"


def test_document_of_another_study_is_422(client, study, make_study, document, coders, app):
    other = make_study()
    with app.state.sessionmaker() as session:
        foreign = Document(
            study_id=uuid.UUID(other.id), title="t", text="abc", length=3, content_hash="x"
        )
        session.add(foreign)
        session.commit()
        foreign_id = str(foreign.id)
    response = _post(client, study, **_body(document, document_id=foreign_id, start=0, end=2))
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "document_not_in_study"


def test_a_pass_codes_against_its_own_framework_version_and_coder(
    client, study, document, coders, app
):
    """A deductive pass against version 1 takes version 1's themes; a one-coder pass
    takes only that coder's segments."""
    with app.state.sessionmaker() as session:
        v1 = session.scalars(
            select(Framework).where(Framework.slug == "civic", Framework.version == "1")
        ).one()
        deductive = CodingPass(
            study_id=uuid.UUID(study.id),
            name="Deductive (v1 codebook)",
            kind="deductive",
            coder_id=uuid.UUID(coders["coder"]),
            framework_id=v1.id,
        )
        session.add(deductive)
        session.commit()
        pass_id = str(deductive.id)
    v1_group = _body(document, pass_id=pass_id)  # 4.1 is "Group/network involvement" in v1
    created = _post(client, study, study.coder.headers, **v1_group)
    assert created.status_code == 201, created.text
    assert created.json()["theme_label"] == "Group/network involvement"
    v2_only = _post(client, study, study.coder.headers, **(v1_group | {"theme_code": "6.2"}))
    assert v2_only.json()["errors"][0]["type"] == "theme_not_in_framework"
    others = _post(client, study, **(v1_group | {"coder_id": coders["owner"]}))
    assert others.status_code == 422
    assert others.json()["errors"][0]["type"] == "pass_of_other_coder"
    listed = client.get(
        f"{study.url}/segments", params={"pass_id": pass_id}, headers=study.viewer.headers
    )
    assert [s["id"] for s in listed.json()["items"]] == [created.json()["id"]]


def test_stale_if_match_is_412_and_if_none_match_304(client, study, document, coders):
    created = _post(client, study, study.coder.headers, **_body(document))
    url, etag = created.headers["location"], created.headers["etag"]
    assert (
        client.get(url, headers={**study.coder.headers, "If-None-Match": etag}).status_code == 304
    )
    first = client.patch(
        url, json={"memo": "first"}, headers={**study.coder.headers, "If-Match": etag}
    )
    assert first.status_code == 200
    assert first.headers["etag"] != etag
    stale = client.patch(
        url, json={"memo": "second"}, headers={**study.coder.headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert client.get(url, headers=study.coder.headers).json()["memo"] == "first"
    gone = client.delete(url, headers={**study.coder.headers, "If-Match": etag})
    assert gone.status_code == 412
    current = first.headers["etag"]
    assert (
        client.delete(url, headers={**study.coder.headers, "If-Match": current}).status_code == 204
    )


@pytest.mark.parametrize(
    "change",
    [
        {"end": len(TRANSCRIPT) + 1},
        {"start": 100},  # beyond the current end (82)
        {"theme_code": "9"},
        {"memo": None},
        {"document_id": str(uuid.uuid4())},
    ],
)
def test_invalid_changes_are_422_and_change_nothing(client, study, document, coders, change):
    created = _post(client, study, study.coder.headers, **_body(document))
    url = created.headers["location"]
    response = client.patch(url, json=change, headers=study.coder.headers)
    assert response.status_code == 422, response.text
    assert client.get(url, headers=study.coder.headers).json() == created.json()


def test_patch_moves_the_span_and_leaves_the_pass(client, study, document, coders, app):
    with app.state.sessionmaker() as session:
        coding_pass = CodingPass(
            study_id=uuid.UUID(study.id),
            name="Inductive",
            kind="inductive",
            coder_id=uuid.UUID(coders["coder"]),
            framework_id=uuid.UUID(study.framework_id),
        )
        session.add(coding_pass)
        session.commit()
        pass_id = str(coding_pass.id)
    created = _post(client, study, study.coder.headers, **_body(document, pass_id=pass_id))
    moved = client.patch(
        created.headers["location"],
        json={"start": CAFE_OWNER[0], "end": CAFE_OWNER[1], "pass_id": None},
        headers=study.coder.headers,
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["text"], moved.json()["pass_id"]) == ("café owner", None)
    assert moved.json()["theme_code"] == "4.1"


def test_list_filters_and_pages_in_document_order(client, study, document, coders, app):
    spans = [(200, 210), (0, 11), (69, 82), (245, 270), (125, 153)]
    made = {}
    for index, (start, end) in enumerate(spans):
        body = _body(
            document,
            coders["co_researcher"] if index % 2 else coders["owner"],
            span=(start, end),
            theme_code="6.2" if index == 0 else "4.1",
            negative_case=index == 1,
            exemplar=index == 3,
        )
        response = _post(client, study, **body)
        assert response.status_code == 201, response.text
        made[start] = response.json()["id"]

    def listed(**params):
        pages, cursor = [], None
        while True:
            query = params | {"limit": 2} | ({"cursor": cursor} if cursor else {})
            response = client.get(
                f"{study.url}/segments", params=query, headers=study.viewer.headers
            )
            assert response.status_code == 200, response.text
            pages.append(response.json()["items"])
            cursor = response.json()["next_cursor"]
            if cursor is None:
                return [item["start"] for page in pages for item in page]

    assert listed() == sorted(start for start, _ in spans)
    assert listed(document_id=document.id) == [0, 69, 125, 200, 245]
    assert listed(document_id=str(uuid.uuid4())) == []
    assert listed(theme_code="6.2") == [200]
    assert listed(theme_id=_theme_id(app, ("civic", "2"), "6.2")) == [200]
    assert listed(coder_id=coders["co_researcher"]) == [0, 245]
    assert listed(negative_case=True) == [0]
    assert listed(exemplar=True) == [245]
    assert listed(negative_case=False, exemplar=False) == [69, 125, 200]
    bad = client.get(
        f"{study.url}/segments", params={"cursor": "nonsense"}, headers=study.viewer.headers
    )
    assert bad.status_code == 400
    nul = client.get(
        f"{study.url}/segments", params={"theme_code": "1\x00"}, headers=study.viewer.headers
    )
    assert nul.status_code == 422


def test_list_issues_a_bounded_number_of_queries(client, study, document, coders, app):
    def statements_for_listing() -> int:
        count = 0

        def counter(*_args):
            nonlocal count
            count += 1

        event.listen(app.state.engine, "before_cursor_execute", counter)
        try:
            response = client.get(
                f"{study.url}/segments", params={"limit": 100}, headers=study.coder.headers
            )
            assert response.status_code == 200
        finally:
            event.remove(app.state.engine, "before_cursor_execute", counter)
        return count

    _post(client, study, **_body(document, coders["owner"]))
    statements_for_listing()  # the first use of a key also records when it was used
    few = statements_for_listing()
    for start in range(0, 250, 10):
        _post(client, study, **_body(document, coders["owner"], span=(start, start + 5)))
    assert statements_for_listing() == few
