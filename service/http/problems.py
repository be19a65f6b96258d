"""Every error, FastAPI's own included, leaves as application/problem+json (RFC 9457)."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from service.errors import PROBLEM_BASE, PROBLEM_MEDIA_TYPE, ServiceError

log = logging.getLogger("civic.errors")

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_SURROGATE = re.compile("[\ud800-\udfff]")
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_SLUGS = {404: "not-found", 405: "method-not-allowed", 422: "validation", 500: "internal"}


def problem_response(
    request: Request | None,
    status: int,
    *,
    detail: str | None = None,
    title: str | None = None,
    slug: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    request_id: str | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or _SLUGS.get(status, str(status))),
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
        request_id = request_id or getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = errors
    body.update(extra)
    return ProblemJSONResponse(body, status_code=status, headers=headers)


class ProblemJSONResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            # A problem may quote the request, and JSON can carry a lone surrogate
            # (\ud800) that UTF-8 cannot encode: quote it as U+FFFD instead.
            return super().render(_without_surrogates(content))


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
    return problem_response(
        request,
        exc.status,
        detail=exc.detail,
        title=exc.title,
        slug=exc.slug,
        errors=exc.errors,
        headers=exc.headers,
        **exc.extra,
    )


def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else None
    headers = exc.headers
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No route {request.url.path}."
    elif exc.status_code == 405:
        allowed = _allowed_methods(request)
        headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        detail = f"{request.method} is not allowed here; use {', '.join(allowed)}."
    return problem_response(request, exc.status_code, detail=detail, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    # Starlette's 405 names the methods of the first route whose path matched, but each
    # method of a URL is its own route: Allow must list them all (RFC 9110, 15.5.6).
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return allowed


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    return problem_response(
        request, 422, detail="The request is not valid; see `errors`.", errors=errors
    )


def _integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
    # A constraint in the database caught what the code did not: say which one, never
    # the values (they may be health data).
    constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
    detail = "The change conflicts with existing data"
    detail += f" (constraint {constraint})." if constraint else "."
    log.warning("integrity error", extra={"constraint": constraint})
    return problem_response(request, 409, detail=detail, slug="conflict")


def _database_unavailable(request: Request, exc: DBAPIError) -> JSONResponse:
    log.error("database unavailable", extra={"error": type(exc.orig).__name__})
    return problem_response(
        request,
        503,
        detail="The database is unavailable; retry shortly.",
        slug="unavailable",
        headers={"Retry-After": "5"},
    )


def _pool_exhausted(request: Request, exc: SQLAlchemyTimeoutError) -> JSONResponse:
    # Every pooled connection stayed busy for the pool's whole timeout: overload, not a
    # fault of the request. Retry later, like any unavailable database.
    log.error("database connection pool exhausted")
    return problem_response(
        request,
        503,
        detail="The service is overloaded: no database connection became free in time; "
        "retry shortly.",
        slug="unavailable",
        headers={"Retry-After": "5"},
    )


def _dbapi_error(request: Request, exc: DBAPIError) -> JSONResponse:
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return _database_unavailable(request, exc)
    if isinstance(exc, DataError):
        # A value the database refused (a NUL in text, a number out of range) that
        # validation let through: the request's value, not the server, is at fault.
        # Logged, so the missing validation gets added; never with the value itself.
        log.warning("data error", extra={"error": type(exc.orig).__name__})
        return problem_response(
            request,
            422,
            detail="A value in the request cannot be stored: a NUL character, or a number "
            "out of range.",
        )
    raise exc


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DBAPIError, _dbapi_error)
    app.add_exception_handler(SQLAlchemyTimeoutError, _pool_exhausted)
