"""Plain, database-free picture of one framework version.

The pure modules (exchange formats, the recommendation engine, the built-in CIVIC
data) work on these frozen dataclasses, so they can be tested and reused without
FastAPI or a database. The service layer builds a snapshot from the tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ThemeKind(StrEnum):
    domain = "domain"  # a facet of connectedness: something a person can need more of
    barrier = "barrier"  # works against connectedness (e.g. Stigma): changes *how* help is given


class FrameworkStatus(StrEnum):
    draft = "draft"
    published = "published"
    retired = "retired"


class DeliveryMode(StrEnum):
    group = "group"
    one_to_one = "one_to_one"
    digital = "digital"
    self_directed = "self_directed"


@dataclass(frozen=True, slots=True)
class ThemeNode:
    key: str  # stable across derived versions: how a diff knows a renamed theme is the same
    code: str  # position in its version, e.g. "1" or "1.2"
    label: str
    definition: str
    kind: ThemeKind
    parent_key: str | None = None
    order: int = 0
    introduced_in: str | None = None  # framework version that first had this theme


@dataclass(frozen=True, slots=True)
class Component:
    key: str
    name: str
    description: str
    delivery_modes: tuple[DeliveryMode, ...] = ()
    # Settings and prerequisites the engine reasons about, e.g. "peer",
    # "shared_experience", "spiritual", "animals".
    tags: tuple[str, ...] = ()
    min_duration_weeks: int | None = None
    delivery_notes: str = ""
    evidence_source: str = ""


@dataclass(frozen=True, slots=True)
class TargetLink:
    theme_key: str
    component_key: str
    rationale: str
    source: str
    # False when the evidence comes from outside the framework's own study
    # (e.g. the discussion citing other work); clients must label it so.
    from_framework_study: bool = True


@dataclass(frozen=True, slots=True)
class FrameworkSnapshot:
    slug: str
    version: str
    title: str
    description: str
    citation: str
    status: FrameworkStatus
    themes: tuple[ThemeNode, ...] = field(default_factory=tuple)
    components: tuple[Component, ...] = ()
    links: tuple[TargetLink, ...] = ()
    derived_from_version: str | None = None

    def theme(self, key: str) -> ThemeNode:
        for theme in self.themes:
            if theme.key == key:
                return theme
        raise KeyError(key)

    def in_tree_order(self) -> tuple[ThemeNode, ...]:
        """Themes depth-first (1, 1.1, 1.2, 2, ...), siblings in display order."""
        ordered: list[ThemeNode] = []

        def walk(key: str | None) -> None:
            for child in self.children(key):
                ordered.append(child)
                walk(child.key)

        walk(None)
        return tuple(ordered)

    def children(self, key: str | None) -> list[ThemeNode]:
        """Direct children of a theme (or the top level for None), in display order."""
        return sorted(
            (t for t in self.themes if t.parent_key == key), key=lambda t: (t.order, t.code)
        )
