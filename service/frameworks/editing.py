"""Editing inside a draft version: themes, intervention components and target links.

Every function refuses to touch a published or retired version (409), checks that any
theme or component named in a body belongs to the same version (422 otherwise; the
composite foreign keys would refuse it too), and flushes without committing.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import func, select
from sqlmodel import Session

from service.coding import segments as segments_service
from service.errors import Conflict, NotFound, Unprocessable
from service.frameworks.models import Component, Framework, TargetLink, Theme
from service.frameworks.schemas import ComponentCreate, LinkCreate, ThemeCreate
from service.frameworks.service import require_draft, touch, version_label

# --------------------------------------------------------------------------- themes


def get_theme(*, session: Session, framework: Framework, theme_id: UUID) -> Theme:
    theme = session.get(Theme, theme_id)
    if theme is None or theme.framework_id != framework.id:
        raise NotFound(f"No theme {theme_id} in {version_label(framework)}.")
    return theme


def _invalid(field: str, message: str) -> Unprocessable:
    return Unprocessable(
        message, errors=[{"loc": ["body", field], "msg": message, "type": "value"}]
    )


def _theme_in_version(
    *, session: Session, framework: Framework, theme_id: UUID, field: str
) -> Theme:
    theme = session.get(Theme, theme_id)
    if theme is None:
        raise _invalid(field, f"No theme {theme_id}.")
    if theme.framework_id != framework.id:
        other = session.get(Framework, theme.framework_id)
        where = version_label(other) if other else "another version"
        here = version_label(framework)
        raise _invalid(field, f"Theme {theme_id} belongs to {where}, not {here}.")
    return theme


def _ensure_code_free(
    *, session: Session, framework: Framework, code: str, other_than: UUID | None = None
) -> None:
    statement = select(Theme.id).where(Theme.framework_id == framework.id, Theme.code == code)
    if other_than is not None:
        statement = statement.where(Theme.id != other_than)
    if session.scalars(statement).first() is not None:
        raise Conflict(f"{version_label(framework)} already has a theme coded {code!r}.")


def _next_order(*, session: Session, framework: Framework, parent_id: UUID | None) -> int:
    parent_clause = Theme.parent_id.is_(None) if parent_id is None else Theme.parent_id == parent_id
    highest = session.scalar(
        select(func.max(Theme.order)).where(Theme.framework_id == framework.id, parent_clause)
    )
    return 1 if highest is None else highest + 1


def create_theme(*, session: Session, framework: Framework, body: ThemeCreate) -> Theme:
    require_draft(framework)
    key = body.key or str(uuid4())
    taken = session.scalars(
        select(Theme.id).where(Theme.framework_id == framework.id, Theme.key == key)
    ).first()
    if taken is not None:
        raise Conflict(f"{version_label(framework)} already has a theme with key {key!r}.")
    _ensure_code_free(session=session, framework=framework, code=body.code)
    if body.parent_id is not None:
        _theme_in_version(
            session=session, framework=framework, theme_id=body.parent_id, field="parent_id"
        )
    order = body.order
    if order is None:
        order = _next_order(session=session, framework=framework, parent_id=body.parent_id)
    theme = Theme(
        framework_id=framework.id,
        key=key,
        code=body.code,
        label=body.label,
        definition=body.definition,
        kind=body.kind.value,
        parent_id=body.parent_id,
        order=order,
        introduced_in=framework.version,
    )
    session.add(theme)
    touch(framework)
    session.flush()
    return theme


def _check_move(*, session: Session, framework: Framework, theme: Theme, parent_id: UUID) -> None:
    """A theme may not go under itself or under anything below it."""
    _theme_in_version(session=session, framework=framework, theme_id=parent_id, field="parent_id")
    rows = session.execute(
        select(Theme.id, Theme.parent_id).where(Theme.framework_id == framework.id)
    )
    parents = {theme_id: parent for theme_id, parent in rows}
    ancestor: UUID | None = parent_id
    while ancestor is not None:
        if ancestor == theme.id:
            raise _invalid(
                "parent_id",
                f"Moving {theme.code} {theme.label!r} under {parent_id} would make a cycle: "
                "that theme is the one being moved or lies below it.",
            )
        ancestor = parents.get(ancestor)


def update_theme(
    *, session: Session, framework: Framework, theme: Theme, changes: dict[str, Any]
) -> Theme:
    require_draft(framework)
    if not changes:
        return theme
    if "code" in changes and changes["code"] != theme.code:
        _ensure_code_free(
            session=session, framework=framework, code=changes["code"], other_than=theme.id
        )
    if "parent_id" in changes and changes["parent_id"] != theme.parent_id:
        if changes["parent_id"] is not None:
            _check_move(
                session=session, framework=framework, theme=theme, parent_id=changes["parent_id"]
            )
        if "order" not in changes:  # joins its new siblings at the end
            changes["order"] = _next_order(
                session=session, framework=framework, parent_id=changes["parent_id"]
            )
    if "kind" in changes:
        changes["kind"] = changes["kind"].value
    for name, value in changes.items():
        setattr(theme, name, value)
    touch(framework)
    session.flush()
    return theme


def delete_theme(*, session: Session, framework: Framework, theme: Theme) -> None:
    """Delete a theme of a draft, with its target links.

    Every rule about whether a theme may go belongs here, in one place: the version
    must be a draft, and the theme must have no subordinate themes (deleting a whole
    branch by accident is worse than two requests).
    """
    require_draft(framework)
    has_children = session.scalars(
        select(Theme.id).where(Theme.framework_id == framework.id, Theme.parent_id == theme.id)
    ).first()
    if has_children is not None:
        raise Conflict(
            f"Theme {theme.code} {theme.label!r} has subordinate themes; delete or move them first."
        )
    coded = segments_service.count_theme_uses(session=session, theme_id=theme.id)
    if coded:
        raise Conflict(
            f"Theme {theme.code} {theme.label!r} is used by {coded} coded segment(s); "
            "recode or delete them first, so that no coding is lost."
        )
    session.delete(theme)
    touch(framework)
    session.flush()


def reorder_themes(
    *, session: Session, framework: Framework, parent_id: UUID | None, theme_ids: list[UUID]
) -> list[Theme]:
    """Give the children of ``parent_id`` the order of ``theme_ids`` (1, 2, 3...)."""
    require_draft(framework)
    if parent_id is not None:
        _theme_in_version(
            session=session, framework=framework, theme_id=parent_id, field="parent_id"
        )
    parent_clause = Theme.parent_id.is_(None) if parent_id is None else Theme.parent_id == parent_id
    siblings = {
        t.id: t
        for t in session.scalars(
            select(Theme).where(Theme.framework_id == framework.id, parent_clause)
        )
    }
    if len(set(theme_ids)) != len(theme_ids):
        raise _invalid("theme_ids", "A theme is listed more than once.")
    missing = [str(i) for i in siblings if i not in set(theme_ids)]
    extra = [str(i) for i in theme_ids if i not in siblings]
    if missing or extra:
        parts = []
        if extra:
            parts.append(f"not children of that parent: {', '.join(extra)}")
        if missing:
            parts.append(f"children left out: {', '.join(missing)}")
        raise _invalid("theme_ids", "List every child exactly once; " + "; ".join(parts) + ".")
    for position, theme_id in enumerate(theme_ids, 1):
        siblings[theme_id].order = position
    touch(framework)
    session.flush()
    return [siblings[theme_id] for theme_id in theme_ids]


# --------------------------------------------------------------------------- components


def get_component(*, session: Session, framework: Framework, component_id: UUID) -> Component:
    component = session.get(Component, component_id)
    if component is None or component.framework_id != framework.id:
        raise NotFound(f"No component {component_id} in {version_label(framework)}.")
    return component


def create_component(*, session: Session, framework: Framework, body: ComponentCreate) -> Component:
    require_draft(framework)
    taken = session.scalars(
        select(Component.id).where(
            Component.framework_id == framework.id, Component.key == body.key
        )
    ).first()
    if taken is not None:
        raise Conflict(f"{version_label(framework)} already has a component with key {body.key!r}.")
    component = Component(framework_id=framework.id, **body.model_dump(mode="json"))
    session.add(component)
    touch(framework)
    session.flush()
    return component


def update_component(
    *, session: Session, framework: Framework, component: Component, changes: dict[str, Any]
) -> Component:
    require_draft(framework)
    if not changes:
        return component
    if "delivery_modes" in changes:
        changes["delivery_modes"] = [mode.value for mode in changes["delivery_modes"]]
    for name, value in changes.items():
        setattr(component, name, value)
    touch(framework)
    session.flush()
    return component


def delete_component(*, session: Session, framework: Framework, component: Component) -> None:
    """Delete a component of a draft, with its target links."""
    require_draft(framework)
    session.delete(component)
    touch(framework)
    session.flush()


# --------------------------------------------------------------------------- links


def get_link(*, session: Session, framework: Framework, link_id: UUID) -> TargetLink:
    link = session.get(TargetLink, link_id)
    if link is None or link.framework_id != framework.id:
        raise NotFound(f"No target link {link_id} in {version_label(framework)}.")
    return link


def create_link(*, session: Session, framework: Framework, body: LinkCreate) -> TargetLink:
    require_draft(framework)
    theme = _theme_in_version(
        session=session, framework=framework, theme_id=body.theme_id, field="theme_id"
    )
    component = session.get(Component, body.component_id)
    if component is None or component.framework_id != framework.id:
        here = version_label(framework)
        raise _invalid("component_id", f"No component {body.component_id} in {here}.")
    taken = session.scalars(
        select(TargetLink.id).where(
            TargetLink.theme_id == theme.id, TargetLink.component_id == component.id
        )
    ).first()
    if taken is not None:
        raise Conflict(f"{component.name!r} already targets {theme.code} {theme.label!r}.")
    link = TargetLink(framework_id=framework.id, **body.model_dump())
    session.add(link)
    touch(framework)
    session.flush()
    return link


def update_link(
    *, session: Session, framework: Framework, link: TargetLink, changes: dict[str, Any]
) -> TargetLink:
    require_draft(framework)
    if not changes:
        return link
    for name, value in changes.items():
        setattr(link, name, value)
    touch(framework)
    session.flush()
    return link


def delete_link(*, session: Session, framework: Framework, link: TargetLink) -> None:
    require_draft(framework)
    session.delete(link)
    touch(framework)
    session.flush()
