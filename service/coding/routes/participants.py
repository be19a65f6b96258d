"""/v1/studies/{study_id}/participants: pseudonymous participants, their CSV import, the
per-group summary, and respondent validation."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from service.coding import participants as participants_service
from service.coding import respondent_validation as validation_service
from service.coding.access import StudyReader, StudyWriter
from service.coding.models import Participant
from service.coding.participant_import import LIST_SEPARATOR
from service.coding.schemas import (
    GroupName,
    ParticipantCreate,
    ParticipantImport,
    ParticipantPublic,
    ParticipantSummary,
    ParticipantUpdate,
    ValidationPublic,
    ValidationPut,
    ValidationSummary,
)
from service.db import SessionDep, lookup_dependency
from service.errors import problem_responses
from service.http.conditional import cached_response, check_if_match
from service.http.pagination import Page, PageDep
from service.http.routing import CivicRoute, upload

router = APIRouter(tags=["participants"], route_class=CivicRoute)
PARTICIPANTS = "/studies/{study_id}/participants"
PARTICIPANT = PARTICIPANTS + "/{participant_id}"
NOT_MODIFIED = {304: {"description": "Not modified (`If-None-Match`)."}}
CSV_DESCRIPTION = (
    "UTF-8 CSV. The header row names `label` and `group`, then attribute columns: "
    "`age`, `gender`, `ethnicity`, `living_arrangement`, `partner_status`, `diagnoses` "
    f"(several, separated by `{LIST_SEPARATOR}`), `service_use`, `profession`, "
    "`years_experience`, and any other attribute (kept as text). Empty cells are left out."
)


def _public(participant: Participant) -> ParticipantPublic:
    return ParticipantPublic.model_validate(participant.model_dump())


@lookup_dependency
def _participant(participant_id: UUID, session: SessionDep, access: StudyReader) -> Participant:
    return participants_service.get_participant(
        session=session, study_id=access.study.id, participant_id=participant_id
    )


ParticipantDep = Annotated[Participant, Depends(_participant)]


async def _raw_body(request: Request) -> bytes:
    return await request.body()  # already read (and size-checked) by CivicRoute


@router.post(
    PARTICIPANTS,
    status_code=status.HTTP_201_CREATED,
    response_model=ParticipantPublic,
    operation_id="participants-create",
    summary="Add a participant",
    responses=problem_responses(403, 404, 409, 422),
)
def create_participant(
    body: ParticipantCreate, response: Response, session: SessionDep, access: StudyWriter
) -> ParticipantPublic:
    """Add a pseudonymous participant (coders and owners). The label is unique in the
    study (409 when taken) and must not be an email or phone number; the group must be
    one of the study's; attributes naming a direct identifier are refused (422)."""
    participant = participants_service.create_participant(
        session=session, study=access.study, body=body
    )
    response.headers["Location"] = f"/v1/studies/{access.study.id}/participants/{participant.id}"
    return _public(participant)


@router.post(
    PARTICIPANTS + "/import",
    status_code=status.HTTP_201_CREATED,
    response_model=ParticipantImport,
    operation_id="participants-import-csv",
    summary="Import participants from CSV",
    responses=problem_responses(403, 404, 413, 415, 422),
    openapi_extra=upload("text/csv", description=CSV_DESCRIPTION),
)
def import_participants(
    raw: Annotated[bytes, Depends(_raw_body)], session: SessionDep, access: StudyWriter
) -> ParticipantImport:
    """Add many participants from a spreadsheet saved as CSV (coders and owners). All or
    nothing: if any row is bad, the 422 lists every bad row (`loc` is
    `["row", line, column]`, the header being line 1) and nothing is stored."""
    rows = participants_service.import_csv(session=session, study=access.study, raw=raw)
    return ParticipantImport(created=len(rows), items=[_public(row) for row in rows])


@router.get(
    PARTICIPANTS,
    response_model=Page[ParticipantPublic],
    operation_id="participants-list",
    summary="List participants",
    responses=problem_responses(400, 404, 422),
)
def list_participants(
    session: SessionDep,
    page: PageDep,
    access: StudyReader,
    group: Annotated[GroupName | None, Query(description="Only this group.")] = None,
) -> Page[ParticipantPublic]:
    """The study's participants in label order."""
    rows, next_cursor = participants_service.list_participants(
        session=session, study_id=access.study.id, group=group, page=page
    )
    return Page(items=[_public(row) for row in rows], next_cursor=next_cursor, limit=page.limit)


