"""/v1/frameworks/{slug}/versions/{version}/themes, /components and /links: editing a
draft version. Published and retired versions refuse every route here with 409."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response
from sqlmodel import Session

from service.auth.deps import PrincipalDep
from service.db import SessionDep
from service.errors import problem_responses
from service.frameworks import editing, views
from service.frameworks import service as frameworks_service
from service.frameworks.deps import (
    VERSION_PATH,
    EditableVersionDep,
    VersionDep,
    WriterDep,
    tagged,
)
from service.frameworks.models import Framework
from service.frameworks.schemas import (
    ComponentCreate,
    ComponentPublic,
    ComponentUpdate,
    LinkCreate,
    LinkPublic,
    LinkUpdate,
    ThemeCreate,
    ThemeDetail,
    ThemeRef,
    ThemeReorder,
    ThemeUpdate,
)
from service.http.conditional import cached_response, check_if_match
from service.http.pagination import Page, PageDep
from service.http.routing import CivicRoute

router = APIRouter(route_class=CivicRoute)
THEMES = VERSION_PATH + "/themes"
THEME = THEMES + "/{theme_id}"
COMPONENTS = VERSION_PATH + "/components"
COMPONENT = COMPONENTS + "/{component_id}"
LINKS = VERSION_PATH + "/links"
NOT_MODIFIED = {304: {"description": "Not modified: your copy (If-None-Match) is current."}}


def _theme(session: Session, framework: Framework, theme_id: UUID) -> ThemeDetail:
    rows = frameworks_service.load_rows(session=session, framework=framework)
    return views.theme_detail(rows, theme_id)


def _component(session: Session, framework: Framework, component_id: UUID) -> ComponentPublic:
    rows = frameworks_service.load_rows(session=session, framework=framework)
    return views.component(rows, component_id)


def _theme_url(framework: Framework, theme_id: UUID) -> str:
    return f"{views.version_url(framework)}/themes/{theme_id}"


# --------------------------------------------------------------------------- themes


@router.post(
    THEMES,
    tags=["themes"],
    status_code=201,
    response_model=ThemeDetail,
    operation_id="frameworks-themes-create",
    summary="Add a theme to a draft",
    responses=problem_responses(403, 404, 409, 422),
)
def create_theme(
    body: ThemeCreate, _: WriterDep, framework: EditableVersionDep, session: SessionDep
) -> Response:
    """Add a theme at the top level or under `parent_id` (a theme of the same version;
    422 otherwise). `code` must be unique in the version (409). Without `order` the theme
    goes after its last sibling; without `key` it gets a new UUID as its key. The new
    theme's `introduced_in` is this version."""
    theme = editing.create_theme(session=session, framework=framework, body=body)
    return tagged(
        _theme(session, framework, theme.id),
        status_code=201,
        location=_theme_url(framework, theme.id),
    )


@router.post(
    THEMES + ":reorder",
    tags=["themes"],
    response_model=list[ThemeRef],
    operation_id="frameworks-themes-reorder",
    summary="Reorder sibling themes",
    responses=problem_responses(403, 404, 409, 422),
)
def reorder_themes(
    body: ThemeReorder, _: WriterDep, framework: EditableVersionDep, session: SessionDep
) -> list[ThemeRef]:
    """Put the children of `parent_id` (null: the top-level themes) in the order of
    `theme_ids`, which must list each of them exactly once (422 otherwise). Their
    `order` becomes 1, 2, 3...; codes are left as they are, change them with PATCH if
    the numbering should follow. Returns the siblings in their new order."""
    themes = editing.reorder_themes(
        session=session, framework=framework, parent_id=body.parent_id, theme_ids=body.theme_ids
    )
    return [views.theme_ref(t) for t in themes]


@router.get(
    THEME,
    tags=["themes"],
    response_model=ThemeDetail,
    operation_id="frameworks-themes-get",
    summary="Get a theme with its components",
    responses={**problem_responses(404, 422), **NOT_MODIFIED},
)
def get_theme(
    theme_id: UUID,
    request: Request,
    _: PrincipalDep,
    framework: VersionDep,
    session: SessionDep,
) -> Response:
    """One theme with its parent, its children, the components linked to it, and
    whether it is an intervention gap (`intervention_gap`, explained by
    `intervention_note`): true when the framework's own study found no component for it
    (links from outside the study are listed but do not close the gap). With an ETag."""
    theme = editing.get_theme(session=session, framework=framework, theme_id=theme_id)
    return cached_response(request, _theme(session, framework, theme.id))


