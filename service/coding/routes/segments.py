"""/v1/studies/{study_id}/segments: coded passages of the study's transcripts."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from service.coding import bulk_import
from service.coding import segments as segments_service
from service.coding.access import StudyReader, StudyWriter
from service.coding.segment_schemas import (
    BulkImportResult,
    SegmentCreate,
    SegmentPublic,
    SegmentUpdate,
)
from service.db import SessionDep
from service.errors import problem_responses
from service.http.conditional import cached_response, check_if_match, etag_of
from service.http.pagination import Page, PageDep
from service.http.routing import CivicRoute, upload

router = APIRouter(tags=["segments"], route_class=CivicRoute)
SEGMENTS = "/studies/{study_id}/segments"
SEGMENT = SEGMENTS + "/{segment_id}"
NOT_MODIFIED = {304: {"description": "Not modified: your copy (If-None-Match) is current."}}

_BULK_DESCRIPTION = (
    "Segments as a JSON array (`application/json`) or one JSON object per line "
    "(`application/x-ndjson`); each has the fields of `SegmentCreate`. At most "
    f"{bulk_import.MAX_ROWS:,} rows."
)


def _bulk_openapi() -> dict:
    extra = upload("application/json", bulk_import.NDJSON, description=_BULK_DESCRIPTION)
    extra["requestBody"]["content"]["application/json"]["schema"] = {
        "type": "array",
        "maxItems": bulk_import.MAX_ROWS,
        "items": {"$ref": "#/components/schemas/SegmentCreate"},
    }
    return extra


def _one(session, segment) -> SegmentPublic:
    return segments_service.to_public(session=session, segments=[segment])[0]


async def _raw_body(request: Request) -> bytes:
    return await request.body()  # already read (and size-checked) by CivicRoute


@router.post(
    SEGMENTS,
    status_code=status.HTTP_201_CREATED,
    response_model=SegmentPublic,
    operation_id="segments-create",
    summary="Code a passage",
    responses=problem_responses(403, 404, 422),
)
def create_segment(
    study_id: UUID,
    body: SegmentCreate,
    response: Response,
    session: SessionDep,
    access: StudyWriter,
) -> SegmentPublic:
    """Tag the span [`start`, `end`) of a document with a theme. Offsets count Unicode
    code points of the document's stored text (NFC, `\\n` line endings), as Python's
    `text[start:end]` does; the response quotes the passage in `text`.

    422 when the span is empty or runs past the end of the text, the theme is not in
    the framework version coded against, or the document, coder or pass is not in
    the study; 403 when you may not code as the coder given."""
    segment = segments_service.create_segment(session=session, access=access, body=body)
    public = _one(session, segment)
    response.headers["Location"] = f"/v1/studies/{study_id}/segments/{segment.id}"
    response.headers["ETag"] = etag_of(public)
    return public


@router.get(
    SEGMENTS,
    response_model=Page[SegmentPublic],
    operation_id="segments-list",
    summary="List coded segments",
    responses=problem_responses(400, 404, 422),
)
def list_segments(
    session: SessionDep,
    access: StudyReader,
    page: PageDep,
    document_id: UUID | None = None,
    theme_id: UUID | None = None,
    theme_code: Annotated[
        str | None,
        Query(
            max_length=32,
            pattern=r"^[^\x00]+$",
            description="A theme's code, e.g. `1.2` (in any version the study codes against).",
        ),
    ] = None,
    coder_id: UUID | None = None,
    pass_id: UUID | None = None,
    negative_case: Annotated[bool | None, Query(description="Only negative cases.")] = None,
    exemplar: Annotated[bool | None, Query(description="Only exemplar quotes.")] = None,
) -> Page[SegmentPublic]:
    """Segments in document order (by document, then start offset). While coding is
    blind, coders see only their own segments and viewers none of them."""
    rows, next_cursor = segments_service.list_segments(
        session=session,
        access=access,
        page=page,
        document_id=document_id,
        theme_id=theme_id,
        theme_code=theme_code,
        coder_id=coder_id,
        pass_id=pass_id,
        negative_case=negative_case,
        exemplar=exemplar,
    )
    items = segments_service.to_public(session=session, segments=rows)
    return Page(items=items, next_cursor=next_cursor, limit=page.limit)


@router.get(
    SEGMENT,
    response_model=SegmentPublic,
    operation_id="segments-get",
    summary="Get a coded segment",
    responses={**problem_responses(404), **NOT_MODIFIED},
)
def get_segment(
    segment_id: UUID, request: Request, session: SessionDep, access: StudyReader
) -> Response:
    """One segment with its `ETag`. A segment hidden from you by blind coding is 404."""
    segment = segments_service.get_segment(session=session, access=access, segment_id=segment_id)
    return cached_response(request, _one(session, segment))


@router.patch(
    SEGMENT,
    response_model=SegmentPublic,
    operation_id="segments-update",
    summary="Change a coded segment",
    responses=problem_responses(403, 404, 412, 422),
)
def update_segment(
    segment_id: UUID,
    body: SegmentUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    access: StudyWriter,
) -> SegmentPublic:
    """Change the span, theme, coder, pass, memo or flags. Send `If-Match` with the
    `ETag` you read: 412 when someone changed the segment since. Coders change only
    their own segments; owners any."""
    segment = segments_service.get_segment(session=session, access=access, segment_id=segment_id)
    check_if_match(request, _one(session, segment))
    segment = segments_service.update_segment(
        session=session, access=access, segment=segment, changes=body
    )
    public = _one(session, segment)
    response.headers["ETag"] = etag_of(public)
    return public


@router.delete(
    SEGMENT,
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="segments-delete",
    summary="Delete a coded segment",
    responses=problem_responses(403, 404, 412),
)
def delete_segment(
    segment_id: UUID, request: Request, session: SessionDep, access: StudyWriter
) -> Response:
    """Delete a segment (coders: their own only). `If-Match` is honoured."""
    segment = segments_service.get_segment(session=session, access=access, segment_id=segment_id)
    check_if_match(request, _one(session, segment))
    segments_service.delete_segment(session=session, access=access, segment=segment)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    SEGMENTS + ":bulk",
    status_code=status.HTTP_201_CREATED,
    response_model=BulkImportResult,
    operation_id="segments-bulk-import",
    summary="Import coded segments in bulk",
    responses=problem_responses(403, 404, 413, 415, 422),
    openapi_extra=_bulk_openapi(),
)
def bulk_import_segments(
    request: Request,
    session: SessionDep,
    access: StudyWriter,
    body: Annotated[bytes, Depends(_raw_body)],
) -> BulkImportResult:
    """Import up to 100,000 segments at once, all or nothing, in one transaction.

    Send a JSON array (`Content-Type: application/json`) or NDJSON, one segment per
    line (`application/x-ndjson`; blank lines are skipped). Each row has the fields of
    the single-segment create and is checked by the same rules.

    * Any invalid row: 422 and **nothing is stored**. `errors` lists each problem
      with `loc` = `["body", <row index from 0>, <field>]`: every bad row up to the
      first 1,000; `invalid_rows` counts them all and `unlisted_rows` those not listed.
    * More than 100,000 rows: 413 (split the file); more than the upload size
      limit in bytes: 413 as well.
    * Success: 201 with the count and, for up to 10,000 rows, the new ids in the order
      of the rows sent."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return bulk_import.import_segments(
        session=session, access=access, body=body, media_type=media_type
    )
