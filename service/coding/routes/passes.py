"""/v1/studies/{study_id}/passes: rounds of coding (inductive, deductive, consensus)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, status

from service.coding import coders as coders_service
from service.coding.access import StudyOwner, StudyReader, StudyWriter
from service.coding.schemas import PassCreate, PassPublic
from service.db import SessionDep
from service.errors import problem_responses
from service.http.pagination import Page, PageDep
from service.http.routing import CivicRoute

router = APIRouter(tags=["coders"], route_class=CivicRoute)
PASSES = "/studies/{study_id}/passes"


@router.post(
    PASSES,
    status_code=status.HTTP_201_CREATED,
    response_model=PassPublic,
    operation_id="coders-passes-create",
    summary="Open a coding pass",
    responses=problem_responses(403, 404, 409, 422),
)
def create_pass(body: PassCreate, session: SessionDep, access: StudyWriter) -> PassPublic:
    """Open a pass (coders and owners): `inductive` (themes emerge), `deductive` (coding
    against a codebook, e.g. version 1 of the framework) or `consensus`. Inductive and
    deductive passes belong to one coder; coders may open passes only for themselves.
    The framework defaults to the study's, `blind` to the study's setting."""
    coding_pass = coders_service.create_pass(session=session, access=access, body=body)
    return coders_service.passes_public(session=session, passes=[coding_pass])[0]


@router.get(
    PASSES,
    response_model=Page[PassPublic],
    operation_id="coders-passes-list",
    summary="List coding passes",
    responses=problem_responses(400, 404, 422),
)
def list_passes(session: SessionDep, page: PageDep, access: StudyReader) -> Page[PassPublic]:
    """The study's passes, in the order they were opened."""
    rows, next_cursor = coders_service.list_passes(
        session=session, study_id=access.study.id, page=page
    )
    items = coders_service.passes_public(session=session, passes=rows)
    return Page(items=items, next_cursor=next_cursor, limit=page.limit)


@router.post(
    PASSES + "/{pass_id}/reveal",
    response_model=PassPublic,
    operation_id="coders-passes-reveal",
    summary="Reveal a blind pass",
    responses=problem_responses(403, 404),
)
def reveal_pass(pass_id: UUID, session: SessionDep, access: StudyOwner) -> PassPublic:
    """Show this pass's segments to every member (owners), e.g. once the coders'
    agreement has been measured. Sets `revealed_at`; revealing again changes nothing."""
    coding_pass = coders_service.get_pass(
        session=session, study_id=access.study.id, pass_id=pass_id
    )
    coding_pass = coders_service.reveal_pass(
        session=session, principal=access.principal, coding_pass=coding_pass
    )
    return coders_service.passes_public(session=session, passes=[coding_pass])[0]
