"""Idempotent retries (Idempotency-Key on POST), including the security review's
exploits: a replay needs a key that is still valid, the response to a key creation
(its secret) is never kept, replays expire after CIVIC_IDEMPOTENCY_TTL_HOURS, and a
request with other query parameters is another request."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from service.db import utcnow
from service.http.idempotency import IdempotencyRecord

STUDY = {"title": "Retry study", "framework": {"slug": "civic", "version": "2"}}
CODEBOOK = (
    Path(__file__).parent.parent / "fixtures" / "refi" / "other-tool-codebook.qdc"
).read_bytes()


def _records(app) -> list[IdempotencyRecord]:
    with app.state.sessionmaker() as session:
        return list(session.scalars(select(IdempotencyRecord)))


def test_idempotency_key_replays_the_first_response(client, researcher):
    headers = {**researcher, "Idempotency-Key": "create-study-1"}
    first = client.post("/v1/studies", json=STUDY, headers=headers)
    again = client.post("/v1/studies", json=STUDY, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(client.get("/v1/studies", headers=researcher).json()["items"]) == 1
    other = client.post("/v1/studies", json=STUDY | {"title": "Other"}, headers=headers)
    assert other.status_code == 422 and "different request" in other.json()["detail"]


def test_idempotency_keys_are_scoped_to_the_caller(client, researcher, make_key):
    other = make_key("researcher", "second-researcher")
    first = client.post("/v1/studies", json=STUDY, headers={**researcher, "Idempotency-Key": "k"})
    second = client.post("/v1/studies", json=STUDY, headers={**other, "Idempotency-Key": "k"})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


def test_failed_request_does_not_burn_the_idempotency_key(client, researcher):
    headers = {**researcher, "Idempotency-Key": "retry-me"}
    draft = STUDY | {"framework": {"slug": "civic", "version": "no-such-version"}}
    assert client.post("/v1/studies", json=draft, headers=headers).status_code == 422
    assert client.post("/v1/studies", json=STUDY, headers=headers).status_code == 201


def test_a_revoked_key_gets_401_not_a_replay(client, admin):
    created = client.post("/v1/keys", json={"name": "leaver", "role": "researcher"}, headers=admin)
    leaver = {"Authorization": f"Bearer {created.json()['key']}"}
    headers = {**leaver, "Idempotency-Key": "study-1"}
    assert client.post("/v1/studies", json=STUDY, headers=headers).status_code == 201
    revoked = client.delete(f"/v1/keys/{created.json()['id']}", headers=admin)
    assert revoked.status_code == 200
    replay = client.post("/v1/studies", json=STUDY, headers=headers)
    assert replay.status_code == 401, replay.text
    assert replay.headers["www-authenticate"].startswith("Bearer")
    assert "idempotent-replayed" not in replay.headers


def test_callers_without_a_valid_key_claim_nothing(app, client):
    for headers in ({}, {"Authorization": "Bearer civic_unknown"}, {"Authorization": "Basic x"}):
        response = client.post(
            "/v1/studies", json=STUDY, headers={**headers, "Idempotency-Key": "k"}
        )
        assert response.status_code == 401
    assert _records(app) == []


def test_the_secret_of_a_created_key_is_never_kept_for_replay(app, client, admin):
    headers = {**admin, "Idempotency-Key": "create-key-1"}
    body = {"name": "app", "role": "clinician"}
    first = client.post("/v1/keys", json=body, headers=headers)
    assert first.status_code == 201
    secret = first.json()["key"].encode()
    assert not any(secret in (record.response_body or b"") for record in _records(app))
    assert _records(app) == []  # nothing is kept: a retry makes a new key
    again = client.post("/v1/keys", json=body, headers=headers)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert again.json()["key"] != first.json()["key"]


def test_replays_expire_after_the_configured_ttl(app, client, researcher):
    headers = {**researcher, "Idempotency-Key": "ttl"}
    first = client.post("/v1/studies", json=STUDY, headers=headers)
    with app.state.sessionmaker() as session:
        session.execute(update(IdempotencyRecord).values(created_at=utcnow() - timedelta(hours=2)))
        session.commit()
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"idempotency_ttl_hours": 1})
    try:
        again = client.post("/v1/studies", json=STUDY, headers=headers)
    finally:
        app.state.settings = settings
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    with app.state.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1


def test_other_query_parameters_are_another_request(client, researcher):
    headers = {**researcher, "Idempotency-Key": "import-1", "Content-Type": "application/xml"}
    url = "/v1/frameworks:import-codebook"
    first = client.post(url, params={"slug": "tool-a"}, content=CODEBOOK, headers=headers)
    assert first.status_code == 201, first.text
    other = client.post(url, params={"slug": "tool-b"}, content=CODEBOOK, headers=headers)
    assert other.status_code == 422 and "different request" in other.json()["detail"]
    same = client.post(url, params={"slug": "tool-a"}, content=CODEBOOK, headers=headers)
    assert same.status_code == 201 and same.headers["idempotent-replayed"] == "true"
