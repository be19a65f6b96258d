"""Saved agreement reports and adjudication decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKeyConstraint, Index, Text
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, utcnow


class AgreementReport(SQLModel, table=True):
    """A reliability figure as it was computed, so a claim in a paper can be traced:
    who ran it, when, with which parameters, on exactly which data (its hash)."""

    __tablename__ = "agreement_reports"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    study_id: UUID = Field(foreign_key="studies.id", ondelete="CASCADE", index=True)
    created_by: UUID | None = Field(default=None, foreign_key="principals.id", ondelete="SET NULL")
    created_by_name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    title: str = Field(default="", max_length=300)
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    data_hash: str = Field(max_length=64)
    framework_id: UUID = Field(foreign_key="frameworks.id", ondelete="RESTRICT")
    results: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Adjudication(SQLModel, table=True):
    """A consensus decision on one disagreement: which coding stands for the span.
    The decided coding is written as a segment in a consensus pass, so a reconciled
    dataset exists; this row keeps the audit of how it was reached."""

    __tablename__ = "adjudications"
    __table_args__ = (
        CheckConstraint("decision IN ('apply', 'reject')", name="decision"),
        CheckConstraint('start >= 0 AND "end" > start', name="span"),
        ForeignKeyConstraint(
            ["study_id", "document_id"],
            ["documents.study_id", "documents.id"],
            name="fk_adjudications_document_same_study",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["study_id", "pass_id"],
            ["coding_passes.study_id", "coding_passes.id"],
            name="fk_adjudications_pass_same_study",
            ondelete="CASCADE",
        ),
        Index("ix_adjudications_study_document", "study_id", "document_id"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    study_id: UUID = Field(foreign_key="studies.id", ondelete="CASCADE")
    document_id: UUID
    theme_id: UUID = Field(foreign_key="themes.id", ondelete="RESTRICT")
    pass_id: UUID  # the consensus pass the decision was recorded in
    start: int
    end: int
    decision: str = Field(max_length=16)  # apply: the theme holds on the span; reject: it does not
    segment_id: UUID | None = Field(
        default=None, foreign_key="segments.id", ondelete="SET NULL"
    )  # the consensus segment written for an "apply"
    source_segment_ids: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    note: str = Field(default="", sa_type=Text)
    decided_by: UUID | None = Field(default=None, foreign_key="principals.id", ondelete="SET NULL")
    decided_by_name: str = Field(max_length=200)
    decided_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
