"""Shared fixtures of the research-workflow tests: a study with one member of each
study role and an outsider, a participant, a transcript, and coders.

The rows are written straight to the database (as ``make_key`` writes keys), so a
test of one route does not depend on every other route working. Tests then use the
headers of the member whose role they exercise, e.g.::

    def test_viewer_may_not_add_participants(client, study):
        response = client.post(f"{study.url}/participants", json=..., headers=study.viewer.headers)
        assert response.status_code == 403

``expected_by_role`` gives, for a route, the status each caller should get, so a test
can check every role in one loop over ``ROLES`` with ``study.headers_for(role)``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from service.auth import service as auth_service
from service.auth.models import Role
from service.coding.models import Coder, Document, Participant, Segment, Study, StudyMember
from service.frameworks.models import Framework, Theme

GROUPS = ["lived_experience", "staff"]
ROLES = ("owner", "coder", "viewer", "outsider", "admin")
READERS = ("owner", "coder", "viewer")
WRITERS = ("owner", "coder")
OWNERS = ("owner",)

# An invented, anonymised exchange (no real participant's words). It has a non-ASCII
# character, so code-point offsets differ from UTF-8 byte offsets.
TRANSCRIPT = (
    "Interviewer: What helps you feel connected to other people?\n"
    "P01: The walking group on Thursdays. We have a coffee after, and nobody minds "
    "if I stay quiet.\n"
    "Interviewer: And when things are harder?\n"
    "P01: If I think people are judging me I stay in. The dog gets me out again, and "
    "the café owner always says hello.\n"
)


@dataclass(frozen=True)
class Member:
    """A principal with an API key: ``id`` is the principal id, ``headers`` authenticate."""

    id: str
    name: str
    headers: dict[str, str]


@dataclass(frozen=True)
class StudySetup:
    id: str
    url: str  # /v1/studies/{id}
    framework_id: str  # the study's framework version (CIVIC v2, published)
    owner: Member
    coder: Member
    viewer: Member
    outsider: Member  # a researcher who is not a member: gets 404 on every study route
    groups: list[str] = field(default_factory=lambda: list(GROUPS))
    admin: Member | None = None  # an admin (not a member): acts as an owner everywhere

    def headers_for(self, role: str) -> dict[str, str]:
        """Headers of the caller with this role: owner, coder, viewer, outsider or admin."""
        member = getattr(self, role)
        assert member is not None, role
        return member.headers


def expected_by_role(ok: int, allowed: Iterable[str]) -> dict[str, int]:
    """Status per role for a route that ``allowed`` study roles (and admins) may use:
    ``ok`` for them, 403 for other members, 404 for the outsider."""
    return {
        role: ok if role in (*allowed, "admin") else 404 if role == "outsider" else 403
        for role in ROLES
    }


@dataclass(frozen=True)
class ParticipantSetup:
    id: str
    label: str
    group: str
    url: str


@dataclass(frozen=True)
class DocumentSetup:
    id: str
    url: str
    text: str
    length: int
    participant_id: str | None


def _member(session, name: str, role: Role = Role.researcher) -> Member:
    api_key, key = auth_service.create_key(session=session, name=name, role=role)
    return Member(
        id=str(api_key.principal_id), name=name, headers={"Authorization": f"Bearer {key}"}
    )


@pytest.fixture
def make_study(app: FastAPI, client) -> Callable[..., StudySetup]:
    """Factory: a study on CIVIC v2 with an owner, a coder, a viewer and an outsider
    (fresh principals each call). Keyword arguments override Study columns, e.g.
    ``make_study(blind=True)``."""

    def make(**overrides: Any) -> StudySetup:
        tag = uuid.uuid4().hex[:6]
        with app.state.sessionmaker() as session:
            framework = session.scalars(
                select(Framework).where(Framework.slug == "civic", Framework.version == "2")
            ).one()
            owner = _member(session, f"owner-{tag}")
            coder = _member(session, f"coder-{tag}")
            viewer = _member(session, f"viewer-{tag}")
            outsider = _member(session, f"outsider-{tag}")
            admin = _member(session, f"admin-{tag}", Role.admin)
            values = {
                "title": f"Connectedness interviews {tag}",
                "framework_id": framework.id,
                "participant_groups": list(GROUPS),
                "created_by": uuid.UUID(owner.id),
            } | overrides
            study = Study(**values)
            session.add(study)
            session.flush()
            for member, role in ((owner, "owner"), (coder, "coder"), (viewer, "viewer")):
                session.add(
                    StudyMember(study_id=study.id, principal_id=uuid.UUID(member.id), role=role)
                )
            session.commit()
            return StudySetup(
                id=str(study.id),
                url=f"/v1/studies/{study.id}",
                framework_id=str(framework.id),
                owner=owner,
                coder=coder,
                viewer=viewer,
                outsider=outsider,
                groups=list(study.participant_groups),
                admin=admin,
            )

    return make


@pytest.fixture
def study(make_study) -> StudySetup:
    return make_study()


@pytest.fixture
def participant(app: FastAPI, study: StudySetup) -> ParticipantSetup:
    """P01, lived experience, in ``study``."""
    with app.state.sessionmaker() as session:
        row = Participant(
            study_id=uuid.UUID(study.id),
            label="P01",
            group="lived_experience",
            attributes={"age": 44, "gender": "female", "living_arrangement": "alone"},
        )
        session.add(row)
        session.commit()
        return ParticipantSetup(
            id=str(row.id),
            label=row.label,
            group=row.group,
            url=f"{study.url}/participants/{row.id}",
        )


@pytest.fixture
def document(app: FastAPI, study: StudySetup, participant: ParticipantSetup) -> DocumentSetup:
    """P01's transcript (``TRANSCRIPT``: NFC, ``\\n`` line endings) in ``study``."""
    with app.state.sessionmaker() as session:
        row = Document(
            study_id=uuid.UUID(study.id),
            participant_id=uuid.UUID(participant.id),
            title="Interview 1",
            text=TRANSCRIPT,
            length=len(TRANSCRIPT),
            content_hash=hashlib.sha256(TRANSCRIPT.encode()).hexdigest(),
            interview_order=1,
        )
        session.add(row)
        session.commit()
        return DocumentSetup(
            id=str(row.id),
            url=f"{study.url}/documents/{row.id}",
            text=TRANSCRIPT,
            length=len(TRANSCRIPT),
            participant_id=participant.id,
        )


