"""Moving whole framework versions between the tables and FrameworkSnapshot.

Everything that reads or writes a version as a unit (the built-in loader, derive,
REFI-QDA import, diff, FHIR and the recommendation engine) goes through here, in a
fixed number of queries whatever the size of the tree.
"""

from __future__ import annotations

import dataclasses
from uuid import UUID

from sqlalchemy import select
from sqlmodel import Session

from service.frameworks import domain
from service.frameworks.models import Component, Framework, TargetLink, Theme


def load_snapshot(*, session: Session, framework: Framework) -> domain.FrameworkSnapshot:
    themes = session.scalars(select(Theme).where(Theme.framework_id == framework.id)).all()
    components = session.scalars(
        select(Component).where(Component.framework_id == framework.id)
    ).all()
    links = session.scalars(select(TargetLink).where(TargetLink.framework_id == framework.id)).all()
    key_of_theme = {theme.id: theme.key for theme in themes}
    key_of_component = {component.id: component.key for component in components}
    derived_from = (
        session.get(Framework, framework.derived_from_id) if framework.derived_from_id else None
    )
    snapshot = domain.FrameworkSnapshot(
        slug=framework.slug,
        version=framework.version,
        title=framework.title,
        description=framework.description,
        citation=framework.citation,
        status=domain.FrameworkStatus(framework.status),
        derived_from_version=derived_from.version if derived_from else None,
        themes=tuple(
            domain.ThemeNode(
                key=t.key,
                code=t.code,
                label=t.label,
                definition=t.definition,
                kind=domain.ThemeKind(t.kind),
                parent_key=key_of_theme.get(t.parent_id) if t.parent_id else None,
                order=t.order,
                introduced_in=t.introduced_in,
            )
            for t in sorted(themes, key=lambda t: (t.order, t.code))
        ),
        components=tuple(
            domain.Component(
                key=c.key,
                name=c.name,
                description=c.description,
                delivery_modes=tuple(domain.DeliveryMode(m) for m in c.delivery_modes),
                tags=tuple(c.tags),
                min_duration_weeks=c.min_duration_weeks,
                delivery_notes=c.delivery_notes,
                evidence_source=c.evidence_source,
            )
            for c in sorted(components, key=lambda c: c.key)
        ),
        links=tuple(
            domain.TargetLink(
                theme_key=key_of_theme[link.theme_id],
                component_key=key_of_component[link.component_id],
                rationale=link.rationale,
                source=link.source,
                from_framework_study=link.from_framework_study,
            )
            for link in sorted(
                links,
                key=lambda lk: (key_of_theme[lk.theme_id], key_of_component[lk.component_id]),
            )
        ),
    )
    # Depth-first order, so lists derived from the snapshot (diffs, exports) read
    # like the tree: 1, 1.1, 1.2, 2, ...
    return dataclasses.replace(snapshot, themes=snapshot.in_tree_order())


def store_snapshot(
    *,
    session: Session,
    snapshot: domain.FrameworkSnapshot,
    builtin: bool = False,
    derived_from_id: UUID | None = None,
) -> Framework:
    """Insert a whole version (new ids, same keys). Parents are inserted before
    children so the self-referencing foreign key holds at every statement."""
    framework = Framework(
        slug=snapshot.slug,
        version=snapshot.version,
        title=snapshot.title,
        description=snapshot.description,
        citation=snapshot.citation,
        status=snapshot.status.value,
        builtin=builtin,
        derived_from_id=derived_from_id,
    )
    session.add(framework)
    session.flush()
    theme_ids: dict[str, UUID] = {}
    pending = list(snapshot.themes)
    while pending:
        ready = [t for t in pending if t.parent_key is None or t.parent_key in theme_ids]
        if not ready:
            raise ValueError("theme parents form a cycle or name a missing theme")
        for node in ready:
            theme = Theme(
                framework_id=framework.id,
                key=node.key,
                code=node.code,
                label=node.label,
                definition=node.definition,
                kind=node.kind.value,
                parent_id=theme_ids[node.parent_key] if node.parent_key else None,
                order=node.order,
                introduced_in=node.introduced_in,
            )
            session.add(theme)
            theme_ids[node.key] = theme.id
        session.flush()
        pending = [t for t in pending if t.key not in theme_ids]
    component_ids: dict[str, UUID] = {}
    for node in snapshot.components:
        component = Component(
            framework_id=framework.id,
            key=node.key,
            name=node.name,
            description=node.description,
            delivery_modes=[mode.value for mode in node.delivery_modes],
            tags=list(node.tags),
            min_duration_weeks=node.min_duration_weeks,
            delivery_notes=node.delivery_notes,
            evidence_source=node.evidence_source,
        )
        session.add(component)
        component_ids[node.key] = component.id
    session.flush()
    session.add_all(
        TargetLink(
            framework_id=framework.id,
            theme_id=theme_ids[link.theme_key],
            component_id=component_ids[link.component_key],
            rationale=link.rationale,
            source=link.source,
            from_framework_study=link.from_framework_study,
        )
        for link in snapshot.links
    )
    session.flush()
    return framework


def load_builtin_frameworks(*, session: Session) -> None:
    """Insert CIVIC v1 and v2 unless they are already there (loading twice is a no-op)."""
    from service.frameworks.builtin import BUILTIN_FRAMEWORKS
    from service.frameworks.domain import FrameworkStatus

    stored: dict[tuple[str, str], Framework] = {
        (f.slug, f.version): f
        for f in session.scalars(select(Framework).where(Framework.builtin.is_(True)))
    }
    for snapshot in BUILTIN_FRAMEWORKS:
        if (snapshot.slug, snapshot.version) in stored:
            continue
        parent = (
            stored.get((snapshot.slug, snapshot.derived_from_version))
            if snapshot.derived_from_version
            else None
        )
        framework = store_snapshot(
            session=session,
            snapshot=snapshot,
            builtin=True,
            derived_from_id=parent.id if parent else None,
        )
        if snapshot.status is FrameworkStatus.published:
            framework.published_at = framework.created_at
        stored[(snapshot.slug, snapshot.version)] = framework
    session.flush()