@router.patch(
    THEME,
    tags=["themes"],
    response_model=ThemeDetail,
    operation_id="frameworks-themes-update",
    summary="Edit or move a theme of a draft",
    responses=problem_responses(403, 404, 409, 412, 422),
)
def update_theme(
    theme_id: UUID,
    body: ThemeUpdate,
    request: Request,
    _: WriterDep,
    framework: EditableVersionDep,
    session: SessionDep,
) -> Response:
    """Change the fields you send: `label`, `definition`, `kind`, `code` (unique in the
    version, 409), `order`, or `parent_id` to move the theme with everything below it
    (null: to the top level). A parent from another version, or one that is the theme
    itself or lies below it, is refused with 422. A moved theme goes after its new
    siblings unless you send `order`. `key` never changes. Send the theme's `ETag` as
    `If-Match` (412 when stale)."""
    theme = editing.get_theme(session=session, framework=framework, theme_id=theme_id)
    check_if_match(request, _theme(session, framework, theme.id))
    editing.update_theme(session=session, framework=framework, theme=theme, changes=body.changes())
    return tagged(_theme(session, framework, theme.id))


@router.delete(
    THEME,
    tags=["themes"],
    status_code=204,
    operation_id="frameworks-themes-delete",
    summary="Delete a theme of a draft",
    responses=problem_responses(403, 404, 409, 412, 422),
)
def delete_theme(
    theme_id: UUID,
    request: Request,
    _: WriterDep,
    framework: EditableVersionDep,
    session: SessionDep,
) -> Response:
    """Delete a theme and its target links. A theme with subordinate themes is refused
    (409): delete or move them first. `If-Match` is honoured."""
    theme = editing.get_theme(session=session, framework=framework, theme_id=theme_id)
    check_if_match(request, _theme(session, framework, theme.id))
    editing.delete_theme(session=session, framework=framework, theme=theme)
    return Response(status_code=204)


# --------------------------------------------------------------------------- components


@router.get(
    COMPONENTS,
    tags=["components"],
    response_model=Page[ComponentPublic],
    operation_id="frameworks-components-list",
    summary="List a version's intervention components",
    responses=problem_responses(400, 404, 422),
)
def list_components(
    _: PrincipalDep, framework: VersionDep, session: SessionDep, page: PageDep
) -> Page[ComponentPublic]:
    """The intervention components of a version, ordered by key, each with the themes
    it targets (and whether each link rests on the framework's own study)."""
    rows, next_cursor = frameworks_service.list_components(
        session=session, framework=framework, page=page
    )
    loaded = frameworks_service.load_rows(session=session, framework=framework)
    return Page(items=views.components(loaded, rows), next_cursor=next_cursor, limit=page.limit)


@router.post(
    COMPONENTS,
    tags=["components"],
    status_code=201,
    response_model=ComponentPublic,
    operation_id="frameworks-components-create",
    summary="Add an intervention component to a draft",
    responses=problem_responses(403, 404, 409, 422),
)
def create_component(
    body: ComponentCreate, _: WriterDep, framework: EditableVersionDep, session: SessionDep
) -> Response:
    """Add a component; its `key` must be unique in the version (409). Link it to the
    themes it targets with POST `.../links`."""
    component = editing.create_component(session=session, framework=framework, body=body)
    return tagged(
        _component(session, framework, component.id),
        status_code=201,
        location=f"{views.version_url(framework)}/components/{component.id}",
    )


@router.get(
    COMPONENT,
    tags=["components"],
    response_model=ComponentPublic,
    operation_id="frameworks-components-get",
    summary="Get an intervention component",
    responses={**problem_responses(404, 422), **NOT_MODIFIED},
)
def get_component(
    component_id: UUID,
    request: Request,
    _: PrincipalDep,
    framework: VersionDep,
    session: SessionDep,
) -> Response:
    """One component with the themes it targets, with an ETag."""
    editing.get_component(session=session, framework=framework, component_id=component_id)
    return cached_response(request, _component(session, framework, component_id))


