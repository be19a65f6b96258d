"""Tables of the research workflow.

Every study object carries the study's id, and composite foreign keys
(study_id, x_id) make the database refuse a segment whose document, coder or pass
belongs to another study. Offsets are Unicode code points, half-open [start, end).
The ``id`` of every object is its stable GUID, kept across exports.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, utcnow

AGREEMENT_UNITS = (
    "character",
    "coded_only",
    "word",
    "sentence",
    "paragraph",
    "segment",
    "document",
)


class Study(SQLModel, table=True):
    __tablename__ = "studies"
    __table_args__ = (
        CheckConstraint("agreement_threshold >= -1 AND agreement_threshold <= 1", name="threshold"),
        CheckConstraint(
            "default_agreement_unit IN ('character', 'coded_only', 'word', 'sentence', "
            "'paragraph', 'segment', 'document')",
            name="agreement_unit",
        ),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    title: str = Field(max_length=300)
    description: str = Field(default="", sa_type=Text)
    framework_id: UUID = Field(foreign_key="frameworks.id", ondelete="RESTRICT", index=True)
    participant_groups: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    agreement_threshold: float = Field(default=0.6)
    default_agreement_unit: str = Field(default="character", max_length=16)
    # Blind coding: each coder sees only their own segments until an owner reveals them.
    blind: bool = Field(default=False)
    revealed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: UUID | None = Field(default=None, foreign_key="principals.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class StudyMember(SQLModel, table=True):
    __tablename__ = "study_members"
    __table_args__ = (
        UniqueConstraint("study_id", "principal_id"),
        CheckConstraint("role IN ('owner', 'coder', 'viewer')", name="role"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    study_id: UUID = Field(foreign_key="studies.id", ondelete="CASCADE", index=True)
    principal_id: UUID = Field(foreign_key="principals.id", ondelete="CASCADE", index=True)
    role: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Participant(SQLModel, table=True):
    """A pseudonymous participant (e.g. "P07"); never a name or other direct identifier."""

    __tablename__ = "participants"
    __table_args__ = (
        UniqueConstraint("study_id", "id"),
        UniqueConstraint("study_id", "label"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    study_id: UUID = Field(foreign_key="studies.id", ondelete="CASCADE", index=True)
    label: str = Field(max_length=64)
    group: str = Field(max_length=64)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RespondentValidation(SQLModel, table=True):
    """Whether a participant reviewed the preliminary findings, and what they said."""

    __tablename__ = "respondent_validations"
    __table_args__ = (
        CheckConstraint("method IN ('interview', 'form', 'other')", name="method"),
        CheckConstraint("outcome IN ('agreed', 'changes_suggested')", name="outcome"),
    )

    participant_id: UUID = Field(
        foreign_key="participants.id", ondelete="CASCADE", primary_key=True
    )
    reviewed: bool = Field(default=True)
    reviewed_on: date | None = None
    method: str | None = Field(default=None, max_length=16)
    outcome: str | None = Field(default=None, max_length=32)
    note: str = Field(default="", sa_type=Text)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Document(SQLModel, table=True):
    """An anonymised transcript: NFC-normalised text with \\n line endings."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("study_id", "id"),
        ForeignKeyConstraint(
            ["study_id", "participant_id"],
            ["participants.study_id", "participants.id"],
            name="fk_documents_participant_same_study",
        ),
        CheckConstraint("length >= 0", name="length"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    study_id: UUID = Field(foreign_key="studies.id", ondelete="CASCADE", index=True)
    participant_id: UUID | None = Field(default=None, index=True)
    title: str = Field(max_length=300)
    text: str = Field(sa_type=Text)
    length: int = Field(description="Length in Unicode code points.")
    content_hash: str = Field(max_length=64)
    interview_date: date | None = None
    interview_order: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Coder(SQLModel, table=True):
    """Someone who codes: a study member, or a named coder (e.g. a service-user
    co-researcher) who codes through an owner's key."""

    __tablename__ = "coders"
    __table_args__ = (UniqueConstraint("study_id", "id"), UniqueConstraint("study_id", "name"))

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    study_id: UUID = Field(foreign_key="studies.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=200)
    principal_id: UUID | None = Field(
        default=None, foreign_key="principals.id", ondelete="SET NULL", index=True
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CodingPass(SQLModel, table=True):
    __tablename__ = "coding_passes"
    __table_args__ = (
        UniqueConstraint("study_id", "id"),
        UniqueConstraint("study_id", "name"),
        CheckConstraint("kind IN ('inductive', 'deductive', 'consensus')", name="kind"),
        ForeignKeyConstraint(
            ["study_id", "coder_id"],
            ["coders.study_id", "coders.id"],
            name="fk_coding_passes_coder_same_study",
        ),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    study_id: UUID = Field(foreign_key="studies.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    coder_id: UUID | None = Field(default=None)
    framework_id: UUID = Field(foreign_key="frameworks.id", ondelete="RESTRICT")
    blind: bool = Field(default=False)
    revealed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Segment(SQLModel, table=True):
    """A span [start, end) of a document that a coder tagged with a theme."""

    __tablename__ = "segments"
    __table_args__ = (
        CheckConstraint('start >= 0 AND "end" > start', name="span"),
        ForeignKeyConstraint(
            ["study_id", "document_id"],
            ["documents.study_id", "documents.id"],
            name="fk_segments_document_same_study",
        ),
        ForeignKeyConstraint(
            ["study_id", "coder_id"],
            ["coders.study_id", "coders.id"],
            name="fk_segments_coder_same_study",
        ),
        ForeignKeyConstraint(
            ["study_id", "pass_id"],
            ["coding_passes.study_id", "coding_passes.id"],
            name="fk_segments_pass_same_study",
        ),
        Index("ix_segments_study_document", "study_id", "document_id"),
        Index("ix_segments_study_theme", "study_id", "theme_id"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    study_id: UUID = Field(foreign_key="studies.id", ondelete="CASCADE")
    document_id: UUID
    theme_id: UUID = Field(foreign_key="themes.id", ondelete="RESTRICT")
    coder_id: UUID = Field(index=True)
    pass_id: UUID | None = Field(default=None, index=True)
    start: int
    end: int
    memo: str = Field(default="", sa_type=Text)
    negative_case: bool = Field(default=False)
    exemplar: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
