"""/v1/studies: create, list, read, change and delete studies; reveal blind coding."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from service.auth.deps import PrincipalDep, require_roles
from service.auth.models import Role
from service.auth.service import CurrentPrincipal
from service.coding import studies as studies_service
from service.coding.access import StudyOwner, StudyReader
from service.coding.schemas import StudyCreate, StudyPublic, StudyUpdate
from service.db import SessionDep
from service.errors import problem_responses
from service.http.conditional import cached_response, check_if_match
from service.http.pagination import Page, PageDep
from service.http.routing import CivicRoute

router = APIRouter(tags=["studies"], route_class=CivicRoute)
Researcher = Annotated[CurrentPrincipal, Depends(require_roles(Role.researcher))]
NOT_MODIFIED = {304: {"description": "Not modified (`If-None-Match`)."}}


@router.post(
    "/studies",
    status_code=status.HTTP_201_CREATED,
    response_model=StudyPublic,
    operation_id="studies-create",
    summary="Create a study",
    responses=problem_responses(403, 422),
)
def create_study(body: StudyCreate, session: SessionDep, principal: Researcher) -> StudyPublic:
    """Start a study that codes transcripts against a published framework version. The
    caller (a researcher or admin) becomes its first owner."""
    study = studies_service.create_study(session=session, principal=principal, body=body)
    return studies_service.public(session=session, study=study)


@router.get(
    "/studies",
    response_model=Page[StudyPublic],
    operation_id="studies-list",
    summary="List your studies",
    responses=problem_responses(400, 422),
)
def list_studies(session: SessionDep, page: PageDep, principal: PrincipalDep) -> Page[StudyPublic]:
    """The studies you are a member of, oldest first (admins: every study)."""
    rows, next_cursor = studies_service.list_studies(
        session=session, principal=principal, page=page
    )
    items = studies_service.public_many(session=session, studies=rows)
    return Page(items=items, next_cursor=next_cursor, limit=page.limit)


@router.get(
    "/studies/{study_id}",
    response_model=StudyPublic,
    operation_id="studies-get",
    summary="Get a study",
    responses={**problem_responses(404), **NOT_MODIFIED},
)
def get_study(request: Request, session: SessionDep, access: StudyReader) -> Response:
    """One study, with an ETag. Studies you are not a member of are 404."""
    return cached_response(request, studies_service.public(session=session, study=access.study))


@router.patch(
    "/studies/{study_id}",
    response_model=StudyPublic,
    operation_id="studies-update",
    summary="Change a study",
    responses=problem_responses(403, 404, 409, 412, 422),
)
def update_study(
    body: StudyUpdate, request: Request, session: SessionDep, access: StudyOwner
) -> StudyPublic:
    """Change the fields you send (owners). The framework may change only while nothing
    is coded, and a group may be dropped only when no participant belongs to it. Send
    `If-Match` with the ETag you read to refuse the change if it is stale (412)."""
    check_if_match(request, studies_service.public(session=session, study=access.study))
    study = studies_service.update_study(session=session, study=access.study, body=body)
    return studies_service.public(session=session, study=study)


@router.delete(
    "/studies/{study_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="studies-delete",
    summary="Delete a study",
    responses=problem_responses(403, 404, 409, 412),
)
def delete_study(
    request: Request,
    session: SessionDep,
    access: StudyOwner,
    cascade: Annotated[
        bool, Query(description="Also delete its participants, documents, coders and segments.")
    ] = False,
) -> Response:
    """Delete the study (owners). A study with any content is deleted only with
    `cascade=true`, and then everything in it goes in one transaction."""
    check_if_match(request, studies_service.public(session=session, study=access.study))
    studies_service.delete_study(
        session=session, principal=access.principal, study=access.study, cascade=cascade
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/studies/{study_id}/reveal",
    response_model=StudyPublic,
    operation_id="studies-reveal",
    summary="Reveal blind coding",
    responses=problem_responses(403, 404),
)
def reveal_study(session: SessionDep, access: StudyOwner) -> StudyPublic:
    """End blind coding for the whole study (owners): every member now sees every
    coder's segments. Sets `revealed_at`; revealing again changes nothing."""
    study = studies_service.reveal(session=session, principal=access.principal, study=access.study)
    return studies_service.public(session=session, study=study)
