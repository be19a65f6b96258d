"""What changed between two versions of a framework.

Themes and components are matched by their stable ``key`` only, never by label: a theme
whose label changed is *renamed*, not removed and re-added. A target link is identified
by its (theme key, component key) pair. The diff is plain data; ``to_dict()`` gives a
JSON-ready form for the API.

Sibling order (``ThemeNode.order``) and ``introduced_in`` are not compared: order shows
up through the code, and ``introduced_in`` is history rather than content.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from service.frameworks.domain import Component, FrameworkSnapshot, TargetLink, ThemeNode

_COMPONENT_FIELDS = (
    "name",
    "description",
    "delivery_modes",
    "tags",
    "min_duration_weeks",
    "delivery_notes",
    "evidence_source",
)
_LINK_FIELDS = ("rationale", "source", "from_framework_study")
_META_FIELDS = ("title", "description", "citation", "status")


@dataclass(frozen=True, slots=True)
class ThemeRef:
    key: str
    code: str
    label: str


@dataclass(frozen=True, slots=True)
class ValueChange:
    """One attribute of one item (theme, or the framework itself) that changed."""

    key: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class ComponentRef:
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class ComponentChange:
    key: str
    changed_fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LinkRef:
    theme_key: str
    component_key: str
    from_framework_study: bool


@dataclass(frozen=True, slots=True)
class LinkChange:
    theme_key: str
    component_key: str
    changed_fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FrameworkDiff:
    old_version: str
    new_version: str
    metadata_changed: tuple[ValueChange, ...] = ()  # key = the snapshot field name
    themes_added: tuple[ThemeRef, ...] = ()
    themes_removed: tuple[ThemeRef, ...] = ()
    themes_renamed: tuple[ValueChange, ...] = ()  # old/new label
    themes_moved: tuple[ValueChange, ...] = ()  # old/new parent key (None = top level)
    themes_recoded: tuple[ValueChange, ...] = ()  # old/new code
    themes_redefined: tuple[ValueChange, ...] = ()  # old/new definition
    themes_kind_changed: tuple[ValueChange, ...] = ()  # old/new kind
    components_added: tuple[ComponentRef, ...] = ()
    components_removed: tuple[ComponentRef, ...] = ()
    components_changed: tuple[ComponentChange, ...] = ()
    links_added: tuple[LinkRef, ...] = ()
    links_removed: tuple[LinkRef, ...] = ()
    links_changed: tuple[LinkChange, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self) if f.name not in _VERSION_FIELDS)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


_VERSION_FIELDS = ("old_version", "new_version")


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


def _by_key(items: tuple[Any, ...], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if item.key in out:
            raise ValueError(f"duplicate {what} key {item.key!r}")
        out[item.key] = item
    return out


def _theme_ref(t: ThemeNode) -> ThemeRef:
    return ThemeRef(key=t.key, code=t.code, label=t.label)


def _component_ref(c: Component) -> ComponentRef:
    return ComponentRef(key=c.key, name=c.name)


def _link_ref(lk: TargetLink) -> LinkRef:
    return LinkRef(lk.theme_key, lk.component_key, lk.from_framework_study)


def diff_frameworks(old: FrameworkSnapshot, new: FrameworkSnapshot) -> FrameworkDiff:
    """Compare two framework versions, matching themes and components by key.

    Added items are listed in the new version's order, removed ones in the old's.
    Raises ValueError if either snapshot repeats a theme, component or link key.
    """
    old_t, new_t = _by_key(old.themes, "theme"), _by_key(new.themes, "theme")
    old_c, new_c = _by_key(old.components, "component"), _by_key(new.components, "component")
    old_l = _links_by_pair(old.links)
    new_l = _links_by_pair(new.links)

    kept = [k for k in new_t if k in old_t]

    def changes(attr: str) -> tuple[ValueChange, ...]:
        return tuple(
            ValueChange(k, _plain(getattr(old_t[k], attr)), _plain(getattr(new_t[k], attr)))
            for k in kept
            if getattr(old_t[k], attr) != getattr(new_t[k], attr)
        )

    components_changed = tuple(
        ComponentChange(k, changed)
        for k in new_c
        if k in old_c and (changed := _changed(old_c[k], new_c[k], _COMPONENT_FIELDS))
    )
    links_changed = tuple(
        LinkChange(pair[0], pair[1], changed)
        for pair in new_l
        if pair in old_l and (changed := _changed(old_l[pair], new_l[pair], _LINK_FIELDS))
    )
    metadata_changed = tuple(
        ValueChange(name, _plain(getattr(old, name)), _plain(getattr(new, name)))
        for name in _META_FIELDS
        if getattr(old, name) != getattr(new, name)
    )

    return FrameworkDiff(
        old_version=old.version,
        new_version=new.version,
        metadata_changed=metadata_changed,
        themes_added=tuple(_theme_ref(t) for k, t in new_t.items() if k not in old_t),
        themes_removed=tuple(_theme_ref(t) for k, t in old_t.items() if k not in new_t),
        themes_renamed=changes("label"),
        themes_moved=changes("parent_key"),
        themes_recoded=changes("code"),
        themes_redefined=changes("definition"),
        themes_kind_changed=changes("kind"),
        components_added=tuple(_component_ref(c) for k, c in new_c.items() if k not in old_c),
        components_removed=tuple(_component_ref(c) for k, c in old_c.items() if k not in new_c),
        components_changed=components_changed,
        links_added=tuple(_link_ref(lk) for p, lk in new_l.items() if p not in old_l),
        links_removed=tuple(_link_ref(lk) for p, lk in old_l.items() if p not in new_l),
        links_changed=links_changed,
    )


def _links_by_pair(links: tuple[TargetLink, ...]) -> dict[tuple[str, str], TargetLink]:
    out: dict[tuple[str, str], TargetLink] = {}
    for lk in links:
        pair = (lk.theme_key, lk.component_key)
        if pair in out:
            raise ValueError(f"duplicate target link {pair!r}")
        out[pair] = lk
    return out


def _changed(old: Any, new: Any, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(n for n in names if getattr(old, n) != getattr(new, n))
