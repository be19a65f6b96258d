"""Base classes shared by every package's request and response schemas."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictInput(BaseModel):
    """Base of every request body: unknown fields are refused (422), not ignored."""

    model_config = ConfigDict(extra="forbid")
