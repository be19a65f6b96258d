"""/v1/frameworks/diff and /v1/themes/search."""

from __future__ import annotations

import pytest

CIVIC = "/v1/frameworks/civic/versions"
NEW_IN_V2 = {
    ("closeness.comfort", "1.1", "Feeling comfortable"),
    ("closeness.trust", "1.2", "Trust"),
    ("identity.shared_experience", "2.1", "Shared mental health experiences"),
    ("stigma", "6", "Stigma"),
    ("stigma.different", "6.1", "Feeling different"),
    ("stigma.judged", "6.2", "Feeling judged and excluded"),
    ("beyond_social", "7", "Connectedness beyond social relationships"),
    ("beyond_social.spiritual", "7.1", "Spiritual connectedness"),
    ("beyond_social.animals", "7.2", "Connectedness to animals"),
}
THEME_LISTS = (
    "themes_added",
    "themes_removed",
    "themes_renamed",
    "themes_moved",
    "themes_recoded",
    "themes_redefined",
    "themes_kind_changed",
)


def diff(client, headers, old, new):
    response = client.get("/v1/frameworks/diff", params={"from": old, "to": new}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def by_code(client, headers, url):
    out = {}

    def walk(nodes):
        for node in nodes:
            out[node["code"]] = node
            walk(node["children"])

    walk(client.get(url, headers=headers).json()["themes"])
    return out


def test_v1_to_v2_shows_what_the_validation_study_added_and_renamed(client, researcher):
    body = diff(client, researcher, "civic@1", "civic@2")
    assert (body["from_version"]["version"], body["to_version"]["version"]) == ("1", "2")
    added = {(t["key"], t["code"], t["label"]) for t in body["themes_added"]}
    assert added == NEW_IN_V2 and len(body["themes_added"]) == len(NEW_IN_V2)
    assert sorted((r["key"], r["old"], r["new"]) for r in body["themes_renamed"]) == [
        ("cared_for.acceptance", "Social acceptance", "Acceptance"),
        ("involvement.group", "Group/network involvement", "Group activities"),
    ]
    for name in THEME_LISTS[1:]:
        if name != "themes_renamed":
            assert body[name] == [], name
    assert body["themes_kind_changed"] == []
    assert len(body["components_added"]) == 14 and len(body["links_added"]) == 16
    assert body["components_removed"] == body["links_removed"] == []
    outside = [lk for lk in body["links_added"] if not lk["from_framework_study"]]
    assert outside == [
        {
            "theme_key": "stigma",
            "component_key": "gradual_self_disclosure",
            "from_framework_study": False,
        }
    ]
    assert body["is_empty"] is False


def test_derive_edit_and_diff_report_exactly_the_edits(client, researcher):
    assert (
        client.post(f"{CIVIC}/2/derive", json={"version": "3"}, headers=researcher).status_code
        == 201
    )
    url = f"{CIVIC}/3"
    themes = by_code(client, researcher, url)
    # rename
    renamed = client.patch(
        f"{url}/themes/{themes['3']['id']}",
        json={"label": "Valued connections"},
        headers=researcher,
    )
    assert renamed.status_code == 200
    # move (keeping its code)
    moved = client.patch(
        f"{url}/themes/{themes['7.2']['id']}",
        json={"parent_id": themes["4"]["id"]},
        headers=researcher,
    )
    assert moved.status_code == 200
    # add
    added = client.post(
        f"{url}/themes",
        json={"key": "closeness.reliability", "code": "1.3", "label": "Reliability",
              "parent_id": themes["1"]["id"]},
        headers=researcher,
    )  # fmt: skip
    assert added.status_code == 201
    # delete (a theme without links, so no link disappears with it)
    deleted = client.delete(f"{url}/themes/{themes['1.2']['id']}", headers=researcher)
    assert deleted.status_code == 204

    body = diff(client, researcher, "civic@2", "civic@3")
    assert body["themes_renamed"] == [
        {"key": "valued_relationships", "old": "Valued relationships", "new": "Valued connections"}
    ]
    assert body["themes_moved"] == [
        {"key": "beyond_social.animals", "old": "beyond_social", "new": "involvement"}
    ]
    assert body["themes_added"] == [
        {"key": "closeness.reliability", "code": "1.3", "label": "Reliability"}
    ]
    assert body["themes_removed"] == [{"key": "closeness.trust", "code": "1.2", "label": "Trust"}]
    assert body["themes_recoded"] == body["themes_redefined"] == body["themes_kind_changed"] == []
    for name in ("components_added", "components_removed", "components_changed"):
        assert body[name] == [], name
    for name in ("links_added", "links_removed", "links_changed"):
        assert body[name] == [], name
    assert body["metadata_changed"] == [{"key": "status", "old": "published", "new": "draft"}]

    # Publishing changes nothing but the status; the reverse diff mirrors the edits.
    assert client.post(f"{url}/publish", headers=researcher).status_code == 200
    published = diff(client, researcher, "civic@2", "civic@3")
    assert published["metadata_changed"] == [] and published["is_empty"] is False
    back = diff(client, researcher, "civic@3", "civic@2")
    assert back["themes_added"] == body["themes_removed"]
    assert back["themes_removed"] == body["themes_added"]


def test_an_untouched_derived_copy_differs_only_in_status(client, researcher):
    client.post(f"{CIVIC}/2/derive", json={"version": "3"}, headers=researcher)
    body = diff(client, researcher, "civic@2", "civic@3")
    assert body["metadata_changed"] == [{"key": "status", "old": "published", "new": "draft"}]
    assert all(body[name] == [] for name in THEME_LISTS)
    assert diff(client, researcher, "civic@2", "civic@2")["is_empty"] is True


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"from": "civic@1", "to": "civic@9"}, 404),
        ({"from": "nope@1", "to": "civic@2"}, 404),
        ({"from": "civic", "to": "civic@2"}, 422),
        ({"from": "civic@1"}, 422),
    ],
)
def test_diff_of_unknown_or_malformed_versions(client, researcher, params, status):
    response = client.get("/v1/frameworks/diff", params=params, headers=researcher)
    assert response.status_code == status


