"""Cursor (keyset) pagination: stable under inserts, cheap at any depth.

The cursor is an opaque token naming the last row of the previous page; clients pass
``next_cursor`` back unchanged until it is null.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute
from sqlmodel import Session

from service.config import Settings
from service.errors import BadRequest, Unprocessable

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; null on the last page."
    )
    limit: int


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None


async def page_params(
    request: Request,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            description="Items per page (default 50, at most 500).",
            # Documented only: the service enforces its configured maximum below.
            json_schema_extra={"maximum": Settings.model_fields["max_page_size"].default},
        ),
    ] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> PageParams:
    settings = request.app.state.settings
    if limit is not None and limit > settings.max_page_size:
        raise Unprocessable(
            f"limit may be at most {settings.max_page_size}.",
            errors=[{"loc": ["query", "limit"], "msg": "too large", "type": "less_than_equal"}],
        )
    return PageParams(limit=limit or settings.default_page_size, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


def _encode(values: list[Any]) -> str:
    plain = [
        v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v
        for v in values
    ]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, columns: list[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise ValueError
        values = []
        for value, column in zip(raw, columns, strict=True):
            python_type = column.type.python_type
            if python_type is uuid.UUID:
                value = uuid.UUID(value)
            elif python_type is datetime:
                value = datetime.fromisoformat(value)
            values.append(value)
        return values
    except (ValueError, TypeError, json.JSONDecodeError, NotImplementedError) as exc:
        raise BadRequest("The cursor is not valid; start again without one.") from exc


def paginate(
    session: Session,
    statement: Select[Any],
    *,
    order_by: list[InstrumentedAttribute[Any]],
    params: PageParams,
) -> tuple[list[Any], str | None]:
    """Run ``statement`` one page at a time, ordered by ``order_by`` (which must end in a
    unique column). Returns the rows and the cursor of the next page, if any."""
    if params.cursor:
        statement = statement.where(tuple_(*order_by) > tuple(_decode(params.cursor, order_by)))
    rows = list(session.scalars(statement.order_by(*order_by).limit(params.limit + 1)))
    if len(rows) <= params.limit:
        return rows, None
    rows = rows[: params.limit]
    last = rows[-1]
    return rows, _encode([getattr(last, column.key) for column in order_by])
