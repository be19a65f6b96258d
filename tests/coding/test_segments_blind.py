"""Blind double coding: until an owner reveals it, each coder sees only their own
segments, viewers see none, and owners (and admins) see everything."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from service.auth import service as auth_service
from service.auth.models import Role
from service.coding import segments as segments_service
from service.coding.access import StudyAccess, StudyRole
from service.coding.models import Coder, CodingPass, Segment, Study, StudyMember
from tests.coding.conftest import Member


@pytest.fixture
def second_coder(app, study) -> tuple[Member, str]:
    """Another coding member with a coder of their own (the co-researcher who double
    codes); returns the member and their coder id."""
    with app.state.sessionmaker() as session:
        name = f"second-coder-{uuid.uuid4().hex[:6]}"
        api_key, key = auth_service.create_key(session=session, name=name, role=Role.researcher)
        principal_id = api_key.principal_id
        session.add(
            StudyMember(study_id=uuid.UUID(study.id), principal_id=principal_id, role="coder")
        )
        coder = Coder(study_id=uuid.UUID(study.id), name=name, principal_id=principal_id)
        session.add(coder)
        session.commit()
        member = Member(id=str(principal_id), name=name, headers={"Authorization": f"Bearer {key}"})
        return member, str(coder.id)


def _code(client, study, document, headers, span, **extra):
    body = {"document_id": document.id, "start": span[0], "end": span[1], "theme_code": "1"}
    response = client.post(f"{study.url}/segments", json=body | extra, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _visible(client, study, headers) -> set[str]:
    response = client.get(f"{study.url}/segments", headers=headers)
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


@pytest.fixture
def study(make_study, request):
    """The shared fixture's study, made blind by ``@BLIND`` (the document and coders
    fixtures then belong to it)."""
    return make_study(blind=getattr(request, "param", False))


BLIND = pytest.mark.parametrize("study", [True], indirect=True, ids=["blind"])


@BLIND
def test_blind_study_each_coder_sees_only_their_own_until_revealed(
    client, study, document, coders, second_coder
):
    second, second_coder_id = second_coder
    first_id = _code(client, study, document, study.coder.headers, (0, 20))
    second_id = _code(client, study, document, second.headers, (5, 30))
    owner_id = _code(
        client, study, document, study.owner.headers, (40, 60), coder_id=coders["co_researcher"]
    )
    everything = {first_id, second_id, owner_id}

    assert _visible(client, study, study.coder.headers) == {first_id}
    assert _visible(client, study, second.headers) == {second_id}
    assert _visible(client, study, study.viewer.headers) == set()
    assert _visible(client, study, study.owner.headers) == everything
    assert _visible(client, study, study.admin.headers) == everything
    hidden = client.get(f"{study.url}/segments/{second_id}", headers=study.coder.headers)
    assert hidden.status_code == 404
    assert (
        client.patch(
            f"{study.url}/segments/{second_id}", json={"memo": "x"}, headers=study.coder.headers
        ).status_code
        == 404
    )
    assert (
        client.get(f"{study.url}/segments/{first_id}", headers=study.viewer.headers).status_code
        == 404
    )
    # Filtering by the other coder finds nothing rather than leaking their work.
    other = client.get(
        f"{study.url}/segments",
        params={"coder_id": second_coder_id},
        headers=study.coder.headers,
    )
    assert other.json()["items"] == []

    revealed = client.post(f"{study.url}/reveal", headers=study.owner.headers)
    assert revealed.status_code == 200, revealed.text
    for headers in (study.coder.headers, second.headers, study.viewer.headers):
        assert _visible(client, study, headers) == everything
    seen = client.get(f"{study.url}/segments/{second_id}", headers=study.coder.headers)
    assert seen.status_code == 200
    # Seeing is not editing: a coder still changes only their own segments.
    assert (
        client.patch(
            f"{study.url}/segments/{second_id}", json={"memo": "x"}, headers=study.coder.headers
        ).status_code
        == 403
    )


def test_blind_pass_hides_only_its_own_segments_until_revealed(
    client, app, study, document, coders, second_coder
):
    second, second_coder_id = second_coder
    with app.state.sessionmaker() as session:
        passes = {
            name: CodingPass(
                study_id=uuid.UUID(study.id),
                name=name,
                kind="inductive",
                coder_id=uuid.UUID(coder_id),
                framework_id=uuid.UUID(study.framework_id),
                blind=True,
            )
            for name, coder_id in (("first", coders["coder"]), ("second", second_coder_id))
        }
        session.add_all(passes.values())
        session.commit()
        pass_ids = {name: str(p.id) for name, p in passes.items()}
    first_blind = _code(
        client, study, document, study.coder.headers, (0, 10), pass_id=pass_ids["first"]
    )
    second_blind = _code(
        client, study, document, second.headers, (0, 10), pass_id=pass_ids["second"]
    )
    second_open = _code(client, study, document, second.headers, (20, 30))  # in no pass

    assert _visible(client, study, study.coder.headers) == {first_blind, second_open}
    assert _visible(client, study, second.headers) == {second_blind, second_open}
    assert _visible(client, study, study.viewer.headers) == {second_open}
    everything = {first_blind, second_blind, second_open}
    assert _visible(client, study, study.owner.headers) == everything

    reveal = client.post(
        f"{study.url}/passes/{pass_ids['second']}/reveal", headers=study.owner.headers
    )
    assert reveal.status_code == 200, reveal.text
    assert _visible(client, study, study.coder.headers) == everything
    assert _visible(client, study, study.viewer.headers) == {second_blind, second_open}
    assert _visible(client, study, second.headers) == {second_blind, second_open}


@BLIND
def test_visibility_clause_is_reusable_outside_the_routes(client, app, study, document, coders):
    """Analyses select segments with the same clause the routes use."""
    mine = _code(client, study, document, study.coder.headers, (0, 20))
    _code(client, study, document, study.owner.headers, (0, 20), coder_id=coders["owner"])
    with app.state.sessionmaker() as session:
        row = session.get(Study, uuid.UUID(study.id))
        principal = auth_service.authenticate(
            session=session, key=study.coder.headers["Authorization"].removeprefix("Bearer ")
        )
        access = StudyAccess(
            study=row,
            principal=principal,
            role=StudyRole.coder,
            coder_ids=frozenset({uuid.UUID(coders["coder"])}),
        )
        ids = session.scalars(
            select(Segment.id).where(segments_service.visible_segments_clause(access))
        ).all()
    assert [str(i) for i in ids] == [mine]
