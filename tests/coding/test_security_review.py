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
