"""Documents: anonymised interview transcripts, the text that segments point into.

Text is normalised once, when it is stored (NFC; ``\\r\\n`` and ``\\r`` become
``\\n``), so that every offset — Unicode code points, half-open [start, end) — means
the same on every client and in every export. Once a segment points into a document
its text is frozen: changing it would silently move every coded span.
"""

from __future__ import annotations

import hashlib
import unicodedata
from uuid import UUID

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import defer
from sqlmodel import Session

from service.audit import service as audit_service
from service.coding.access import StudyAccess
from service.coding.models import Document, Participant, Segment, Study
from service.coding.problems import invalid
from service.coding.schemas import DocumentCreate, DocumentPublic, DocumentUpdate
from service.coding.segments import require_may_delete_segments
from service.db import utcnow
from service.errors import Conflict, NotFound
from service.http.idempotency import forget_study_replays
from service.http.pagination import PageParams, paginate


def normalise_text(text: str) -> str:
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def create_document(*, session: Session, study: Study, body: DocumentCreate) -> Document:
    _check_participant(session, study.id, body.participant_id)
    text = normalise_text(body.text)
    document = Document(
        study_id=study.id,
        **body.model_dump(exclude={"text"}),
        text=text,
        length=len(text),
        content_hash=content_hash(text),
    )
    session.add(document)
    session.flush()
    return document


def list_documents(
    *,
    session: Session,
    study_id: UUID,
    participant_id: UUID | None,
    with_text: bool,
    page: PageParams,
) -> tuple[list[Document], str | None]:
    statement = select(Document).where(Document.study_id == study_id)
    if not with_text:  # transcripts are long: leave them in the database
        statement = statement.options(defer(Document.text, raiseload=True))
    if participant_id is not None:
        statement = statement.where(Document.participant_id == participant_id)
    return paginate(session, statement, order_by=[Document.created_at, Document.id], params=page)


def get_document(*, session: Session, study_id: UUID, document_id: UUID) -> Document:
    document = session.get(Document, document_id)
    if document is None or document.study_id != study_id:
        raise NotFound(f"No document {document_id} in this study.")
    return document


def update_document(*, session: Session, document: Document, body: DocumentUpdate) -> Document:
    changes = body.model_dump(exclude_unset=True)
    if "participant_id" in changes:
        _check_participant(session, document.study_id, changes["participant_id"])
    if "text" in changes:
        text = normalise_text(changes.pop("text"))
        if text != document.text:
            if frozen_ids(session=session, documents=[document]):
                raise Conflict(
                    "Segments point into this document, so its text is frozen; "
                    "title, participant and interview details may still change."
                )
            changes |= {"text": text, "length": len(text), "content_hash": content_hash(text)}
    for field, value in changes.items():
        setattr(document, field, value)
    document.updated_at = utcnow()
    session.flush()
    return document


def delete_document(
    *, session: Session, access: StudyAccess, document: Document, cascade: bool
) -> None:
    if frozen_ids(session=session, documents=[document]) and not cascade:
        raise Conflict("The document has coded segments; send cascade=true to delete them with it.")
    require_may_delete_segments(session, access, Segment.document_id == document.id)
    segments = session.execute(
        delete(Segment).where(
            Segment.study_id == document.study_id, Segment.document_id == document.id
        )
    ).rowcount
    session.delete(document)
    session.flush()
    forget_study_replays(session=session, study_id=document.study_id)
    audit_service.record(
        session=session,
        principal=access.principal,
        action="document.deleted",
        resource_type="document",
        resource_id=str(document.id),
        details={"study_id": str(document.study_id), "segments": segments},
    )


def span(document: Document, *, start: int, end: int | None) -> tuple[int, int, str]:
    end = document.length if end is None else end
    if not 0 <= start <= end <= document.length:
        msg = f"the span [{start}, {end}) needs 0 <= start <= end <= {document.length}"
        raise invalid(["query", "end" if end > document.length else "start"], msg)
    return start, end, document.text[start:end]


def frozen_ids(*, session: Session, documents: list[Document]) -> set[UUID]:
    """The documents (of those given) that segments point into: one query."""
    if not documents:
        return set()
    return set(
        session.scalars(
            select(Segment.document_id)
            .where(
                Segment.study_id == documents[0].study_id,
                Segment.document_id.in_([d.id for d in documents]),
            )
            .distinct()
        )
    )


def public(document: Document, *, frozen: bool, with_text: bool) -> DocumentPublic:
    return DocumentPublic.model_validate(
        {
            **document.model_dump(exclude={"text"}),
            "text_frozen": frozen,
            "text": document.text if with_text else None,
        }
    )


def _check_participant(session: Session, study_id: UUID, participant_id: UUID | None) -> None:
    if participant_id is None:
        return
    found = session.scalar(
        select(exists().where(Participant.study_id == study_id, Participant.id == participant_id))
    )
    if not found:
        msg = f"there is no participant {participant_id} in this study"
        raise invalid(["body", "participant_id"], msg, "not_found")
