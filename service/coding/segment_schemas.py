"""Request and response bodies of /v1/studies/{study_id}/segments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, NotRequired
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator, with_config
from typing_extensions import TypedDict

from service.http.schemas import StrictInput

MEMO_MAX_LENGTH = 20_000
THEME_CODE_MAX_LENGTH = 32

Offset = Annotated[int, Field(ge=0, description="Unicode code points from the start of the text.")]
Memo = Annotated[
    str,
    Field(
        max_length=MEMO_MAX_LENGTH,
        description="The coder's note on why the passage carries the theme.",
    ),
]
ThemeCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=THEME_CODE_MAX_LENGTH,
        description="A theme's code (e.g. `1.2`) instead of its id.",
    ),
]

# A UUID as sent: matched against the study's ids after parsing (see SegmentImportRow).
UuidText = Annotated[str, Field(max_length=45)]

_THEME = (
    "The theme: give `theme_id` or `theme_code`, one of them. It must belong to the "
    "framework version the segment is coded against: the pass's, or else the study's."
)
_CODER = (
    "Who coded it: a coder of the study you may code as (your own coder; owners may use "
    "any coder of the study). Omitted: your own coder in the study."
)
_NEGATIVE = "The passage disconfirms the theme (negative case analysis)."
_EXEMPLAR = "The passage is chosen as a quote that illustrates the theme."


class SegmentCreate(StrictInput):
    """A coded passage: the half-open span [start, end) of the document's stored text."""

    document_id: UUID
    start: Offset
    end: Offset = Field(description="Exclusive end, in code points; greater than `start`.")
    theme_id: UUID | None = Field(None, description=_THEME)
    theme_code: ThemeCode | None = None
    coder_id: UUID | None = Field(None, description=_CODER)
    pass_id: UUID | None = Field(None, description="A coding pass of the study, if any.")
    memo: Memo = ""
    negative_case: bool = Field(False, description=_NEGATIVE)
    exemplar: bool = Field(False, description=_EXEMPLAR)


class SegmentUpdate(StrictInput):
    """Only the fields sent change. `pass_id: null` takes the segment out of its pass;
    the document cannot change (delete the segment and code the other document)."""

    start: Offset | None = None
    end: Offset | None = None
    theme_id: UUID | None = Field(None, description=_THEME)
    theme_code: ThemeCode | None = None
    coder_id: UUID | None = Field(None, description=_CODER)
    pass_id: UUID | None = None
    memo: Memo | None = None
    negative_case: bool | None = None
    exemplar: bool | None = None

    @model_validator(mode="after")
    def _no_null_except_pass(self) -> SegmentUpdate:
        nulls = sorted(
            name for name in self.model_fields_set - {"pass_id"} if getattr(self, name) is None
        )
        if nulls:
            raise ValueError(f"{', '.join(nulls)} may not be null")
        return self


class SegmentPublic(BaseModel):
    id: UUID
    study_id: UUID
    document_id: UUID
    start: int
    end: int
    text: str = Field(description="The quoted passage: the document's text[start:end].")
    theme_id: UUID
    theme_code: str
    theme_label: str
    coder_id: UUID
    pass_id: UUID | None
    memo: str
    negative_case: bool = Field(description=_NEGATIVE)
    exemplar: bool = Field(description=_EXEMPLAR)
    created_at: datetime
    updated_at: datetime


class BulkImportResult(BaseModel):
    created: int = Field(description="Segments stored.")
    documents: int = Field(description="Distinct documents the segments are in.")
    ids: list[UUID] | None = Field(
        description="The new segments' ids in the order of the rows sent, for imports of "
        "up to 10,000 rows; null for larger imports (list them by document instead)."
    )


@with_config(ConfigDict(extra="forbid"))
class SegmentImportRow(TypedDict):
    """One row of a bulk import, as parsed: the fields of ``SegmentCreate``.

    Ids stay strings here and are matched against the study's own ids afterwards:
    building 100,000 UUID objects would cost more than the rest of the parsing.
    """

    document_id: UuidText
    start: Offset
    end: Offset
    theme_id: NotRequired[UuidText | None]
    theme_code: NotRequired[ThemeCode | None]
    coder_id: NotRequired[UuidText | None]
    pass_id: NotRequired[UuidText | None]
    memo: NotRequired[Memo]
    negative_case: NotRequired[bool]
    exemplar: NotRequired[bool]
