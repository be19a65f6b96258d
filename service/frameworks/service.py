"""Framework versions: finding, listing, creating, the draft → published → retired
life cycle, deriving, diffing and searching.

Edits inside a draft (themes, components, links) are in ``editing``; the REFI-QDA
import is in ``exchange``. Every function here flushes and never commits: the request's
session commits once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import func, or_, select
from sqlmodel import Session

from service.db import utcnow
from service.errors import Conflict, NotFound, Unprocessable
from service.frameworks import diff as diff_module
from service.frameworks import domain
from service.frameworks.models import Component, Framework, TargetLink, Theme
from service.frameworks.schemas import FrameworkCreate, FrameworkDerive
from service.frameworks.store import load_snapshot, store_snapshot
from service.http.pagination import PageParams, paginate

DRAFT = domain.FrameworkStatus.draft.value
PUBLISHED = domain.FrameworkStatus.published.value
RETIRED = domain.FrameworkStatus.retired.value


@dataclass(frozen=True, slots=True)
class VersionRows:
    """Everything one version's representation needs, read in a fixed number of queries."""

    framework: Framework
    derived_from: Framework | None
    themes: list[Theme]
    components: list[Component]
    links: list[TargetLink]


def version_label(framework: Framework) -> str:
    return f"{framework.slug}@{framework.version}"


# --------------------------------------------------------------------------- finding


def get_version(
    *, session: Session, slug: str, version: str, for_update: bool = False
) -> Framework:
    """The version, or 404. ``for_update`` locks its row (PostgreSQL) so that two edits
    of one draft, or an edit racing a publish, run one after the other."""
    statement = select(Framework).where(Framework.slug == slug, Framework.version == version)
    if for_update:
        statement = statement.with_for_update()
    framework = session.scalars(statement).first()
    if framework is None:
        raise NotFound(f"No framework version {slug}@{version}.")
    return framework


def latest_published(*, session: Session, slug: str) -> Framework:
    """The most recently published version of a framework, or 404."""
    framework = session.scalars(
        select(Framework)
        .where(Framework.slug == slug, Framework.status == "published")
        .order_by(Framework.published_at.desc(), Framework.created_at.desc())
        .limit(1)
    ).first()
    if framework is None:
        raise NotFound(f"Framework {slug!r} has no published version.")
    return framework


def load_rows(*, session: Session, framework: Framework) -> VersionRows:
    themes = list(session.scalars(select(Theme).where(Theme.framework_id == framework.id)))
    components = list(
        session.scalars(select(Component).where(Component.framework_id == framework.id))
    )
    links = list(session.scalars(select(TargetLink).where(TargetLink.framework_id == framework.id)))
    derived_from = (
        session.get(Framework, framework.derived_from_id) if framework.derived_from_id else None
    )
    return VersionRows(framework, derived_from, themes, components, links)


def snapshot(*, session: Session, framework: Framework) -> domain.FrameworkSnapshot:
    return load_snapshot(session=session, framework=framework)


def require_draft(framework: Framework) -> None:
    """Published and retired versions are frozen: studies have been coded against them."""
    if framework.status != DRAFT:
        raise Conflict(
            f"{version_label(framework)} is {framework.status} and can no longer be changed; "
            "derive a new draft version from it and edit that."
        )


def touch(framework: Framework) -> None:
    framework.updated_at = utcnow()


def ensure_free(*, session: Session, slug: str, version: str) -> None:
    taken = session.scalars(
        select(Framework.id).where(Framework.slug == slug, Framework.version == version)
    ).first()
    if taken is not None:
        raise Conflict(f"{slug}@{version} already exists; choose another version string.")


# --------------------------------------------------------------------------- listing


def list_versions(
    *, session: Session, page: PageParams, slug: str | None, status: str | None
) -> tuple[list[Framework], dict[UUID, Framework], str | None]:
    """A page of versions ordered by slug and version, and the versions they derive from."""
    statement = select(Framework)
    if slug is not None:
        statement = statement.where(Framework.slug == slug)
    if status is not None:
        statement = statement.where(Framework.status == status)
    rows, next_cursor = paginate(
        session,
        statement,
        order_by=[Framework.slug, Framework.version, Framework.id],
        params=page,
    )
    parent_ids = {f.derived_from_id for f in rows if f.derived_from_id}
    parents = (
        {f.id: f for f in session.scalars(select(Framework).where(Framework.id.in_(parent_ids)))}
        if parent_ids
        else {}
    )
    return rows, parents, next_cursor


