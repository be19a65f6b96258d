"""Whole versions in and out of the tables: the built-in loader and snapshots."""

from __future__ import annotations

from sqlalchemy import select

from service import seed
from service.frameworks import store
from service.frameworks.builtin import civic_v2
from service.frameworks.models import Component, Framework, TargetLink, Theme


def _rows(session) -> dict[str, list]:
    return {
        model.__tablename__: sorted(str(row.id) for row in session.scalars(select(model)))
        for model in (Framework, Theme, Component, TargetLink)
    }


def test_loading_the_built_in_frameworks_twice_changes_nothing(app, client):
    with app.state.sessionmaker() as session:
        before = _rows(session)
        seed.load_builtin(session=session)
        seed.load_builtin(session=session)
        session.commit()
        after = _rows(session)
    assert after == before
    assert {name: len(ids) for name, ids in before.items()} == {
        "frameworks": 2,
        "themes": 27,
        "components": 14,
        "target_links": 16,
    }


def test_a_stored_version_reads_back_as_the_same_snapshot(app, client):
    with app.state.sessionmaker() as session:
        framework = session.scalars(select(Framework).where(Framework.version == "2")).one()
        loaded = store.load_snapshot(session=session, framework=framework)
    expected = civic_v2()
    assert loaded.themes == expected.in_tree_order()
    assert set(loaded.components) == set(expected.components)
    assert set(loaded.links) == set(expected.links)
    assert (loaded.slug, loaded.version, loaded.status, loaded.derived_from_version) == (
        "civic",
        "2",
        expected.status,
        "1",
    )
