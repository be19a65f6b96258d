"""API keys: authentication, roles, and the HTTP conventions on the /v1/keys routes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from service.auth.models import ApiKey

PROBLEM = "application/problem+json"


def test_missing_key_is_401_with_bearer_challenge(client):
    response = client.get("/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["status"] == 401


def test_unknown_key_is_401(client):
    response = client.get("/v1/me", headers={"Authorization": "Bearer civic_not-a-real-key"})
    assert response.status_code == 401
    assert "unknown or revoked" in response.json()["detail"]


def test_me_names_the_caller(client, researcher):
    response = client.get("/v1/me", headers=researcher)
    assert response.status_code == 200
    assert response.json()["name"] == "test-researcher"
    assert response.json()["role"] == "researcher"


def test_admin_creates_a_key_that_works_and_is_stored_only_as_a_hash(app, client, admin):
    created = client.post(
        "/v1/keys", json={"name": "ehr-bridge", "role": "integrator"}, headers=admin
    )
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("civic_") and created.json()["prefix"] == key[:12]
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.json() == {**me.json(), "name": "ehr-bridge", "role": "integrator"}
    with app.state.sessionmaker() as session:
        stored = session.scalars(select(ApiKey)).all()
    assert all(key not in (row.key_hash, row.prefix) for row in stored)
    listed = client.get("/v1/keys", headers=admin).text
    assert key not in listed


def test_non_admin_may_not_create_keys(client, researcher):
    response = client.post("/v1/keys", json={"name": "x", "role": "admin"}, headers=researcher)
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM


def test_existing_principal_with_another_role_conflicts(client, admin):
    response = client.post(
        "/v1/keys", json={"name": "test-admin", "role": "clinician"}, headers=admin
    )
    assert response.status_code == 409


@pytest.mark.parametrize("name", ["ana\x00", "ana\ud800"])
def test_a_name_that_cannot_be_stored_is_422_not_500(client, admin, name):
    # PostgreSQL refuses NUL in text; UTF-8 cannot encode a lone surrogate.
    response = client.post(
        "/v1/keys",
        content=json.dumps({"name": name, "role": "researcher"}),
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "name"]


def test_revoked_key_is_refused_at_once(client, admin):
    created = client.post(
        "/v1/keys", json={"name": "app", "role": "clinician"}, headers=admin
    ).json()
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert client.get("/v1/me", headers=headers).status_code == 200
    revoked = client.delete(f"/v1/keys/{created['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get("/v1/me", headers=headers).status_code == 401
    again = client.delete(f"/v1/keys/{created['id']}", headers=admin)
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]


def test_unknown_key_id_is_404_and_a_malformed_one_422(client, admin):
    assert (
        client.get("/v1/keys/00000000-0000-0000-0000-000000000000", headers=admin).status_code
        == 404
    )
    bad = client.get("/v1/keys/not-a-uuid", headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["path", "key_id"]


def test_key_list_pages_with_a_cursor(client, admin):
    for n in range(5):
        client.post("/v1/keys", json={"name": f"app-{n}", "role": "clinician"}, headers=admin)
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/keys", params=params, headers=admin).json()
        assert len(page["items"]) <= 2 and page["limit"] == 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 6  # five new keys and the admin's own


def test_page_size_above_the_maximum_is_422_and_a_bad_cursor_400(client, admin):
    assert client.get("/v1/keys", params={"limit": 10_000}, headers=admin).status_code == 422
    assert client.get("/v1/keys", params={"cursor": "%%%"}, headers=admin).status_code == 400


def test_etag_revalidation_and_stale_if_match(client, admin):
    created = client.post(
        "/v1/keys", json={"name": "app", "role": "clinician"}, headers=admin
    ).json()
    url = f"/v1/keys/{created['id']}"
    first = client.get(url, headers=admin)
    etag = first.headers["etag"]
    assert client.get(url, headers={**admin, "If-None-Match": etag}).status_code == 304
    stale = client.delete(url, headers={**admin, "If-Match": '"stale"'})
    assert stale.status_code == 412
    assert client.delete(url, headers={**admin, "If-Match": etag}).status_code == 200
    assert client.get(url, headers={**admin, "If-None-Match": etag}).status_code == 200


def test_key_creation_keeps_no_idempotent_replay(client, admin):
    # The response carries the secret, and only its hash may be stored: a retry makes
    # another key (see tests/http/test_idempotency.py for the replay rules).
    headers = {**admin, "Idempotency-Key": "create-app-1"}
    first = client.post("/v1/keys", json={"name": "app", "role": "clinician"}, headers=headers)
    again = client.post("/v1/keys", json={"name": "app", "role": "clinician"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert again.json()["key"] != first.json()["key"]
    assert len(client.get("/v1/keys", headers=admin).json()["items"]) == 3
