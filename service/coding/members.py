"""Study members: who may read, code or manage a study."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select
from sqlmodel import Session

from service.audit import service as audit_service
from service.auth.models import Principal
from service.auth.service import CurrentPrincipal
from service.coding.access import StudyRole
from service.coding.models import Study, StudyMember
from service.coding.problems import invalid
from service.coding.schemas import MemberAdd, MemberPublic
from service.errors import Conflict, NotFound
from service.http.idempotency import forget_study_replays
from service.http.pagination import PageParams, paginate


def list_members(
    *, session: Session, study_id: UUID, page: PageParams
) -> tuple[list[MemberPublic], str | None]:
    members, next_cursor = paginate(
        session,
        select(StudyMember).where(StudyMember.study_id == study_id),
        order_by=[StudyMember.created_at, StudyMember.id],
        params=page,
    )
    names = dict(
        session.execute(
            select(Principal.id, Principal.name).where(
                Principal.id.in_({m.principal_id for m in members})
            )
        ).all()
    )
    return [_public(member, names[member.principal_id]) for member in members], next_cursor


def add_member(
    *, session: Session, by: CurrentPrincipal, study: Study, body: MemberAdd
) -> MemberPublic:
    if body.principal_id is not None:
        principal = session.get(Principal, body.principal_id)
        loc, given = "principal_id", str(body.principal_id)
    else:
        principal = session.scalars(select(Principal).where(Principal.name == body.name)).first()
        loc, given = "name", repr(body.name)
    if principal is None:
        raise invalid(["body", loc], f"there is no principal {given}", "not_found")
    if _find(session, study.id, principal.id) is not None:
        raise Conflict(f"{principal.name} is already a member; PATCH the member to change roles.")
    member = StudyMember(study_id=study.id, principal_id=principal.id, role=body.role)
    session.add(member)
    session.flush()
    _audit(session, by, "study.member.added", study, principal.id, body.role)
    return _public(member, principal.name)


def change_role(
    *, session: Session, by: CurrentPrincipal, study: Study, principal_id: UUID, role: StudyRole
) -> MemberPublic:
    member = _get(session, study.id, principal_id)
    if member.role == StudyRole.owner and role != StudyRole.owner:
        _keep_an_owner(session, study.id)
    if member.role != role:
        member.role = role
        session.flush()
        _audit(session, by, "study.member.role_changed", study, principal_id, role)
    return _public(member, session.get(Principal, principal_id).name)


def remove_member(
    *, session: Session, by: CurrentPrincipal, study: Study, principal_id: UUID
) -> None:
    member = _get(session, study.id, principal_id)
    if member.role == StudyRole.owner:
        _keep_an_owner(session, study.id)
    session.delete(member)
    session.flush()
    forget_study_replays(session=session, study_id=study.id)
    _audit(session, by, "study.member.removed", study, principal_id, member.role)


def _audit(
    session: Session, by: CurrentPrincipal, action: str, study: Study, principal_id: UUID, role: str
) -> None:
    audit_service.record(
        session=session,
        principal=by,
        action=action,
        resource_type="study",
        resource_id=str(study.id),
        details={"principal_id": str(principal_id), "role": str(role)},
    )


def _keep_an_owner(session: Session, study_id: UUID) -> None:
    owners = session.scalar(
        select(func.count())
        .select_from(StudyMember)
        .where(StudyMember.study_id == study_id, StudyMember.role == StudyRole.owner)
    )
    if owners <= 1:
        raise Conflict("A study must keep at least one owner; add another owner first.")


def get_member(*, session: Session, study_id: UUID, principal_id: UUID) -> MemberPublic:
    member = _get(session, study_id, principal_id)
    return _public(member, session.get(Principal, principal_id).name)


def _find(session: Session, study_id: UUID, principal_id: UUID) -> StudyMember | None:
    return session.scalars(
        select(StudyMember).where(
            StudyMember.study_id == study_id, StudyMember.principal_id == principal_id
        )
    ).first()


def _get(session: Session, study_id: UUID, principal_id: UUID) -> StudyMember:
    member = _find(session, study_id, principal_id)
    if member is None:
        raise NotFound(f"Principal {principal_id} is not a member of this study.")
    return member


def _public(member: StudyMember, name: str) -> MemberPublic:
    return MemberPublic(
        principal_id=member.principal_id, name=name, role=member.role, added_at=member.created_at
    )
