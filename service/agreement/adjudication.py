"""Consensus decisions on disagreements, written into a consensus coding layer.

A decision names a span of one document, a theme, and whether the theme holds there
(`apply`) or not (`reject`). The layer is a coding pass of kind "consensus" (the
study's only one, created on first use, or one the caller names); `apply` writes a
segment in it, coded by the study's consensus coder (a coder named "Consensus"
without a key, created on first use). The reconciled dataset is that pass's
segments; the `Adjudication` rows keep the audit of how each was reached.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlmodel import Session

from service.agreement.dataset import BLIND_MESSAGE, invalid
from service.agreement.models import Adjudication
from service.agreement.schemas import AdjudicationCreate
from service.audit import service as audit_service
from service.coding.access import StudyAccess
from service.coding.models import Coder, CodingPass, Document, Segment
from service.errors import Conflict, Forbidden
from service.frameworks.models import Theme
from service.http.pagination import PageParams, paginate

CONSENSUS_NAME = "Consensus"


def _consensus_coder(session: Session, study_id: UUID) -> Coder:
    coder = session.scalars(
        select(Coder).where(Coder.study_id == study_id, Coder.name == CONSENSUS_NAME)
    ).first()
    if coder is None:
        coder = Coder(study_id=study_id, name=CONSENSUS_NAME)
        session.add(coder)
        session.flush()
    return coder


def _free_pass_name(session: Session, study_id: UUID) -> str:
    taken = set(session.scalars(select(CodingPass.name).where(CodingPass.study_id == study_id)))
    name, n = CONSENSUS_NAME, 1
    while name in taken:
        n += 1
        name = f"{CONSENSUS_NAME} {n}"
    return name


def consensus_pass(*, session: Session, access: StudyAccess, pass_id: UUID | None) -> CodingPass:
    """The pass to record in: the one named, else the study's only consensus pass,
    else a new one (on the study's framework version)."""
    study = access.study
    if pass_id is not None:
        chosen = session.get(CodingPass, pass_id)
        if chosen is None or chosen.study_id != study.id:
            raise invalid(["body", "pass_id"], f"unknown coding pass {pass_id} in this study")
        if chosen.kind != "consensus":
            raise invalid(
                ["body", "pass_id"],
                f"pass {pass_id} is a {chosen.kind} pass; decisions go into a consensus pass",
            )
        return chosen
    passes = list(
        session.scalars(
            select(CodingPass).where(
                CodingPass.study_id == study.id, CodingPass.kind == "consensus"
            )
        )
    )
    if len(passes) > 1:
        raise invalid(
            ["body", "pass_id"], "the study has several consensus passes; name one with pass_id"
        )
    if passes:
        return passes[0]
    coder = _consensus_coder(session, study.id)
    created = CodingPass(
        study_id=study.id,
        name=_free_pass_name(session, study.id),
        kind="consensus",
        coder_id=coder.id,
        framework_id=study.framework_id,
        blind=False,  # reconciliation is done together, in the open
    )
    session.add(created)
    session.flush()
    return created


def _check_sources(
    session: Session, access: StudyAccess, body: AdjudicationCreate, hidden: set[UUID]
) -> None:
    if not body.source_segment_ids:
        return
    wanted = list(dict.fromkeys(body.source_segment_ids))
    rows = {
        row.id: row
        for row in session.execute(
            select(
                Segment.id, Segment.document_id, Segment.pass_id, Segment.start, Segment.end
            ).where(Segment.study_id == access.study.id, Segment.id.in_(wanted))
        ).all()
    }
    for i, segment_id in enumerate(body.source_segment_ids):
        row = rows.get(segment_id)
        where = ["body", "source_segment_ids", i]
        if row is None:
            raise invalid(where, f"unknown segment {segment_id} in this study", "unknown_segment")
        if row.pass_id in hidden and not access.is_owner:
            raise Forbidden(BLIND_MESSAGE)
        if row.document_id != body.document_id or row.end <= body.start or row.start >= body.end:
            raise invalid(where, f"segment {segment_id} does not overlap the span in this document")


def create(*, session: Session, access: StudyAccess, body: AdjudicationCreate) -> Adjudication:
    study = access.study
    if study.blind and study.revealed_at is None and not access.is_owner:
        raise Forbidden(BLIND_MESSAGE)
    length = session.scalar(
        select(Document.length).where(
            Document.study_id == study.id, Document.id == body.document_id
        )
    )
    if length is None:
        raise invalid(
            ["body", "document_id"],
            f"unknown document {body.document_id} in this study",
            "unknown_document",
        )
    if body.end > length:
        raise invalid(["body", "end"], f"the span ends after the document ({length} characters)")
    hidden = set(
        session.scalars(
            select(CodingPass.id).where(
                CodingPass.study_id == study.id,
                CodingPass.blind.is_(True),
                CodingPass.revealed_at.is_(None),
            )
        )
    )
    _check_sources(session, access, body, hidden)
    layer = consensus_pass(session=session, access=access, pass_id=body.pass_id)
    theme_framework = session.scalar(select(Theme.framework_id).where(Theme.id == body.theme_id))
    if theme_framework != layer.framework_id:
        raise invalid(
            ["body", "theme_id"],
            f"theme {body.theme_id} is not in the framework version of the consensus pass",
            "unknown_theme",
        )
    # Lock the consensus pass (PostgreSQL), so two decisions on overlapping spans made
    # at the same moment are checked one after the other, never both accepted.
    session.execute(select(CodingPass.id).where(CodingPass.id == layer.id).with_for_update())
    earlier = session.scalars(
        select(Adjudication.id).where(
            Adjudication.pass_id == layer.id,
            Adjudication.document_id == body.document_id,
            Adjudication.theme_id == body.theme_id,
            Adjudication.start < body.end,
            Adjudication.end > body.start,
        )
    ).first()
    if earlier is not None:
        raise Conflict(
            f"Adjudication {earlier} already decides part of this span for this theme; "
            "a span is decided once, so decisions never contradict each other."
        )

    segment_id = None
    if body.decision == "apply":
        coder_id = layer.coder_id or _consensus_coder(session, study.id).id
        segment = Segment(
            study_id=study.id,
            document_id=body.document_id,
            theme_id=body.theme_id,
            coder_id=coder_id,
            pass_id=layer.id,
            start=body.start,
            end=body.end,
            memo=body.note,
        )
        session.add(segment)
        session.flush()
        segment_id = segment.id
    decision = Adjudication(
        study_id=study.id,
        document_id=body.document_id,
        theme_id=body.theme_id,
        pass_id=layer.id,
        start=body.start,
        end=body.end,
        decision=body.decision,
        segment_id=segment_id,
        source_segment_ids=[str(s) for s in body.source_segment_ids],
        note=body.note,
        decided_by=access.principal.id,
        decided_by_name=access.principal.name,
    )
    session.add(decision)
    session.flush()
    audit_service.record(
        session=session,
        principal=access.principal,
        action="adjudication.created",
        resource_type="adjudication",
        resource_id=str(decision.id),
        details={"study_id": str(study.id), "decision": body.decision, "pass_id": str(layer.id)},
    )
    return decision


def list_adjudications(
    *,
    session: Session,
    access: StudyAccess,
    page: PageParams,
    document_id: UUID | None = None,
    theme_id: UUID | None = None,
) -> tuple[list[Adjudication], str | None]:
    study = access.study
    if study.blind and study.revealed_at is None and not access.is_owner:
        raise Forbidden(BLIND_MESSAGE)
    statement = select(Adjudication).where(Adjudication.study_id == study.id)
    if document_id is not None:
        statement = statement.where(Adjudication.document_id == document_id)
    if theme_id is not None:
        statement = statement.where(Adjudication.theme_id == theme_id)
    hidden = set() if access.is_owner else _hidden_passes(session, study.id)
    if hidden:  # decisions recorded in a pass other members may not see yet
        statement = statement.where(Adjudication.pass_id.not_in(hidden))
    rows, next_cursor = paginate(
        session, statement, order_by=[Adjudication.decided_at, Adjudication.id], params=page
    )
    if hidden:
        # Decisions resting on hidden segments would show where other coders coded;
        # they are left out (a page may hold fewer than `limit` items), as saved
        # agreement reports on hidden passes are.
        rows = _without_hidden_sources(session, study.id, rows, hidden)
    return rows, next_cursor


def _hidden_passes(session: Session, study_id: UUID) -> set[UUID]:
    """The study's blind passes that are not revealed yet."""
    return set(
        session.scalars(
            select(CodingPass.id).where(
                CodingPass.study_id == study_id,
                CodingPass.blind.is_(True),
                CodingPass.revealed_at.is_(None),
            )
        )
    )


def _without_hidden_sources(
    session: Session, study_id: UUID, rows: list[Adjudication], hidden: set[UUID]
) -> list[Adjudication]:
    sources = {UUID(s) for row in rows for s in row.source_segment_ids or ()}
    if not sources:
        return rows
    secret = {
        str(sid)
        for sid in session.scalars(
            select(Segment.id).where(
                Segment.study_id == study_id,
                Segment.id.in_(sources),
                Segment.pass_id.in_(hidden),
            )
        )
    }
    return [row for row in rows if secret.isdisjoint(row.source_segment_ids or ())]
