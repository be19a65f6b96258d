"""The theme table of a framework version as CSV, for spreadsheets and reports.

One row per theme in tree order (each parent before its children). The components
column lists, by name, the intervention components linked to that theme; a link whose
evidence comes from outside the framework's own study is marked so. Cells that a
spreadsheet would run as a formula are prefixed with an apostrophe, since imported
codebooks can carry arbitrary labels.
"""

from __future__ import annotations

import csv
import io

from service.frameworks.domain import FrameworkSnapshot, ThemeNode

COLUMNS = (
    "code",
    "key",
    "label",
    "parent_code",
    "kind",
    "introduced_in",
    "definition",
    "components",
)
EXTERNAL_MARK = " (evidence from outside the study)"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _tree_order(snapshot: FrameworkSnapshot) -> list[ThemeNode]:
    out: list[ThemeNode] = []
    stack = list(reversed(snapshot.children(None)))
    while stack:
        theme = stack.pop()
        out.append(theme)
        stack.extend(reversed(snapshot.children(theme.key)))
    return out


def themes_csv(snapshot: FrameworkSnapshot) -> str:
    """The themes as CSV text (RFC 4180, CRLF line ends, header row first)."""
    names = {c.key: c.name for c in snapshot.components}
    by_key = {t.key: t for t in snapshot.themes}
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    for theme in _tree_order(snapshot):
        parent = by_key.get(theme.parent_key) if theme.parent_key else None
        components = "; ".join(
            names.get(link.component_key, link.component_key)
            + ("" if link.from_framework_study else EXTERNAL_MARK)
            for link in snapshot.links
            if link.theme_key == theme.key
        )
        row = (
            theme.code,
            theme.key,
            theme.label,
            parent.code if parent else "",
            theme.kind.value,
            theme.introduced_in or "",
            theme.definition,
            components,
        )
        writer.writerow([_safe(v) for v in row])
    return buf.getvalue()
