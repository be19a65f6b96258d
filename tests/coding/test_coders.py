"""Coders (members or named coders without a key) and coding passes."""

from __future__ import annotations

import uuid

from service.frameworks.models import Framework
from tests.coding.conftest import OWNERS, READERS, ROLES, WRITERS, expected_by_role


def _coder(client, study, headers=None, **body):
    return client.post(f"{study.url}/coders", json=body, headers=headers or study.owner.headers)


def _pass(client, study, headers=None, **body):
    body = {"name": "Inductive, first coder", "kind": "inductive"} | body
    return client.post(f"{study.url}/passes", json=body, headers=headers or study.owner.headers)


# --- coders --------------------------------------------------------------------------


def test_owner_adds_a_member_coder_and_a_named_coder_without_a_key(client, study):
    member = _coder(client, study, principal_id=study.coder.id)
    assert member.status_code == 201, member.text
    assert (member.json()["name"], member.json()["principal_id"]) == (
        study.coder.name,
        study.coder.id,
    )
    named = _coder(client, study, name="Service-user co-researcher")
    assert named.status_code == 201
    assert named.json()["principal_id"] is None
    owner_as = _coder(client, study, principal_id=study.owner.id, name="Academic researcher")
    assert owner_as.json()["name"] == "Academic researcher"
    listed = client.get(f"{study.url}/coders", headers=study.viewer.headers).json()["items"]
    assert [c["name"] for c in listed] == [
        study.coder.name,
        "Service-user co-researcher",
        "Academic researcher",
    ]


def test_coders_must_be_coding_members_and_unique(client, study):
    for body, status in (
        ({"principal_id": study.viewer.id}, 422),
        ({"principal_id": study.outsider.id}, 422),
        ({"principal_id": str(uuid.uuid4())}, 422),
        ({}, 422),
        ({"name": "  "}, 422),
        ({"name": "A", "role": "coder"}, 422),
    ):
        response = _coder(client, study, **body)
        assert response.status_code == status, body
    assert "is a viewer" in _coder(client, study, principal_id=study.viewer.id).json()["detail"]
    assert _coder(client, study, principal_id=study.coder.id).status_code == 201
    again = _coder(client, study, principal_id=study.coder.id, name="Another name")
    assert again.status_code == 409
    assert _coder(client, study, name=study.coder.name).status_code == 409


def test_who_may_add_and_list_coders(client, study):
    for role, status in expected_by_role(201, OWNERS).items():
        response = _coder(client, study, study.headers_for(role), name=f"Named {role}")
        assert response.status_code == status, role
    for role, status in expected_by_role(200, READERS).items():
        response = client.get(f"{study.url}/coders", headers=study.headers_for(role))
        assert response.status_code == status, role


# --- passes --------------------------------------------------------------------------


def test_pass_defaults_to_the_study_framework_and_blind_setting(client, make_study):
    study = make_study(blind=True)
    coder = _coder(client, study, principal_id=study.coder.id).json()
    response = _pass(client, study, coder_id=coder["id"])
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["framework"]["id"] == study.framework_id
    assert created["framework"]["version"] == "2"
    assert (created["blind"], created["revealed_at"], created["coder_id"]) == (
        True,
        None,
        coder["id"],
    )
    open_pass = _pass(client, study, name="Open", coder_id=coder["id"], blind=False)
    assert open_pass.json()["blind"] is False


def test_deductive_pass_may_code_against_another_published_version(app, client, study, coders):
    deductive = _pass(
        client,
        study,
        name="Deductive against version 1",
        kind="deductive",
        coder_id=coders["coder"],
        framework={"slug": "civic", "version": "1"},
    )
    assert deductive.status_code == 201 and deductive.json()["framework"]["version"] == "1"
    with app.state.sessionmaker() as session:
        session.add(Framework(slug="civic", version="3", title="CIVIC 3", status="draft"))
        session.commit()
    draft = _pass(
        client,
        study,
        name="Draft",
        coder_id=coders["coder"],
        framework={"slug": "civic", "version": "3"},
    )
    assert draft.status_code == 422 and "draft" in draft.json()["detail"]


def test_pass_bodies_are_checked(client, study, coders, make_study):
    other = make_study()
    foreign = _coder(client, other, name="Elsewhere").json()
    for body in (
        {"coder_id": None},
        {"kind": "deductive"},
        {"kind": "thematic", "coder_id": coders["coder"]},
        {"coder_id": str(uuid.uuid4())},
        {"coder_id": foreign["id"]},
        {"coder_id": coders["coder"], "framework": {"slug": "civic", "version": "9"}},
        {"coder_id": coders["coder"], "colour": "red"},
        {"coder_id": coders["coder"], "name": ""},
    ):
        assert _pass(client, study, **body).status_code == 422, body
    consensus = _pass(client, study, name="Consensus", kind="consensus")
    assert consensus.status_code == 201 and consensus.json()["coder_id"] is None
    assert _pass(client, study, name="Consensus", kind="consensus").status_code == 409


def test_coders_open_passes_only_for_themselves(client, study, coders):
    own = _pass(client, study, study.coder.headers, name="Mine", coder_id=coders["coder"])
    assert own.status_code == 201
    for coder in ("owner", "co_researcher"):
        response = _pass(client, study, study.coder.headers, name=coder, coder_id=coders[coder])
        assert response.status_code == 403, coder
    by_owner = _pass(client, study, name="Entered by the owner", coder_id=coders["co_researcher"])
    assert by_owner.status_code == 201


def test_who_may_open_and_list_passes(client, study):
    for role, status in expected_by_role(201, WRITERS).items():
        response = _pass(client, study, study.headers_for(role), name=role, kind="consensus")
        assert response.status_code == status, role
    for role, status in expected_by_role(200, READERS).items():
        response = client.get(f"{study.url}/passes", headers=study.headers_for(role))
        assert response.status_code == status, role
    names = [
        p["name"]
        for p in client.get(f"{study.url}/passes", headers=study.viewer.headers).json()["items"]
    ]
    assert names == ["owner", "coder", "admin"]


def test_reveal_a_pass_is_for_owners_and_keeps_the_first_time(client, study, coders):
    for role in ROLES:
        created = _pass(
            client, study, name=f"Blind {role}", coder_id=coders["coder"], blind=True
        ).json()
        url = f"{study.url}/passes/{created['id']}/reveal"
        status = expected_by_role(200, OWNERS)[role]
        response = client.post(url, headers=study.headers_for(role))
        assert response.status_code == status, role
        if status == 200:
            revealed = response.json()["revealed_at"]
            assert revealed is not None
            assert client.post(url, headers=study.owner.headers).json()["revealed_at"] == revealed


def test_unknown_passes_and_those_of_other_studies_are_404(client, study, coders, make_study):
    created = _pass(client, study, coder_id=coders["coder"]).json()
    other = make_study()
    for url in (
        f"{other.url}/passes/{created['id']}/reveal",
        f"{study.url}/passes/{uuid.uuid4()}/reveal",
    ):
        headers = other.owner.headers if url.startswith(other.url) else study.owner.headers
        assert client.post(url, headers=headers).status_code == 404, url
