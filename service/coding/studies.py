"""Studies: creating, listing, changing, revealing and deleting them."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete, exists, select
from sqlmodel import Session

from service.audit import service as audit_service
from service.auth.service import CurrentPrincipal
from service.coding.access import StudyRole
from service.coding.models import (
    Coder,
    CodingPass,
    Document,
    Participant,
    Segment,
    Study,
    StudyMember,
)
from service.coding.problems import invalid
from service.coding.schemas import (
    FrameworkRef,
    FrameworkSummary,
    StudyCreate,
    StudyPublic,
    StudyUpdate,
)
from service.db import utcnow
from service.errors import Conflict
from service.frameworks.models import Framework
from service.http.idempotency import forget_study_replays
from service.http.pagination import PageParams, paginate


def resolve_framework(*, session: Session, ref: FrameworkRef, loc: list[str | int]) -> Framework:
    """The published framework version ``ref`` names; 422 when unknown, draft or retired."""
    framework = session.scalars(
        select(Framework).where(Framework.slug == ref.slug, Framework.version == ref.version)
    ).first()
    name = f"{ref.slug} version {ref.version}"
    if framework is None:
        msg = f"there is no framework {name}"
    elif framework.status != "published":
        msg = f"framework {name} is {framework.status}; code only against published versions"
    else:
        return framework
    raise invalid(loc, msg, "not_found" if framework is None else "value_error")


def create_study(*, session: Session, principal: CurrentPrincipal, body: StudyCreate) -> Study:
    framework = resolve_framework(session=session, ref=body.framework, loc=["body", "framework"])
    study = Study(
        **body.model_dump(exclude={"framework"}),
        framework_id=framework.id,
        created_by=principal.id,
    )
    session.add(study)
    session.flush()
    session.add(StudyMember(study_id=study.id, principal_id=principal.id, role=StudyRole.owner))
    session.flush()
    return study


def list_studies(
    *, session: Session, principal: CurrentPrincipal, page: PageParams
) -> tuple[list[Study], str | None]:
    """Studies the principal is a member of; every study for an admin."""
    statement = select(Study)
    if not principal.is_admin:
        statement = statement.where(
            exists().where(
                StudyMember.study_id == Study.id, StudyMember.principal_id == principal.id
            )
        )
    return paginate(session, statement, order_by=[Study.created_at, Study.id], params=page)


def update_study(*, session: Session, study: Study, body: StudyUpdate) -> Study:
    changes = body.model_dump(exclude_unset=True, exclude={"framework"})
    if body.framework is not None:
        framework = resolve_framework(
            session=session, ref=body.framework, loc=["body", "framework"]
        )
        if framework.id != study.framework_id:
            if _has(session, Segment, study.id):
                raise Conflict("The study has coded segments; its framework can no longer change.")
            changes["framework_id"] = framework.id
    if body.participant_groups is not None:
        used = set(
            session.scalars(
                select(Participant.group).where(Participant.study_id == study.id).distinct()
            )
        )
        dropped = sorted(used - set(body.participant_groups))
        if dropped:
            raise Conflict(
                f"Participants belong to {', '.join(dropped)}; move them before dropping the group."
            )
    for field, value in changes.items():
        setattr(study, field, value)
    study.updated_at = utcnow()
    session.flush()
    return study


def reveal(*, session: Session, principal: CurrentPrincipal, study: Study) -> Study:
    """Show every coder's segments to all members. Revealing twice keeps the first time."""
    if study.revealed_at is None:
        study.revealed_at = utcnow()
        study.updated_at = study.revealed_at
        session.flush()
        audit_service.record(
            session=session,
            principal=principal,
            action="study.revealed",
            resource_type="study",
            resource_id=str(study.id),
        )
    return study


def delete_study(
    *, session: Session, principal: CurrentPrincipal, study: Study, cascade: bool
) -> None:
    content = [Participant, Document, Coder, CodingPass, Segment]
    if not cascade and any(_has(session, table, study.id) for table in content):
        raise Conflict(
            "The study has participants, documents, coders or segments; "
            "send cascade=true to delete it with all of them."
        )
    # Children before parents: the same-study composite keys have no ON DELETE action.
    deleted = {}
    for table in (Segment, CodingPass, Coder, Document, Participant, StudyMember):
        result = session.execute(delete(table).where(table.study_id == study.id))
        deleted[table.__tablename__] = result.rowcount
    session.delete(study)
    session.flush()
    forget_study_replays(session=session, study_id=study.id)
    audit_service.record(
        session=session,
        principal=principal,
        action="study.deleted",
        resource_type="study",
        resource_id=str(study.id),
        details={"cascade": cascade, "deleted": deleted},
    )


def public(*, session: Session, study: Study) -> StudyPublic:
    return public_many(session=session, studies=[study])[0]


def public_many(*, session: Session, studies: list[Study]) -> list[StudyPublic]:
    ids = {study.framework_id for study in studies}
    frameworks = {
        fw.id: FrameworkSummary.model_validate(fw, from_attributes=True)
        for fw in session.scalars(select(Framework).where(Framework.id.in_(ids)))
    }
    return [
        StudyPublic.model_validate(
            {**study.model_dump(), "framework": frameworks[study.framework_id]}
        )
        for study in studies
    ]


def _has(session: Session, table: type, study_id: UUID) -> bool:
    return bool(session.scalar(select(exists().where(table.study_id == study_id))))
