"""Fixtures of the agreement API tests: a study on CIVIC v2 whose documents, coders,
passes and segments are written straight to the database, so that these tests do not
depend on the progress of the coding routes.

    def test_something(client, coded):
        doc = coded.document("x" * 1000)
        a, b = coded.coder("A"), coded.coder("B")
        coded.segment(doc, "1.2", a, 100, 250)
        response = client.get(coded.url + "/agreement", params=..., headers=coded.owner)
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from service.auth import service as auth_service
from service.auth.models import Role
from service.coding.models import (
    Coder,
    CodingPass,
    Document,
    Segment,
    Study,
    StudyMember,
)
from service.frameworks.models import Framework, Theme


def headers_for(app: FastAPI, name: str, role: Role = Role.researcher) -> tuple[str, dict]:
    with app.state.sessionmaker() as session:
        api_key, key = auth_service.create_key(session=session, name=name, role=role)
        session.commit()
        return str(api_key.principal_id), {"Authorization": f"Bearer {key}"}


@dataclass
class CodedStudy:
    app: FastAPI
    id: str
    url: str
    framework_id: str
    themes: dict[str, str]  # code -> id
    owner: dict[str, str]
    coder_member: dict[str, str]  # headers of a member with the study role "coder"
    viewer: dict[str, str]
    outsider: dict[str, str]
    coder_principal: str = ""
    _order: int = field(default=0)

    def _add(self, row):
        with self.app.state.sessionmaker() as session:
            session.add(row)
            session.commit()
            return str(row.id)

    def document(self, text: str, title: str | None = None, order: int | None = None) -> str:
        self._order += 1
        return self._add(
            Document(
                study_id=uuid.UUID(self.id),
                title=title or f"Interview {self._order}",
                text=text,
                length=len(text),
                content_hash=hashlib.sha256(text.encode()).hexdigest(),
                interview_order=self._order if order is None else order,
            )
        )

    def coder(self, name: str, principal_id: str | None = None) -> str:
        return self._add(
            Coder(
                study_id=uuid.UUID(self.id),
                name=name,
                principal_id=uuid.UUID(principal_id) if principal_id else None,
            )
        )

    def coding_pass(
        self, name: str, coder: str | None, kind: str = "inductive", blind: bool = False
    ) -> str:
        return self._add(
            CodingPass(
                study_id=uuid.UUID(self.id),
                name=name,
                kind=kind,
                coder_id=uuid.UUID(coder) if coder else None,
                framework_id=uuid.UUID(self.framework_id),
                blind=blind,
            )
        )

    def segment(
        self, document: str, theme: str, coder: str, start: int, end: int, pass_id=None
    ) -> str:
        return self._add(
            Segment(
                study_id=uuid.UUID(self.id),
                document_id=uuid.UUID(document),
                theme_id=uuid.UUID(self.themes.get(theme, theme)),
                coder_id=uuid.UUID(coder),
                pass_id=uuid.UUID(pass_id) if pass_id else None,
                start=start,
                end=end,
            )
        )

    def update(self, model, row_id: str, **values) -> None:
        with self.app.state.sessionmaker() as session:
            row = session.get(model, uuid.UUID(row_id))
            for name, value in values.items():
                setattr(row, name, value)
            session.commit()

    def reveal_study(self) -> None:
        self.update(Study, self.id, revealed_at=datetime.now(UTC))

    def agreement(self, client, coders, headers=None, **params):
        query = {"coder": coders, **params}
        return client.get(f"{self.url}/agreement", params=query, headers=headers or self.owner)


@pytest.fixture
def make_coded(app: FastAPI, client):
    def make(**study_values) -> CodedStudy:
        tag = uuid.uuid4().hex[:6]
        owner_id, owner = headers_for(app, f"owner-{tag}")
        coder_id, coder = headers_for(app, f"coder-{tag}")
        viewer_id, viewer = headers_for(app, f"viewer-{tag}")
        _, outsider = headers_for(app, f"outsider-{tag}")
        with app.state.sessionmaker() as session:
            framework = session.scalars(
                select(Framework).where(Framework.slug == "civic", Framework.version == "2")
            ).one()
            themes = {
                code: str(tid)
                for code, tid in session.execute(
                    select(Theme.code, Theme.id).where(Theme.framework_id == framework.id)
                )
            }
            study = Study(
                title=f"Agreement study {tag}",
                framework_id=framework.id,
                participant_groups=["lived_experience", "staff"],
                created_by=uuid.UUID(owner_id),
                **study_values,
            )
            session.add(study)
            session.flush()
            for principal, role in (
                (owner_id, "owner"),
                (coder_id, "coder"),
                (viewer_id, "viewer"),
            ):
                session.add(
                    StudyMember(study_id=study.id, principal_id=uuid.UUID(principal), role=role)
                )
            session.commit()
            return CodedStudy(
                app=app,
                id=str(study.id),
                url=f"/v1/studies/{study.id}",
                framework_id=str(framework.id),
                themes=themes,
                owner=owner,
                coder_member=coder,
                viewer=viewer,
                outsider=outsider,
                coder_principal=coder_id,
            )

    return make


@pytest.fixture
def coded(make_coded) -> CodedStudy:
    return make_coded()


@dataclass
class Nvivo:
    """NVivo's worked example: a 1,000-character document, coder A [100, 250) and
    coder B [200, 300) of theme 1.2: percent agreement 0.85, kappa 7/22 = 0.318."""

    study: CodedStudy
    document: str
    a: str
    b: str
    segments: list[str]


@pytest.fixture
def nvivo(coded) -> Nvivo:
    document = coded.document("x" * 1000)
    a, b = coded.coder("A"), coded.coder("B")
    segments = [
        coded.segment(document, "1.2", a, 100, 250),
        coded.segment(document, "1.2", b, 200, 300),
    ]
    return Nvivo(coded, document, a, b, segments)
