"""A framework version as FHIR R4 terminology: a CodeSystem and a ValueSet of its domains.

Each theme becomes a concept whose ``code`` is the theme's stable *key* (for example
``closeness.trust``), not its position code: positions can change when a version is
re-ordered, while keys are what clinical systems and the recommendation engine hold on
to. The position ("1.2") is carried as the ``position`` property. Concepts nest as the
themes do, under ``hierarchyMeaning = is-a``.

Both resources are built as dicts, validated by ``fhir.resources`` (R4B models, which
accept R4 terminology resources unchanged), and returned as plain JSON-ready dicts.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.valueset import ValueSet

from service.frameworks.domain import FrameworkSnapshot, FrameworkStatus, ThemeKind, ThemeNode

_STATUS = {
    FrameworkStatus.draft: "draft",
    FrameworkStatus.published: "active",
    FrameworkStatus.retired: "retired",
}

PROPERTY_KIND = "kind"
PROPERTY_INTRODUCED_IN = "introduced_in"
PROPERTY_POSITION = "position"


def code_system_url_for(slug: str, *, base_url: str) -> str:
    """The canonical URL of a framework's CodeSystem (all versions; ``version`` tells
    them apart). It resolves on this service to the latest published version."""
    return f"{base_url.rstrip('/')}/v1/frameworks/{slug}/fhir/code-system"


def code_system_url(snapshot: FrameworkSnapshot, *, base_url: str) -> str:
    return code_system_url_for(snapshot.slug, base_url=base_url)


def value_set_url(snapshot: FrameworkSnapshot, *, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/v1/frameworks/{snapshot.slug}/fhir/value-set"


def computable_name(slug: str, suffix: str = "") -> str:
    """A FHIR ``name``: starts with a capital letter, then letters, digits or '_'."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", slug) if w]
    name = "".join(w[:1].upper() + w[1:] for w in words) + suffix
    if not name or not name[0].isalpha():
        name = "Framework" + name
    return name[:255]


def _description(snapshot: FrameworkSnapshot) -> str:
    parts = [
        p for p in (snapshot.description, snapshot.citation and f"Source: {snapshot.citation}") if p
    ]
    return "\n\n".join(parts)


def _concept(snapshot: FrameworkSnapshot, theme: ThemeNode) -> dict[str, Any]:
    concept: dict[str, Any] = {"code": theme.key, "display": theme.label}
    if theme.definition:
        concept["definition"] = theme.definition
    props: list[dict[str, Any]] = [
        {"code": PROPERTY_KIND, "valueCode": theme.kind.value},
        {"code": PROPERTY_POSITION, "valueString": theme.code},
    ]
    if theme.introduced_in:
        props.append({"code": PROPERTY_INTRODUCED_IN, "valueString": theme.introduced_in})
    concept["property"] = props
    children = [_concept(snapshot, c) for c in snapshot.children(theme.key)]
    if children:
        concept["concept"] = children
    return concept


def code_system(snapshot: FrameworkSnapshot, *, base_url: str) -> dict[str, Any]:
    """The framework version as a FHIR R4 CodeSystem resource (a JSON-ready dict)."""
    resource: dict[str, Any] = {
        "resourceType": "CodeSystem",
        "url": code_system_url(snapshot, base_url=base_url),
        "version": snapshot.version,
        "name": computable_name(snapshot.slug),
        "title": snapshot.title,
        "status": _STATUS[snapshot.status],
        "experimental": False,
        "description": _description(snapshot),
        "caseSensitive": True,
        "hierarchyMeaning": "is-a",
        "content": "complete",
        "count": len(snapshot.themes),
        "property": [
            {
                "code": PROPERTY_KIND,
                "description": (
                    "domain: a facet of social connectedness a person may need more of; "
                    "barrier: something that works against connectedness and changes how "
                    "help is offered"
                ),
                "type": "code",
            },
            {
                "code": PROPERTY_POSITION,
                "description": "The theme's numbered position in this version, e.g. 1.2",
                "type": "string",
            },
            {
                "code": PROPERTY_INTRODUCED_IN,
                "description": "The framework version in which the theme first appeared",
                "type": "string",
            },
        ],
        "concept": [_concept(snapshot, t) for t in snapshot.children(None)],
    }
    return _validated(CodeSystem, resource)


def domain_value_set(snapshot: FrameworkSnapshot, *, base_url: str) -> dict[str, Any]:
    """A FHIR R4 ValueSet of the themes of kind *domain* (those recommendations target).

    Barrier themes such as Stigma are left out: they shape how help is offered but are
    never a need to raise. Subordinate domain themes are included, in tree order.
    """
    domains = [t for t in _tree_order(snapshot) if t.kind is ThemeKind.domain]
    include: dict[str, Any] = {
        "system": code_system_url(snapshot, base_url=base_url),
        "version": snapshot.version,
    }
    if domains:
        include["concept"] = [{"code": t.key, "display": t.label} for t in domains]
    else:  # an empty enumeration would mean "every code"; say "kind = domain" instead
        include["filter"] = [{"property": PROPERTY_KIND, "op": "=", "value": "domain"}]
    resource: dict[str, Any] = {
        "resourceType": "ValueSet",
        "url": value_set_url(snapshot, base_url=base_url),
        "version": snapshot.version,
        "name": computable_name(snapshot.slug, "Domains"),
        "title": f"{snapshot.title}: domains",
        "status": _STATUS[snapshot.status],
        "experimental": False,
        "description": (
            "The themes of this framework version that describe facets of social "
            "connectedness, i.e. what intervention components can target. Themes of kind "
            "barrier are not included."
        ),
        "compose": {"include": [include]},
    }
    return _validated(ValueSet, resource)


def _tree_order(snapshot: FrameworkSnapshot) -> list[ThemeNode]:
    out: list[ThemeNode] = []

    def walk(key: str | None) -> None:
        for child in snapshot.children(key):
            out.append(child)
            walk(child.key)

    walk(None)
    return out


def _validated(model: Any, resource: dict[str, Any]) -> dict[str, Any]:
    # Raises pydantic.ValidationError if we ever build an invalid resource.
    parsed = model.model_validate(resource)
    return json.loads(parsed.model_dump_json(exclude_none=True))
