"""Tables of the framework registry.

Composite foreign keys (framework_id, theme_id) make the database itself refuse a
parent, link or component that belongs to another framework version.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, utcnow


class Framework(SQLModel, table=True):
    __tablename__ = "frameworks"
    __table_args__ = (
        UniqueConstraint("slug", "version"),
        CheckConstraint("status IN ('draft', 'published', 'retired')", name="status"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    slug: str = Field(max_length=64, index=True)
    version: str = Field(max_length=32)
    title: str = Field(max_length=300)
    description: str = Field(default="", sa_type=Text)
    citation: str = Field(default="", sa_type=Text)
    status: str = Field(default="draft", max_length=16)
    derived_from_id: UUID | None = Field(
        default=None, foreign_key="frameworks.id", ondelete="SET NULL"
    )
    builtin: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Theme(SQLModel, table=True):
    __tablename__ = "themes"
    __table_args__ = (
        UniqueConstraint("framework_id", "id"),  # target of the composite keys below
        UniqueConstraint("framework_id", "code"),
        UniqueConstraint("framework_id", "key"),
        ForeignKeyConstraint(
            ["framework_id", "parent_id"],
            ["themes.framework_id", "themes.id"],
            name="fk_themes_parent_same_framework",
        ),
        CheckConstraint("kind IN ('domain', 'barrier')", name="kind"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    framework_id: UUID = Field(foreign_key="frameworks.id", ondelete="CASCADE", index=True)
    key: str = Field(max_length=100)
    code: str = Field(max_length=32)
    label: str = Field(max_length=200)
    definition: str = Field(default="", sa_type=Text)
    kind: str = Field(default="domain", max_length=16)
    parent_id: UUID | None = Field(default=None, index=True)
    order: int = Field(default=0)
    introduced_in: str | None = Field(default=None, max_length=32)


class Component(SQLModel, table=True):
    """An intervention component that may target one or more themes."""

    __tablename__ = "components"
    __table_args__ = (
        UniqueConstraint("framework_id", "id"),
        UniqueConstraint("framework_id", "key"),
        CheckConstraint(
            "min_duration_weeks IS NULL OR min_duration_weeks > 0", name="min_duration"
        ),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    framework_id: UUID = Field(foreign_key="frameworks.id", ondelete="CASCADE", index=True)
    key: str = Field(max_length=100)
    name: str = Field(max_length=200)
    description: str = Field(default="", sa_type=Text)
    delivery_modes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    min_duration_weeks: int | None = None
    delivery_notes: str = Field(default="", sa_type=Text)
    evidence_source: str = Field(default="", sa_type=Text)


class TargetLink(SQLModel, table=True):
    """Theme ↔ component: this component is a candidate way to work on this theme."""

    __tablename__ = "target_links"
    __table_args__ = (
        UniqueConstraint("theme_id", "component_id"),
        ForeignKeyConstraint(
            ["framework_id", "theme_id"],
            ["themes.framework_id", "themes.id"],
            name="fk_target_links_theme_same_framework",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["framework_id", "component_id"],
            ["components.framework_id", "components.id"],
            name="fk_target_links_component_same_framework",
            ondelete="CASCADE",
        ),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    framework_id: UUID = Field(foreign_key="frameworks.id", ondelete="CASCADE", index=True)
    theme_id: UUID
    component_id: UUID = Field(index=True)
    rationale: str = Field(default="", sa_type=Text)
    source: str = Field(default="", sa_type=Text)
    from_framework_study: bool = Field(default=True)
