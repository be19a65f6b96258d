"""Request and response schemas of studies, members, participants, respondent
validation, documents, coders and coding passes. (Segments: ``segment_schemas``.)

PATCH bodies declare every field with a ``None`` default that is never validated: a
field left out is unchanged, and an explicit ``null`` is refused unless the field is
nullable (``X | None``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from service.coding.access import StudyRole
from service.coding.identifiers import attribute_problem, label_problem, looks_like_email
from service.coding.models import AGREEMENT_UNITS
from service.http.schemas import StorableText, StrictInput, storable_text

AgreementUnit = Literal[
    "character", "coded_only", "word", "sentence", "paragraph", "segment", "document"
]
assert get_args(AgreementUnit) == AGREEMENT_UNITS  # the database check lists the same units


Storable = StorableText


def _trimmed(max_length: int) -> object:
    # The constraints go on str itself: placed after a validator, pydantic would check
    # the length before stripping.
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length),
        AfterValidator(storable_text),
    ]


GroupName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Text200 = _trimmed(200)
Title = _trimmed(300)
Label = _trimmed(64)
# The column is a 32-bit INTEGER on PostgreSQL; no one is interviewed this often.
MAX_INTERVIEW_ORDER = 1000
# JSON lets NaN and Infinity through; PostgreSQL's json type refuses them.
Scalar = str | int | Annotated[float, Field(allow_inf_nan=False)] | bool | None

OFFSETS = (
    "Offsets are Unicode code points (not bytes, not UTF-16 units), half-open "
    "[start, end), counted on the normalised text: NFC, with every `\\r\\n` and `\\r` "
    "turned into `\\n` when the document is stored."
)


# --- studies -------------------------------------------------------------------------


class FrameworkRef(StrictInput):
    slug: Storable = Field(min_length=1, max_length=64, examples=["civic"])
    version: Storable = Field(min_length=1, max_length=32, examples=["2"])


class FrameworkSummary(BaseModel):
    id: UUID
    slug: str
    version: str
    title: str
    status: str


class StudyCreate(StrictInput):
    title: Title
    description: Storable = Field("", max_length=20_000)
    framework: FrameworkRef = Field(description="A published framework version to code with.")
    participant_groups: list[GroupName] = Field(
        default_factory=lambda: ["lived_experience", "staff"],
        min_length=1,
        max_length=20,
        description="The groups participants belong to (snake_case names).",
    )
    agreement_threshold: float = Field(
        0.6,
        ge=-1,
        le=1,
        description="Agreement (e.g. Cohen's kappa) the coders must exceed before the "
        "coding is split between them; 0.6 is 'good' in McHugh (2012).",
    )
    default_agreement_unit: AgreementUnit = Field(
        "character", description="Unit agreement is computed on unless a request says otherwise."
    )
    blind: bool = Field(
        False, description="Each coder sees only their own segments until an owner reveals them."
    )

    @model_validator(mode="after")
    def _groups_unique(self) -> StudyCreate:
        _check_unique(self.participant_groups, "participant_groups")
        return self


class StudyUpdate(StrictInput):
    title: Title = None  # type: ignore[assignment]
    description: Storable = Field(None, max_length=20_000)  # type: ignore[assignment]
    framework: FrameworkRef = Field(
        None, description="Another published version; refused (409) once segments exist."
    )  # type: ignore[assignment]
    participant_groups: list[GroupName] = Field(
        None,
        min_length=1,
        max_length=20,
        description="Refused (409) if it drops a group that participants belong to.",
    )  # type: ignore[assignment]
    agreement_threshold: float = Field(None, ge=-1, le=1)  # type: ignore[assignment]
    default_agreement_unit: AgreementUnit = None  # type: ignore[assignment]
    blind: bool = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _groups_unique(self) -> StudyUpdate:
        if self.participant_groups is not None:
            _check_unique(self.participant_groups, "participant_groups")
        return self


class StudyPublic(BaseModel):
    id: UUID
    title: str
    description: str
    framework: FrameworkSummary
    participant_groups: list[str]
    agreement_threshold: float
    default_agreement_unit: AgreementUnit
    blind: bool
    revealed_at: datetime | None = Field(
        description="When an owner revealed every coder's segments; null while blind."
    )
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime


# --- members -------------------------------------------------------------------------


class MemberAdd(StrictInput):
    principal_id: UUID | None = Field(None, description="The principal to add, by id…")
    name: Text200 | None = Field(None, description="…or by name (send one).")
    role: StudyRole

    @model_validator(mode="after")
    def _one_reference(self) -> MemberAdd:
        if (self.principal_id is None) == (self.name is None):
            raise ValueError("send exactly one of principal_id and name")
        return self


class MemberUpdate(StrictInput):
    role: StudyRole


class MemberPublic(BaseModel):
    principal_id: UUID
    name: str
    role: StudyRole
    added_at: datetime


# --- participants --------------------------------------------------------------------


class ParticipantAttributes(BaseModel):
    """Socio-demographics of a pseudonymous participant. Besides the named fields, any
    other attribute with a scalar value may be added (e.g. `"employment": "part-time"`),
    but never a direct identifier: names such as `name`, `email`, `phone`, `address`,
    `postcode`, `date_of_birth`, `nhs_number` or `ssn` are refused (422)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Scalar] = Field(init=False)  # type: ignore[assignment]

    age: int | None = Field(None, ge=0, le=130, description="Age in years.")
    gender: Text200 | None = None
    ethnicity: Text200 | None = None
    living_arrangement: Text200 | None = None
    partner_status: Text200 | None = None
    diagnoses: list[Text200] | None = Field(
        None, max_length=30, description="Self-reported diagnoses; several allowed."
    )
    service_use: Text200 | None = Field(None, description="Mental-health service use.")
    profession: Text200 | None = Field(None, description="Staff: profession.")
    years_experience: int | None = Field(None, ge=0, le=80, description="Staff: years.")

    @model_validator(mode="after")
    def _no_identifiers(self) -> ParticipantAttributes:
        extra = self.__pydantic_extra__ or {}
        if len(extra) > 50:
            raise ValueError("at most 50 extra attributes")
        for name, value in extra.items():
            if not name.strip() or len(name) > 64:
                raise ValueError(f"attribute name {name!r} must have 1 to 64 characters")
            for text in (name, value) if isinstance(value, str) else (name,):
                storable_text(text)
            problem = attribute_problem(name)
            if problem:
                raise ValueError(problem)
            if isinstance(value, str) and len(value) > 1000:
                raise ValueError(f"attribute {name!r} is longer than 1000 characters")
        for name, value in self.model_dump().items():
            texts = value if isinstance(value, list) else [value]
            if any(isinstance(text, str) and looks_like_email(text) for text in texts):
                raise ValueError(f"attribute {name!r} holds an email address; remove it")
        return self

    def stored(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ParticipantCreate(StrictInput):
    label: Label = Field(
        description="Pseudonymous label, unique in the study (e.g. `P07`); never a name, "
        "email or phone number.",
        examples=["P07"],
    )
    group: GroupName = Field(description="One of the study's participant groups.")
    attributes: ParticipantAttributes = Field(default_factory=ParticipantAttributes)

    @model_validator(mode="after")
    def _pseudonymous_label(self) -> ParticipantCreate:
        _check_label(self.label)
        return self


class ParticipantUpdate(StrictInput):
    label: Label = None  # type: ignore[assignment]
    group: GroupName = None  # type: ignore[assignment]
    attributes: ParticipantAttributes = Field(
        None,
        description="Merged into the stored attributes: a key set to null is removed, "
        "keys left out are kept.",
    )  # type: ignore[assignment]

    @model_validator(mode="after")
    def _pseudonymous_label(self) -> ParticipantUpdate:
        if self.label is not None:
            _check_label(self.label)
        return self


class ParticipantPublic(BaseModel):
    id: UUID
    study_id: UUID
    label: str
    group: str
    attributes: ParticipantAttributes
    created_at: datetime
    updated_at: datetime


class ParticipantImport(BaseModel):
    created: int
    items: list[ParticipantPublic]


class NumericSummary(BaseModel):
    n: int = Field(description="Participants with a value.")
    mean: float | None
    sd: float | None = Field(description="Sample standard deviation (n - 1); null if n < 2.")
    min: float | None
    max: float | None


class GroupSummary(BaseModel):
    group: str
    n: int
    age: NumericSummary
    gender: dict[str, int] = Field(description="Participants per gender; `not recorded` if none.")


class ParticipantSummary(BaseModel):
    total: int
    groups: list[GroupSummary]


# --- respondent validation -----------------------------------------------------------


class ValidationPut(StrictInput):
    reviewed: bool = Field(description="Whether the participant reviewed the findings.")
    reviewed_on: date | None = None
    method: Literal["interview", "form", "other"] | None = None
    outcome: Literal["agreed", "changes_suggested"] | None = None
    note: Storable = Field("", max_length=5000, description="What they said, paraphrased.")

    @model_validator(mode="after")
    def _only_when_reviewed(self) -> ValidationPut:
        if not self.reviewed:
            given = [f for f in ("reviewed_on", "method", "outcome") if getattr(self, f)]
            if given:
                raise ValueError(f"{', '.join(given)} need reviewed=true")
        return self


class ValidationPublic(BaseModel):
    participant_id: UUID
    reviewed: bool
    reviewed_on: date | None
    method: Literal["interview", "form", "other"] | None
    outcome: Literal["agreed", "changes_suggested"] | None
    note: str
    updated_at: datetime


class ValidationGroupSummary(BaseModel):
    group: str
    participants: int
    reviewed: int
    agreed: int
    changes_suggested: int


class ValidationSummary(BaseModel):
    participants: int
    reviewed: int
    agreed: int
    changes_suggested: int
    groups: list[ValidationGroupSummary]


# --- documents -----------------------------------------------------------------------


class DocumentCreate(StrictInput):
    title: Title
    text: Storable = Field(min_length=1, description=f"The anonymised transcript, UTF-8. {OFFSETS}")
    participant_id: UUID | None = Field(None, description="A participant of this study.")
    interview_date: date | None = None
    interview_order: int | None = Field(
        None, ge=1, le=MAX_INTERVIEW_ORDER, description="1 for the first interview…"
    )


class DocumentUpdate(StrictInput):
    title: Title = None  # type: ignore[assignment]
    text: Storable = Field(
        None,
        min_length=1,
        description="Frozen (409) once any segment exists on the document. " + OFFSETS,
    )  # type: ignore[assignment]
    participant_id: UUID | None = None
    interview_date: date | None = None
    interview_order: int | None = Field(None, ge=1, le=MAX_INTERVIEW_ORDER)


class DocumentPublic(BaseModel):
    id: UUID
    study_id: UUID
    participant_id: UUID | None
    title: str
    length: int = Field(description="Length of the normalised text in code points.")
    content_hash: str = Field(description="SHA-256 (hex) of the normalised text, UTF-8.")
    text_frozen: bool = Field(description="True once segments exist: the text may not change.")
    interview_date: date | None
    interview_order: int | None
    created_at: datetime
    updated_at: datetime
    text: str | None = Field(
        None, description=f"The normalised text (in lists only with include_text). {OFFSETS}"
    )


class DocumentSpan(BaseModel):
    document_id: UUID
    start: int
    end: int
    text: str = Field(description=f"The text of [start, end). {OFFSETS}")
    content_hash: str = Field(description="Hash of the whole document, to detect a changed text.")


# --- coders and passes ---------------------------------------------------------------


class CoderCreate(StrictInput):
    principal_id: UUID | None = Field(
        None, description="A study member with role coder or owner, who codes with their own key."
    )
    name: Text200 | None = Field(
        None,
        description="Display name, unique in the study. Required for a named coder "
        "without a key (e.g. a service-user co-researcher who codes through an owner); "
        "defaults to the principal's name otherwise.",
    )

    @model_validator(mode="after")
    def _someone(self) -> CoderCreate:
        if self.principal_id is None and self.name is None:
            raise ValueError("send principal_id (a member) or name (a coder without a key)")
        return self


class CoderPublic(BaseModel):
    id: UUID
    study_id: UUID
    name: str
    principal_id: UUID | None = Field(description="Null for a named coder without a key.")
    created_at: datetime


class PassCreate(StrictInput):
    name: Text200
    kind: Literal["inductive", "deductive", "consensus"]
    coder_id: UUID | None = Field(
        None, description="The coder of this pass; required except for consensus passes."
    )
    framework: FrameworkRef | None = Field(
        None,
        description="Published framework version to code against (e.g. version 1 for a "
        "deductive pass); the study's framework when left out.",
    )
    blind: bool | None = Field(None, description="Defaults to the study's `blind` setting.")

    @model_validator(mode="after")
    def _coder_needed(self) -> PassCreate:
        if self.kind != "consensus" and self.coder_id is None:
            raise ValueError(f"a {self.kind} pass needs a coder_id")
        return self


class PassPublic(BaseModel):
    id: UUID
    study_id: UUID
    name: str
    kind: Literal["inductive", "deductive", "consensus"]
    coder_id: UUID | None
    framework: FrameworkSummary
    blind: bool
    revealed_at: datetime | None
    created_at: datetime


def _check_unique(values: list[str], field: str) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"{field} has duplicates")


def _check_label(label: str) -> None:
    problem = label_problem(label)
    if problem:
        raise ValueError(f"label {problem}")
