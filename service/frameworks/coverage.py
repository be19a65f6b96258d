"""Which themes of a version have an intervention gap, and a sentence saying why.

Pure: works on theme ids, parents and links, with no database or FastAPI, so the
API, the CSV and any report can share one answer.

The scope of a theme follows the recommendation engine: the components linked to the
theme or to any theme below it; when none are, those linked directly to its nearest
ancestor that has any stand in. A theme has a *gap* when nothing in that scope comes
from the framework's own study. Links backed only by evidence from elsewhere (Stigma
in CIVIC v2, whose one link cites other research) do not close a gap, but the note
names them so a client can show them with that caveat.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LinkFact:
    theme_id: Hashable
    component_name: str
    source: str
    from_framework_study: bool


@dataclass(frozen=True, slots=True)
class Coverage:
    gap: bool
    note: str


def _names(links: list[LinkFact]) -> str:
    return ", ".join(sorted({link.component_name for link in links}))


def _sources(links: list[LinkFact]) -> str:
    return "; ".join(sorted({link.source for link in links if link.source})) or "source not given"


def intervention_coverage(
    *,
    parents: Mapping[Hashable, Hashable | None],
    labels: Mapping[Hashable, str],
    links: Iterable[LinkFact],
) -> dict[Hashable, Coverage]:
    """Coverage of every theme in ``parents`` (theme id -> parent id or None)."""
    direct: dict[Hashable, list[LinkFact]] = {theme: [] for theme in parents}
    for link in links:
        if link.theme_id in direct:
            direct[link.theme_id].append(link)
    children: dict[Hashable, list[Hashable]] = {theme: [] for theme in parents}
    for theme, parent in parents.items():
        if parent in children:
            children[parent].append(theme)

    # Links below each theme (its descendants'), gathered without recursion.
    below: dict[Hashable, list[LinkFact]] = {}
    for theme in _post_order(parents, children):
        below[theme] = [lk for child in children[theme] for lk in direct[child] + below[child]]

    return {
        theme: _coverage(theme, parents, labels, direct, below.get(theme, [])) for theme in parents
    }


def _post_order(
    parents: Mapping[Hashable, Hashable | None], children: Mapping[Hashable, list[Hashable]]
) -> list[Hashable]:
    roots = [t for t, p in parents.items() if p is None or p not in parents]
    order: list[Hashable] = []
    stack = [(root, False) for root in roots]
    while stack:
        theme, expanded = stack.pop()
        if expanded:
            order.append(theme)
            continue
        stack.append((theme, True))
        stack.extend((child, False) for child in children[theme])
    return order


def _coverage(
    theme: Hashable,
    parents: Mapping[Hashable, Hashable | None],
    labels: Mapping[Hashable, str],
    direct: Mapping[Hashable, list[LinkFact]],
    below: list[LinkFact],
) -> Coverage:
    own = direct[theme]
    own_study = [lk for lk in own if lk.from_framework_study]
    below_study = [lk for lk in below if lk.from_framework_study]
    if own_study:
        return Coverage(
            False,
            f"Targeted by {len(own_study)} component(s) identified by the framework's own "
            f"study: {_names(own_study)}.",
        )
    if below_study:
        return Coverage(
            False,
            "No component targets this theme directly; its subordinate themes are targeted "
            f"by component(s) from the framework's own study: {_names(below_study)}.",
        )
    if own or below:
        outside = own + below
        return Coverage(
            True,
            "Intervention gap: the framework's own study identified no intervention "
            f"component for this theme. Linked only on evidence from outside the study: "
            f"{_names(outside)} ({_sources(outside)}).",
        )
    ancestor = _nearest_linked_ancestor(theme, parents, direct)
    if ancestor is None:
        return Coverage(
            True,
            "Intervention gap: no intervention component is linked to this theme, to a "
            "theme below it or to a theme above it.",
        )
    stand_in = direct[ancestor]
    stand_in_study = [lk for lk in stand_in if lk.from_framework_study]
    if stand_in_study:
        return Coverage(
            False,
            "No component targets this theme or a theme below it; those linked to "
            f"{labels[ancestor]}, the theme above it, stand in: {_names(stand_in_study)}.",
        )
    return Coverage(
        True,
        "Intervention gap: the framework's own study identified no intervention component "
        f"for this theme or for {labels[ancestor]} above it. {labels[ancestor]} is linked "
        f"only on evidence from outside the study: {_names(stand_in)} "
        f"({_sources(stand_in)}).",
    )


def _nearest_linked_ancestor(
    theme: Hashable,
    parents: Mapping[Hashable, Hashable | None],
    direct: Mapping[Hashable, list[LinkFact]],
) -> Hashable | None:
    seen = {theme}
    parent = parents.get(theme)
    while parent is not None and parent in parents and parent not in seen:
        if direct[parent]:
            return parent
        seen.add(parent)
        parent = parents.get(parent)
    return None
