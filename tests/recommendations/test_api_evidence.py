"""Evidence from a research study in a plan's explanations (``evidence_study_id``),
through HTTP on SQLite and PostgreSQL, on a small study written straight to the
database: two groups, a blind pass, negative cases."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from service.auth import service as auth_service
from service.auth.models import Role
from service.coding.models import (
    Coder,
    CodingPass,
    Document,
    Participant,
    Segment,
    Study,
    StudyMember,
)
from service.frameworks.models import Framework, Theme

URL = "/v1/recommendations"
ASSESSMENT = {"framework": "civic", "version": "2", "needs": {"1": "high", "3": "low"}}


@dataclass(frozen=True)
class EvidenceStudy:
    id: str
    headers: dict[str, dict[str, str]]  # by who: owner, coder, viewer, outsider, admin


def _key(session, name: str, role: Role = Role.researcher) -> tuple[uuid.UUID, dict[str, str]]:
    api_key, key = auth_service.create_key(session=session, name=name, role=role)
    return api_key.principal_id, {"Authorization": f"Bearer {key}"}


@pytest.fixture
def evidence_study(app, client) -> EvidenceStudy:
    """P1, P2 lived experience; P3, P4 staff. Closeness is coded for P1 (twice, on a
    subordinate theme and on Closeness itself) and for P2 (in a blind pass, by the
    coder); P3 has two Closeness negative cases (one in the blind pass, by the owner)
    and a Valued relationships passage; P4 has a transcript with nothing coded."""
    with app.state.sessionmaker() as session:
        v2 = session.scalars(
            select(Framework).where(Framework.slug == "civic", Framework.version == "2")
        ).one()
        theme = {
            t.code: t.id for t in session.scalars(select(Theme).where(Theme.framework_id == v2.id))
        }
        ids, headers = {}, {}
        for who in ("owner", "coder", "viewer", "outsider"):
            ids[who], headers[who] = _key(session, f"ev-{who}")
        _, headers["admin"] = _key(session, "ev-admin", Role.admin)
        _, headers["clinician"] = _key(session, "ev-clinician", Role.clinician)
        study = Study(
            title="Evidence study",
            framework_id=v2.id,
            participant_groups=["lived_experience", "staff"],
        )
        session.add(study)
        session.flush()
        for who in ("owner", "coder", "viewer"):
            session.add(StudyMember(study_id=study.id, principal_id=ids[who], role=who))
        coder = {
            who: Coder(study_id=study.id, name=who, principal_id=ids[who])
            for who in ("owner", "coder")
        }
        session.add_all(coder.values())
        session.flush()
        blind = CodingPass(
            study_id=study.id, name="blind", kind="deductive", framework_id=v2.id, blind=True
        )
        session.add(blind)
        docs = {}
        for label, group in (("P1", "lived_experience"), ("P2", "lived_experience"),
                             ("P3", "staff"), ("P4", "staff")):  # fmt: skip
            participant = Participant(study_id=study.id, label=label, group=group)
            session.add(participant)
            session.flush()
            text = f"Transcript of {label}. " * 20
            docs[label] = Document(
                study_id=study.id,
                participant_id=participant.id,
                title=label,
                text=text,
                length=len(text),
                content_hash=hashlib.sha256(text.encode()).hexdigest(),
            )
            session.add(docs[label])
        session.flush()
        rows = [
            ("P1", "1.1", "owner", None, False),
            ("P1", "1", "owner", None, False),
            ("P2", "1.2", "coder", blind.id, False),
            ("P3", "1", "owner", None, True),
            ("P3", "1.1", "owner", blind.id, True),
            ("P3", "3", "owner", None, False),
        ]
        for i, (label, code, who, pass_id, negative) in enumerate(rows):
            session.add(
                Segment(
                    study_id=study.id,
                    document_id=docs[label].id,
                    theme_id=theme[code],
                    coder_id=coder[who].id,
                    pass_id=pass_id,
                    start=i * 10,
                    end=i * 10 + 8,
                    negative_case=negative,
                )
            )
        session.commit()
        return EvidenceStudy(id=str(study.id), headers=headers)


def evidence(client, study: EvidenceStudy, who: str) -> dict[str, tuple]:
    response = client.post(
        URL, params={"evidence_study_id": study.id}, json=ASSESSMENT, headers=study.headers[who]
    )
    assert response.status_code == 200, response.text
    out = {}
    for domain in response.json()["domains"]:
        ev = domain["evidence"]
        assert ev["study_id"] == study.id
        counts = tuple((g["group"], g["participants"], g["of"]) for g in ev["participants"])
        out[domain["code"]] = (counts, ev["negative_cases"])
    return out


def expected(lived: int, staff_closeness: int, negatives: int) -> dict[str, tuple]:
    return {
        "1": ((("lived_experience", lived, 2), ("staff", staff_closeness, 2)), negatives),
        "3": ((("lived_experience", 0, 2), ("staff", 1, 2)), 0),
    }


def test_owners_count_every_participant_and_negative_case(client, evidence_study):
    # Closeness counts its subordinate themes; P1 coded twice counts once; negative
    # cases are counted apart and do not make P3 a participant coded with Closeness.
    assert evidence(client, evidence_study, "owner") == expected(2, 0, 2)
    assert evidence(client, evidence_study, "admin") == expected(2, 0, 2)


def test_blind_coding_hides_other_coders_segments_until_revealed(app, client, evidence_study):
    # The coder sees their own blind segment (P2) but not the owner's blind negative case.
    assert evidence(client, evidence_study, "coder") == expected(2, 0, 1)
    # A viewer sees nothing of the unrevealed pass.
    assert evidence(client, evidence_study, "viewer") == expected(1, 0, 1)
    with app.state.sessionmaker() as session:
        blind = session.scalars(select(CodingPass).where(CodingPass.blind.is_(True))).one()
        blind.revealed_at = datetime.now(UTC)
        session.commit()
    assert evidence(client, evidence_study, "viewer") == expected(2, 0, 2)


def test_without_a_study_there_is_no_evidence(client, evidence_study):
    response = client.post(URL, json=ASSESSMENT, headers=evidence_study.headers["clinician"])
    assert [d["evidence"] for d in response.json()["domains"]] == [None, None]


def test_studies_the_caller_is_not_in_are_404(client, evidence_study):
    for who in ("outsider", "clinician"):
        response = client.post(
            URL,
            params={"evidence_study_id": evidence_study.id},
            json=ASSESSMENT,
            headers=evidence_study.headers[who],
        )
        assert response.status_code == 404, who
    unknown = client.post(
        URL,
        params={"evidence_study_id": str(uuid.uuid4())},
        json=ASSESSMENT,
        headers=evidence_study.headers["owner"],
    )
    assert unknown.status_code == 404
    assert unknown.json()["detail"].startswith("No study")


def test_evidence_takes_two_segment_queries_whatever_the_number_of_domains(
    app, client, evidence_study
):
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    everything = {**ASSESSMENT, "needs": {c: "high" for c in ("1", "2", "3", "4", "5", "7")}}
    event.listen(app.state.engine, "before_cursor_execute", count)
    try:
        for assessment in (ASSESSMENT, everything):
            statements.clear()
            response = client.post(
                URL,
                params={"evidence_study_id": evidence_study.id},
                json=assessment,
                headers=evidence_study.headers["owner"],
            )
            assert response.status_code == 200
            assert sum("segments" in s for s in statements) == 2
    finally:
        event.remove(app.state.engine, "before_cursor_execute", count)
