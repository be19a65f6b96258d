"""Editing a draft: themes (add, edit, move, reorder, delete), components and links,
the rules that protect the tree, and the freeze on published versions."""

from __future__ import annotations

import json
import uuid

import pytest

PROBLEM = "application/problem+json"
CIVIC = "/v1/frameworks/civic/versions"
DRAFT = f"{CIVIC}/3"


@pytest.fixture
def draft(client, researcher):
    """civic@3, a draft derived from civic@2; returns its themes by code."""
    response = client.post(f"{CIVIC}/2/derive", json={"version": "3"}, headers=researcher)
    assert response.status_code == 201
    return themes_by_code(client, researcher, DRAFT)


def themes_by_code(client, headers, url):
    out = {}

    def walk(nodes):
        for node in nodes:
            out[node["code"]] = node
            walk(node["children"])

    walk(client.get(url, headers=headers).json()["themes"])
    return out


def codes_under(client, headers, url, parent_code):
    themes = themes_by_code(client, headers, url)
    children = themes[parent_code]["children"] if parent_code else None
    if children is None:
        children = client.get(url, headers=headers).json()["themes"]
    return [child["code"] for child in children]


# --------------------------------------------------------------------------- themes


def test_add_a_theme_under_a_parent(client, researcher, draft):
    created = client.post(
        f"{DRAFT}/themes",
        json={
            "code": "1.3",
            "label": "Familiarity",
            "definition": "Knowing someone well.",
            "parent_id": draft["1"]["id"],
        },
        headers=researcher,
    )
    assert created.status_code == 201
    body = created.json()
    assert created.headers["location"] == f"{DRAFT}/themes/{body['id']}"
    assert created.headers["etag"]
    assert (body["parent"]["code"], body["order"], body["introduced_in"]) == ("1", 3, "3")
    assert body["kind"] == "domain" and uuid.UUID(body["key"])
    assert codes_under(client, researcher, DRAFT, "1") == ["1.1", "1.2", "1.3"]


def test_duplicate_theme_code_is_409(client, researcher, draft):
    clash = client.post(
        f"{DRAFT}/themes", json={"code": "1.1", "label": "Again"}, headers=researcher
    )
    assert clash.status_code == 409 and "1.1" in clash.json()["detail"]
    url = f"{DRAFT}/themes/{draft['1.2']['id']}"
    assert client.patch(url, json={"code": "1.1"}, headers=researcher).status_code == 409
    key_clash = client.post(
        f"{DRAFT}/themes", json={"code": "9", "label": "x", "key": "closeness"}, headers=researcher
    )
    assert key_clash.status_code == 409


def test_a_parent_that_would_make_a_cycle_is_422(client, researcher, draft):
    url = f"{DRAFT}/themes/{draft['1']['id']}"
    under_child = client.patch(url, json={"parent_id": draft["1.1"]["id"]}, headers=researcher)
    assert under_child.status_code == 422 and "cycle" in under_child.json()["detail"]
    assert under_child.json()["errors"][0]["loc"] == ["body", "parent_id"]
    under_itself = client.patch(url, json={"parent_id": draft["1"]["id"]}, headers=researcher)
    assert under_itself.status_code == 422


def test_a_parent_from_another_framework_version_is_422(client, researcher, draft):
    v2 = themes_by_code(client, researcher, f"{CIVIC}/2")
    created = client.post(
        f"{DRAFT}/themes",
        json={"code": "9", "label": "Stray", "parent_id": v2["1"]["id"]},
        headers=researcher,
    )
    assert created.status_code == 422 and "civic@2" in created.json()["detail"]
    moved = client.patch(
        f"{DRAFT}/themes/{draft['1.1']['id']}",
        json={"parent_id": v2["2"]["id"]},
        headers=researcher,
    )
    assert moved.status_code == 422
    unknown = client.post(
        f"{DRAFT}/themes",
        json={"code": "9", "label": "Stray", "parent_id": str(uuid.uuid4())},
        headers=researcher,
    )
    assert unknown.status_code == 422


