"""The route class every router uses.

It enforces, before FastAPI parses a body: the body-size limit (413) and the accepted
content types (415); and it makes POSTs retry-safe with ``Idempotency-Key`` (a replay
is answered before any dependency runs; ``idempotency`` records the first response).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from service.errors import PayloadTooLarge, UnsupportedMediaType
from service.http import idempotency

JSON_TYPES = ("application/json",)
BODY_METHODS = {"POST", "PUT", "PATCH"}
IDEMPOTENCY_HEADER_DOC = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: the same key and body within 24 h returns the "
    "first response again (with `Idempotent-Replayed: true`); the same key with another "
    "body is refused with 422.",
    "schema": {"type": "string", "maxLength": 200},
}


def upload(*media_types: str, description: str = "") -> dict[str, Any]:
    """``openapi_extra`` for a route that takes a raw body (file, CSV, NDJSON)."""
    content = {
        media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in media_types
    }
    return {
        "requestBody": {"required": True, "content": content, "description": description},
        "x-body-limit": "upload",
    }


class CivicRoute(APIRoute):
    #: Whether a POST sent with Idempotency-Key keeps its response for replay. Routes
    #: that change nothing and answer with health data turn it off: a retry simply runs
    #: again, and nothing of the answer is stored.
    keeps_replays = True

    def __init__(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        methods = {m.upper() for m in kwargs.get("methods") or ()}
        if "POST" in methods and self.keeps_replays:
            extra = dict(kwargs.get("openapi_extra") or {})
            extra["parameters"] = [*extra.get("parameters", []), IDEMPOTENCY_HEADER_DOC]
            kwargs["openapi_extra"] = extra
        super().__init__(path, endpoint, **kwargs)

    def _accepted_media_types(self) -> tuple[str, ...] | None:
        declared = (self.openapi_extra or {}).get("requestBody", {}).get("content")
        if declared:
            return tuple(declared)
        if self.body_field is not None:
            return JSON_TYPES
        return None  # the route takes no body

    def get_route_handler(self):  # type: ignore[override]
        handler = super().get_route_handler()
        accepted = self._accepted_media_types()
        is_upload = (self.openapi_extra or {}).get("x-body-limit") == "upload"

        async def route_handler(request: Request) -> Response:
            if request.method in BODY_METHODS:
                settings = request.app.state.settings
                limit = settings.max_upload_bytes if is_upload else settings.max_body_bytes
                body = await _read_body(request, limit)
                if body and accepted is not None:
                    _check_media_type(request, accepted)
            key = request.headers.get("idempotency-key")
            if key and request.method == "POST" and self.keeps_replays:
                replay = await idempotency.claim_for_request(request, key)
                if replay is not None:
                    return replay
            return await handler(request)

        return route_handler


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body is {declared} bytes; the limit here is {limit}.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body exceeds the limit of {limit} bytes.")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # Starlette caches the body here; FastAPI reads it back
    return body


def _check_media_type(request: Request, accepted: tuple[str, ...]) -> None:
    raw = request.headers.get("content-type", "")
    media_type = raw.split(";", 1)[0].strip().lower()
    json_like = media_type.endswith("+json") and "application/json" in accepted
    if media_type not in accepted and not json_like:
        raise UnsupportedMediaType(
            f"Content-Type {media_type or '(none)'!r} is not accepted here; "
            f"send one of: {', '.join(accepted)}."
        )
