"""Domain errors that carry their HTTP status, rendered as RFC 9457 problem+json.

Services raise these; one set of handlers in ``main`` turns them (and FastAPI's own
errors) into ``application/problem+json`` responses.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://civic.example.org/problems/"


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description="Where the problem is: body, query, path, row...")
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI naming the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(None, description="The request path that failed.")
    request_id: str | None = None
    errors: list[FieldProblem] | None = Field(
        None, description="Each invalid field or row, for validation problems."
    )


class ServiceError(Exception):
    status = 500
    title = "Internal Server Error"
    slug = "internal"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


class BadRequest(ServiceError):
    status, title, slug = 400, "Bad Request", "bad-request"


class Unauthorized(ServiceError):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="civic"'}, **kwargs)


class Forbidden(ServiceError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(ServiceError):
    status, title, slug = 404, "Not Found", "not-found"


class Conflict(ServiceError):
    status, title, slug = 409, "Conflict", "conflict"


class PreconditionFailed(ServiceError):
    status, title, slug = 412, "Precondition Failed", "precondition-failed"


class PayloadTooLarge(ServiceError):
    status, title, slug = 413, "Content Too Large", "payload-too-large"


class UnsupportedMediaType(ServiceError):
    status, title, slug = 415, "Unsupported Media Type", "unsupported-media-type"


class Unprocessable(ServiceError):
    status, title, slug = 422, "Unprocessable Content", "validation"


class ServiceUnavailable(ServiceError):
    status, title, slug = 503, "Service Unavailable", "unavailable"


_DESCRIPTIONS = {
    400: "The request is malformed (bad cursor, unreadable file).",
    401: "No valid API key: send `Authorization: Bearer <key>`.",
    403: "The key's role may not do this.",
    404: "No such resource, or it belongs to a study you are not a member of.",
    409: "The request conflicts with the resource's current state.",
    412: "`If-Match` does not match the current ETag.",
    413: "The body exceeds the size limit.",
    415: "The body's content type is not accepted here.",
    422: "The body or parameters are invalid; `errors` lists each problem.",
    503: "The database is unreachable; retry later.",
}


def describe(status: int) -> str:
    """What a problem status means in this API (for the OpenAPI document)."""
    return _DESCRIPTIONS[status]


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the errors a route documents (401 always)."""
    codes = sorted({401, *statuses})
    return {code: {"model": Problem, "description": _DESCRIPTIONS[code]} for code in codes}
