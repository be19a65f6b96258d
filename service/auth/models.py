from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, utcnow


class Role(StrEnum):
    admin = "admin"  # manages keys, sees every study
    researcher = "researcher"  # runs studies, edits frameworks
    clinician = "clinician"  # asks for recommendations
    integrator = "integrator"  # systems (EHR, apps) calling on someone's behalf


ROLE_CHECK = "role IN ('admin', 'researcher', 'clinician', 'integrator')"


class Principal(SQLModel, table=True):
    """A person or system that calls the service; owns one or more API keys."""

    __tablename__ = "principals"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="role"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    role: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    principal_id: UUID = Field(foreign_key="principals.id", index=True, ondelete="CASCADE")
    # The key itself is never stored: only its SHA-256 (keys are 256-bit random, so a
    # fast hash is safe) and a short prefix that lets people tell keys apart.
    key_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
