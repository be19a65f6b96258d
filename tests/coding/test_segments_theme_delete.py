"""A theme that coded segments use cannot be deleted (409), so no coding is lost.

Studies code against published versions, which refuse every edit; this is the rule
for a draft that segments use all the same (a study created on a draft directly in
the database), so the guarantee does not rest on the publication rule alone.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from service.frameworks.models import Framework, Theme

DRAFT = "/v1/frameworks/connectedness-pilot/versions/0.1"


@pytest.fixture
def study(app, client, make_study, researcher):
    """A study on a draft framework version with two themes, made through the API."""
    created = client.post(
        "/v1/frameworks",
        json={
            "slug": "connectedness-pilot",
            "version": "0.1",
            "title": "Pilot codebook",
            "citation": "Invented for this test.",
        },
        headers=researcher,
    )
    assert created.status_code == 201, created.text
    for code, label in (("1", "Belonging"), ("2", "Being alone")):
        theme = client.post(
            f"{DRAFT}/themes", json={"code": code, "label": label}, headers=researcher
        )
        assert theme.status_code == 201, theme.text
    with app.state.sessionmaker() as session:
        draft = session.scalars(
            select(Framework).where(Framework.slug == "connectedness-pilot")
        ).one()
        return make_study(framework_id=draft.id)


def _theme_id(app, code: str) -> str:
    with app.state.sessionmaker() as session:
        return str(
            session.scalars(
                select(Theme.id)
                .join(Framework, Framework.id == Theme.framework_id)
                .where(Framework.slug == "connectedness-pilot", Theme.code == code)
            ).one()
        )


def test_deleting_a_theme_used_by_segments_is_409_and_loses_nothing(
    client, app, study, document, coders, researcher
):
    used, unused = _theme_id(app, "1"), _theme_id(app, "2")
    segment = client.post(
        f"{study.url}/segments",
        json={"document_id": document.id, "start": 69, "end": 82, "theme_id": used},
        headers=study.coder.headers,
    )
    assert segment.status_code == 201, segment.text
    refused = client.delete(f"{DRAFT}/themes/{used}", headers=researcher)
    assert refused.status_code == 409, refused.text
    assert "1 coded segment" in refused.json()["detail"]
    assert client.get(f"{DRAFT}/themes/{used}", headers=researcher).status_code == 200
    kept = client.get(segment.headers["location"], headers=study.coder.headers)
    assert kept.status_code == 200
    assert (kept.json()["theme_id"], kept.json()["theme_label"]) == (used, "Belonging")

    assert client.delete(f"{DRAFT}/themes/{unused}", headers=researcher).status_code == 204
    # Once its segments are gone, the theme may go too.
    assert (
        client.delete(segment.headers["location"], headers=study.coder.headers).status_code == 204
    )
    assert client.delete(f"{DRAFT}/themes/{used}", headers=researcher).status_code == 204
    with app.state.sessionmaker() as session:
        assert session.get(Theme, uuid.UUID(used)) is None
