"""/v1/studies/{study_id}/documents: the transcripts that segments point into."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from service.coding import documents as documents_service
from service.coding.access import StudyReader, StudyWriter
from service.coding.models import Document
from service.coding.schemas import DocumentCreate, DocumentPublic, DocumentSpan, DocumentUpdate
from service.db import SessionDep, lookup_dependency
from service.errors import problem_responses
from service.http.conditional import cached_response, check_if_match
from service.http.pagination import Page, PageDep
from service.http.routing import CivicRoute

router = APIRouter(tags=["documents"], route_class=CivicRoute)
DOCUMENTS = "/studies/{study_id}/documents"
DOCUMENT = DOCUMENTS + "/{document_id}"
NOT_MODIFIED = {304: {"description": "Not modified (`If-None-Match`)."}}


@lookup_dependency
def _document(document_id: UUID, session: SessionDep, access: StudyReader) -> Document:
    return documents_service.get_document(
        session=session, study_id=access.study.id, document_id=document_id
    )


DocumentDep = Annotated[Document, Depends(_document)]


def _public(session, document: Document) -> DocumentPublic:
    frozen = bool(documents_service.frozen_ids(session=session, documents=[document]))
    return documents_service.public(document, frozen=frozen, with_text=True)


@router.post(
    DOCUMENTS,
    status_code=status.HTTP_201_CREATED,
    response_model=DocumentPublic,
    operation_id="documents-create",
    summary="Add a transcript",
    responses=problem_responses(403, 404, 413, 422),
)
def create_document(
    body: DocumentCreate, response: Response, session: SessionDep, access: StudyWriter
) -> DocumentPublic:
    """Store an anonymised transcript (coders and owners). The text is normalised first
    (Unicode NFC; `\\r\\n` and `\\r` become `\\n`); `length` and `content_hash` describe
    the normalised text, which is what the response returns. Segment offsets count
    Unicode code points of this normalised text, half-open [start, end)."""
    document = documents_service.create_document(session=session, study=access.study, body=body)
    response.headers["Location"] = f"/v1/studies/{access.study.id}/documents/{document.id}"
    return documents_service.public(document, frozen=False, with_text=True)


@router.get(
    DOCUMENTS,
    response_model=Page[DocumentPublic],
    operation_id="documents-list",
    summary="List transcripts",
    responses=problem_responses(400, 404, 422),
)
def list_documents(
    session: SessionDep,
    page: PageDep,
    access: StudyReader,
    participant_id: Annotated[UUID | None, Query(description="Only this participant's.")] = None,
    include_text: Annotated[bool, Query(description="Include each full text.")] = False,
) -> Page[DocumentPublic]:
    """The study's transcripts, oldest first, without their text unless
    `include_text=true`."""
    rows, next_cursor = documents_service.list_documents(
        session=session,
        study_id=access.study.id,
        participant_id=participant_id,
        with_text=include_text,
        page=page,
    )
    frozen = documents_service.frozen_ids(session=session, documents=rows)
    items = [
        documents_service.public(row, frozen=row.id in frozen, with_text=include_text)
        for row in rows
    ]
    return Page(items=items, next_cursor=next_cursor, limit=page.limit)


@router.get(
    DOCUMENT,
    response_model=DocumentPublic,
    operation_id="documents-get",
    summary="Get a transcript",
    responses={**problem_responses(404), **NOT_MODIFIED},
)
def get_document(request: Request, document: DocumentDep, session: SessionDep) -> Response:
    """One transcript with its text, and an ETag."""
    return cached_response(request, _public(session, document))


@router.get(
    DOCUMENT + "/text",
    response_model=DocumentSpan,
    operation_id="documents-text",
    summary="Get a passage of a transcript",
    responses={**problem_responses(404, 422), 304: {"description": "Not modified."}},
)
def get_span(
    request: Request,
    document: DocumentDep,
    start: Annotated[int, Query(ge=0, description="First code point (default 0).")] = 0,
    end: Annotated[
        int | None, Query(ge=0, description="Code point after the last (default: the end).")
    ] = None,
) -> Response:
    """The text of [`start`, `end`), e.g. to show the passage a segment points at. 422
    when the span is reversed or runs past the end."""
    start, end, text = documents_service.span(document, start=start, end=end)
    span = DocumentSpan(
        document_id=document.id,
        start=start,
        end=end,
        text=text,
        content_hash=document.content_hash,
    )
    return cached_response(request, span)


@router.patch(
    DOCUMENT,
    response_model=DocumentPublic,
    operation_id="documents-update",
    summary="Change a transcript",
    responses=problem_responses(403, 404, 409, 412, 422),
)
def update_document(
    body: DocumentUpdate,
    request: Request,
    document: DocumentDep,
    session: SessionDep,
    _: StudyWriter,
) -> DocumentPublic:
    """Change the fields you send (coders and owners). Once any segment points into the
    document its text is frozen (409) — the title, participant and interview details
    may still change. Send `If-Match` with the ETag you read to refuse the change if it
    is stale (412)."""
    check_if_match(request, _public(session, document))
    document = documents_service.update_document(session=session, document=document, body=body)
    return _public(session, document)


@router.delete(
    DOCUMENT,
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="documents-delete",
    summary="Delete a transcript",
    responses=problem_responses(403, 404, 409, 412),
)
def delete_document(
    request: Request,
    document: DocumentDep,
    session: SessionDep,
    access: StudyWriter,
    cascade: Annotated[bool, Query(description="Also delete its segments.")] = False,
) -> Response:
    """Delete a transcript (coders and owners). One with segments is deleted only with
    `cascade=true`, and then its segments go in the same transaction."""
    check_if_match(request, _public(session, document))
    documents_service.delete_document(
        session=session, access=access, document=document, cascade=cascade
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
