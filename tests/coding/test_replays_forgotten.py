"""Stored idempotent replays of a study's routes can quote its material, so they go
when that material goes, or when a member leaves."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from service.http.idempotency import IdempotencyRecord


def _replays(app, study_id: str) -> int:
    with app.state.sessionmaker() as session:
        return session.scalar(
            select(func.count())
            .select_from(IdempotencyRecord)
            .where(IdempotencyRecord.study_id == uuid.UUID(study_id))
        )


def _create_document(client, study, key: str):
    body = {"title": "Interview", "text": "A passage that must not outlive its deletion."}
    headers = {**study.owner.headers, "Idempotency-Key": key}
    return client.post(f"{study.url}/documents", json=body, headers=headers)


def test_deleting_a_document_forgets_the_replays_that_quote_it(app, client, study):
    first = _create_document(client, study, "doc-1")
    assert first.status_code == 201 and _replays(app, study.id) == 1
    assert _create_document(client, study, "doc-1").headers["idempotent-replayed"] == "true"
    deleted = client.delete(
        f"{study.url}/documents/{first.json()['id']}", headers=study.owner.headers
    )
    assert deleted.status_code == 204
    assert _replays(app, study.id) == 0
    retried = _create_document(client, study, "doc-1")
    assert retried.status_code == 201 and "idempotent-replayed" not in retried.headers
    assert retried.json()["id"] != first.json()["id"]


def test_removing_a_member_or_deleting_the_study_forgets_its_replays(app, client, study):
    _create_document(client, study, "doc-2")
    assert _replays(app, study.id) == 1
    removed = client.delete(f"{study.url}/members/{study.viewer.id}", headers=study.owner.headers)
    assert removed.status_code == 204 and _replays(app, study.id) == 0
    _create_document(client, study, "doc-3")
    gone = client.delete(study.url, params={"cascade": "true"}, headers=study.owner.headers)
    assert gone.status_code == 204 and _replays(app, study.id) == 0


def test_replays_of_other_studies_are_kept(app, client, study, make_study):
    other = make_study()
    _create_document(client, study, "doc-4")
    _create_document(client, other, "doc-4")
    client.delete(f"{study.url}/members/{study.viewer.id}", headers=study.owner.headers)
    assert (_replays(app, study.id), _replays(app, other.id)) == (0, 1)
