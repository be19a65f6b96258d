"""Recommendations behind HTTP: finding the framework, the snapshot cache, the audit.

Assessments are never stored. Each recommendation leaves one audit event holding who
asked, when, through which channel, for which framework version, and counts - never a
need, a barrier, a preference or the plan itself.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from fastapi import Depends, Request
from sqlalchemy import bindparam, select
from sqlmodel import Session

from service.audit import service as audit_service
from service.auth.service import CurrentPrincipal
from service.errors import NotFound, Unprocessable
from service.frameworks.domain import FrameworkSnapshot, FrameworkStatus
from service.frameworks.models import Framework
from service.frameworks.store import load_snapshot
from service.http.schemas import is_storable
from service.recommendations import engine
from service.recommendations.schemas import Assessment, AssessmentProblem, Plan

Channel = Literal["json", "questionnaire", "cds"]
ACTION = "recommendation.created"
CACHE_SIZE = 64
T = TypeVar("T")


class ResourceCache:
    """A small thread-safe LRU of what published framework versions derive.

    Published versions are immutable and keys carry the version's id *and* status, so a
    retired version is simply never looked up under its published key again. Drafts
    change, so they are never cached.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = build()  # outside the lock: two threads may build, both get equal values
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)


async def resource_cache(request: Request) -> ResourceCache:
    state = request.app.state
    cache = getattr(state, "recommendation_cache", None)
    if cache is None:
        cache = state.recommendation_cache = ResourceCache()
    return cache


CacheDep = Annotated[ResourceCache, Depends(resource_cache)]


def cached(
    cache: ResourceCache, framework: Framework, kind: str, build: Callable[[], T], *extra: Any
) -> T:
    """``build()`` once per published version (and ``extra``); drafts are built each time."""
    if framework.status != FrameworkStatus.published:
        return build()
    return cache.get((kind, framework.id, framework.status, *extra), build)


def snapshot(*, session: Session, cache: ResourceCache, framework: Framework) -> FrameworkSnapshot:
    return cached(
        cache, framework, "snapshot", lambda: load_snapshot(session=session, framework=framework)
    )


_VERSION = select(Framework).where(
    Framework.slug == bindparam("slug"), Framework.version == bindparam("version")
)  # built once: it is looked up on every recommendation


def _get(session: Session, slug: str, version: str) -> Framework | None:
    return session.scalars(_VERSION, {"slug": slug, "version": version}).first()


def _get_any(session: Session, slug: str) -> UUID | None:
    return session.scalars(select(Framework.id).where(Framework.slug == slug).limit(1)).first()


def framework_at_path(*, session: Session, slug: str, version: str) -> Framework:
    """A version named in the URL: 404 when there is none."""
    framework = _get(session, slug, version)
    if framework is None:
        raise NotFound(f"No framework version {slug}@{version}.")
    return framework


def version_key(version: str) -> tuple:
    """Orders "2" < "10" and "2" < "2.1"; non-numeric parts after numeric ones."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in version.split("."))


def latest_published(*, session: Session, slug: str) -> Framework:
    versions = session.scalars(
        select(Framework).where(
            Framework.slug == slug, Framework.status == FrameworkStatus.published
        )
    ).all()
    if not versions:
        raise NotFound(f"No published version of framework {slug!r}.")
    return max(versions, key=lambda f: version_key(f.version))


def framework_for_assessment(
    *,
    session: Session,
    slug: str,
    version: str,
    slug_loc: list[str | int],
    version_loc: list[str | int],
) -> Framework:
    """A published version named in a request: 422 naming it otherwise (the framework
    is part of the assessment, so a wrong one is an invalid assessment). The problem is
    located at ``slug_loc`` when the framework has no version at all."""
    if not is_storable(slug) or not is_storable(version):
        # No version is named with a NUL or a lone surrogate, and PostgreSQL cannot
        # even be asked about one.
        raise Unprocessable(
            f"There is no framework version {slug}@{version}.",
            errors=[
                {
                    "loc": version_loc if is_storable(slug) else slug_loc,
                    "msg": f"no framework version {slug}@{version}",
                    "type": "unknown_framework",
                }
            ],
        )
    framework = _get(session, slug, version)
    loc = version_loc
    if framework is None:
        versions = session.scalars(
            select(Framework.version)
            .where(Framework.slug == slug, Framework.status == FrameworkStatus.published)
            .order_by(Framework.version)
        ).all()
        known = f"; published versions of {slug}: {', '.join(versions)}" if versions else ""
        if not versions and _get_any(session, slug) is None:
            loc = slug_loc
        msg = f"no framework version {slug}@{version}{known}"
        raise Unprocessable(
            f"There is no framework version {slug}@{version}.",
            errors=[{"loc": loc, "msg": msg, "type": "unknown_framework"}],
        )
    if framework.status != FrameworkStatus.published:
        msg = (
            f"{slug}@{version} is {framework.status}: only published versions give recommendations"
        )
        raise Unprocessable(
            f"Framework version {slug}@{version} is {framework.status}.",
            errors=[{"loc": loc, "msg": msg, "type": "not_published"}],
        )
    return framework


def unprocessable(
    problems: list[AssessmentProblem], *, prefix: list[str | int], detail: str
) -> Unprocessable:
    return Unprocessable(
        detail,
        errors=[{"loc": [*prefix, *p.loc], "msg": p.msg, "type": p.type} for p in problems],
    )


def recommend(*, snapshot: FrameworkSnapshot, assessment: Assessment) -> Plan:
    try:
        return engine.recommend(snapshot, assessment)
    except engine.AssessmentError as exc:
        raise unprocessable(
            exc.problems,
            prefix=["body"],
            detail=f"The assessment does not fit {snapshot.slug}@{snapshot.version}; see `errors`.",
        ) from exc


def record(
    *,
    session: Session,
    principal: CurrentPrincipal,
    framework: Framework,
    plan: Plan,
    channel: Channel,
    output: Literal["plan", "careplan", "cds_cards"],
    evidence_study_id: UUID | None = None,
    hook_instance: str | None = None,
) -> None:
    """The audit event: identifiers and counts only."""
    details: dict[str, Any] = {
        "framework": framework.slug,
        "version": framework.version,
        "channel": channel,
        "output": output,
        "domains_in_need": len(plan.domains),
        "components": len(plan.components),
        "gaps": len(plan.gaps),
    }
    if evidence_study_id is not None:
        details["evidence_study_id"] = str(evidence_study_id)
    if hook_instance is not None:
        details["hook_instance"] = hook_instance
    audit_service.record(
        session=session,
        principal=principal,
        action=ACTION,
        resource_type="framework_version",
        resource_id=str(framework.id),
        details=details,
    )
