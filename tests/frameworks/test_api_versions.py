"""/v1/frameworks: the built-in CIVIC versions through the API, the life cycle of a
version, roles, ETags, and the cost of reading a whole tree."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, select

from service.frameworks import domain
from service.frameworks.models import Framework
from service.frameworks.store import store_snapshot

PROBLEM = "application/problem+json"
CIVIC = "/v1/frameworks/civic/versions"

# (code, label, parent code, kind, introduced in, linked components, gap) as the brief
# describes the two versions.
V1_TREE = [
    ("1", "Closeness", None, "domain", "1", [], True),
    ("2", "Identity and common bond", None, "domain", "1", [], True),
    ("3", "Valued relationships", None, "domain", "1", [], True),
    ("4", "Involvement", None, "domain", "1", [], True),
    ("4.1", "Group/network involvement", "4", "domain", "1", [], True),
    ("4.2", "Companionship", "4", "domain", "1", [], True),
    ("5", "Cared for and accepted", None, "domain", "1", [], True),
    ("5.1", "Social acceptance", "5", "domain", "1", [], True),
    ("5.2", "Social support", "5", "domain", "1", [], True),
]
V2_TREE = [
    ("1", "Closeness", None, "domain", "1", ["gradual_self_disclosure", "long_term_group"], False),
    ("1.1", "Feeling comfortable", "1", "domain", "2", [], False),
    ("1.2", "Trust", "1", "domain", "2", [], False),
    ("2", "Identity and common bond", None, "domain", "1", ["identity_assessment"], False),
    ("2.1", "Shared mental health experiences", "2", "domain", "2", ["story_sharing"], False),
    (
        "3",
        "Valued relationships",
        None,
        "domain",
        "1",
        ["reciprocity_psychoeducation", "social_network_assessment"],
        False,
    ),
    (
        "4",
        "Involvement",
        None,
        "domain",
        "1",
        ["digital_contact", "supported_socialisation"],
        False,
    ),
    (
        "4.1",
        "Group activities",
        "4",
        "domain",
        "1",
        ["community_group_finding", "long_term_group"],
        False,
    ),
    ("4.2", "Companionship", "4", "domain", "1", [], False),
    ("5", "Cared for and accepted", None, "domain", "1", [], False),
    (
        "5.1",
        "Acceptance",
        "5",
        "domain",
        "1",
        ["group_disclosure", "non_judgemental_facilitation"],
        False,
    ),
    ("5.2", "Social support", "5", "domain", "1", ["peer_support"], False),
    ("6", "Stigma", None, "barrier", "2", ["gradual_self_disclosure"], True),
    ("6.1", "Feeling different", "6", "barrier", "2", [], True),
    ("6.2", "Feeling judged and excluded", "6", "barrier", "2", [], True),
    ("7", "Connectedness beyond social relationships", None, "domain", "2", [], False),
    ("7.1", "Spiritual connectedness", "7", "domain", "2", ["spiritual_beliefs_assessment"], False),
    ("7.2", "Connectedness to animals", "7", "domain", "2", ["companion_animals"], False),
]


def flatten(nodes, parent=None):
    """The nested tree as rows in tree order: (code, label, parent code, kind,
    introduced_in, component keys, gap)."""
    rows = []
    for node in nodes:
        keys = sorted(link["component_key"] for link in node["components"])
        rows.append(
            (
                node["code"],
                node["label"],
                parent,
                node["kind"],
                node["introduced_in"],
                keys,
                node["intervention_gap"],
            )
        )
        rows += flatten(node["children"], node["code"])
    return rows


def find(nodes, code):
    for node in nodes:
        if node["code"] == code:
            return node
        found = find(node["children"], code)
        if found:
            return found
    return None


def new_draft(client, headers, slug="mini", version="1", **extra):
    body = {"slug": slug, "version": version, "title": "Mini", "citation": "Test data."} | extra
    response = client.post("/v1/frameworks", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def add_theme(client, headers, url, **body):
    response = client.post(f"{url}/themes", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


# --------------------------------------------------------------------------- built-ins


def test_civic_v1_tree_matches_the_review(client, researcher):
    response = client.get(f"{CIVIC}/1", headers=researcher)
    assert response.status_code == 200
    body = response.json()
    assert flatten(body["themes"]) == V1_TREE
    assert (body["status"], body["builtin"], body["derived_from"]) == ("published", True, None)
    assert "Hare-Duke" in body["citation"] and "245:188-199" in body["citation"]
    assert body["components"] == [] and body["links"] == []
    assert body["theme_count"] == 9


def test_civic_v2_tree_matches_the_validation_study(client, researcher):
    body = client.get(f"{CIVIC}/2", headers=researcher).json()
    assert flatten(body["themes"]) == V2_TREE
    assert body["derived_from"]["version"] == "1"
    assert "13 adults with lived experience" in body["citation"]
    assert len(body["components"]) == 14 and len(body["links"]) == 16
    long_term = next(c for c in body["components"] if c["key"] == "long_term_group")
    assert [t["theme_code"] for t in long_term["targets"]] == ["1", "4.1"]
    assert long_term["min_duration_weeks"] == 9


def test_stigma_is_shown_as_an_explicit_intervention_gap(client, researcher):
    body = client.get(f"{CIVIC}/2", headers=researcher).json()
    stigma = find(body["themes"], "6")
    assert stigma["intervention_gap"] is True
    assert "own study identified no intervention" in stigma["intervention_note"]
    assert "outside the study" in stigma["intervention_note"]
    [link] = stigma["components"]
    assert link["from_framework_study"] is False and "Rüsch" in link["source"]
    assert [gap["code"] for gap in body["intervention_gaps"]] == ["6", "6.1", "6.2"]
    # A theme covered only through its parent is not a gap, and says so.
    comfort = find(body["themes"], "1.1")
    assert comfort["intervention_gap"] is False and "Closeness" in comfort["intervention_note"]

    detail = client.get(f"{CIVIC}/2/themes/{stigma['id']}", headers=researcher).json()
    assert detail["intervention_gap"] is True
    assert detail["intervention_note"] == stigma["intervention_note"]
    assert [c["code"] for c in detail["children"]] == ["6.1", "6.2"]
    assert detail["framework"]["version"] == "2" and detail["parent"] is None


def test_list_filters_by_slug_and_status_and_pages(client, researcher):
    new_draft(client, researcher, slug="other")
    everything = client.get("/v1/frameworks", headers=researcher).json()["items"]
    assert [(f["slug"], f["version"]) for f in everything] == [
        ("civic", "1"),
        ("civic", "2"),
        ("other", "1"),
    ]
    civic = client.get("/v1/frameworks", params={"slug": "civic"}, headers=researcher).json()
    assert [f["version"] for f in civic["items"]] == ["1", "2"]
    assert civic["items"][1]["derived_from"]["version"] == "1"
    drafts = client.get("/v1/frameworks", params={"status": "draft"}, headers=researcher).json()
    assert [f["slug"] for f in drafts["items"]] == ["other"]
    first = client.get("/v1/frameworks", params={"limit": 2}, headers=researcher).json()
    second = client.get(
        "/v1/frameworks", params={"limit": 2, "cursor": first["next_cursor"]}, headers=researcher
    ).json()
    assert [f["slug"] for f in second["items"]] == ["other"] and second["next_cursor"] is None
    bad = client.get("/v1/frameworks", params={"status": "gone"}, headers=researcher)
    assert bad.status_code == 422


# --------------------------------------------------------------------------- access


def test_reading_needs_a_key_and_any_role_may_read(client, make_key):
    assert client.get("/v1/frameworks").status_code == 401
    assert client.get(f"{CIVIC}/2").status_code == 401
    for role in ("clinician", "integrator"):
        assert client.get(f"{CIVIC}/2", headers=make_key(role)).status_code == 200


@pytest.mark.parametrize("role", ["clinician", "integrator"])
def test_only_researchers_and_admins_may_write(client, make_key, admin, role):
    body = {"slug": "mine", "version": "1", "title": "Mine", "citation": "Me."}
    refused = client.post("/v1/frameworks", json=body, headers=make_key(role))
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    derive = client.post(f"{CIVIC}/2/derive", json={"version": "3"}, headers=make_key(role))
    assert derive.status_code == 403
    assert client.post("/v1/frameworks", json=body, headers=admin).status_code == 201


def test_unknown_framework_version_or_theme_is_404(client, researcher):
    assert client.get("/v1/frameworks/nope/versions/1", headers=researcher).status_code == 404
    missing = client.get(f"{CIVIC}/9", headers=researcher)
    assert missing.status_code == 404 and "civic@9" in missing.json()["detail"]
    theme_url = f"{CIVIC}/2/themes/{uuid.uuid4()}"
    assert client.get(theme_url, headers=researcher).status_code == 404
    # A real theme, asked for under the wrong version.
    v1_theme = client.get(f"{CIVIC}/1", headers=researcher).json()["themes"][0]
    assert client.get(f"{CIVIC}/2/themes/{v1_theme['id']}", headers=researcher).status_code == 404
    assert client.get(f"{CIVIC}/2/themes/not-a-uuid", headers=researcher).status_code == 422


# --------------------------------------------------------------------------- life cycle


def test_create_a_draft_and_refuse_an_existing_slug_and_version(client, researcher):
    created = client.post(
        "/v1/frameworks",
        json={"slug": "mini", "version": "1", "title": "Mini", "citation": "Test data."},
        headers=researcher,
    )
    assert created.status_code == 201
    assert created.headers["location"] == "/v1/frameworks/mini/versions/1"
    assert created.json()["status"] == "draft" and created.json()["themes"] == []
    again = client.post(
        "/v1/frameworks",
        json={"slug": "civic", "version": "2", "title": "Clash", "citation": "x"},
        headers=researcher,
    )
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "body",
    [
        {"slug": "mini", "version": "1", "title": "T", "citation": "c", "colour": "red"},
        {"slug": "Not A Slug", "version": "1", "title": "T", "citation": "c"},
        {"slug": "mini", "version": "1/2", "title": "T", "citation": "c"},
        {"slug": "mini", "version": "1", "title": "T"},
        {"slug": "mini", "version": "1", "title": "T\u0000", "citation": "c"},
    ],
)
def test_invalid_create_bodies_are_422(client, researcher, body):
    response = client.post("/v1/frameworks", json=body, headers=researcher)
    assert response.status_code == 422 and response.json()["errors"]


def test_update_metadata_of_a_draft_with_if_match(client, researcher):
    new_draft(client, researcher)
    url = "/v1/frameworks/mini/versions/1"
    etag = client.get(url, headers=researcher).headers["etag"]
    stale = client.patch(url, json={"title": "New"}, headers={**researcher, "If-Match": '"stale"'})
    assert stale.status_code == 412
    updated = client.patch(
        url,
        json={"title": "New", "citation": "Somewhere"},
        headers={**researcher, "If-Match": etag},
    )
    assert updated.status_code == 200
    assert (updated.json()["title"], updated.json()["citation"]) == ("New", "Somewhere")
    assert updated.headers["etag"] != etag
    assert client.get(url, headers=researcher).headers["etag"] == updated.headers["etag"]
    for body in ({"slug": "other"}, {"title": None}, {"title": ""}):
        assert client.patch(url, json=body, headers=researcher).status_code == 422


def test_etag_revalidation_of_a_version(client, researcher):
    first = client.get(f"{CIVIC}/2", headers=researcher)
    etag = first.headers["etag"]
    again = client.get(f"{CIVIC}/2", headers={**researcher, "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag
    assert (
        client.get(f"{CIVIC}/1", headers={**researcher, "If-None-Match": etag}).status_code == 200
    )


def test_publishing_needs_themes_and_freezes_the_version(client, researcher):
    new_draft(client, researcher)
    url = "/v1/frameworks/mini/versions/1"
    empty = client.post(f"{url}/publish", headers=researcher)
    assert empty.status_code == 422 and "no themes" in empty.json()["detail"]
    add_theme(client, researcher, url, code="1", label="Belonging")
    published = client.post(f"{url}/publish", headers=researcher)
    assert published.status_code == 200
    assert published.json()["status"] == "published" and published.json()["published_at"]
    assert client.post(f"{url}/publish", headers=researcher).status_code == 409
    assert client.patch(url, json={"title": "x"}, headers=researcher).status_code == 409
    assert client.delete(url, headers=researcher).status_code == 409


def test_retire_only_a_published_version(client, researcher):
    new_draft(client, researcher)
    url = "/v1/frameworks/mini/versions/1"
    assert client.post(f"{url}/retire", headers=researcher).status_code == 409
    add_theme(client, researcher, url, code="1", label="Belonging")
    client.post(f"{url}/publish", headers=researcher)
    retired = client.post(f"{url}/retire", headers=researcher)
    assert retired.status_code == 200 and retired.json()["status"] == "retired"
    assert client.post(f"{url}/retire", headers=researcher).status_code == 409
    assert (
        client.post(
            f"{url}/themes", json={"code": "2", "label": "x"}, headers=researcher
        ).status_code
        == 409
    )
    # Still readable, and can be derived from.
    assert client.get(url, headers=researcher).status_code == 200
    assert (
        client.post(f"{url}/derive", json={"version": "2"}, headers=researcher).status_code == 201
    )


def test_only_an_admin_retires_a_built_in_civic_version(client, researcher, admin):
    refused = client.post(f"{CIVIC}/2/retire", headers=researcher)
    assert refused.status_code == 403 and "only an admin" in refused.json()["detail"]
    assert client.get(f"{CIVIC}/2", headers=researcher).json()["status"] == "published"
    retired = client.post(f"{CIVIC}/2/retire", headers=admin)
    assert retired.status_code == 200 and retired.json()["status"] == "retired"


def test_delete_a_draft_but_never_a_published_version(client, researcher):
    new_draft(client, researcher)
    url = "/v1/frameworks/mini/versions/1"
    add_theme(client, researcher, url, code="1", label="Belonging")
    etag = client.get(url, headers=researcher).headers["etag"]
    assert client.delete(url, headers={**researcher, "If-Match": '"old"'}).status_code == 412
    assert client.delete(url, headers={**researcher, "If-Match": etag}).status_code == 204
    assert client.get(url, headers=researcher).status_code == 404
    assert client.delete(f"{CIVIC}/2", headers=researcher).status_code == 409


def test_derive_copies_the_whole_tree_with_new_ids(client, researcher):
    source = client.get(f"{CIVIC}/2", headers=researcher).json()
    derived = client.post(f"{CIVIC}/2/derive", json={"version": "3"}, headers=researcher)
    assert derived.status_code == 201
    assert derived.headers["location"] == f"{CIVIC}/3"
    body = derived.json()
    assert body["status"] == "draft" and body["builtin"] is False
    assert body["derived_from"] == {"id": source["id"], "slug": "civic", "version": "2"}
    assert (body["title"], body["citation"]) == (source["title"], source["citation"])
    assert flatten(body["themes"]) == flatten(source["themes"])
    old_ids = {n["id"] for n in source["themes"]} | {c["id"] for c in source["components"]}
    assert not old_ids & ({n["id"] for n in body["themes"]} | {c["id"] for c in body["components"]})
    keys = lambda nodes: sorted(n["key"] for n in nodes)  # noqa: E731
    assert keys(body["components"]) == keys(source["components"])
    assert len(body["links"]) == len(source["links"])


def test_derive_refuses_a_draft_source_and_a_taken_version(client, researcher):
    client.post(f"{CIVIC}/2/derive", json={"version": "3"}, headers=researcher)
    from_draft = client.post(f"{CIVIC}/3/derive", json={"version": "4"}, headers=researcher)
    assert from_draft.status_code == 409 and "draft" in from_draft.json()["detail"]
    taken = client.post(f"{CIVIC}/2/derive", json={"version": "1"}, headers=researcher)
    assert taken.status_code == 409
    unknown = client.post(f"{CIVIC}/2/derive", json={"version": "5", "x": 1}, headers=researcher)
    assert unknown.status_code == 422


# --------------------------------------------------------------------------- cost


def _big_snapshot(n_top: int) -> domain.FrameworkSnapshot:
    themes, links = [], []
    components = [
        domain.Component(key=f"c{i}", name=f"Component {i}", description="") for i in range(n_top)
    ]
    for i in range(1, n_top + 1):
        themes.append(
            domain.ThemeNode(f"t{i}", str(i), f"Theme {i}", "", domain.ThemeKind.domain, order=i)
        )
        for j in range(1, 4):
            key = f"t{i}.{j}"
            themes.append(
                domain.ThemeNode(
                    key, f"{i}.{j}", f"Theme {i}.{j}", "", domain.ThemeKind.domain, f"t{i}", j
                )
            )
            themes.append(
                domain.ThemeNode(
                    f"{key}.1", f"{i}.{j}.1", "Leaf", "", domain.ThemeKind.domain, key, 1
                )
            )
            links.append(domain.TargetLink(key, f"c{i - 1}", "", "", j != 2))
    return domain.FrameworkSnapshot(
        slug="big",
        version="1",
        title="Big",
        description="",
        citation="Generated.",
        status=domain.FrameworkStatus.published,
        themes=tuple(themes),
        components=tuple(components),
        links=tuple(links),
    )


def test_reading_a_version_costs_the_same_few_queries_whatever_its_size(app, client, researcher):
    with app.state.sessionmaker() as session:
        v2 = session.scalars(select(Framework).where(Framework.version == "2")).one()
        store_snapshot(session=session, snapshot=_big_snapshot(40), derived_from_id=v2.id)
        session.commit()
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    client.get("/v1/me", headers=researcher)  # the key's last-use stamp is written once
    event.listen(app.state.engine, "before_cursor_execute", count)
    try:
        costs = {}
        for url in (f"{CIVIC}/2", "/v1/frameworks/big/versions/1"):
            statements.clear()
            response = client.get(url, headers=researcher)
            assert response.status_code == 200
            costs[url] = len(statements)
        theme_id = response.json()["themes"][5]["id"]
        statements.clear()
        client.get(f"/v1/frameworks/big/versions/1/themes/{theme_id}", headers=researcher)
        theme_cost = len(statements)
    finally:
        event.remove(app.state.engine, "before_cursor_execute", count)
    assert response.json()["theme_count"] == 280
    assert costs[f"{CIVIC}/2"] == costs["/v1/frameworks/big/versions/1"] <= 7
    assert theme_cost <= 8
