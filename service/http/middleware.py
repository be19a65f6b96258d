"""Request ids, the access log, security headers, and a last-resort 500 that reveals
nothing."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.http.problems import problem_response

access_log = logging.getLogger("civic.access")
error_log = logging.getLogger("civic.errors")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Responses under these paths carry health data (transcripts, segments, participants,
# plans): no cache may store them, whatever the route set (ETags still revalidate).
HEALTH_DATA_PATHS = ("/v1/studies", "/v1/recommendations", "/cds-services")
NO_STORE = (b"cache-control", b"no-store")
NOSNIFF = (b"x-content-type-options", b"nosniff")


def security_headers(path: str, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``nosniff`` on every response; ``Cache-Control: no-store`` on health data and on
    any response that does not say how it may be cached."""
    if path.startswith(HEALTH_DATA_PATHS):
        headers = [(name, value) for name, value in headers if name.lower() != b"cache-control"]
    elif any(name.lower() == b"cache-control" for name, _ in headers):
        return [*headers, NOSNIFF]
    return [*headers, NO_STORE, NOSNIFF]


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Request(scope).headers.get("x-request-id", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status_code = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status_code, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_code = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *security_headers(scope.get("path", ""), list(message["headers"])),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_log.exception(  # the route template: raw paths carry identifiers
                "unhandled error",
                extra={"request_id": request_id, "route": route_template(scope)},
            )
            if response_started:
                raise
            response = problem_response(
                None,
                500,
                detail="An unexpected error occurred. Quote the request id when reporting it.",
                request_id=request_id,
                instance=scope.get("path"),
            )
            await response(scope, receive, send_with_id)
        finally:
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope.get("method"),
                    "route": route_template(scope),
                    "status": status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "principal": state.get("principal_name"),
                },
            )


def route_template(scope: Scope) -> str:
    """The matched route as a template (/v1/studies/{study_id}), never the raw path,
    which can carry identifiers."""
    route = scope.get("route")
    if route is None:
        return "(unmatched)"
    # Included routers keep their own relative paths; the prefix is whatever of the
    # request path precedes the part the route matched.
    params = scope.get("path_params", {})
    try:
        filled = route.path_format.format(**params)
    except (KeyError, IndexError, ValueError):
        return route.path
    path = scope.get("path", "")
    prefix = path[: len(path) - len(filled)] if path.endswith(filled) else ""
    return prefix + route.path
