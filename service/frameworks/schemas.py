"""Request and response bodies of the framework registry API.

Requests derive from ``StrictInput`` (unknown fields are a 422). ``*Update`` bodies are
partial: only the fields sent are changed, and a field that cannot be empty may not be
sent as null. Responses list everything in a fixed order, so the same version always
serialises to the same bytes (and so to the same ETag).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field, model_validator

from service.frameworks.builtin import COMPONENT_TAGS
from service.frameworks.domain import DeliveryMode, FrameworkStatus, ThemeKind
from service.http.schemas import StorableText, StrictInput

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
# slug@version, as the diff endpoint takes it.
VERSION_REF_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}@[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"


def _known_tags(tags: list[str]) -> list[str]:
    unknown = sorted(set(tags) - set(COMPONENT_TAGS))
    if unknown:
        raise ValueError(
            f"unknown tag(s) {', '.join(unknown)}; use: {', '.join(sorted(COMPONENT_TAGS))}"
        )
    return list(dict.fromkeys(tags))  # drop repeats, keep the order given


Text = StorableText  # no NUL, no lone surrogate: both engines store it
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, description="e.g. `civic`")]
Version = Annotated[str, Field(pattern=VERSION_PATTERN, description="e.g. `2` or `2.1-draft`")]
Title = Annotated[Text, Field(min_length=1, max_length=300)]
Citation = Annotated[
    Text,
    Field(
        min_length=1,
        max_length=5000,
        description="Where the version comes from: the publication or study it rests on.",
    ),
]
Label = Annotated[Text, Field(min_length=1, max_length=200)]
ThemeCode = Annotated[
    str,
    Field(
        pattern=CODE_PATTERN,
        description="The theme's number in its version, e.g. `1` or `1.2`; unique within "
        "the version. You choose it: moving or reordering a theme does not renumber it.",
    ),
]
Key = Annotated[
    str,
    Field(
        pattern=KEY_PATTERN,
        description="Stable identity across versions (a derived version keeps it, and the "
        "diff matches on it). Set once, never changed.",
    ),
]
Tags = Annotated[
    list[str],
    AfterValidator(_known_tags),
    Field(
        max_length=len(COMPONENT_TAGS),
        description="What the recommendation engine reasons about. Allowed: "
        + "; ".join(f"`{tag}` ({meaning})" for tag, meaning in COMPONENT_TAGS.items())
        + ".",
    ),
]


class PatchInput(StrictInput):
    """A partial update: fields not sent stay as they are."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> PatchInput:
        for name in self.model_fields_set:
            if getattr(self, name) is None and name not in self.nullable:
                raise ValueError(f"{name} may be left out but not set to null")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


# --------------------------------------------------------------------------- requests


class FrameworkCreate(StrictInput):
    slug: Slug
    version: Version
    title: Title
    description: Text = Field("", max_length=20_000)
    citation: Citation


class FrameworkUpdate(PatchInput):
    title: Title | None = None
    description: Text | None = Field(None, max_length=20_000)
    citation: Citation | None = None


class FrameworkDerive(StrictInput):
    version: Version = Field(description="The new draft's version string, e.g. `3`.")
    title: Title | None = Field(None, description="Default: the source version's title.")
    description: Text | None = Field(None, max_length=20_000)
    citation: Citation | None = Field(None, description="Default: the source's citation.")


class ThemeCreate(StrictInput):
    key: Key | None = Field(None, description="Default: a new UUID.")
    code: ThemeCode
    label: Label
    definition: Text = Field("", max_length=20_000)
    kind: ThemeKind = Field(
        ThemeKind.domain,
        description="`domain`: a facet of connectedness; `barrier`: works against it "
        "(e.g. Stigma) and changes how help is offered.",
    )
    parent_id: UUID | None = Field(None, description="A theme of the same version; null: top.")
    order: int | None = Field(
        None, ge=0, le=1_000_000, description="Position among siblings; default: last."
    )


