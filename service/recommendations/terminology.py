"""Where the recommendation resources live, and the code systems they use.

Every canonical URL the Questionnaire, CarePlan and CDS cards carry resolves on this
service: the assessment form and three small code systems are served under
``/v1/recommendations`` (see ``router``), and theme codings use the framework's own
CodeSystem (``service.frameworks.fhir``, codes are theme keys). Pure: no FastAPI, no
database.
"""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B.codesystem import CodeSystem

from service.frameworks.domain import FrameworkSnapshot, FrameworkStatus
from service.frameworks.fhir import code_system_url_for, computable_name

BASE_PATH = "/v1/recommendations"
NEED_LEVEL = "need-level"
DELIVERY_FORMAT = "delivery-format"
COMPONENTS_SUFFIX = "-components"

LEVEL_DISPLAY = {
    "none": "No need",
    "low": "Low need",
    "moderate": "Moderate need",
    "high": "High need",
}
LEVEL_DEFINITION = {
    "none": "The person does not need more of this domain (rating 0).",
    "low": "A little more of this domain would help (rating 1).",
    "moderate": "More of this domain is needed (rating 2).",
    "high": "This domain is a priority for the person (rating 3 or 4).",
}
FORMAT_DISPLAY = {
    "no_preference": "No preference",
    "one_to_one": "Prefers one-to-one",
    "group": "Prefers group work",
    "no_group": "Does not want group work",
}
FORMAT_DEFINITION = {
    "no_preference": "Components are offered in whichever format the framework lists first.",
    "one_to_one": "Components offered one-to-one are ranked before group-only ones.",
    "group": "Components offered as a group are ranked first.",
    "no_group": "Group-only components are removed; mixed ones are offered without a group.",
}
STATUS = {
    FrameworkStatus.published: "active",
    FrameworkStatus.draft: "draft",
    FrameworkStatus.retired: "retired",
}


def _base(base_url: str) -> str:
    return base_url.rstrip("/")


def questionnaire_path(slug: str, version: str) -> str:
    return f"{BASE_PATH}/questionnaires/{slug}/{version}"


def code_system_path(name: str) -> str:
    return f"{BASE_PATH}/code-systems/{name}"


def level_system(*, base_url: str) -> str:
    return _base(base_url) + code_system_path(NEED_LEVEL)


def format_system(*, base_url: str) -> str:
    return _base(base_url) + code_system_path(DELIVERY_FORMAT)


def component_system(slug: str, *, base_url: str) -> str:
    """Where a framework's intervention components are published as codes."""
    return _base(base_url) + code_system_path(slug + COMPONENTS_SUFFIX)


def theme_system(slug: str, *, base_url: str) -> str:
    """The framework's own CodeSystem, whose codes are theme keys."""
    return code_system_url_for(slug, base_url=base_url)


def _code_system(
    *,
    url: str,
    name: str,
    title: str,
    description: str,
    concepts: list[dict[str, Any]],
    version: str | None = None,
    status: str = "active",
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "CodeSystem",
        "id": url.rsplit("/", 1)[-1],
        "url": url,
    }
    if version is not None:
        resource["version"] = version
    resource |= {
        "name": name,
        "title": title,
        "status": status,
        "experimental": False,
        "description": description,
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    }
    parsed = CodeSystem.model_validate(resource)
    return json.loads(parsed.model_dump_json(exclude_none=True))


def need_level_code_system(*, base_url: str) -> dict[str, Any]:
    return _code_system(
        url=level_system(base_url=base_url),
        name="NeedLevel",
        title="Level of need in a domain of connectedness",
        description="How much more of a domain a person needs; a 0-4 rating folds onto "
        "these four levels (3 and 4 are both high).",
        concepts=[
            {"code": c, "display": d, "definition": LEVEL_DEFINITION[c]}
            for c, d in LEVEL_DISPLAY.items()
        ],
    )


def delivery_format_code_system(*, base_url: str) -> dict[str, Any]:
    return _code_system(
        url=format_system(base_url=base_url),
        name="DeliveryFormat",
        title="Preferred format of an intervention",
        description="The person's preference between one-to-one and group work.",
        concepts=[
            {"code": c, "display": d, "definition": FORMAT_DEFINITION[c]}
            for c, d in FORMAT_DISPLAY.items()
        ],
    )


def components_code_system(snapshot: FrameworkSnapshot, *, base_url: str) -> dict[str, Any]:
    """The intervention components of one framework version, coded by component key."""
    concepts = []
    for c in sorted(snapshot.components, key=lambda c: c.key):
        concept: dict[str, Any] = {"code": c.key, "display": c.name}
        if c.description:
            concept["definition"] = c.description
        concepts.append(concept)
    return _code_system(
        url=component_system(snapshot.slug, base_url=base_url),
        version=snapshot.version,
        name=computable_name(snapshot.slug, "Components"),
        title=f"{snapshot.title}: intervention components",
        description="Intervention components the framework links to its themes; the "
        "codes of CarePlan activities proposed by the recommendation service.",
        concepts=concepts,
        status=STATUS[snapshot.status],
    )