@pytest.fixture
def coders(app: FastAPI, study: StudySetup) -> dict[str, str]:
    """Coder ids in ``study``: ``owner`` and ``coder`` (the members' own coder rows) and
    ``co_researcher`` (a named coder without a key, who codes through the owner)."""
    with app.state.sessionmaker() as session:
        rows = {
            "owner": Coder(
                study_id=uuid.UUID(study.id),
                name=study.owner.name,
                principal_id=uuid.UUID(study.owner.id),
            ),
            "coder": Coder(
                study_id=uuid.UUID(study.id),
                name=study.coder.name,
                principal_id=uuid.UUID(study.coder.id),
            ),
            "co_researcher": Coder(study_id=uuid.UUID(study.id), name="Service-user co-researcher"),
        }
        session.add_all(rows.values())
        session.commit()
        return {role: str(row.id) for role, row in rows.items()}


@pytest.fixture
def make_segment(app: FastAPI) -> Callable[..., str]:
    """Factory: store a segment straight in the database (whatever the segment routes
    do), on the first theme of the study's framework. Returns its id."""

    def make(study: StudySetup, document: DocumentSetup, coder_id: str, start=0, end=5) -> str:
        with app.state.sessionmaker() as session:
            theme_id = session.scalars(
                select(Theme.id)
                .where(Theme.framework_id == uuid.UUID(study.framework_id))
                .order_by(Theme.code)
            ).first()
            segment = Segment(
                study_id=uuid.UUID(study.id),
                document_id=uuid.UUID(document.id),
                theme_id=theme_id,
                coder_id=uuid.UUID(coder_id),
                start=start,
                end=end,
            )
            session.add(segment)
            session.commit()
            return str(segment.id)

    return make
