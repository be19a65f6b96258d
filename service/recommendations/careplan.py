"""A plan as a draft FHIR R4 CarePlan proposal.

``CarePlan.addresses`` may only point at Condition resources, and a framework domain is
not a condition, so each activity names the domains it works on in
``detail.reasonCode``, coded in the framework's CodeSystem (by theme key). The disclaimer travels in
the description and the first note, so it cannot be lost when the resource is stored.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.careplan import CarePlan

from service.recommendations.schemas import Plan
from service.recommendations.terminology import component_system, theme_system

DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
_MODE_TEXT = {
    "one_to_one": "one-to-one",
    "group": "in a group",
    "digital": "online or by phone",
    "self_directed": "self-directed",
}


def plan_to_careplan(plan: Plan, *, subject_reference: str | None, base_url: str) -> dict[str, Any]:
    """The plan as a CarePlan (status draft, intent proposal), validated as FHIR R4 (R4B).

    Without a subject the CarePlan marks it as unknown (data-absent-reason), since FHIR
    requires one; the caller fills it in once the patient is known.
    """
    fw = plan.framework
    activities = []
    for pc in plan.components:
        modes = " or ".join(_MODE_TEXT.get(m, m) for m in pc.delivery)
        text = [pc.description]
        if modes:
            text.append(f"Delivered {modes}.")
        text.extend(t for t in (pc.duration_note, pc.delivery_note) if t)
        text.append(f"Why: {pc.why}")
        activities.append(
            {
                "detail": {
                    "kind": "ServiceRequest",
                    "code": {
                        "coding": [
                            {
                                "system": component_system(fw.slug, base_url=base_url),
                                "version": fw.version,
                                "code": pc.key,
                                "display": pc.name,
                            }
                        ],
                        "text": pc.name,
                    },
                    "reasonCode": [
                        {
                            "coding": [
                                {
                                    "system": theme_system(fw.slug, base_url=base_url),
                                    "version": fw.version,
                                    "code": d.key,
                                    "display": d.label,
                                }
                            ],
                            "text": f"{d.label} ({d.level} need)",
                        }
                        for d in pc.covers
                    ],
                    "status": "not-started",
                    "description": " ".join(text),
                }
            }
        )
    notes = [plan.disclaimer]
    notes += [
        f"{'Declined' if g.kind == 'declined' else 'Gap'} - {g.label} ({g.code}): {g.reason}"
        for g in plan.gaps
    ]
    notes += [f"Declined by the person: {d.label} ({d.code})." for d in plan.declined]
    notes += [f"Preference or barrier: {a}" for a in plan.adjustments]
    notes += [f"{b.label}: {' '.join(b.notes)}" for b in plan.barrier_notes]
    subject = (
        {"reference": subject_reference}
        if subject_reference
        else {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "unknown"}]}
    )
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "proposal",
        "category": [{"text": "Social connectedness"}],
        "title": f"Proposed connectedness plan: {fw.title}",
        "description": f"{plan.summary} {plan.disclaimer}",
        "subject": subject,
    }
    if activities:
        resource["activity"] = activities
    resource["note"] = [{"text": n} for n in notes]
    CarePlan.model_validate(resource)
    return resource
