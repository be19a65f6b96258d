"""A framework version as a FHIR R4 Questionnaire, and its answers back as an Assessment.

Link ids come from theme keys and fixed names, so the same framework version always
yields the same form and a stored QuestionnaireResponse stays readable. Items are
grouped as ``needs`` / ``barriers`` / ``preferences`` / ``context``; only the need items
are required - an unanswered barrier means "not reported", unanswered preferences keep
the defaults of ``Assessment``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from pydantic import ValidationError

from service.frameworks.domain import FrameworkSnapshot, ThemeKind, ThemeNode
from service.recommendations.engine import AssessmentError, problem
from service.recommendations.schemas import Assessment, AssessmentProblem
from service.recommendations.terminology import (
    FORMAT_DISPLAY,
    LEVEL_DISPLAY,
    STATUS,
    format_system,
    level_system,
    questionnaire_path,
    theme_system,
)

# Boolean and integer items: linkId -> (section, field, text, type).
_FIELDS = {
    "preferences.digital-contact-ok": (
        "preferences",
        "digital_contact_ok",
        "Online or phone contact is acceptable",
        "boolean",
    ),
    "preferences.spiritual-beliefs-important": (
        "preferences",
        "spiritual_beliefs_important",
        "Religious or spiritual beliefs are important to the person",
        "boolean",
    ),
    "preferences.likes-animals": (
        "preferences",
        "likes_animals",
        "The person likes animals",
        "boolean",
    ),
    "context.in-group-intervention": (
        "context",
        "in_group_intervention",
        "Already takes part in a group intervention",
        "boolean",
    ),
    "context.weeks-available": (
        "context",
        "weeks_available",
        "Weeks available for the intervention",
        "integer",
    ),
}
# "entered-in-error" and "stopped" responses are not assessments to act on.
READABLE_STATUSES = ("in-progress", "completed", "amended")
DECLINED = "preferences.declined-domains"
FORMAT = "preferences.format"


def questionnaire_id(snapshot: FrameworkSnapshot) -> str:
    return f"{snapshot.slug}-{snapshot.version}-assessment"


def questionnaire_url(snapshot: FrameworkSnapshot, *, base_url: str) -> str:
    """Canonical URL of the form, which is also where this service serves it."""
    return base_url.rstrip("/") + questionnaire_path(snapshot.slug, snapshot.version)


def _themes(snapshot: FrameworkSnapshot, kind: ThemeKind) -> list[ThemeNode]:
    out: list[ThemeNode] = []

    def walk(parent: str | None) -> None:
        for theme in snapshot.children(parent):
            if theme.kind == kind:
                out.append(theme)
            walk(theme.key)

    walk(None)
    return out


def _theme_coding(snapshot: FrameworkSnapshot, theme: ThemeNode, base_url: str) -> dict:
    # Keys, not position codes: they are the concepts of the framework's CodeSystem.
    return {
        "system": theme_system(snapshot.slug, base_url=base_url),
        "version": snapshot.version,
        "code": theme.key,
        "display": theme.label,
    }


def build_questionnaire(snapshot: FrameworkSnapshot, *, base_url: str) -> dict[str, Any]:
    """The assessment form for one framework version, validated as FHIR R4 (R4B)."""
    domains = _themes(snapshot, ThemeKind.domain)
    barriers = _themes(snapshot, ThemeKind.barrier)
    levels = [
        {"valueCoding": {"system": level_system(base_url=base_url), "code": c, "display": d}}
        for c, d in LEVEL_DISPLAY.items()
    ]
    needs = [
        {
            "linkId": f"need.{t.key}",
            "code": [_theme_coding(snapshot, t, base_url)],
            "prefix": t.code,
            "text": f"{t.label}: how much does the person need more of this?",
            "type": "choice",
            "required": True,
            "answerOption": levels,
        }
        for t in domains
    ]
    preferences: list[dict] = []
    if domains:
        preferences.append(
            {
                "linkId": DECLINED,
                "text": "Domains the person does not want to work on",
                "type": "choice",
                "repeats": True,
                "answerOption": [
                    {"valueCoding": _theme_coding(snapshot, t, base_url)} for t in domains
                ],
            }
        )
    preferences.append(
        {
            "linkId": FORMAT,
            "text": "Preferred format",
            "type": "choice",
            "answerOption": [
                {
                    "valueCoding": {
                        "system": format_system(base_url=base_url),
                        "code": c,
                        "display": d,
                    }
                }
                for c, d in FORMAT_DISPLAY.items()
            ],
        }
    )
    section: dict[str, list[dict]] = {"preferences": preferences, "context": []}
    for link_id, (where, _field, text, kind) in _FIELDS.items():
        section[where].append({"linkId": link_id, "text": text, "type": kind})
    groups = [("needs", "Need in each domain", needs)]
    if barriers:
        barrier_items = [
            {
                "linkId": f"barrier.{t.key}",
                "code": [_theme_coding(snapshot, t, base_url)],
                "prefix": t.code,
                "text": f"{t.label} is present",
                "type": "boolean",
            }
            for t in barriers
        ]
        groups.append(("barriers", "Barriers to connectedness", barrier_items))
    groups.append(("preferences", "The person's preferences", section["preferences"]))
    groups.append(("context", "Context", section["context"]))
    status = STATUS[snapshot.status]
    resource = {
        "resourceType": "Questionnaire",
        "id": questionnaire_id(snapshot),
        "url": questionnaire_url(snapshot, base_url=base_url),
        "version": snapshot.version,
        "name": "".join(ch for ch in f"{snapshot.slug}{snapshot.version}" if ch.isalnum()).upper()
        + "Assessment",
        "title": f"{snapshot.title}: assessment",
        "status": status,
        "subjectType": ["Patient"],
        "description": (
            "Assessment of need in each domain, barriers present, preferences and context, "
            "used to suggest intervention components. Decision support for a clinician."
        ),
        "item": [
            {"linkId": link_id, "text": text, "type": "group", "item": items}
            for link_id, text, items in groups
        ],
    }
    Questionnaire.model_validate(resource)
    return resource


def assessment_to_questionnaire_response(
    snapshot: FrameworkSnapshot, assessment: Assessment, *, base_url: str
) -> dict[str, Any]:
    """A completed QuestionnaireResponse carrying this assessment (for clients and tests)."""
    form = build_questionnaire(snapshot, base_url=base_url)
    by_code = {t.code: t for t in snapshot.themes}
    values = _flat_values(assessment)
    barriers = {by_code[c].key for c in assessment.barriers if c in by_code}
    declined = {by_code[c].key for c in assessment.preferences.declined_domains if c in by_code}

    def answers(item: dict) -> list[dict]:
        link_id = item["linkId"]
        if link_id.startswith("need."):
            code = item["prefix"]
            level = assessment.needs.get(code, "none")
            return [o for o in item["answerOption"] if o["valueCoding"]["code"] == level]
        if link_id.startswith("barrier."):
            return [{"valueBoolean": link_id.removeprefix("barrier.") in barriers}]
        if link_id == DECLINED:
            return [o for o in item["answerOption"] if o["valueCoding"]["code"] in declined]
        if link_id == FORMAT:
            fmt = assessment.preferences.format
            return [o for o in item["answerOption"] if o["valueCoding"]["code"] == fmt]
        value = values[link_id]
        if value is None:
            return []
        return [{"valueInteger" if item["type"] == "integer" else "valueBoolean": value}]

    groups = []
    for group in form["item"]:
        items = []
        for item in group["item"]:
            given = answers(item)
            if given:
                items.append(
                    {
                        "linkId": item["linkId"],
                        "answer": [dict(a) for a in given],
                    }
                )
        if items:
            groups.append({"linkId": group["linkId"], "item": items})
    resource = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": form["url"],
        "status": "completed",
        "item": groups,
    }
    QuestionnaireResponse.model_validate(resource)
    return resource


def _flat_values(assessment: Assessment) -> dict[str, Any]:
    parts = {"preferences": assessment.preferences, "context": assessment.context}
    return {
        link_id: getattr(parts[where], field) for link_id, (where, field, _t, _k) in _FIELDS.items()
    }


def _walk(items: list[dict]) -> Iterator[dict]:
    for item in items:
        yield item
        yield from _walk(item.get("item") or [])
        for answer in item.get("answer") or []:
            yield from _walk(answer.get("item") or [])


def parse_questionnaire_response(
    snapshot: FrameworkSnapshot, resource: dict[str, Any], *, base_url: str | None = None
) -> Assessment:
    """Read a QuestionnaireResponse to our form back into an ``Assessment``.

    Without ``base_url`` any server's copy of our form is accepted (the canonical's path
    must match); with it the canonical must match exactly. Every problem names the
    ``linkId`` (or field) at fault.
    """
    if not isinstance(resource, dict) or resource.get("resourceType") != "QuestionnaireResponse":
        found = str(resource.get("resourceType")) if isinstance(resource, dict) else "none"
        raise AssessmentError(
            [problem(["resourceType"], found, "expected a QuestionnaireResponse", "wrong_resource")]
        )
    try:
        QuestionnaireResponse.model_validate(resource)
    except ValidationError as exc:
        raise AssessmentError(
            [
                problem(
                    [p if isinstance(p, int) else str(p) for p in e["loc"]],
                    ".".join(str(p) for p in e["loc"]),
                    e["msg"],
                    "invalid_fhir",
                )
                for e in exc.errors()
            ]
        ) from exc
    status = str(resource.get("status"))
    if status not in READABLE_STATUSES:
        msg = f"status {status!r} cannot be read; expected one of {', '.join(READABLE_STATUSES)}"
        raise AssessmentError([problem(["status"], status, msg, "invalid_status")])
    canonical = str(resource.get("questionnaire") or "").split("|", 1)[0]
    path = questionnaire_path(snapshot.slug, snapshot.version)
    base = canonical[: -len(path)] if canonical.endswith(path) else None
    if base is None or (base_url is not None and base != base_url.rstrip("/")):
        expected = path if base_url is None else questionnaire_url(snapshot, base_url=base_url)
        msg = f"the response answers {canonical or 'no questionnaire'}, not {expected}"
        raise AssessmentError([problem(["questionnaire"], canonical, msg, "foreign_questionnaire")])

    form = build_questionnaire(snapshot, base_url=base or "")
    expected_items = {i["linkId"]: i for g in form["item"] for i in g["item"]}
    group_ids = {g["linkId"] for g in form["item"]}
    given: dict[str, list[dict]] = {}
    problems: list[AssessmentProblem] = []
    for item in _walk(resource.get("item") or []):
        link_id = item.get("linkId", "")
        if link_id in given:
            problems.append(_bad(link_id, "answered more than once", "duplicate_item"))
        elif link_id not in expected_items and link_id not in group_ids:
            problems.append(_bad(link_id, "is not an item of this questionnaire", "unknown_item"))
        elif link_id in expected_items:
            given[link_id] = item.get("answer") or []

    values: dict[str, Any] = {}
    for link_id, spec in expected_items.items():
        answers = given.get(link_id, [])
        if not answers:
            if spec.get("required"):
                problems.append(_bad(link_id, "is required but not answered", "missing_answer"))
            continue
        if len(answers) > 1 and not spec.get("repeats"):
            problems.append(_bad(link_id, "allows one answer only", "invalid_answer"))
            continue
        read = [_read(spec, a) for a in answers]
        if any(r is _INVALID for r in read):
            problems.append(_bad(link_id, _expected(spec), "invalid_answer"))
            continue
        values[link_id] = read
    if problems:
        raise AssessmentError(problems)

    by_key = {t.key: t for t in snapshot.themes}
    fields: dict[str, dict[str, Any]] = {"preferences": {}, "context": {}}
    for link_id, (where, field, _t, _k) in _FIELDS.items():
        if link_id in values:
            fields[where][field] = values[link_id][0]
    if DECLINED in values:
        fields["preferences"]["declined_domains"] = [by_key[k].code for k in values[DECLINED]]
    if FORMAT in values:
        fields["preferences"]["format"] = values[FORMAT][0]
    return Assessment(
        framework=snapshot.slug,
        version=snapshot.version,
        needs={
            by_key[k.removeprefix("need.")].code: v[0]
            for k, v in values.items()
            if k.startswith("need.")
        },
        barriers=[
            by_key[k.removeprefix("barrier.")].code
            for k, v in values.items()
            if k.startswith("barrier.") and v[0]
        ],
        preferences=fields["preferences"],
        context=fields["context"],
    )


_INVALID = object()


def _bad(link_id: str, what: str, kind: str) -> AssessmentProblem:
    return problem(["item", link_id], link_id, f"item {link_id!r} {what}", kind)


def _expected(spec: dict) -> str:
    if spec["type"] == "choice":
        codes = ", ".join(o["valueCoding"]["code"] for o in spec["answerOption"])
        return f"expects a valueCoding with one of the codes: {codes}"
    if spec["type"] == "integer":
        return "expects a valueInteger of 0 or more"
    return "expects a valueBoolean"


def _read(spec: dict, answer: dict) -> Any:
    """The answer's value if it fits the item, else ``_INVALID``."""
    kind = spec["type"]
    if kind == "boolean":
        value = answer.get("valueBoolean")
        return value if isinstance(value, bool) else _INVALID
    if kind == "integer":
        value = answer.get("valueInteger")
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return value if ok else _INVALID
    coding = answer.get("valueCoding") or {}
    for option in spec["answerOption"]:
        allowed = option["valueCoding"]
        if coding.get("code") == allowed["code"] and coding.get("system") in (
            None,
            allowed["system"],
        ):
            return allowed["code"]
    return _INVALID
