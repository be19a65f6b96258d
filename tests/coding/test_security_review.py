"""Security review: exploits found in the research workflow, kept as regressions."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from service.coding.models import Segment


def _segments(app, study) -> int:
    with app.state.sessionmaker() as session:
        count = select(func.count()).where(Segment.study_id == uuid.UUID(study.id))
        return session.scalar(count)


def test_a_coder_cannot_cascade_delete_segments_coded_by_others(
    app, client, study, participant, document, coders, make_segment
):
    """Coders change only their own segments; deleting the transcript (or participant)
    with ``cascade=true`` must not destroy another coder's (possibly blind) coding."""
    blind = client.patch(study.url, json={"blind": True}, headers=study.owner.headers)
    assert blind.status_code == 200
    make_segment(study, document, coders["owner"])  # hidden from the coder while blind
    make_segment(study, document, coders["co_researcher"], start=10, end=20)
    for url in (document.url, participant.url):
        refused = client.delete(url, params={"cascade": True}, headers=study.coder.headers)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    assert _segments(app, study) == 2
    assert client.get(document.url, headers=study.owner.headers).status_code == 200

    # Owners may; and a coder may when every segment in it is their own.
    deleted = client.delete(document.url, params={"cascade": True}, headers=study.owner.headers)
    assert deleted.status_code == 204
    assert _segments(app, study) == 0


def test_health_data_is_never_stored_by_caches(client, study, document, coders, make_segment):
    """Transcripts, segments and participants carry ``Cache-Control: no-store`` (and
    ``nosniff``), replayed and revalidated responses included; ETags still work."""
    segment = make_segment(study, document, coders["coder"])
    headers = study.coder.headers
    urls = [
        document.url,
        f"{document.url}/text",
        f"{study.url}/documents?include_text=true",
        f"{study.url}/segments",
        f"{study.url}/segments/{segment}",
        f"{study.url}/participants",
    ]
    for url in urls:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "no-store", url
        assert response.headers["x-content-type-options"] == "nosniff", url
    etag = client.get(document.url, headers=headers).headers["etag"]
    revalidated = client.get(document.url, headers={**headers, "If-None-Match": etag})
    assert revalidated.status_code == 304
    assert revalidated.headers["cache-control"] == "no-store"
    body = {"title": "Interview 9", "text": "P09: private words.\n"}
    retry = {**headers, "Idempotency-Key": "doc-9"}
    for _ in range(2):
        created = client.post(f"{study.url}/documents", json=body, headers=retry)
        assert created.status_code == 201
        assert created.headers["cache-control"] == "no-store"
    assert created.headers["idempotent-replayed"] == "true"
    outsider = client.get(document.url, headers=study.outsider.headers)
    assert outsider.status_code == 404 and outsider.headers["cache-control"] == "no-store"
