"""CDS Hooks (https://cds-hooks.hl7.org): discovery and one patient-view service per
published framework version, mounted at the application root as the specification asks.

Authentication: the specification lets a CDS client send a JWT as a bearer token; this
service takes its API key in the same header (`Authorization: Bearer <key>`) on both
discovery and the service call. Configure the EHR's CDS client with a key of role
`integrator`.

Prefetch: this service never queries the EHR's FHIR server. A request without the
``assessment`` prefetch key, or whose prefetch failed (an OperationOutcome), therefore
gets 412 Precondition Failed, as the specification requires of a service that cannot
obtain the data. A key whose value is null (the EHR has no such data) or an empty
search Bundle means the patient has no assessment: 200 with no cards.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlmodel import Session

from service.auth.deps import require_roles
from service.auth.service import CurrentPrincipal
from service.db import SessionDep
from service.errors import NotFound, PreconditionFailed, Problem, Unprocessable, problem_responses
from service.frameworks.domain import FrameworkSnapshot, FrameworkStatus
from service.frameworks.models import Framework
from service.recommendations import cds
from service.recommendations import service as recommendations_service
from service.recommendations.careplan import plan_to_careplan
from service.recommendations.engine import AssessmentError
from service.recommendations.questionnaire import parse_questionnaire_response
from service.recommendations.router import ROLES
from service.recommendations.routing import HealthDataRoute
from service.recommendations.service import CacheDep, ResourceCache

router = APIRouter(prefix="/cds-services", tags=["cds-hooks"], route_class=HealthDataRoute)
CallerDep = Annotated[CurrentPrincipal, Depends(require_roles(*ROLES))]
SOURCE_LABEL = "CIVIC service"
PREFETCH_KEY = "assessment"
FHIR_ID = r"^[A-Za-z0-9\-.]{1,64}$"


class PatientViewContext(BaseModel):
    model_config = ConfigDict(extra="ignore")  # EHRs may add context fields

    userId: str | None = Field(None, description="Who opened the chart, e.g. Practitioner/1.")
    patientId: str = Field(pattern=FHIR_ID, description="The FHIR id of the patient.")
    encounterId: str | None = None


class CdsRequest(BaseModel):
    """A CDS Hooks request (1.0 and 2.0 fields). Fields this service does not use are
    ignored rather than refused: EHRs add extensions and fields of other spec versions."""

    model_config = ConfigDict(extra="ignore")

    hook: str = Field(description="Must be `patient-view`.")
    hookInstance: str = Field(min_length=1, max_length=200)
    fhirServer: str | None = Field(None, description="Not used: the service never queries it.")
    fhirAuthorization: dict[str, Any] | None = Field(None, description="Not used.")
    context: PatientViewContext
    prefetch: dict[str, Any] | None = Field(
        None,
        description="`assessment`: the patient's latest QuestionnaireResponse to the "
        "assessment form, or a search Bundle of them (the first is read).",
    )
    extension: dict[str, Any] | None = None


class Services(BaseModel):
    services: list[dict[str, Any]]


class Cards(BaseModel):
    cards: list[dict[str, Any]]


def _published(session: Session) -> list[Framework]:
    return list(
        session.scalars(select(Framework).where(Framework.status == FrameworkStatus.published))
    )


@router.get(
    "",
    response_model=Services,
    operation_id="cds-hooks-discovery",
    summary="CDS Hooks discovery",
    responses=problem_responses(403),
)
def discovery(request: Request, session: SessionDep, cache: CacheDep, _: CallerDep) -> JSONResponse:
    """The CDS services on offer: one `patient-view` service per published framework
    version, each prefetching the patient's latest completed assessment
    (a QuestionnaireResponse to the version's assessment Questionnaire). Needs an API
    key (`Authorization: Bearer <key>`), as does every call."""
    snapshots = [
        recommendations_service.snapshot(session=session, cache=cache, framework=f)
        for f in _published(session)
    ]
    base_url = request.app.state.settings.public_base_url
    return JSONResponse(cds.discovery(snapshots, base_url=base_url))


def _bad(loc: list[str | int], msg: str, kind: str) -> Unprocessable:
    detail = msg[0].upper() + msg[1:] + "."
    return Unprocessable(detail, errors=[{"loc": loc, "msg": msg, "type": kind}])


def _service(
    *, session: Session, cache: ResourceCache, service_id: str
) -> tuple[Framework, FrameworkSnapshot]:
    for framework in _published(session):
        snapshot = recommendations_service.snapshot(
            session=session, cache=cache, framework=framework
        )
        if cds.service_id(snapshot) == service_id:
            return framework, snapshot
    raise NotFound(f"No CDS service {service_id!r}; see GET /cds-services.")


def _prefetched_response(prefetch: dict[str, Any] | None) -> dict[str, Any] | None:
    """The QuestionnaireResponse to read, None when the patient has none, or 412."""
    if not prefetch or PREFETCH_KEY not in prefetch:
        raise PreconditionFailed(
            f"No `{PREFETCH_KEY}` prefetch: this service cannot query the FHIR server, so "
            "the EHR must prefetch the patient's assessment as advertised in discovery."
        )
    value = prefetch[PREFETCH_KEY]
    if value is None:
        return None
    loc: list[str | int] = ["body", "prefetch", PREFETCH_KEY]
    if not isinstance(value, dict):
        raise _bad(loc, "the prefetched assessment must be a FHIR resource", "wrong_resource")
    kind = value.get("resourceType")
    if kind == "OperationOutcome":
        raise PreconditionFailed(
            f"The EHR could not prefetch `{PREFETCH_KEY}` (it sent an OperationOutcome), and "
            "this service cannot query the FHIR server itself."
        )
    if kind == "QuestionnaireResponse":
        return value
    if kind == "Bundle":
        for i, entry in enumerate(value.get("entry") or []):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict):
                if resource.get("resourceType") == "QuestionnaireResponse":
                    return resource
                if resource.get("resourceType") != "OperationOutcome":
                    raise _bad(
                        [*loc, "entry", i, "resource"],
                        "the Bundle may only hold QuestionnaireResponses",
                        "wrong_resource",
                    )
        return None
    raise _bad(
        [*loc, "resourceType"],
        f"expected a QuestionnaireResponse or a Bundle of them, not {kind!r}",
        "wrong_resource",
    )


@router.post(
    "/{service_id}",
    response_model=Cards,
    operation_id="cds-hooks-patient-view",
    summary="CDS Hooks patient-view: a connectedness plan card",
    responses={
        **problem_responses(403, 404, 415, 422),
        412: {
            "model": Problem,
            "description": "The `assessment` prefetch is missing or failed: this service "
            "cannot query the FHIR server itself.",
        },
    },
)
def patient_view(
    service_id: Annotated[str, Path(description="From discovery, e.g. `civic-2-connectedness`.")],
    body: CdsRequest,
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    principal: CallerDep,
) -> JSONResponse:
    """**Decision support for a clinician, not a diagnosis.** Reads the prefetched
    QuestionnaireResponse and answers with one card: the plan's summary and
    explanation, and a suggestion that creates the draft CarePlan proposal for
    `Patient/{context.patientId}`. Optional card fields are left out, never null.

    No `assessment` prefetch key, or an OperationOutcome in its place → 412 (the
    service cannot fetch it). A null value or an empty Bundle (no assessment on file) →
    200 with `{"cards": []}`. An unreadable response → 422 naming its `linkId`.
    Nothing of the assessment is stored; an audit event records the call with counts."""
    framework, snapshot = _service(session=session, cache=cache, service_id=service_id)
    if body.hook != cds.HOOK:
        raise _bad(
            ["body", "hook"], f"this service answers {cds.HOOK}, not {body.hook}", "wrong_hook"
        )
    resource = _prefetched_response(body.prefetch)
    if resource is None:
        return JSONResponse({"cards": []})
    base_url = request.app.state.settings.public_base_url
    try:
        assessment = parse_questionnaire_response(snapshot, resource, base_url=base_url)
    except AssessmentError as exc:
        raise recommendations_service.unprocessable(
            exc.problems,
            prefix=["body", "prefetch", PREFETCH_KEY],
            detail="The prefetched QuestionnaireResponse cannot be read; see `errors`.",
        ) from exc
    plan = recommendations_service.recommend(snapshot=snapshot, assessment=assessment)
    careplan = plan_to_careplan(
        plan, subject_reference=f"Patient/{body.context.patientId}", base_url=base_url
    )
    response = JSONResponse(cds.cards_for(plan, careplan=careplan, source_label=SOURCE_LABEL))
    recommendations_service.record(
        session=session,
        principal=principal,
        framework=framework,
        plan=plan,
        channel="cds",
        output="cds_cards",
        hook_instance=body.hookInstance,
    )
    return response
