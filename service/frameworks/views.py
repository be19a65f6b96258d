"""Response bodies built from rows already loaded: no queries here, so what a response
costs is decided by the service function that loaded its rows."""

from __future__ import annotations

from uuid import UUID

from service.frameworks import coverage
from service.frameworks.models import Component, Framework, TargetLink, Theme
from service.frameworks.schemas import (
    ComponentPublic,
    ComponentTarget,
    FrameworkSummary,
    FrameworkVersion,
    LinkPublic,
    ThemeComponentLink,
    ThemeDetail,
    ThemeRef,
    ThemeSearchHit,
    ThemeTreeNode,
    VersionRef,
)
from service.frameworks.service import VersionRows


def version_url(framework: Framework) -> str:
    return f"/v1/frameworks/{framework.slug}/versions/{framework.version}"


def version_ref(framework: Framework) -> VersionRef:
    return VersionRef(id=framework.id, slug=framework.slug, version=framework.version)


def summary(framework: Framework, derived_from: Framework | None) -> FrameworkSummary:
    return FrameworkSummary(
        id=framework.id,
        slug=framework.slug,
        version=framework.version,
        title=framework.title,
        description=framework.description,
        citation=framework.citation,
        status=framework.status,
        builtin=framework.builtin,
        derived_from=version_ref(derived_from) if derived_from else None,
        created_at=framework.created_at,
        updated_at=framework.updated_at,
        published_at=framework.published_at,
    )


def theme_ref(theme: Theme) -> ThemeRef:
    return ThemeRef(
        id=theme.id, key=theme.key, code=theme.code, label=theme.label, order=theme.order
    )


def _sort_key(theme: Theme) -> tuple[int, str]:
    return (theme.order, theme.code)


class _Index:
    """The rows of one version, cross-referenced once."""

    def __init__(self, rows: VersionRows) -> None:
        self.rows = rows
        self.themes = {t.id: t for t in rows.themes}
        self.components = {c.id: c for c in rows.components}
        self.children: dict[UUID | None, list[Theme]] = {}
        for theme in sorted(rows.themes, key=_sort_key):
            self.children.setdefault(theme.parent_id, []).append(theme)
        self.tree_order = self._walk()
        position = {t.id: i for i, t in enumerate(self.tree_order)}
        self.links_of_theme: dict[UUID, list[TargetLink]] = {}
        self.links_of_component: dict[UUID, list[TargetLink]] = {}
        for link in sorted(
            rows.links,
            key=lambda lk: (position[lk.theme_id], self.components[lk.component_id].key),
        ):
            self.links_of_theme.setdefault(link.theme_id, []).append(link)
            self.links_of_component.setdefault(link.component_id, []).append(link)
        self.coverage = coverage.intervention_coverage(
            parents={t.id: t.parent_id for t in rows.themes},
            labels={t.id: t.label for t in rows.themes},
            links=[
                coverage.LinkFact(
                    theme_id=lk.theme_id,
                    component_name=self.components[lk.component_id].name,
                    source=lk.source,
                    from_framework_study=lk.from_framework_study,
                )
                for lk in rows.links
            ],
        )

    def _walk(self) -> list[Theme]:
        out: list[Theme] = []
        stack = list(reversed(self.children.get(None, [])))
        while stack:
            theme = stack.pop()
            out.append(theme)
            stack.extend(reversed(self.children.get(theme.id, [])))
        return out

    def theme_links(self, theme_id: UUID) -> list[ThemeComponentLink]:
        return [
            ThemeComponentLink(
                link_id=lk.id,
                component_id=lk.component_id,
                component_key=self.components[lk.component_id].key,
                component_name=self.components[lk.component_id].name,
                rationale=lk.rationale,
                source=lk.source,
                from_framework_study=lk.from_framework_study,
            )
            for lk in self.links_of_theme.get(theme_id, [])
        ]

    def component(self, component: Component) -> ComponentPublic:
        targets = [
            ComponentTarget(
                link_id=lk.id,
                theme_id=lk.theme_id,
                theme_key=self.themes[lk.theme_id].key,
                theme_code=self.themes[lk.theme_id].code,
                theme_label=self.themes[lk.theme_id].label,
                rationale=lk.rationale,
                source=lk.source,
                from_framework_study=lk.from_framework_study,
            )
            for lk in self.links_of_component.get(component.id, [])
        ]
        return ComponentPublic(
            id=component.id,
            key=component.key,
            name=component.name,
            description=component.description,
            delivery_modes=component.delivery_modes,
            tags=component.tags,
            min_duration_weeks=component.min_duration_weeks,
            delivery_notes=component.delivery_notes,
            evidence_source=component.evidence_source,
            targets=targets,
        )

    def link(self, link: TargetLink) -> LinkPublic:
        return LinkPublic(
            id=link.id,
            theme_id=link.theme_id,
            theme_key=self.themes[link.theme_id].key,
            component_id=link.component_id,
            component_key=self.components[link.component_id].key,
            rationale=link.rationale,
            source=link.source,
            from_framework_study=link.from_framework_study,
        )

    def node(self, theme: Theme, children: list[ThemeTreeNode]) -> ThemeTreeNode:
        cover = self.coverage[theme.id]
        return ThemeTreeNode(
            id=theme.id,
            key=theme.key,
            code=theme.code,
            label=theme.label,
            definition=theme.definition,
            kind=theme.kind,
            parent_id=theme.parent_id,
            order=theme.order,
            introduced_in=theme.introduced_in,
            intervention_gap=cover.gap,
            intervention_note=cover.note,
            components=self.theme_links(theme.id),
            children=children,
        )

    def tree(self) -> list[ThemeTreeNode]:
        # Built bottom-up (reverse tree order), so any depth needs no recursion.
        built: dict[UUID, ThemeTreeNode] = {}
        for theme in reversed(self.tree_order):
            kids = [built[c.id] for c in self.children.get(theme.id, [])]
            built[theme.id] = self.node(theme, kids)
        return [built[t.id] for t in self.children.get(None, [])]


