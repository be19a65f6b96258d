"""Coders and coding passes.

A coder is either a study member who codes with their own key, or a named coder
without a key (e.g. a service-user co-researcher) whose coding an owner enters. A
pass groups one round of coding: inductive, deductive (against a codebook) or
consensus; a blind pass hides its segments from other coders until an owner reveals it.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import exists, select
from sqlmodel import Session

from service.audit import service as audit_service
from service.auth.models import Principal
from service.auth.service import CurrentPrincipal
from service.coding import studies as studies_service
from service.coding.access import StudyAccess, StudyRole
from service.coding.models import Coder, CodingPass, Study, StudyMember
from service.coding.problems import invalid
from service.coding.schemas import CoderCreate, FrameworkSummary, PassCreate, PassPublic
from service.db import utcnow
from service.errors import Conflict, Forbidden, NotFound
from service.frameworks.models import Framework
from service.http.pagination import PageParams, paginate

CODING_ROLES = (StudyRole.owner, StudyRole.coder)


def create_coder(*, session: Session, study: Study, body: CoderCreate) -> Coder:
    name = body.name
    if body.principal_id is not None:
        role = session.scalar(
            select(StudyMember.role).where(
                StudyMember.study_id == study.id, StudyMember.principal_id == body.principal_id
            )
        )
        if role not in CODING_ROLES:
            why = "is not a member" if role is None else f"is a {role}"
            msg = f"principal {body.principal_id} {why}; coders are owners or coders"
            raise invalid(["body", "principal_id"], msg)
        if _exists(session, Coder.study_id == study.id, Coder.principal_id == body.principal_id):
            raise Conflict("This member already has a coder in the study.")
        name = name or session.get(Principal, body.principal_id).name
    if _exists(session, Coder.study_id == study.id, Coder.name == name):
        raise Conflict(f"The study already has a coder named {name!r}.")
    coder = Coder(study_id=study.id, name=name, principal_id=body.principal_id)
    session.add(coder)
    session.flush()
    return coder


def list_coders(
    *, session: Session, study_id: UUID, page: PageParams
) -> tuple[list[Coder], str | None]:
    return paginate(
        session,
        select(Coder).where(Coder.study_id == study_id),
        order_by=[Coder.created_at, Coder.id],
        params=page,
    )


def create_pass(*, session: Session, access: StudyAccess, body: PassCreate) -> CodingPass:
    study = access.study
    if body.coder_id is not None:
        if not _exists(session, Coder.study_id == study.id, Coder.id == body.coder_id):
            msg = f"there is no coder {body.coder_id} in this study"
            raise invalid(["body", "coder_id"], msg, "not_found")
        if not access.is_owner and body.coder_id not in access.coder_ids:
            raise Forbidden("Coders may open passes only for themselves; ask an owner.")
    framework_id = study.framework_id
    if body.framework is not None:
        framework_id = studies_service.resolve_framework(
            session=session, ref=body.framework, loc=["body", "framework"]
        ).id
    if _exists(session, CodingPass.study_id == study.id, CodingPass.name == body.name):
        raise Conflict(f"The study already has a pass named {body.name!r}.")
    coding_pass = CodingPass(
        study_id=study.id,
        name=body.name,
        kind=body.kind,
        coder_id=body.coder_id,
        framework_id=framework_id,
        blind=study.blind if body.blind is None else body.blind,
    )
    session.add(coding_pass)
    session.flush()
    return coding_pass


def list_passes(
    *, session: Session, study_id: UUID, page: PageParams
) -> tuple[list[CodingPass], str | None]:
    return paginate(
        session,
        select(CodingPass).where(CodingPass.study_id == study_id),
        order_by=[CodingPass.created_at, CodingPass.id],
        params=page,
    )


def get_pass(*, session: Session, study_id: UUID, pass_id: UUID) -> CodingPass:
    coding_pass = session.get(CodingPass, pass_id)
    if coding_pass is None or coding_pass.study_id != study_id:
        raise NotFound(f"No coding pass {pass_id} in this study.")
    return coding_pass


def reveal_pass(
    *, session: Session, principal: CurrentPrincipal, coding_pass: CodingPass
) -> CodingPass:
    """Show the pass's segments to every member. Revealing twice keeps the first time."""
    if coding_pass.revealed_at is None:
        coding_pass.revealed_at = utcnow()
        session.flush()
        audit_service.record(
            session=session,
            principal=principal,
            action="pass.revealed",
            resource_type="coding_pass",
            resource_id=str(coding_pass.id),
            details={"study_id": str(coding_pass.study_id)},
        )
    return coding_pass


def passes_public(*, session: Session, passes: list[CodingPass]) -> list[PassPublic]:
    frameworks = {
        fw.id: FrameworkSummary.model_validate(fw, from_attributes=True)
        for fw in session.scalars(
            select(Framework).where(Framework.id.in_({p.framework_id for p in passes}))
        )
    }
    return [
        PassPublic.model_validate({**p.model_dump(), "framework": frameworks[p.framework_id]})
        for p in passes
    ]


def _exists(session: Session, *conditions) -> bool:
    return bool(session.scalar(select(exists().where(*conditions))))
