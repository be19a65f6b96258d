"""/v1/studies/{study_id}/coders: the people whose coding is recorded."""

from __future__ import annotations

from fastapi import APIRouter, status

from service.coding import coders as coders_service
from service.coding.access import StudyOwner, StudyReader
from service.coding.models import Coder
from service.coding.schemas import CoderCreate, CoderPublic
from service.db import SessionDep
from service.errors import problem_responses
from service.http.pagination import Page, PageDep
from service.http.routing import CivicRoute

router = APIRouter(tags=["coders"], route_class=CivicRoute)
CODERS = "/studies/{study_id}/coders"


def _public(coder: Coder) -> CoderPublic:
    return CoderPublic.model_validate(coder.model_dump())


@router.post(
    CODERS,
    status_code=status.HTTP_201_CREATED,
    response_model=CoderPublic,
    operation_id="coders-create",
    summary="Add a coder",
    responses=problem_responses(403, 404, 409, 422),
)
def create_coder(body: CoderCreate, session: SessionDep, access: StudyOwner) -> CoderPublic:
    """Add a coder (owners): a member with role coder or owner, who codes with their own
    key (`principal_id`), or a named coder without a key (`name` only; e.g. a
    service-user co-researcher), whose segments an owner enters. Names are unique in
    the study."""
    coder = coders_service.create_coder(session=session, study=access.study, body=body)
    return _public(coder)


@router.get(
    CODERS,
    response_model=Page[CoderPublic],
    operation_id="coders-list",
    summary="List coders",
    responses=problem_responses(400, 404, 422),
)
def list_coders(session: SessionDep, page: PageDep, access: StudyReader) -> Page[CoderPublic]:
    """The study's coders, in the order they were added."""
    rows, next_cursor = coders_service.list_coders(
        session=session, study_id=access.study.id, page=page
    )
    return Page(items=[_public(row) for row in rows], next_cursor=next_cursor, limit=page.limit)
