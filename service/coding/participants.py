"""Participants: pseudonymous people in a study, with their socio-demographics."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import delete, exists, select
from sqlmodel import Session

from service.audit import service as audit_service
from service.coding.access import StudyAccess
from service.coding.models import Document, Participant, Segment, Study
from service.coding.participant_import import parse_participants_csv
from service.coding.problems import invalid
from service.coding.schemas import (
    GroupSummary,
    NumericSummary,
    ParticipantAttributes,
    ParticipantCreate,
    ParticipantSummary,
    ParticipantUpdate,
)
from service.coding.segments import require_may_delete_segments
from service.db import utcnow
from service.errors import Conflict, NotFound
from service.http.idempotency import forget_study_replays
from service.http.pagination import PageParams, paginate


def create_participant(*, session: Session, study: Study, body: ParticipantCreate) -> Participant:
    _check_group(study, body.group)
    _check_label_free(session, study.id, body.label)
    participant = Participant(
        study_id=study.id, label=body.label, group=body.group, attributes=body.attributes.stored()
    )
    session.add(participant)
    session.flush()
    return participant


def import_csv(*, session: Session, study: Study, raw: bytes) -> list[Participant]:
    """All or nothing: every bad row is reported (422) and then nothing is stored."""
    existing = set(
        session.scalars(select(Participant.label).where(Participant.study_id == study.id))
    )
    rows = parse_participants_csv(raw, groups=study.participant_groups, existing_labels=existing)
    participants = [
        Participant(
            study_id=study.id, label=row.label, group=row.group, attributes=row.attributes.stored()
        )
        for row in rows
    ]
    session.add_all(participants)
    session.flush()
    return participants


def list_participants(
    *, session: Session, study_id: UUID, group: str | None, page: PageParams
) -> tuple[list[Participant], str | None]:
    statement = select(Participant).where(Participant.study_id == study_id)
    if group is not None:
        statement = statement.where(Participant.group == group)
    return paginate(session, statement, order_by=[Participant.label, Participant.id], params=page)


def get_participant(*, session: Session, study_id: UUID, participant_id: UUID) -> Participant:
    participant = session.get(Participant, participant_id)
    if participant is None or participant.study_id != study_id:
        raise NotFound(f"No participant {participant_id} in this study.")
    return participant


def update_participant(
    *, session: Session, study: Study, participant: Participant, body: ParticipantUpdate
) -> Participant:
    if body.group is not None:
        _check_group(study, body.group)
        participant.group = body.group
    if body.label is not None and body.label != participant.label:
        _check_label_free(session, study.id, body.label)
        participant.label = body.label
    if body.attributes is not None:
        merged = participant.attributes | body.attributes.model_dump(exclude_unset=True)
        # Validate the merged whole, then drop the keys the patch set to null.
        participant.attributes = ParticipantAttributes.model_validate(merged).stored()
    participant.updated_at = utcnow()
    session.flush()
    return participant


def delete_participant(
    *, session: Session, access: StudyAccess, participant: Participant, cascade: bool
) -> None:
    documents = select(Document.id).where(
        Document.study_id == participant.study_id, Document.participant_id == participant.id
    )
    if not cascade and session.scalar(select(exists(documents))):
        raise Conflict(
            "The participant has documents (and maybe coded segments); send cascade=true to "
            "delete them together."
        )
    require_may_delete_segments(session, access, Segment.document_id.in_(documents))
    segments = session.execute(
        delete(Segment).where(
            Segment.study_id == participant.study_id, Segment.document_id.in_(documents)
        )
    ).rowcount
    removed = session.execute(
        delete(Document).where(
            Document.study_id == participant.study_id, Document.participant_id == participant.id
        )
    ).rowcount
    session.delete(participant)
    session.flush()
    forget_study_replays(session=session, study_id=participant.study_id)
    audit_service.record(
        session=session,
        principal=access.principal,
        action="participant.deleted",
        resource_type="participant",
        resource_id=str(participant.id),
        details={"study_id": str(participant.study_id), "documents": removed, "segments": segments},
    )


def summary(*, session: Session, study: Study) -> ParticipantSummary:
    participants = session.scalars(select(Participant).where(Participant.study_id == study.id))
    return summarise(participants, groups=study.participant_groups)


def summarise(participants: Iterable[Participant], *, groups: list[str]) -> ParticipantSummary:
    """Table 1 of a study: per group, n, age (mean, sample SD) and counts per gender."""
    by_group: dict[str, list[dict]] = {group: [] for group in groups}
    for participant in participants:
        by_group.setdefault(participant.group, []).append(participant.attributes)
    summaries = []
    for group, attributes in by_group.items():
        ages = [a["age"] for a in attributes if isinstance(a.get("age"), int)]
        genders = Counter(a.get("gender") or "not recorded" for a in attributes)
        summaries.append(
            GroupSummary(
                group=group,
                n=len(attributes),
                age=NumericSummary(
                    n=len(ages),
                    mean=statistics.fmean(ages) if ages else None,
                    sd=statistics.stdev(ages) if len(ages) > 1 else None,
                    min=min(ages, default=None),
                    max=max(ages, default=None),
                ),
                gender=dict(sorted(genders.items())),
            )
        )
    return ParticipantSummary(total=sum(s.n for s in summaries), groups=summaries)


def _check_group(study: Study, group: str) -> None:
    if group not in study.participant_groups:
        allowed = ", ".join(study.participant_groups)
        raise invalid(["body", "group"], f"group {group!r} is not one of the study's ({allowed})")


def _check_label_free(session: Session, study_id: UUID, label: str) -> None:
    taken = session.scalar(
        select(exists().where(Participant.study_id == study_id, Participant.label == label))
    )
    if taken:
        raise Conflict(f"The study already has a participant labelled {label!r}.")