def test_edit_and_move_a_theme_with_if_match(client, researcher, draft):
    url = f"{DRAFT}/themes/{draft['4.2']['id']}"
    etag = client.get(url, headers=researcher).headers["etag"]
    stale = client.patch(url, json={"label": "x"}, headers={**researcher, "If-Match": '"old"'})
    assert stale.status_code == 412 and stale.headers["content-type"] == PROBLEM
    moved = client.patch(
        url,
        json={"label": "One-to-one company", "parent_id": draft["5"]["id"], "code": "5.3"},
        headers={**researcher, "If-Match": etag},
    )
    assert moved.status_code == 200
    body = moved.json()
    assert (body["label"], body["code"], body["parent"]["code"], body["order"]) == (
        "One-to-one company",
        "5.3",
        "5",
        3,
    )
    assert moved.headers["etag"] != etag
    # The old ETag is stale now.
    assert (
        client.patch(url, json={"label": "y"}, headers={**researcher, "If-Match": etag}).status_code
        == 412
    )
    assert codes_under(client, researcher, DRAFT, "5") == ["5.1", "5.2", "5.3"]
    to_top = client.patch(url, json={"parent_id": None, "code": "8"}, headers=researcher)
    assert to_top.status_code == 200 and to_top.json()["parent"] is None
    assert codes_under(client, researcher, DRAFT, None)[-1] == "8"


def test_kind_and_definition_can_change_but_key_cannot(client, researcher, draft):
    url = f"{DRAFT}/themes/{draft['3']['id']}"
    changed = client.patch(url, json={"kind": "barrier", "definition": "New."}, headers=researcher)
    assert changed.status_code == 200
    assert (changed.json()["kind"], changed.json()["definition"]) == ("barrier", "New.")
    for body in ({"key": "other"}, {"kind": "obstacle"}, {"label": None}, {"code": "a b"}):
        assert client.patch(url, json=body, headers=researcher).status_code == 422


def test_delete_a_theme_and_its_links(client, researcher, draft):
    leaf = draft["7.2"]
    assert client.delete(f"{DRAFT}/themes/{leaf['id']}", headers=researcher).status_code == 204
    assert client.get(f"{DRAFT}/themes/{leaf['id']}", headers=researcher).status_code == 404
    body = client.get(DRAFT, headers=researcher).json()
    assert "beyond_social.animals" not in {lk["theme_key"] for lk in body["links"]}
    animals = next(c for c in body["components"] if c["key"] == "companion_animals")
    assert animals["targets"] == []
    with_children = client.delete(f"{DRAFT}/themes/{draft['6']['id']}", headers=researcher)
    assert with_children.status_code == 409 and "subordinate" in with_children.json()["detail"]


def test_reorder_siblings(client, researcher, draft):
    ids = [draft[c]["id"] for c in ("5.2", "5.1")]
    reordered = client.post(
        f"{DRAFT}/themes:reorder",
        json={"parent_id": draft["5"]["id"], "theme_ids": ids},
        headers=researcher,
    )
    assert reordered.status_code == 200
    assert [(t["code"], t["order"]) for t in reordered.json()] == [("5.2", 1), ("5.1", 2)]
    assert codes_under(client, researcher, DRAFT, "5") == ["5.2", "5.1"]
    top = [draft[c]["id"] for c in ("7", "6", "5", "4", "3", "2", "1")]
    assert (
        client.post(
            f"{DRAFT}/themes:reorder",
            json={"parent_id": None, "theme_ids": top},
            headers=researcher,
        ).status_code
        == 200
    )
    assert codes_under(client, researcher, DRAFT, None) == ["7", "6", "5", "4", "3", "2", "1"]


@pytest.mark.parametrize(
    "codes",
    [["5.1"], ["5.1", "5.2", "4.1"], ["5.1", "5.1", "5.2"]],
    ids=["left-out", "stranger", "repeated"],
)
def test_reorder_must_list_every_sibling_once(client, researcher, draft, codes):
    response = client.post(
        f"{DRAFT}/themes:reorder",
        json={"parent_id": draft["5"]["id"], "theme_ids": [draft[c]["id"] for c in codes]},
        headers=researcher,
    )
    assert response.status_code == 422


# --------------------------------------------------------------------------- components


