from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from service.auth.models import Role
from service.http.schemas import StorableText, StrictInput


class KeyCreate(StrictInput):
    name: StorableText = Field(
        min_length=1, max_length=200, description="Who holds the key; created if new."
    )
    role: Role = Field(description="Role of a new principal; must match an existing one's.")


class PrincipalPublic(BaseModel):
    id: UUID
    name: str
    role: Role
    created_at: datetime


class KeyPublic(BaseModel):
    id: UUID
    principal: PrincipalPublic
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyPublic):
    key: str = Field(description="The secret key. Shown once: store it now.")
