"""/v1/studies/{study_id}/members: who may read, code or manage a study."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from service.coding import members as members_service
from service.coding.access import StudyOwner, StudyReader
from service.coding.schemas import MemberAdd, MemberPublic, MemberUpdate
from service.db import SessionDep
from service.errors import problem_responses
from service.http.conditional import cached_response, check_if_match
from service.http.pagination import Page, PageDep
from service.http.routing import CivicRoute

router = APIRouter(tags=["studies"], route_class=CivicRoute)


@router.get(
    "/studies/{study_id}/members",
    response_model=Page[MemberPublic],
    operation_id="studies-members-list",
    summary="List study members",
    responses=problem_responses(400, 404, 422),
)
def list_members(session: SessionDep, page: PageDep, access: StudyReader) -> Page[MemberPublic]:
    """Every member with their study role, in the order they joined."""
    items, next_cursor = members_service.list_members(
        session=session, study_id=access.study.id, page=page
    )
    return Page(items=items, next_cursor=next_cursor, limit=page.limit)


@router.post(
    "/studies/{study_id}/members",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberPublic,
    operation_id="studies-members-add",
    summary="Add a study member",
    responses=problem_responses(403, 404, 409, 422),
)
def add_member(body: MemberAdd, session: SessionDep, access: StudyOwner) -> MemberPublic:
    """Give a principal (by id or by name) a role in the study (owners): `owner` manages
    the study, `coder` writes participants, documents and segments, `viewer` reads."""
    return members_service.add_member(
        session=session, by=access.principal, study=access.study, body=body
    )


@router.get(
    "/studies/{study_id}/members/{principal_id}",
    response_model=MemberPublic,
    operation_id="studies-members-get",
    summary="Get a study member",
    responses={**problem_responses(404, 422), 304: {"description": "Not modified."}},
)
def get_member(
    principal_id: UUID, request: Request, session: SessionDep, access: StudyReader
) -> Response:
    """One member and their study role, with an ETag."""
    member = members_service.get_member(
        session=session, study_id=access.study.id, principal_id=principal_id
    )
    return cached_response(request, member)


@router.patch(
    "/studies/{study_id}/members/{principal_id}",
    response_model=MemberPublic,
    operation_id="studies-members-update",
    summary="Change a member's role",
    responses=problem_responses(403, 404, 409, 412, 422),
)
def change_role(
    principal_id: UUID,
    body: MemberUpdate,
    request: Request,
    session: SessionDep,
    access: StudyOwner,
) -> MemberPublic:
    """Change a member's study role (owners). The last owner cannot step down (409).
    Send the member's `ETag` as `If-Match` to change only what you last read (412)."""
    current = members_service.get_member(
        session=session, study_id=access.study.id, principal_id=principal_id
    )
    check_if_match(request, current)
    return members_service.change_role(
        session=session,
        by=access.principal,
        study=access.study,
        principal_id=principal_id,
        role=body.role,
    )


@router.delete(
    "/studies/{study_id}/members/{principal_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="studies-members-remove",
    summary="Remove a study member",
    responses=problem_responses(403, 404, 409),
)
def remove_member(principal_id: UUID, session: SessionDep, access: StudyOwner) -> Response:
    """Take a principal out of the study (owners); they then get 404 on it. Their coder
    and segments stay. The last owner cannot be removed (409)."""
    members_service.remove_member(
        session=session, by=access.principal, study=access.study, principal_id=principal_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
