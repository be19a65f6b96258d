"""The route class every router uses.

It enforces, before FastAPI parses a body: the body-size limit (413) and the accepted
content types (415); it makes POSTs retry-safe with ``Idempotency-Key`` (a replay
is answered before any dependency runs; ``idempotency`` records the first response);
and it runs a sync endpoint and the commit of its session in one worker-thread call
(``service.db.in_one_thread_hop``).
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from service.db import in_one_thread_hop
from service.errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType
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
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = in_one_thread_hop(endpoint)
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
        parses_body = self.body_field is not None  # FastAPI decodes the JSON itself
        query_names = _query_names(self.dependant)

        async def route_handler(request: Request) -> Response:
            _check_url_text(request, query_names)
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
            try:
                return await handler(request)
            except HTTPException as exc:
                if parses_body and exc.status_code == 400 and exc.__cause__ is not None:
                    raise _undecodable(exc.__cause__) from None
                raise

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


def _query_names(dependant: Any) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names


def _check_url_text(request: Request, query_names: set[str]) -> None:
    # %00 decodes to a NUL, which PostgreSQL refuses in any text it is asked to compare:
    # no identifier, slug or search term of this API has one. (Query parameters the
    # route does not take are ignored, as ever.)
    values = [("path", name, str(value)) for name, value in request.path_params.items()]
    values += [
        ("query", name, value)
        for name, value in request.query_params.multi_items()
        if name in query_names
    ]
    errors = [
        {"loc": [where, name], "msg": "may not contain NUL characters", "type": "string_nul"}
        for where, name, value in values
        if "\x00" in value
    ]
    if errors:
        raise Unprocessable("The URL has a NUL character (%00); see `errors`.", errors=errors)


def _undecodable(cause: BaseException) -> Unprocessable:
    # FastAPI answers a body json.loads fails on with anything but a JSONDecodeError
    # with a bare 400 ("error parsing the body"). It is malformed JSON like any other:
    # 422, json_invalid.
    if isinstance(cause, UnicodeDecodeError):
        loc: list[str | int] = ["body", cause.start]
        msg = "invalid UTF-8"
    elif isinstance(cause, RecursionError):
        loc, msg = ["body"], "nested too deeply"
    else:
        loc, msg = ["body"], "cannot be decoded"
    return Unprocessable(
        f"The body is not valid JSON: {msg}.",
        errors=[{"loc": loc, "msg": msg, "type": "json_invalid"}],
    )


def _check_media_type(request: Request, accepted: tuple[str, ...]) -> None:
    raw = request.headers.get("content-type", "")
    media_type = raw.split(";", 1)[0].strip().lower()
    json_like = media_type.endswith("+json") and "application/json" in accepted
    if media_type not in accepted and not json_like:
        raise UnsupportedMediaType(
            f"Content-Type {media_type or '(none)'!r} is not accepted here; "
            f"send one of: {', '.join(accepted)}."
        )
