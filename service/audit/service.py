"""Recording audit events (flushed with the request's own transaction)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from service.audit.models import AuditEvent
from service.auth.service import CurrentPrincipal


def record(
    *,
    session: Session,
    principal: CurrentPrincipal,
    action: str,
    resource_type: str,
    resource_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        principal_id=principal.id,
        principal_name=principal.name,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        details=details or {},
    )
    session.add(event)
    session.flush()
    return event
