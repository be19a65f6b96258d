from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """One sensitive action. ``details`` holds identifiers and counts only, never
    health data (no assessment answers, no transcript text)."""

    __tablename__ = "audit_events"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    principal_id: UUID | None = Field(
        default=None, foreign_key="principals.id", ondelete="SET NULL", index=True
    )
    principal_name: str = Field(max_length=200)
    action: str = Field(max_length=64, index=True)  # e.g. "recommendation.created"
    resource_type: str = Field(max_length=64)
    resource_id: str | None = Field(default=None, max_length=200)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
