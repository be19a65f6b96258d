"""Studies and their members: who may do what, framework checks, ETags, deletion."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from service.audit.models import AuditEvent
from service.coding.models import (
    Coder,
    CodingPass,
    Document,
    Participant,
    RespondentValidation,
    Segment,
    Study,
    StudyMember,
)
from service.frameworks.models import Framework
from tests.coding.conftest import OWNERS, READERS, ROLES, expected_by_role

PROBLEM = "application/problem+json"
NEW_STUDY = {
    "title": "Connectedness after discharge",
    "description": "Interviews about what helps people feel connected.",
    "framework": {"slug": "civic", "version": "2"},
}


def _add_framework(app, version: str, status: str) -> None:
    with app.state.sessionmaker() as session:
        session.add(
            Framework(slug="civic", version=version, title=f"CIVIC {version}", status=status)
        )
        session.commit()


def test_researcher_creates_a_study_and_becomes_its_owner(client, researcher):
    created = client.post("/v1/studies", json=NEW_STUDY, headers=researcher)
    assert created.status_code == 201, created.text
    study = created.json()
    assert study["framework"] | {"id": None} == {
        "id": None,
        "slug": "civic",
        "version": "2",
        "title": study["framework"]["title"],
        "status": "published",
    }
    assert study["participant_groups"] == ["lived_experience", "staff"]
    assert study["agreement_threshold"] == 0.6
    assert study["default_agreement_unit"] == "character"
    assert study["blind"] is False and study["revealed_at"] is None
    members = client.get(f"/v1/studies/{study['id']}/members", headers=researcher).json()
    assert [(m["name"], m["role"]) for m in members["items"]] == [("test-researcher", "owner")]


def test_study_settings_are_stored_as_sent(client, researcher):
    body = NEW_STUDY | {
        "framework": {"slug": "civic", "version": "1"},
        "participant_groups": ["lived_experience", "staff", "carers"],
        "agreement_threshold": 0.7,
        "default_agreement_unit": "sentence",
        "blind": True,
    }
    study = client.post("/v1/studies", json=body, headers=researcher).json()
    assert study["framework"]["version"] == "1"
    assert study["participant_groups"] == ["lived_experience", "staff", "carers"]
    assert (study["agreement_threshold"], study["default_agreement_unit"], study["blind"]) == (
        0.7,
        "sentence",
        True,
    )


def test_only_researchers_and_admins_create_studies(client, make_key, admin):
    clinician = make_key("clinician")
    assert client.post("/v1/studies", json=NEW_STUDY, headers=clinician).status_code == 403
    assert client.post("/v1/studies", json=NEW_STUDY, headers=admin).status_code == 201
    assert client.post("/v1/studies", json=NEW_STUDY).status_code == 401


def test_draft_retired_and_unknown_frameworks_are_refused(app, client, researcher):
    _add_framework(app, "3", "draft")
    _add_framework(app, "0", "retired")
    for version, reason in (("3", "draft"), ("0", "retired"), ("9", "no framework")):
        body = NEW_STUDY | {"framework": {"slug": "civic", "version": version}}
        response = client.post("/v1/studies", json=body, headers=researcher)
        assert response.status_code == 422, version
        assert response.headers["content-type"] == PROBLEM
        assert reason in response.json()["detail"]
        assert response.json()["errors"][0]["loc"] == ["body", "framework"]


def test_a_framework_reference_with_a_nul_is_422_not_500(client, researcher, study):
    # PostgreSQL refuses NUL in a compared value: the lookup itself failed.
    for ref in ({"slug": "civic\x00", "version": "2"}, {"slug": "civic", "version": "2\x00"}):
        response = client.post(
            "/v1/studies", json=NEW_STUDY | {"framework": ref}, headers=researcher
        )
        assert response.status_code == 422, ref
        response = client.post(
            f"{study.url}/passes",
            json={"name": "Deductive", "kind": "consensus", "framework": ref},
            headers=study.owner.headers,
        )
        assert response.status_code == 422, ref


def test_invalid_study_bodies_are_422(client, researcher):
    bad = [
        NEW_STUDY | {"colour": "blue"},
        NEW_STUDY | {"default_agreement_unit": "page"},
        NEW_STUDY | {"agreement_threshold": 1.5},
        NEW_STUDY | {"participant_groups": []},
        NEW_STUDY | {"participant_groups": ["staff", "staff"]},
        NEW_STUDY | {"participant_groups": ["Lived Experience"]},
        NEW_STUDY | {"title": "  "},
        {k: v for k, v in NEW_STUDY.items() if k != "framework"},
    ]
    for body in bad:
        response = client.post("/v1/studies", json=body, headers=researcher)
        assert response.status_code == 422, body
        assert response.json()["errors"]


def test_the_list_shows_only_your_studies_and_admins_see_all(client, make_study, admin):
    first, second = make_study(), make_study()
    for member, expected in (
        (first.owner, {first.id}),
        (first.viewer, {first.id}),
        (second.coder, {second.id}),
        (first.outsider, set()),
    ):
        page = client.get("/v1/studies", headers=member.headers).json()
        assert {s["id"] for s in page["items"]} == expected
    everything = client.get("/v1/studies", headers=admin).json()["items"]
    assert {s["id"] for s in everything} == {first.id, second.id}


def test_the_study_list_pages_with_a_cursor(client, researcher):
    ids = {
        client.post("/v1/studies", json=NEW_STUDY, headers=researcher).json()["id"]
        for _ in range(5)
    }
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/studies", params=params, headers=researcher).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and set(seen) == ids


def test_every_member_reads_the_study_and_outsiders_get_404(client, study):
    for role, status in expected_by_role(200, READERS).items():
        response = client.get(study.url, headers=study.headers_for(role))
        assert response.status_code == status, role
    outsider = client.get(study.url, headers=study.outsider.headers)
    assert outsider.headers["content-type"] == PROBLEM
    unknown = client.get(f"/v1/studies/{uuid.uuid4()}", headers=study.owner.headers)
    assert unknown.status_code == 404 and unknown.json()["detail"] == outsider.json()[
        "detail"
    ].replace(study.id, unknown.url.path.rsplit("/", 1)[1])
    assert client.get("/v1/studies/not-a-uuid", headers=study.owner.headers).status_code == 422


def test_study_etag_revalidates(client, study):
    first = client.get(study.url, headers=study.viewer.headers)
    etag = first.headers["etag"]
    again = client.get(study.url, headers={**study.viewer.headers, "If-None-Match": etag})
    assert again.status_code == 304
    client.patch(study.url, json={"title": "Renamed"}, headers=study.owner.headers)
    changed = client.get(study.url, headers={**study.viewer.headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["title"] == "Renamed"


def test_only_owners_and_admins_change_a_study(client, study):
    for role, status in expected_by_role(200, OWNERS).items():
        response = client.patch(
            study.url, json={"description": f"changed by {role}"}, headers=study.headers_for(role)
        )
        assert response.status_code == status, role


def test_patch_changes_only_the_fields_sent(client, study):
    before = client.get(study.url, headers=study.owner.headers).json()
    response = client.patch(
        study.url,
        json={"blind": True, "agreement_threshold": 0.7, "default_agreement_unit": "word"},
        headers=study.owner.headers,
    )
    after = response.json()
    assert response.status_code == 200
    assert (after["blind"], after["agreement_threshold"], after["default_agreement_unit"]) == (
        True,
        0.7,
        "word",
    )
    assert after["title"] == before["title"] and after["updated_at"] > before["updated_at"]


def test_stale_if_match_is_412_and_current_one_applies(client, study):
    etag = client.get(study.url, headers=study.owner.headers).headers["etag"]
    client.patch(study.url, json={"title": "First change"}, headers=study.owner.headers)
    stale = client.patch(
        study.url, json={"title": "Second"}, headers={**study.owner.headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    fresh = client.get(study.url, headers=study.owner.headers).headers["etag"]
    ok = client.patch(
        study.url, json={"title": "Second"}, headers={**study.owner.headers, "If-Match": fresh}
    )
    assert ok.status_code == 200 and ok.json()["title"] == "Second"


def test_invalid_patches_are_422(client, study):
    for body in (
        {"title": None},
        {"blind": None},
        {"owner": "someone"},
        {"default_agreement_unit": "page"},
        {"participant_groups": ["a", "a"]},
    ):
        response = client.patch(study.url, json=body, headers=study.owner.headers)
        assert response.status_code == 422, body


def test_a_group_in_use_cannot_be_dropped(client, study, participant):
    response = client.patch(
        study.url, json={"participant_groups": ["staff"]}, headers=study.owner.headers
    )
    assert response.status_code == 409 and "lived_experience" in response.json()["detail"]
    added = client.patch(
        study.url,
        json={"participant_groups": ["lived_experience", "staff", "carers"]},
        headers=study.owner.headers,
    )
    assert added.status_code == 200


def test_framework_changes_until_something_is_coded(
    app, client, study, document, coders, make_segment
):
    to_v1 = {"framework": {"slug": "civic", "version": "1"}}
    changed = client.patch(study.url, json=to_v1, headers=study.owner.headers)
    assert changed.status_code == 200 and changed.json()["framework"]["version"] == "1"
    back = {"framework": {"slug": "civic", "version": "2"}}
    assert client.patch(study.url, json=back, headers=study.owner.headers).status_code == 200
    _add_framework(app, "3", "draft")
    draft = {"framework": {"slug": "civic", "version": "3"}}
    assert client.patch(study.url, json=draft, headers=study.owner.headers).status_code == 422
    make_segment(study, document, coders["coder"])
    frozen = client.patch(study.url, json=to_v1, headers=study.owner.headers)
    assert frozen.status_code == 409
    same = client.patch(study.url, json=back, headers=study.owner.headers)
    assert same.status_code == 200  # naming the current framework is not a change


def test_reveal_is_for_owners_and_keeps_the_first_time(client, make_study):
    study = make_study(blind=True)
    url = f"{study.url}/reveal"
    for role, status in expected_by_role(200, OWNERS).items():
        response = client.post(url, headers=study.headers_for(role))
        assert response.status_code == status, role
    first = client.get(study.url, headers=study.viewer.headers).json()["revealed_at"]
    assert first is not None
    again = client.post(url, headers=study.owner.headers).json()["revealed_at"]
    assert again == first


def test_empty_study_is_deleted_by_its_owner(client, make_study):
    for role in ROLES:  # every caller but the owner is refused first
        study = make_study()
        status = expected_by_role(204, OWNERS)[role]
        response = client.delete(study.url, headers=study.headers_for(role))
        assert response.status_code == status, role
        if status == 204:
            assert client.get(study.url, headers=study.headers_for("admin")).status_code == 404


def test_study_with_content_needs_cascade_and_then_everything_goes(
    app, client, study, participant, document, coders, make_segment
):
    make_segment(study, document, coders["coder"])
    client.post(
        f"{study.url}/passes",
        json={"name": "First pass", "kind": "inductive", "coder_id": coders["coder"]},
        headers=study.owner.headers,
    )
    client.put(
        f"{participant.url}/validation", json={"reviewed": True}, headers=study.owner.headers
    )
    refused = client.delete(study.url, headers=study.owner.headers)
    assert refused.status_code == 409 and "cascade=true" in refused.json()["detail"]
    assert client.get(document.url, headers=study.owner.headers).status_code == 200

    assert (
        client.delete(study.url, params={"cascade": True}, headers=study.owner.headers).status_code
        == 204
    )
    assert client.get(study.url, headers=study.owner.headers).status_code == 404
    study_id = uuid.UUID(study.id)
    with app.state.sessionmaker() as session:
        for table in (Study, StudyMember, Participant, Document, Coder, CodingPass, Segment):
            column = table.id if table is Study else table.study_id
            assert session.scalar(select(func.count()).where(column == study_id)) == 0, table
        assert session.scalar(select(func.count()).select_from(RespondentValidation)) == 0
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "study.deleted")
        ).one()
    assert (event.resource_id, event.principal_name) == (study.id, study.owner.name)
    assert event.details == {
        "cascade": True,
        "deleted": {
            "segments": 1,
            "coding_passes": 1,
            "coders": 3,
            "documents": 1,
            "participants": 1,
            "study_members": 3,
        },
    }


def test_outsiders_get_404_even_on_writes(client, study):
    headers = study.outsider.headers
    for method, path, body in (
        ("PATCH", "", {"title": "x"}),
        ("DELETE", "", None),
        ("POST", "/reveal", None),
        ("GET", "/members", None),
        ("POST", "/members", {"name": "x", "role": "viewer"}),
        ("PATCH", f"/members/{study.owner.id}", {"role": "viewer"}),
        ("DELETE", f"/members/{study.owner.id}", None),
    ):
        response = client.request(method, study.url + path, json=body, headers=headers)
        assert response.status_code == 404, (method, path)


# --- members -------------------------------------------------------------------------


def test_owner_adds_members_by_id_or_name(client, study, make_key):
    make_key("researcher", "second-coder")
    by_name = client.post(
        f"{study.url}/members",
        json={"name": "second-coder", "role": "coder"},
        headers=study.owner.headers,
    )
    assert by_name.status_code == 201 and by_name.json()["role"] == "coder"
    by_id = client.post(
        f"{study.url}/members",
        json={"principal_id": study.outsider.id, "role": "viewer"},
        headers=study.owner.headers,
    )
    assert by_id.status_code == 201 and by_id.json()["name"] == study.outsider.name
    assert client.get(study.url, headers=study.outsider.headers).status_code == 200
    listed = client.get(f"{study.url}/members", headers=study.viewer.headers).json()["items"]
    assert [m["role"] for m in listed] == ["owner", "coder", "viewer", "coder", "viewer"]


def test_who_may_manage_members(client, study, make_key):
    for n, (role, status) in enumerate(expected_by_role(201, OWNERS).items()):
        make_key("researcher", f"newcomer-{n}")
        response = client.post(
            f"{study.url}/members",
            json={"name": f"newcomer-{n}", "role": "viewer"},
            headers=study.headers_for(role),
        )
        assert response.status_code == status, role
    for role, status in expected_by_role(200, READERS).items():
        response = client.get(f"{study.url}/members", headers=study.headers_for(role))
        assert response.status_code == status, role
    viewer_url = f"{study.url}/members/{study.viewer.id}"
    for role, status in expected_by_role(200, OWNERS).items():
        response = client.patch(
            viewer_url, json={"role": "viewer"}, headers=study.headers_for(role)
        )
        assert response.status_code == status, role


def test_a_member_has_an_etag_and_role_changes_honour_if_match(client, study):
    url = f"{study.url}/members/{study.viewer.id}"
    for role, status in expected_by_role(200, READERS).items():
        assert client.get(url, headers=study.headers_for(role)).status_code == status, role
    first = client.get(url, headers=study.owner.headers)
    assert first.json()["role"] == "viewer"
    etag = first.headers["etag"]
    cached = client.get(url, headers={**study.owner.headers, "If-None-Match": etag})
    assert cached.status_code == 304
    changed = client.patch(
        url, json={"role": "coder"}, headers={**study.owner.headers, "If-Match": etag}
    )
    assert changed.status_code == 200 and changed.json()["role"] == "coder"
    stale = client.patch(
        url, json={"role": "viewer"}, headers={**study.owner.headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert client.get(url, headers=study.owner.headers).json()["role"] == "coder"
    unknown = f"{study.url}/members/{study.outsider.id}"
    assert client.get(unknown, headers=study.owner.headers).status_code == 404


def test_member_removal_by_role(client, make_study):
    for role in ROLES:
        study = make_study()
        status = expected_by_role(204, OWNERS)[role]
        response = client.delete(
            f"{study.url}/members/{study.viewer.id}", headers=study.headers_for(role)
        )
        assert response.status_code == status, role
        if status == 204:
            assert client.get(study.url, headers=study.viewer.headers).status_code == 404


def test_member_bodies_and_references_are_checked(client, study):
    url = f"{study.url}/members"
    owner = study.owner.headers
    duplicate = client.post(
        url, json={"principal_id": study.coder.id, "role": "viewer"}, headers=owner
    )
    assert duplicate.status_code == 409
    unknown = client.post(url, json={"name": "nobody-at-all", "role": "viewer"}, headers=owner)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["loc"] == ["body", "name"]
    for body in (
        {"role": "viewer"},
        {"name": "x", "principal_id": study.outsider.id, "role": "viewer"},
        {"name": study.outsider.name, "role": "admin"},
        {"name": study.outsider.name, "role": "viewer", "extra": 1},
    ):
        assert client.post(url, json=body, headers=owner).status_code == 422, body
    missing = f"{url}/{uuid.uuid4()}"
    assert client.patch(missing, json={"role": "coder"}, headers=owner).status_code == 404
    assert client.delete(missing, headers=owner).status_code == 404


def test_the_last_owner_cannot_leave_or_step_down(client, study):
    owner_url = f"{study.url}/members/{study.owner.id}"
    demote = client.patch(owner_url, json={"role": "coder"}, headers=study.owner.headers)
    assert demote.status_code == 409 and "owner" in demote.json()["detail"]
    assert client.delete(owner_url, headers=study.owner.headers).status_code == 409
    promote = client.patch(
        f"{study.url}/members/{study.coder.id}", json={"role": "owner"}, headers=study.owner.headers
    )
    assert promote.status_code == 200
    assert client.delete(owner_url, headers=study.owner.headers).status_code == 204
    assert client.get(study.url, headers=study.owner.headers).status_code == 404
    assert client.get(study.url, headers=study.coder.headers).status_code == 200


def test_an_admin_acts_as_owner_without_being_a_member(client, study):
    admin = study.headers_for("admin")
    assert client.patch(study.url, json={"title": "Admin edit"}, headers=admin).status_code == 200
    response = client.post(
        f"{study.url}/members",
        json={"principal_id": study.admin.id, "role": "viewer"},
        headers=admin,
    )
    assert response.status_code == 201


def test_membership_changes_are_audited(app, client, study):
    owner = study.owner.headers
    client.post(
        f"{study.url}/members",
        json={"principal_id": study.outsider.id, "role": "viewer"},
        headers=owner,
    )
    client.patch(f"{study.url}/members/{study.outsider.id}", json={"role": "coder"}, headers=owner)
    client.delete(f"{study.url}/members/{study.outsider.id}", headers=owner)
    with app.state.sessionmaker() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.resource_id == study.id).order_by(AuditEvent.at)
        ).all()
    assert [(e.action, e.details["role"]) for e in events] == [
        ("study.member.added", "viewer"),
        ("study.member.role_changed", "coder"),
        ("study.member.removed", "coder"),
    ]
    assert {e.details["principal_id"] for e in events} == {study.outsider.id}
