"""Base classes shared by every package's request and response schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


class StrictInput(BaseModel):
    """Base of every request body: unknown fields are refused (422), not ignored."""

    model_config = ConfigDict(extra="forbid")


def storable_text(text: str) -> str:
    """Refuse text neither engine can store: JSON may carry a NUL (PostgreSQL text
    cannot hold it) or a lone surrogate such as ``\\ud800`` (not encodable as UTF-8)."""
    if "\x00" in text:
        raise ValueError("text may not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text is not valid Unicode (it has a lone surrogate)") from exc
    return text


#: A request string that is stored or compared with stored text.
StorableText = Annotated[str, AfterValidator(storable_text)]


def is_storable(text: str) -> bool:
    """Whether both engines can store ``text``, or be asked to compare with it."""
    try:
        storable_text(text)
    except ValueError:
        return False
    return True