def test_components_and_links_round_trip(client, researcher, draft):
    created = client.post(
        f"{DRAFT}/components",
        json={
            "key": "anti_stigma_group",
            "name": "Peer-led group on stigma",
            "delivery_modes": ["group"],
            "tags": ["peer", "group_work"],
            "min_duration_weeks": 10,
        },
        headers=researcher,
    )
    assert created.status_code == 201
    component = created.json()
    assert component["targets"] == [] and component["tags"] == ["peer", "group_work"]
    # A study-backed link closes Stigma's intervention gap.
    link = client.post(
        f"{DRAFT}/links",
        json={
            "theme_id": draft["6"]["id"],
            "component_id": component["id"],
            "rationale": "Shared experience counters feeling judged.",
            "source": "Pilot evaluation",
        },
        headers=researcher,
    )
    assert link.status_code == 201
    assert (link.json()["theme_key"], link.json()["component_key"]) == (
        "stigma",
        "anti_stigma_group",
    )
    stigma = client.get(f"{DRAFT}/themes/{draft['6']['id']}", headers=researcher).json()
    assert stigma["intervention_gap"] is False
    assert "Peer-led group on stigma" in stigma["intervention_note"]
    # 6.1 is covered through its parent now.
    child = client.get(f"{DRAFT}/themes/{draft['6.1']['id']}", headers=researcher).json()
    assert child["intervention_gap"] is False

    again = client.post(
        f"{DRAFT}/links",
        json={"theme_id": draft["6"]["id"], "component_id": component["id"]},
        headers=researcher,
    )
    assert again.status_code == 409

    url = f"{DRAFT}/components/{component['id']}"
    fetched = client.get(url, headers=researcher)
    assert [t["theme_code"] for t in fetched.json()["targets"]] == ["6"]
    etag = fetched.headers["etag"]
    assert (
        client.patch(url, json={"name": "x"}, headers={**researcher, "If-Match": '"x"'}).status_code
        == 412
    )
    patched = client.patch(
        url,
        json={"name": "Peer group on stigma", "min_duration_weeks": None},
        headers={**researcher, "If-Match": etag},
    )
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["min_duration_weeks"]) == (
        "Peer group on stigma",
        None,
    )

    assert (
        client.delete(f"{DRAFT}/links/{link.json()['id']}", headers=researcher).status_code == 204
    )
    assert client.get(url, headers=researcher).json()["targets"] == []
    assert client.delete(url, headers=researcher).status_code == 204
    assert client.get(url, headers=researcher).status_code == 404


def test_edit_a_link_with_if_match(client, researcher, draft):
    stigma_link = next(
        link
        for link in client.get(DRAFT, headers=researcher).json()["links"]
        if link["theme_key"] == "stigma"
    )
    url = f"{DRAFT}/links/{stigma_link['id']}"
    first = client.get(url, headers=researcher)
    assert first.json() == stigma_link and first.json()["from_framework_study"] is False
    etag = first.headers["etag"]
    assert client.get(url, headers={**researcher, "If-None-Match": etag}).status_code == 304
    change = {"rationale": "Reworded.", "source": "Discussion, citing other work"}
    edited = client.patch(url, json=change, headers={**researcher, "If-Match": etag})
    assert edited.status_code == 200
    assert edited.json() == {**stigma_link, **change}
    assert edited.headers["etag"] != etag
    stale = client.patch(url, json={"rationale": "y"}, headers={**researcher, "If-Match": etag})
    assert stale.status_code == 412
    assert (
        client.patch(
            url, json={"theme_id": stigma_link["theme_id"]}, headers=researcher
        ).status_code
        == 422
    )
    assert client.patch(url, json={"source": None}, headers=researcher).status_code == 422
    missing = f"{DRAFT}/links/00000000-0000-0000-0000-000000000000"
    assert client.get(missing, headers=researcher).status_code == 404


def test_component_list_shows_targets_and_pages(client, researcher, draft):
    first = client.get(f"{DRAFT}/components", params={"limit": 10}, headers=researcher).json()
    rest = client.get(
        f"{DRAFT}/components", params={"cursor": first["next_cursor"]}, headers=researcher
    ).json()
    items = first["items"] + rest["items"]
    assert len(items) == 14 and rest["next_cursor"] is None
    assert [c["key"] for c in items] == sorted(c["key"] for c in items)
    disclosure = next(c for c in items if c["key"] == "gradual_self_disclosure")
    assert [(t["theme_code"], t["from_framework_study"]) for t in disclosure["targets"]] == [
        ("1", True),
        ("6", False),
    ]


def test_component_rules(client, researcher, draft):
    clash = client.post(
        f"{DRAFT}/components", json={"key": "peer_support", "name": "x"}, headers=researcher
    )
    assert clash.status_code == 409
    bad_tag = client.post(
        f"{DRAFT}/components", json={"key": "k", "name": "x", "tags": ["magic"]}, headers=researcher
    )
    assert bad_tag.status_code == 422 and "magic" in str(bad_tag.json()["errors"])
    bad_mode = client.post(
        f"{DRAFT}/components",
        json={"key": "k", "name": "x", "delivery_modes": ["telepathy"]},
        headers=researcher,
    )
    assert bad_mode.status_code == 422
    v2 = client.get(f"{CIVIC}/2", headers=researcher).json()
    own_component = client.get(f"{DRAFT}/components", headers=researcher).json()["items"][0]
    foreign_theme = client.post(
        f"{DRAFT}/links",
        json={"theme_id": v2["themes"][0]["id"], "component_id": own_component["id"]},
        headers=researcher,
    )
    assert foreign_theme.status_code == 422
    foreign_component = client.post(
        f"{DRAFT}/links",
        json={"theme_id": draft["1"]["id"], "component_id": v2["components"][0]["id"]},
        headers=researcher,
    )
    assert foreign_component.status_code == 422
    assert client.get(f"{DRAFT}/components/{uuid.uuid4()}", headers=researcher).status_code == 404
    assert client.delete(f"{DRAFT}/links/{uuid.uuid4()}", headers=researcher).status_code == 404


