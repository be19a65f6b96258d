"""Study-level access control, in one place so that no route can forget it.

Every route under /v1/studies/{study_id} depends on one of the ``Study*`` aliases
below. A principal that is not a member gets 404 — the same answer as for a study
that does not exist, so membership never leaks. Admins see every study.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from fastapi import Depends
from sqlalchemy import select
from sqlmodel import Session

from service.auth.deps import PrincipalDep
from service.auth.service import CurrentPrincipal
from service.coding.models import Coder, Study, StudyMember
from service.db import SessionDep, lookup_dependency
from service.errors import Forbidden, NotFound


class StudyRole(StrEnum):
    owner = "owner"  # manages the study, members, coders; reveals blind coding
    coder = "coder"  # codes: writes segments, participants and documents
    viewer = "viewer"  # reads only


WRITERS = (StudyRole.owner, StudyRole.coder)


@dataclass(frozen=True)
class StudyAccess:
    study: Study
    principal: CurrentPrincipal
    role: StudyRole  # admins act as owners
    # Coders this principal may code as: its own coder rows and, for owners, the named
    # coders without a key of their own (e.g. a service-user co-researcher).
    coder_ids: frozenset[UUID]

    @property
    def is_owner(self) -> bool:
        return self.role is StudyRole.owner


@lookup_dependency
def study_access(study_id: UUID, session: SessionDep, principal: PrincipalDep) -> StudyAccess:
    return load_study_access(session=session, principal=principal, study_id=study_id)


def load_study_access(
    *, session: Session, principal: CurrentPrincipal, study_id: UUID
) -> StudyAccess:
    """What ``principal`` may do in the study: 404 for studies it is not a member of."""
    study = session.get(Study, study_id)
    if study is None:
        raise NotFound(f"No study {study_id}.")
    if principal.is_admin:
        role = StudyRole.owner
    else:
        member_role = session.scalar(
            select(StudyMember.role).where(
                StudyMember.study_id == study_id, StudyMember.principal_id == principal.id
            )
        )
        if member_role is None:
            raise NotFound(f"No study {study_id}.")
        role = StudyRole(member_role)
    coders = session.execute(
        select(Coder.id, Coder.principal_id).where(Coder.study_id == study_id)
    ).all()
    own = {cid for cid, pid in coders if pid == principal.id}
    if role is StudyRole.owner:
        own |= {cid for cid, pid in coders if pid is None}
    return StudyAccess(study=study, principal=principal, role=role, coder_ids=frozenset(own))


def require_study_role(*roles: StudyRole) -> Callable[..., StudyAccess]:
    async def check(access: Annotated[StudyAccess, Depends(study_access)]) -> StudyAccess:
        if access.role not in roles:
            names = ", ".join(role.value for role in roles)
            raise Forbidden(f"This needs your study role to be one of: {names}.")
        return access

    return check


StudyReader = Annotated[StudyAccess, Depends(study_access)]
StudyWriter = Annotated[StudyAccess, Depends(require_study_role(*WRITERS))]
StudyOwner = Annotated[StudyAccess, Depends(require_study_role(StudyRole.owner))]