def list_components(
    *, session: Session, framework: Framework, page: PageParams
) -> tuple[list[Component], str | None]:
    return paginate(
        session,
        select(Component).where(Component.framework_id == framework.id),
        order_by=[Component.key, Component.id],
        params=page,
    )


def search_themes(
    *, session: Session, query: str, page: PageParams
) -> tuple[list[Theme], dict[UUID, Framework], str | None]:
    """Themes of published versions whose label or definition contains ``query``, any
    case, ordered by label."""
    matches = or_(
        Theme.label.icontains(query, autoescape=True),
        Theme.definition.icontains(query, autoescape=True),
    )
    statement = (
        select(Theme)
        .join(Framework, Framework.id == Theme.framework_id)
        .where(Framework.status == PUBLISHED, matches)
    )
    themes, next_cursor = paginate(
        session, statement, order_by=[Theme.label, Theme.id], params=page
    )
    ids = {t.framework_id for t in themes}
    frameworks = (
        {f.id: f for f in session.scalars(select(Framework).where(Framework.id.in_(ids)))}
        if ids
        else {}
    )
    return themes, frameworks, next_cursor


# --------------------------------------------------------------------------- life cycle


def create_version(*, session: Session, body: FrameworkCreate) -> Framework:
    ensure_free(session=session, slug=body.slug, version=body.version)
    framework = Framework(**body.model_dump(), status=DRAFT)
    session.add(framework)
    session.flush()
    return framework


def update_version(*, session: Session, framework: Framework, changes: dict) -> Framework:
    require_draft(framework)
    if not changes:  # an empty PATCH changes nothing, not even updated_at
        return framework
    for name, value in changes.items():
        setattr(framework, name, value)
    touch(framework)
    session.flush()
    return framework


def delete_version(*, session: Session, framework: Framework) -> None:
    require_draft(framework)
    # Themes, components and links go with it (ON DELETE CASCADE); a version a study
    # was set up against is kept by the study's RESTRICT key (409).
    session.delete(framework)
    session.flush()


def publish(*, session: Session, framework: Framework) -> Framework:
    require_draft(framework)
    count = session.scalar(
        select(func.count()).select_from(Theme).where(Theme.framework_id == framework.id)
    )
    if not count:
        raise Unprocessable(
            f"{version_label(framework)} has no themes; add at least one before publishing.",
            errors=[{"loc": ["path", "version"], "msg": "no themes", "type": "empty"}],
        )
    now = utcnow()
    framework.status = PUBLISHED
    framework.published_at = now
    framework.updated_at = now
    session.flush()
    return framework


def retire(*, session: Session, framework: Framework) -> Framework:
    if framework.status != PUBLISHED:
        raise Conflict(
            f"{version_label(framework)} is {framework.status}; only a published version can be "
            "retired (a draft can be deleted instead)."
        )
    framework.status = RETIRED
    touch(framework)
    session.flush()
    return framework


def derive(*, session: Session, source: Framework, body: FrameworkDerive) -> Framework:
    """A new draft with the source's whole tree: new ids, the same keys."""
    if source.status == DRAFT:
        raise Conflict(
            f"{version_label(source)} is a draft; publish it first, or edit it directly. Only "
            "published or retired versions can be derived from."
        )
    ensure_free(session=session, slug=source.slug, version=body.version)
    old = load_snapshot(session=session, framework=source)
    new = dataclasses.replace(
        old,
        version=body.version,
        status=domain.FrameworkStatus.draft,
        title=body.title or old.title,
        description=old.description if body.description is None else body.description,
        citation=body.citation or old.citation,
        derived_from_version=old.version,
    )
    return store_snapshot(session=session, snapshot=new, derived_from_id=source.id)


# --------------------------------------------------------------------------- diff


def parse_ref(ref: str) -> tuple[str, str]:
    slug, _, version = ref.rpartition("@")
    return slug, version


def diff_versions(*, session: Session, old: Framework, new: Framework) -> diff_module.FrameworkDiff:
    return diff_module.diff_frameworks(
        load_snapshot(session=session, framework=old),
        load_snapshot(session=session, framework=new),
    )
