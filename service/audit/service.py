"""Recording audit events (flushed with the request's own transaction)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from sqlmodel import Session

from service.audit.models import AuditEvent
from service.auth.service import CurrentPrincipal
from service.db import utcnow


def record(
    *,
    session: Session,
    principal: CurrentPrincipal,
    action: str,
    resource_type: str,
    resource_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    # A Core INSERT, not an ORM add + flush: this runs on every recommendation, and the
    # unit of work costs several times the statement.
    session.execute(
        _INSERT,
        {
            "id": uuid4(),
            "at": utcnow(),
            "principal_id": principal.id,
            "principal_name": principal.name,
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "details": details or {},
        },
    )


_INSERT = AuditEvent.__table__.insert()  # type: ignore[attr-defined]
