"""Every error, FastAPI's own included, leaves as application/problem+json (RFC 9457)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


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
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No route {request.url.path}."
    return problem_response(request, exc.status_code, detail=detail, headers=exc.headers)


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


def _dbapi_error(request: Request, exc: DBAPIError) -> JSONResponse:
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return _database_unavailable(request, exc)
    raise exc


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DBAPIError, _dbapi_error)