@router.patch(
    COMPONENT,
    tags=["components"],
    response_model=ComponentPublic,
    operation_id="frameworks-components-update",
    summary="Edit an intervention component of a draft",
    responses=problem_responses(403, 404, 409, 412, 422),
)
def update_component(
    component_id: UUID,
    body: ComponentUpdate,
    request: Request,
    _: WriterDep,
    framework: EditableVersionDep,
    session: SessionDep,
) -> Response:
    """Change the fields you send (`key` never changes). Send the component's `ETag` as
    `If-Match` (412 when stale)."""
    component = editing.get_component(
        session=session, framework=framework, component_id=component_id
    )
    check_if_match(request, _component(session, framework, component_id))
    editing.update_component(
        session=session, framework=framework, component=component, changes=body.changes()
    )
    return tagged(_component(session, framework, component_id))


@router.delete(
    COMPONENT,
    tags=["components"],
    status_code=204,
    operation_id="frameworks-components-delete",
    summary="Delete an intervention component of a draft",
    responses=problem_responses(403, 404, 409, 412, 422),
)
def delete_component(
    component_id: UUID,
    request: Request,
    _: WriterDep,
    framework: EditableVersionDep,
    session: SessionDep,
) -> Response:
    """Delete a component and its target links. `If-Match` is honoured."""
    component = editing.get_component(
        session=session, framework=framework, component_id=component_id
    )
    check_if_match(request, _component(session, framework, component_id))
    editing.delete_component(session=session, framework=framework, component=component)
    return Response(status_code=204)


# --------------------------------------------------------------------------- links


@router.post(
    LINKS,
    tags=["components"],
    status_code=201,
    response_model=LinkPublic,
    operation_id="frameworks-links-create",
    summary="Link a component to a theme it targets",
    responses=problem_responses(403, 404, 409, 422),
)
def create_link(
    body: LinkCreate, _: WriterDep, framework: EditableVersionDep, session: SessionDep
) -> LinkPublic:
    """Record that a component is a candidate way to work on a theme, with the reason
    and where that comes from. Set `from_framework_study` to false when the evidence is
    from outside the framework's own study. Theme and component must belong to this
    version (422); linking the same pair twice is a 409."""
    link = editing.create_link(session=session, framework=framework, body=body)
    rows = frameworks_service.load_rows(session=session, framework=framework)
    return views.link(rows, link.id)


def _link(session: Session, framework: Framework, link_id: UUID) -> LinkPublic:
    rows = frameworks_service.load_rows(session=session, framework=framework)
    return views.link(rows, link_id)


@router.get(
    LINKS + "/{link_id}",
    tags=["components"],
    response_model=LinkPublic,
    operation_id="frameworks-links-get",
    summary="Get a target link",
    responses={**problem_responses(404, 422), **NOT_MODIFIED},
)
def get_link(
    link_id: UUID, request: Request, _: PrincipalDep, framework: VersionDep, session: SessionDep
) -> Response:
    """One theme ↔ component link with its rationale and source, with an ETag."""
    editing.get_link(session=session, framework=framework, link_id=link_id)
    return cached_response(request, _link(session, framework, link_id))


@router.patch(
    LINKS + "/{link_id}",
    tags=["components"],
    response_model=LinkPublic,
    operation_id="frameworks-links-update",
    summary="Edit a target link of a draft",
    responses=problem_responses(403, 404, 409, 412, 422),
)
def update_link(
    link_id: UUID,
    body: LinkUpdate,
    request: Request,
    _: WriterDep,
    framework: EditableVersionDep,
    session: SessionDep,
) -> Response:
    """Change the rationale, the source or whether the evidence comes from the
    framework's own study. Send the link's `ETag` as `If-Match` (412 when stale)."""
    link = editing.get_link(session=session, framework=framework, link_id=link_id)
    check_if_match(request, _link(session, framework, link_id))
    editing.update_link(session=session, framework=framework, link=link, changes=body.changes())
    return tagged(_link(session, framework, link_id))


@router.delete(
    LINKS + "/{link_id}",
    tags=["components"],
    status_code=204,
    operation_id="frameworks-links-delete",
    summary="Remove a target link",
    responses=problem_responses(403, 404, 409, 422),
)
def delete_link(
    link_id: UUID, _: WriterDep, framework: EditableVersionDep, session: SessionDep
) -> Response:
    """Remove the link; the theme and the component stay."""
    link = editing.get_link(session=session, framework=framework, link_id=link_id)
    editing.delete_link(session=session, framework=framework, link=link)
    return Response(status_code=204)
