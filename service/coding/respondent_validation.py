"""Respondent validation: which participants reviewed the preliminary findings, and
whether they agreed with them."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from service.coding.models import Participant, RespondentValidation, Study
from service.coding.schemas import (
    ValidationGroupSummary,
    ValidationPublic,
    ValidationPut,
    ValidationSummary,
)
from service.db import utcnow
from service.errors import NotFound


def find_validation(*, session: Session, participant: Participant) -> RespondentValidation | None:
    return session.get(RespondentValidation, participant.id)


def get_validation(*, session: Session, participant: Participant) -> RespondentValidation:
    validation = find_validation(session=session, participant=participant)
    if validation is None:
        raise NotFound(f"No respondent validation is recorded for {participant.label}.")
    return validation


def put_validation(
    *, session: Session, participant: Participant, body: ValidationPut
) -> tuple[RespondentValidation, bool]:
    """Record (or replace) the participant's review; True when it is the first record."""
    validation = find_validation(session=session, participant=participant)
    created = validation is None
    if validation is None:
        validation = RespondentValidation(participant_id=participant.id)
        session.add(validation)
    for field, value in body.model_dump().items():
        setattr(validation, field, value)
    validation.updated_at = utcnow()
    session.flush()
    return validation, created


def public(validation: RespondentValidation) -> ValidationPublic:
    return ValidationPublic.model_validate(validation.model_dump())


def summary(*, session: Session, study: Study) -> ValidationSummary:
    rows = session.execute(
        select(Participant.group, RespondentValidation.reviewed, RespondentValidation.outcome)
        .outerjoin(RespondentValidation, RespondentValidation.participant_id == Participant.id)
        .where(Participant.study_id == study.id)
    ).all()
    groups = {group: _empty(group) for group in study.participant_groups}
    for group, reviewed, outcome in rows:
        counts = groups.setdefault(group, _empty(group))
        counts.participants += 1
        if reviewed:
            counts.reviewed += 1
            if outcome == "agreed":
                counts.agreed += 1
            elif outcome == "changes_suggested":
                counts.changes_suggested += 1
    listed = list(groups.values())
    return ValidationSummary(
        participants=sum(g.participants for g in listed),
        reviewed=sum(g.reviewed for g in listed),
        agreed=sum(g.agreed for g in listed),
        changes_suggested=sum(g.changes_suggested for g in listed),
        groups=listed,
    )


def _empty(group: str) -> ValidationGroupSummary:
    return ValidationGroupSummary(
        group=group, participants=0, reviewed=0, agreed=0, changes_suggested=0
    )