class ThemeUpdate(PatchInput):
    nullable: ClassVar[frozenset[str]] = frozenset({"parent_id"})

    code: ThemeCode | None = None
    label: Label | None = None
    definition: Text | None = Field(None, max_length=20_000)
    kind: ThemeKind | None = None
    parent_id: UUID | None = Field(
        None,
        description="Move the theme (with everything below it) under this theme of the "
        "same version; null moves it to the top level.",
    )
    order: int | None = Field(None, ge=0, le=1_000_000)


class ThemeReorder(StrictInput):
    parent_id: UUID | None = Field(description="Whose children to reorder; null: top level.")
    theme_ids: list[UUID] = Field(
        min_length=1,
        max_length=10_000,
        description="Every child of that parent, each once, in the new order.",
    )


class ComponentCreate(StrictInput):
    key: Key
    name: Label
    description: Text = Field("", max_length=20_000)
    delivery_modes: list[DeliveryMode] = Field(default_factory=list, max_length=4)
    tags: Tags = Field(default_factory=list)
    min_duration_weeks: int | None = Field(None, ge=1, le=520)
    delivery_notes: Text = Field("", max_length=20_000)
    evidence_source: Text = Field("", max_length=5000)


class ComponentUpdate(PatchInput):
    nullable: ClassVar[frozenset[str]] = frozenset({"min_duration_weeks"})

    name: Label | None = None
    description: Text | None = Field(None, max_length=20_000)
    delivery_modes: list[DeliveryMode] | None = Field(None, max_length=4)
    tags: Tags | None = None
    min_duration_weeks: int | None = Field(None, ge=1, le=520)
    delivery_notes: Text | None = Field(None, max_length=20_000)
    evidence_source: Text | None = Field(None, max_length=5000)


class LinkUpdate(PatchInput):
    """What a link says about itself; to link another theme or component, delete this
    link and create a new one."""

    rationale: Text | None = Field(None, max_length=5000)
    source: Text | None = Field(None, max_length=1000)
    from_framework_study: bool | None = None


class LinkCreate(StrictInput):
    theme_id: UUID
    component_id: UUID
    rationale: Text = Field("", max_length=5000)
    source: Text = Field("", max_length=1000, description="Where the link comes from.")
    from_framework_study: bool = Field(
        True,
        description="False when the evidence comes from outside the framework's own study; "
        "clients must label such links.",
    )


# --------------------------------------------------------------------------- responses


class VersionRef(BaseModel):
    id: UUID
    slug: str
    version: str


class FrameworkSummary(BaseModel):
    id: UUID
    slug: str
    version: str
    title: str
    description: str
    citation: str = Field(description="The source of this version: publication or study.")
    status: FrameworkStatus
    builtin: bool = Field(description="Loaded by the service itself (CIVIC v1 and v2).")
    derived_from: VersionRef | None = Field(description="The version this one was copied from.")
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


class ThemeRef(BaseModel):
    id: UUID
    key: str
    code: str
    label: str
    order: int


class ThemeComponentLink(BaseModel):
    """A component that targets the theme, seen from the theme."""

    link_id: UUID
    component_id: UUID
    component_key: str
    component_name: str
    rationale: str
    source: str
    from_framework_study: bool


class InterventionCoverage(BaseModel):
    intervention_gap: bool = Field(
        description="True when the framework's own study identified no intervention "
        "component for this theme (directly, below it, or through the theme above it). "
        "Links resting on evidence from outside the study do not close a gap."
    )
    intervention_note: str = Field(description="One sentence saying how the theme is covered.")


class ThemeTreeNode(InterventionCoverage):
    id: UUID
    key: str
    code: str
    label: str
    definition: str
    kind: ThemeKind
    parent_id: UUID | None
    order: int
    introduced_in: str | None = Field(description="The version in which the theme first appeared.")
    components: list[ThemeComponentLink] = Field(description="Components linked to this theme.")
    children: list[ThemeTreeNode] = Field(description="Subordinate themes, in order.")