@router.get(
    PARTICIPANTS + "/summary",
    response_model=ParticipantSummary,
    operation_id="participants-summary",
    summary="Summarise participants by group",
    responses=problem_responses(404),
)
def summarise(session: SessionDep, access: StudyReader) -> ParticipantSummary:
    """A study's "Table 1": for each group, the number of participants, their age (mean
    and sample standard deviation) and how many there are of each gender."""
    return participants_service.summary(session=session, study=access.study)


@router.get(
    "/studies/{study_id}/respondent-validation",
    response_model=ValidationSummary,
    operation_id="participants-validation-summary",
    summary="Summarise respondent validation",
    responses=problem_responses(404),
)
def validation_summary(session: SessionDep, access: StudyReader) -> ValidationSummary:
    """How many participants reviewed the preliminary findings, overall and per group,
    and how many agreed or suggested changes."""
    return validation_service.summary(session=session, study=access.study)


@router.get(
    PARTICIPANT,
    response_model=ParticipantPublic,
    operation_id="participants-get",
    summary="Get a participant",
    responses={**problem_responses(404), **NOT_MODIFIED},
)
def get_participant(request: Request, participant: ParticipantDep) -> Response:
    """One participant, with an ETag."""
    return cached_response(request, _public(participant))


@router.patch(
    PARTICIPANT,
    response_model=ParticipantPublic,
    operation_id="participants-update",
    summary="Change a participant",
    responses=problem_responses(403, 404, 409, 412, 422),
)
def update_participant(
    body: ParticipantUpdate,
    request: Request,
    participant: ParticipantDep,
    session: SessionDep,
    access: StudyWriter,
) -> ParticipantPublic:
    """Change the label, group or attributes (coders and owners). Attributes are merged:
    send a key with `null` to remove it. Send `If-Match` with the ETag you read to
    refuse the change if it is stale (412)."""
    check_if_match(request, _public(participant))
    participant = participants_service.update_participant(
        session=session, study=access.study, participant=participant, body=body
    )
    return _public(participant)


@router.delete(
    PARTICIPANT,
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="participants-delete",
    summary="Delete a participant",
    responses=problem_responses(403, 404, 409, 412),
)
def delete_participant(
    request: Request,
    participant: ParticipantDep,
    session: SessionDep,
    access: StudyWriter,
    cascade: Annotated[
        bool, Query(description="Also delete their documents and the segments in them.")
    ] = False,
) -> Response:
    """Delete a participant (coders and owners). One with documents is deleted only with
    `cascade=true`, and then their documents and segments go in the same transaction."""
    check_if_match(request, _public(participant))
    participants_service.delete_participant(
        session=session, access=access, participant=participant, cascade=cascade
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    PARTICIPANT + "/validation",
    response_model=ValidationPublic,
    operation_id="participants-validation-get",
    summary="Get a participant's respondent validation",
    responses={**problem_responses(404), **NOT_MODIFIED},
)
def get_validation(request: Request, participant: ParticipantDep, session: SessionDep) -> Response:
    """Whether the participant reviewed the preliminary findings, how and with what
    outcome; 404 until something is recorded."""
    validation = validation_service.get_validation(session=session, participant=participant)
    return cached_response(request, validation_service.public(validation))


@router.put(
    PARTICIPANT + "/validation",
    response_model=ValidationPublic,
    operation_id="participants-validation-put",
    summary="Record a participant's respondent validation",
    responses={
        **problem_responses(403, 404, 412, 422),
        201: {"description": "Recorded for the first time.", "model": ValidationPublic},
    },
)
def put_validation(
    body: ValidationPut,
    request: Request,
    response: Response,
    participant: ParticipantDep,
    session: SessionDep,
    _: StudyWriter,
) -> ValidationPublic:
    """Record (or replace) the participant's review of the preliminary findings (coders
    and owners): 201 the first time, 200 after. `reviewed_on`, `method` and `outcome`
    need `reviewed: true`. Send `If-Match` to replace only the record you read."""
    current = validation_service.find_validation(session=session, participant=participant)
    if current is not None:
        check_if_match(request, validation_service.public(current))
    validation, created = validation_service.put_validation(
        session=session, participant=participant, body=body
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    return validation_service.public(validation)