def version(rows: VersionRows) -> FrameworkVersion:
    index = _Index(rows)
    components = sorted(rows.components, key=lambda c: c.key)
    links = [lk for theme in index.tree_order for lk in index.links_of_theme.get(theme.id, [])]
    return FrameworkVersion(
        **summary(rows.framework, rows.derived_from).model_dump(),
        themes=index.tree(),
        components=[index.component(c) for c in components],
        links=[index.link(lk) for lk in links],
        theme_count=len(rows.themes),
        intervention_gaps=[theme_ref(t) for t in index.tree_order if index.coverage[t.id].gap],
    )


def theme_detail(rows: VersionRows, theme_id: UUID) -> ThemeDetail:
    index = _Index(rows)
    theme = index.themes[theme_id]
    parent = index.themes.get(theme.parent_id) if theme.parent_id else None
    cover = index.coverage[theme.id]
    return ThemeDetail(
        id=theme.id,
        framework=version_ref(rows.framework),
        key=theme.key,
        code=theme.code,
        label=theme.label,
        definition=theme.definition,
        kind=theme.kind,
        order=theme.order,
        introduced_in=theme.introduced_in,
        parent=theme_ref(parent) if parent else None,
        children=[theme_ref(c) for c in index.children.get(theme.id, [])],
        components=index.theme_links(theme.id),
        intervention_gap=cover.gap,
        intervention_note=cover.note,
    )


def component(rows: VersionRows, component_id: UUID) -> ComponentPublic:
    index = _Index(rows)
    return index.component(index.components[component_id])


def components(rows: VersionRows, page: list[Component]) -> list[ComponentPublic]:
    index = _Index(rows)
    return [index.component(c) for c in page]


def link(rows: VersionRows, link_id: UUID) -> LinkPublic:
    index = _Index(rows)
    return index.link(next(lk for lk in rows.links if lk.id == link_id))


def search_hit(theme: Theme, framework: Framework) -> ThemeSearchHit:
    return ThemeSearchHit(
        id=theme.id,
        framework=version_ref(framework),
        framework_title=framework.title,
        key=theme.key,
        code=theme.code,
        label=theme.label,
        definition=theme.definition,
        kind=theme.kind,
    )