# --------------------------------------------------------------------------- frozen versions


def _every_edit(client, headers, url, theme_id, component_id, link_id):
    """One request per edit route against the version at ``url``."""
    theme, component = f"{url}/themes/{theme_id}", f"{url}/components/{component_id}"
    return {
        "edit version": client.patch(url, json={"title": "x"}, headers=headers),
        "delete version": client.delete(url, headers=headers),
        "add theme": client.post(
            f"{url}/themes", json={"code": "99", "label": "x"}, headers=headers
        ),
        "edit theme": client.patch(theme, json={"label": "x"}, headers=headers),
        "move theme": client.patch(theme, json={"parent_id": None}, headers=headers),
        "delete theme": client.delete(theme, headers=headers),
        "reorder": client.post(
            f"{url}/themes:reorder",
            json={"parent_id": None, "theme_ids": [theme_id]},
            headers=headers,
        ),
        "add component": client.post(
            f"{url}/components", json={"key": "k", "name": "x"}, headers=headers
        ),
        "edit component": client.patch(component, json={"name": "x"}, headers=headers),
        "delete component": client.delete(component, headers=headers),
        "add link": client.post(
            f"{url}/links",
            json={"theme_id": theme_id, "component_id": component_id},
            headers=headers,
        ),
        "edit link": client.patch(
            f"{url}/links/{link_id}", json={"rationale": "x"}, headers=headers
        ),
        "delete link": client.delete(f"{url}/links/{link_id}", headers=headers),
        "publish": client.post(f"{url}/publish", headers=headers),
    }


@pytest.mark.parametrize("version", ["2", "retired"])
def test_published_and_retired_versions_refuse_every_edit(client, researcher, admin, version):
    url = f"{CIVIC}/2"
    if version == "retired":  # a built-in version: only an admin may retire it
        assert client.post(f"{url}/retire", headers=admin).status_code == 200
    before = client.get(url, headers=researcher)
    body = before.json()
    stigma = body["themes"][5]
    link = body["links"][0]
    responses = _every_edit(client, researcher, url, stigma["id"], link["component_id"], link["id"])
    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(responses, 409)
    assert all(r.headers["content-type"] == PROBLEM for r in responses.values())
    after = client.get(url, headers=researcher)
    assert after.headers["etag"] == before.headers["etag"]


def test_edits_of_a_draft_are_refused_once_it_is_published(client, researcher, draft):
    assert client.post(f"{DRAFT}/publish", headers=researcher).status_code == 200
    body = client.get(DRAFT, headers=researcher).json()
    link = body["links"][0]
    responses = _every_edit(
        client, researcher, DRAFT, draft["7.2"]["id"], link["component_id"], link["id"]
    )
    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(responses, 409)


def test_text_with_a_lone_surrogate_is_422_not_500(client, researcher, draft):
    """JSON may escape half a UTF-16 pair (\\ud800): no engine can store it as UTF-8."""
    half = "\ud800"
    component = client.get(f"{DRAFT}/components", headers=researcher).json()["items"][0]
    theme = draft["1"]["id"]
    requests = [
        ("POST", "/v1/frameworks", {"slug": "m", "version": "1", "title": "T", "citation": half}),
        ("PATCH", DRAFT, {"citation": half}),
        ("POST", f"{CIVIC}/2/derive", {"version": "4", "description": half}),
        ("POST", f"{DRAFT}/themes", {"code": "1.9", "label": half, "parent_id": theme}),
        ("PATCH", f"{DRAFT}/themes/{theme}", {"definition": f"a{half}b"}),
        ("POST", f"{DRAFT}/components", {"key": "k", "name": half}),
        ("PATCH", f"{DRAFT}/components/{component['id']}", {"evidence_source": half}),
    ]
    for method, url, body in requests:
        response = client.request(
            method,
            url,
            content=json.dumps(body),  # ensure_ascii: the surrogate travels as \\ud800
            headers={**researcher, "Content-Type": "application/json"},
        )
        assert response.status_code == 422, (method, url, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"][0]["loc"][0] == "body"
