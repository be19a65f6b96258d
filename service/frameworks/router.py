"""/v1/frameworks: versions and their life cycle, the diff, and theme search.

Editing inside a draft is in ``editing_routes``, import and export formats in
``exchange_routes``; both are mounted on ``router`` at the bottom of this module, so
``main`` includes one router.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session

from service.auth.deps import PrincipalDep
from service.db import SessionDep
from service.errors import Forbidden, problem_responses
from service.frameworks import service as frameworks_service
from service.frameworks import views
from service.frameworks.deps import (
    VERSION_PATH,
    EditableVersionDep,
    VersionDep,
    WriterDep,
    tagged,
)
from service.frameworks.domain import FrameworkStatus
from service.frameworks.editing_routes import router as editing_router
from service.frameworks.exchange_routes import router as exchange_router
from service.frameworks.models import Framework
from service.frameworks.schemas import (
    SLUG_PATTERN,
    VERSION_REF_PATTERN,
    FrameworkCreate,
    FrameworkDerive,
    FrameworkDiff,
    FrameworkSummary,
    FrameworkUpdate,
    FrameworkVersion,
    ThemeSearchHit,
)
from service.http.conditional import cached_response, check_if_match
from service.http.pagination import Page, PageDep
from service.http.routing import CivicRoute

router = APIRouter(route_class=CivicRoute)
TAGS: list[str | Enum] = ["frameworks"]
NOT_MODIFIED = {304: {"description": "Not modified: your copy (If-None-Match) is current."}}


def _current(session: Session, framework: Framework) -> FrameworkVersion:
    return views.version(frameworks_service.load_rows(session=session, framework=framework))


@router.get(
    "/frameworks",
    tags=TAGS,
    response_model=Page[FrameworkSummary],
    operation_id="frameworks-list",
    summary="List framework versions",
    responses=problem_responses(400, 422),
)
def list_frameworks(
    _: PrincipalDep,
    session: SessionDep,
    page: PageDep,
    slug: Annotated[
        str | None, Query(pattern=SLUG_PATTERN, description="Only this framework's versions.")
    ] = None,
    status: Annotated[
        FrameworkStatus | None, Query(description="Only versions in this state.")
    ] = None,
) -> Page[FrameworkSummary]:
    """Every stored version of every framework (CIVIC v1 and v2 are built in), ordered
    by slug, then version string. Each item is the version's metadata and source; GET a
    version for its themes and components."""
    rows, parents, next_cursor = frameworks_service.list_versions(
        session=session, page=page, slug=slug, status=status.value if status else None
    )
    items = [views.summary(f, parents.get(f.derived_from_id)) for f in rows]
    return Page(items=items, next_cursor=next_cursor, limit=page.limit)


@router.post(
    "/frameworks",
    tags=TAGS,
    status_code=201,
    response_model=FrameworkVersion,
    operation_id="frameworks-create",
    summary="Create a draft framework version",
    responses=problem_responses(403, 409, 422),
)
def create_framework(body: FrameworkCreate, _: WriterDep, session: SessionDep) -> Response:
    """Start an empty draft: a new framework (new `slug`), or a new version of an
    existing one without copying it (to copy, use *derive*). Add themes, components and
    links, then publish. 409 if this `slug` and `version` exist already. The `Location`
    header names the new version."""
    framework = frameworks_service.create_version(session=session, body=body)
    return tagged(
        _current(session, framework), status_code=201, location=views.version_url(framework)
    )


@router.get(
    "/frameworks/diff",
    tags=TAGS,
    response_model=FrameworkDiff,
    operation_id="frameworks-diff",
    summary="Compare two framework versions",
    responses=problem_responses(404, 422),
)
def diff_frameworks(
    _: PrincipalDep,
    session: SessionDep,
    from_: Annotated[
        str,
        Query(alias="from", pattern=VERSION_REF_PATTERN, description="Older: `slug@version`."),
    ],
    to: Annotated[str, Query(pattern=VERSION_REF_PATTERN, description="Newer: `slug@version`.")],
) -> FrameworkDiff:
    """What changed from one version to another, e.g. `from=civic@1&to=civic@2`.

    Themes and components are matched by their stable `key`, so a relabelled theme is
    reported as renamed (not removed and added), a new parent as moved, and a new number
    as recoded. Links are matched by their theme and component keys. Sibling order is not
    compared. Any two versions can be compared, of the same framework or not."""
    versions = [
        frameworks_service.get_version(session=session, slug=slug, version=version)
        for slug, version in map(frameworks_service.parse_ref, (from_, to))
    ]
    old, new = versions
    result = frameworks_service.diff_versions(session=session, old=old, new=new)
    data = result.to_dict()
    del data["old_version"], data["new_version"]
    return FrameworkDiff(
        from_version=views.version_ref(old),
        to_version=views.version_ref(new),
        is_empty=result.is_empty,
        **data,
    )


@router.get(
    VERSION_PATH,
    tags=TAGS,
    response_model=FrameworkVersion,
    operation_id="frameworks-get",
    summary="Get a framework version with its whole theme tree",
    responses={**problem_responses(404, 422), **NOT_MODIFIED},
)
def get_framework(
    request: Request, _: PrincipalDep, framework: VersionDep, session: SessionDep
) -> Response:
    """One version in one response: its metadata and `citation` (the source it rests
    on), the whole theme tree nested through `children`, the intervention components
    with the themes each targets, and the target links.

    Every theme says whether it has an **intervention gap**: `intervention_gap` is true
    when the framework's own study identified no component for it, and
    `intervention_note` says why in one sentence (Stigma in CIVIC v2 is such a gap: its
    only link rests on evidence from outside the study). `intervention_gaps` lists them
    all. Send the `ETag` back as `If-None-Match` to revalidate (304)."""
    return cached_response(request, _current(session, framework))


@router.patch(
    VERSION_PATH,
    tags=TAGS,
    response_model=FrameworkVersion,
    operation_id="frameworks-update",
    summary="Edit a draft version's title, description or citation",
    responses=problem_responses(403, 404, 409, 412, 422),
)
def update_framework(
    body: FrameworkUpdate,
    request: Request,
    _: WriterDep,
    framework: EditableVersionDep,
    session: SessionDep,
) -> Response:
    """Change only the fields you send. `slug` and `version` cannot change. Published
    and retired versions are frozen (409). Send the version's `ETag` as `If-Match` to
    make sure nobody changed it since you read it (412 if they did)."""
    check_if_match(request, _current(session, framework))
    frameworks_service.update_version(session=session, framework=framework, changes=body.changes())
    return tagged(_current(session, framework))


@router.delete(
    VERSION_PATH,
    tags=TAGS,
    status_code=204,
    operation_id="frameworks-delete",
    summary="Delete a draft version",
    responses=problem_responses(403, 404, 409, 412),
)
def delete_framework(
    request: Request, _: WriterDep, framework: EditableVersionDep, session: SessionDep
) -> Response:
    """Delete a draft with all its themes, components and links. Published and retired
    versions cannot be deleted (409): retire them instead. A draft a study was set up
    against is kept too (409). `If-Match` is honoured."""
    check_if_match(request, _current(session, framework))
    frameworks_service.delete_version(session=session, framework=framework)
    return Response(status_code=204)


@router.post(
    VERSION_PATH + "/publish",
    tags=TAGS,
    response_model=FrameworkVersion,
    operation_id="frameworks-publish",
    summary="Publish a draft version",
    responses=problem_responses(403, 404, 409, 412, 422),
)
def publish_framework(
    request: Request, _: WriterDep, framework: EditableVersionDep, session: SessionDep
) -> Response:
    """Freeze a draft so studies can code against it: from now on every edit is refused
    (409) and the version is searchable. A version without themes cannot be published
    (422); a version that is not a draft gets 409. `If-Match` is honoured."""
    check_if_match(request, _current(session, framework))
    frameworks_service.publish(session=session, framework=framework)
    return tagged(_current(session, framework))


@router.post(
    VERSION_PATH + "/retire",
    tags=TAGS,
    response_model=FrameworkVersion,
    operation_id="frameworks-retire",
    summary="Retire a published version",
    responses=problem_responses(403, 404, 409, 412),
)
def retire_framework(
    request: Request, principal: WriterDep, framework: EditableVersionDep, session: SessionDep
) -> Response:
    """Mark a published version as superseded. It stays readable and exportable (and
    can still be derived from) but leaves theme search. Only a published version can be
    retired (409 otherwise); the versions that ship with the service (CIVIC 1 and 2) only
    by an admin (403 otherwise), since every user of the service relies on them.
    `If-Match` is honoured."""
    if framework.builtin and not principal.is_admin:
        raise Forbidden(
            f"{framework.slug}@{framework.version} ships with the service; only an admin "
            "may retire it."
        )
    check_if_match(request, _current(session, framework))
    frameworks_service.retire(session=session, framework=framework)
    return tagged(_current(session, framework))


@router.post(
    VERSION_PATH + "/derive",
    tags=TAGS,
    status_code=201,
    response_model=FrameworkVersion,
    operation_id="frameworks-derive",
    summary="Derive a new draft version from a published one",
    responses=problem_responses(403, 404, 409, 422),
)
def derive_framework(
    body: FrameworkDerive, _: WriterDep, framework: VersionDep, session: SessionDep
) -> Response:
    """Copy a published (or retired) version, whole, into a new draft of the same
    framework under the `version` you give: new ids, the same theme and component
    `key`s (so a diff matches them), and `derived_from` pointing back. Title,
    description and citation are copied unless you send new ones.

    Deriving from a draft is refused with 409: a draft can be edited directly, and
    copying a version still changing would make its history ambiguous. 409 too if the
    new version string is taken."""
    new = frameworks_service.derive(session=session, source=framework, body=body)
    return tagged(_current(session, new), status_code=201, location=views.version_url(new))


@router.get(
    "/themes/search",
    tags=["themes"],
    response_model=Page[ThemeSearchHit],
    operation_id="themes-search",
    summary="Search the themes of published frameworks",
    responses=problem_responses(400, 422),
)
def search_themes(
    _: PrincipalDep,
    session: SessionDep,
    page: PageDep,
    q: Annotated[
        str,
        Query(min_length=1, max_length=200, description="Text to find, in any letter case."),
    ],
) -> Page[ThemeSearchHit]:
    """Themes whose label or definition contains `q`, ignoring letter case, across every
    **published** version (drafts and retired versions are left out). Ordered by label;
    each hit names its framework version."""
    themes, frameworks, next_cursor = frameworks_service.search_themes(
        session=session, query=q, page=page
    )
    items = [views.search_hit(t, frameworks[t.framework_id]) for t in themes]
    return Page(items=items, next_cursor=next_cursor, limit=page.limit)


router.include_router(editing_router)
router.include_router(exchange_router)