# --------------------------------------------------------------------------- search


def search(client, headers, q, **params):
    response = client.get("/v1/themes/search", params={"q": q, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_search_is_case_insensitive_over_label_and_definition(client, researcher):
    hits = search(client, researcher, "TRUST")["items"]
    found = {(h["framework"]["version"], h["code"], h["label"]) for h in hits}
    # "Trust" by label; Closeness and Trust's parent by their definitions.
    assert ("2", "1.2", "Trust") in found
    assert ("1", "1", "Closeness") in found and ("2", "1", "Closeness") in found
    labels = [h["label"] for h in hits]
    assert labels == sorted(labels)
    assert all(h["framework_title"].startswith("CIVIC") for h in hits)


def test_search_covers_only_published_versions(client, researcher):
    client.post(f"{CIVIC}/2/derive", json={"version": "3"}, headers=researcher)
    themes = by_code(client, researcher, f"{CIVIC}/3")
    client.patch(
        f"{CIVIC}/3/themes/{themes['7.2']['id']}",
        json={"label": "Bonds with hamsters"},
        headers=researcher,
    )
    assert search(client, researcher, "hamster")["items"] == []
    client.post(f"{CIVIC}/3/publish", headers=researcher)
    [hit] = search(client, researcher, "HAMSTERS")["items"]
    assert (hit["framework"]["version"], hit["label"]) == ("3", "Bonds with hamsters")
    client.post(f"{CIVIC}/3/retire", headers=researcher)
    assert search(client, researcher, "HAMSTERS")["items"] == []


def test_search_treats_wildcards_literally_and_pages(client, researcher):
    assert search(client, researcher, "%")["items"] == []
    assert search(client, researcher, "_")["items"] == []
    everything = [h["id"] for h in search(client, researcher, "connect", limit=500)["items"]]
    assert len(everything) > 3
    paged, cursor = [], None
    while True:
        page = search(
            client, researcher, "connect", limit=3, **({"cursor": cursor} if cursor else {})
        )
        paged += [h["id"] for h in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == everything
    assert client.get("/v1/themes/search", headers=researcher).status_code == 422
    assert client.get("/v1/themes/search", params={"q": "x"}).status_code == 401
