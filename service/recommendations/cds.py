"""CDS Hooks (1.0 and 2.0) views of the recommendation engine.

One ``patient-view`` service per published framework version. The EHR prefetches the
patient's latest QuestionnaireResponse to our assessment form; the service answers
with one card whose suggestion creates the draft CarePlan.

CDS Hooks clients treat an optional field that is present as meaningful, so optional
fields are left out rather than sent as null, "" or []. Card and suggestion uuids are
uuid5 digests of their content, so the same plan always gives byte-identical cards.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from typing import Any

from service.frameworks.domain import FrameworkSnapshot, FrameworkStatus
from service.recommendations.questionnaire import questionnaire_url
from service.recommendations.schemas import Plan

HOOK = "patient-view"
SUMMARY_MAX = 139  # the specification asks for fewer than 140 characters
# Fixed namespace for the uuid5 of cards; changing it changes every card uuid.
CARD_NAMESPACE = uuid.UUID("5b0d3c9e-6f57-4c1e-9a62-3c1f7e0d2a41")


def service_id(snapshot: FrameworkSnapshot) -> str:
    """E.g. ``civic-2-connectedness``."""
    raw = f"{snapshot.slug}-{snapshot.version}-connectedness".lower()
    return re.sub(r"[^a-z0-9.-]+", "-", raw)


def _version_key(snapshot: FrameworkSnapshot) -> tuple:
    parts = re.split(r"[.-]", snapshot.version)
    return (snapshot.slug, [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts])


def discovery(services: Iterable[FrameworkSnapshot], *, base_url: str) -> dict[str, Any]:
    """Body of ``GET /cds-services``: one service per published framework version."""
    out = []
    for snapshot in sorted(services, key=_version_key):
        if snapshot.status != FrameworkStatus.published:
            continue
        canonical = questionnaire_url(snapshot, base_url=base_url)
        out.append(
            {
                "hook": HOOK,
                "title": f"{snapshot.title}: connectedness plan",
                "description": (
                    f"Suggests intervention components that together cover every domain of "
                    f"{snapshot.title} in which the patient's latest assessment shows a need, "
                    "respecting their preferences and any barriers. Decision support only."
                ),
                "id": service_id(snapshot),
                "prefetch": {
                    "assessment": (
                        "QuestionnaireResponse?subject=Patient/{{context.patientId}}"
                        f"&questionnaire={canonical}&status=completed,amended"
                        "&_sort=-authored&_count=1"
                    )
                },
            }
        )
    return {"services": out}


def _digest(kind: str, content: Any) -> str:
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return str(uuid.uuid5(CARD_NAMESPACE, f"{kind}:{text}"))


def _clip(text: str) -> str:
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1].rstrip() + "…"


def _unavailable(plan: Plan) -> list:
    """Gaps for want of a component (declined domains are listed on their own)."""
    return [g for g in plan.gaps if g.kind == "no_component"]


def _summary(plan: Plan) -> str:
    if not plan.domains:
        return _clip("Connectedness: no need assessed in any domain")
    n = len(plan.components)
    text = f"Connectedness plan: {n} component{'s' if n != 1 else ''} proposed"
    if missing := _unavailable(plan):
        text += f", {len(missing)} domain(s) without a component"
    if plan.declined:
        text += f", {len(plan.declined)} declined"
    if plan.barrier_notes:
        text += "; " + ", ".join(b.label for b in plan.barrier_notes) + " present"
    return _clip(text)


def _detail(plan: Plan) -> str:
    lines = [plan.summary, ""]
    if plan.components:
        lines.append("**Proposed components**")
        for pc in plan.components:
            covers = ", ".join(f"{d.label} ({d.level})" for d in pc.covers)
            extra = " ".join(t for t in (pc.duration_note, pc.delivery_note) if t)
            lines.append(f"- **{pc.name}**: {covers}." + (f" {extra}" if extra else ""))
        lines.append("")
    if missing := _unavailable(plan):
        lines.append("**Domains in need without an available component**")
        lines += [f"- {g.label} ({g.level}): {g.reason}" for g in missing]
        lines.append("")
    if plan.declined:
        lines.append("**Declined by the person**")
        lines += [f"- {d.label}" for d in plan.declined]
        lines.append("")
    for note in plan.barrier_notes:
        lines.append(f"**Barrier: {note.label}**")
        lines += [f"- {n}" for n in note.notes]
        lines.append("")
    if plan.adjustments:
        lines.append("**Preferences and barriers applied**")
        lines += [f"- {a}" for a in plan.adjustments]
        lines.append("")
    lines.append(f"_{plan.disclaimer}_")
    return "\n".join(lines)


def cards_for(
    plan: Plan, *, careplan: dict[str, Any], source_label: str, source_url: str | None = None
) -> dict[str, Any]:
    """CDS Hooks response with one card; its suggestion creates ``careplan``."""
    source: dict[str, Any] = {"label": source_label}
    if source_url:
        source["url"] = source_url
    card: dict[str, Any] = {
        "uuid": _digest("card", {"plan": plan.model_dump(mode="json"), "careplan": careplan}),
        "summary": _summary(plan),
        "indicator": "warning" if _unavailable(plan) or plan.barrier_notes else "info",
        "source": source,
        "detail": _detail(plan),
    }
    if plan.components:
        card["suggestions"] = [
            {
                "label": "Create the proposed care plan as a draft",
                "uuid": _digest("suggestion", careplan),
                "actions": [
                    {
                        "type": "create",
                        "description": "Add a draft CarePlan proposing these components.",
                        "resource": careplan,
                    }
                ],
            }
        ]
        card["selectionBehavior"] = "at-most-one"
    return {"cards": [card]}
