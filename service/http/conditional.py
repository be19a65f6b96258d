"""ETags for caching (If-None-Match → 304) and optimistic locking (If-Match → 412).

The ETag is a hash of the resource's JSON representation, so any change to what a
client would see changes it, and nothing has to remember to bump a version.
"""

from __future__ import annotations

import hashlib

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from service.errors import PreconditionFailed


def etag_of(resource: BaseModel) -> str:
    digest = hashlib.sha256(resource.model_dump_json().encode()).hexdigest()[:32]
    return f'"{digest}"'


def _matches(header: str, etag: str) -> bool:
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates


def cached_response(request: Request, resource: BaseModel, *, status_code: int = 200) -> Response:
    """The resource as JSON with its ETag, or 304 when the client's copy is current."""
    etag = etag_of(resource)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return JSONResponse(jsonable_encoder(resource), status_code=status_code, headers=headers)


def cached_content(
    request: Request,
    content: bytes | str,
    *,
    media_type: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """A non-JSON-model representation (a FHIR resource, a file) with an ETag over its
    bytes, or 304 when the client's copy is current."""
    body = content.encode() if isinstance(content, str) else content
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    all_headers = {"ETag": etag, "Cache-Control": "private, no-cache", **(headers or {})}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and _matches(if_none_match, etag):
        return Response(status_code=304, headers=all_headers)
    return Response(body, media_type=media_type, headers=all_headers)


def check_if_match(request: Request, current: BaseModel) -> None:
    """Refuse an update made against a stale copy (412). Without If-Match it proceeds."""
    if_match = request.headers.get("if-match")
    if if_match and not _matches(if_match, etag_of(current)):
        raise PreconditionFailed(
            "The resource changed since you read it; GET it again and retry with its new ETag."
        )