class ComponentTarget(BaseModel):
    """A theme a component targets, seen from the component."""

    link_id: UUID
    theme_id: UUID
    theme_key: str
    theme_code: str
    theme_label: str
    rationale: str
    source: str
    from_framework_study: bool


class ComponentPublic(BaseModel):
    id: UUID
    key: str
    name: str
    description: str
    delivery_modes: list[DeliveryMode]
    tags: list[str]
    min_duration_weeks: int | None
    delivery_notes: str
    evidence_source: str
    targets: list[ComponentTarget] = Field(description="The themes it targets, in tree order.")


class LinkPublic(BaseModel):
    id: UUID
    theme_id: UUID
    theme_key: str
    component_id: UUID
    component_key: str
    rationale: str
    source: str
    from_framework_study: bool


class FrameworkVersion(FrameworkSummary):
    themes: list[ThemeTreeNode] = Field(description="The whole theme tree: top-level themes.")
    components: list[ComponentPublic]
    links: list[LinkPublic]
    theme_count: int
    intervention_gaps: list[ThemeRef] = Field(
        description="Every theme with `intervention_gap: true`, in tree order."
    )


class ThemeDetail(InterventionCoverage):
    id: UUID
    framework: VersionRef
    key: str
    code: str
    label: str
    definition: str
    kind: ThemeKind
    order: int
    introduced_in: str | None
    parent: ThemeRef | None
    children: list[ThemeRef]
    components: list[ThemeComponentLink]


class ImportNote(BaseModel):
    action: str = Field(description="`dropped` or `repaired`.")
    where: str = Field(description='The element concerned, e.g. `Code "Trust"`.')
    detail: str


class CodebookImport(BaseModel):
    framework: FrameworkVersion = Field(description="The new draft version.")
    source_format: str = Field(description="`qdc` or `qdpx`.")
    origin: str | None = Field(description="The exporting tool, when the file says.")
    report: list[ImportNote] = Field(
        description="Everything the import dropped or repaired; empty when nothing was."
    )


class ThemeSearchHit(BaseModel):
    id: UUID
    framework: VersionRef
    framework_title: str
    key: str
    code: str
    label: str
    definition: str
    kind: ThemeKind


# The diff mirrors ``service.frameworks.diff.FrameworkDiff``.


class DiffThemeRef(BaseModel):
    key: str
    code: str
    label: str


class DiffValueChange(BaseModel):
    key: str = Field(description="The theme key (or the framework field's name).")
    old: Any
    new: Any


class DiffComponentRef(BaseModel):
    key: str
    name: str


class DiffComponentChange(BaseModel):
    key: str
    changed_fields: list[str]


class DiffLinkRef(BaseModel):
    theme_key: str
    component_key: str
    from_framework_study: bool


class DiffLinkChange(BaseModel):
    theme_key: str
    component_key: str
    changed_fields: list[str]


class FrameworkDiff(BaseModel):
    from_version: VersionRef
    to_version: VersionRef
    is_empty: bool
    metadata_changed: list[DiffValueChange]
    themes_added: list[DiffThemeRef]
    themes_removed: list[DiffThemeRef]
    themes_renamed: list[DiffValueChange] = Field(description="Old and new label.")
    themes_moved: list[DiffValueChange] = Field(
        description="Old and new parent key; null is the top level."
    )
    themes_recoded: list[DiffValueChange] = Field(description="Old and new code.")
    themes_redefined: list[DiffValueChange] = Field(description="Old and new definition.")
    themes_kind_changed: list[DiffValueChange]
    components_added: list[DiffComponentRef]
    components_removed: list[DiffComponentRef]
    components_changed: list[DiffComponentChange]
    links_added: list[DiffLinkRef]
    links_removed: list[DiffLinkRef]
    links_changed: list[DiffLinkChange]
