"""/v1/recommendations: intervention components for one person's assessment.

Decision support for a clinician, not a diagnosis. Assessments are not stored; each
recommendation leaves an audit event without content (``service.record``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import RootModel
from sqlmodel import Session

from service.auth.deps import require_roles
from service.auth.models import Role
from service.auth.service import CurrentPrincipal
from service.coding.access import load_study_access
from service.db import SessionDep
from service.errors import NotFound, Unprocessable, problem_responses
from service.frameworks.domain import FrameworkSnapshot
from service.frameworks.models import Framework
from service.http.conditional import cached_response
from service.recommendations import evidence, terminology
from service.recommendations import service as recommendations_service
from service.recommendations.careplan import plan_to_careplan
from service.recommendations.engine import AssessmentError
from service.recommendations.questionnaire import build_questionnaire, parse_questionnaire_response
from service.recommendations.routing import HealthDataRoute
from service.recommendations.schemas import Assessment, Plan
from service.recommendations.service import CacheDep, Channel

router = APIRouter(prefix="/recommendations", tags=["recommendations"], route_class=HealthDataRoute)

FHIR_JSON = "application/fhir+json"
ROLES = (Role.clinician, Role.integrator, Role.researcher)  # and admin
CallerDep = Annotated[CurrentPrincipal, Depends(require_roles(*ROLES))]
NOT_MODIFIED = {304: {"description": "Not modified: your copy (If-None-Match) is current."}}

FormatQuery = Annotated[
    Literal["plan", "careplan"],
    Query(
        alias="format",
        description="`plan` (default): the explained Plan as JSON. `careplan`: the same "
        "plan as a FHIR R4 CarePlan proposal (status draft, intent proposal), sent as "
        "`application/fhir+json`. The format is chosen here, not by `Accept`, so that "
        "generated clients and caches see it in the URL.",
    ),
]
EvidenceQuery = Annotated[
    UUID | None,
    Query(
        description="A study you are a member of: each domain's explanation then counts "
        "the participants (per group) coded with it and its negative cases, over the "
        "segments you may see. Unknown studies and studies you are not in give 404."
    ),
]


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def _fhir_schema(resource_type: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"A FHIR R4 {resource_type} resource.",
        "properties": {"resourceType": {"type": "string", "enum": [resource_type]}},
        "required": ["resourceType"],
    }


PLAN_OR_CAREPLAN = {
    200: {
        "description": "The plan (`format=plan`) or a FHIR CarePlan (`format=careplan`).",
        "content": {FHIR_JSON: {"schema": _fhir_schema("CarePlan")}},
    }
}


def _base_url(request: Request) -> str:
    return request.app.state.settings.public_base_url


def _answer(
    *,
    request: Request,
    session: Session,
    principal: CurrentPrincipal,
    framework: Framework,
    snapshot: FrameworkSnapshot,
    plan: Plan,
    channel: Channel,
    output_format: str,
    evidence_study_id: UUID | None,
) -> Response:
    if evidence_study_id is not None:
        access = load_study_access(session=session, principal=principal, study_id=evidence_study_id)
        plan = evidence.add_evidence(session=session, access=access, snapshot=snapshot, plan=plan)
    if output_format == "careplan":
        careplan = plan_to_careplan(plan, subject_reference=None, base_url=_base_url(request))
        response: Response = FhirResponse(careplan)
    else:
        # Serialised once here: letting FastAPI validate the plan against `Plan` again
        # would double the cost of a request.
        response = Response(plan.model_dump_json(), media_type="application/json")
    # Last, so that on SQLite the write lock the audit row takes is held only until
    # the commit that follows.
    recommendations_service.record(
        session=session,
        principal=principal,
        framework=framework,
        plan=plan,
        channel=channel,
        output="careplan" if output_format == "careplan" else "plan",
        evidence_study_id=evidence_study_id,
    )
    return response


@router.post(
    "",
    response_model=Plan,
    operation_id="recommendations-create",
    summary="Recommend intervention components for an assessment",
    responses={**PLAN_OR_CAREPLAN, **problem_responses(403, 404, 422)},
)
def create(
    assessment: Assessment,
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    principal: CallerDep,
    output_format: FormatQuery = "plan",
    evidence_study_id: EvidenceQuery = None,
) -> Response:
    """**Decision support for a clinician, not a diagnosis.** Suggests the smallest set
    of intervention components that together cover every domain in which the
    assessment shows a need, and explains each choice.

    The assessment names a published framework version (`framework`, `version`) and
    rates need per domain (theme code → `none`/`low`/`moderate`/`high`, or 0-4).
    Every domain in need is either covered by a component or listed under `gaps` with
    its reason: `kind` `no_component` (nothing available fits) or `declined` (the
    person does not want it worked on, and the plan says what that removed); barriers such
    as Stigma change how help is offered (peer and shared-experience settings) rather
    than counting as needs. The framework version used is in `framework`.

    The assessment is not stored: an audit event records who asked, when and for which
    framework version, with counts only. The same assessment always gives the same
    bytes. Errors: an unknown framework version, a draft or retired one, an unknown
    theme code, a barrier given as a need (or the reverse) and unknown fields are 422
    with each problem in `errors[].loc`."""
    framework = recommendations_service.framework_for_assessment(
        session=session,
        slug=assessment.framework,
        version=assessment.version,
        slug_loc=["body", "framework"],
        version_loc=["body", "version"],
    )
    snapshot = recommendations_service.snapshot(session=session, cache=cache, framework=framework)
    plan = recommendations_service.recommend(snapshot=snapshot, assessment=assessment)
    return _answer(
        request=request,
        session=session,
        principal=principal,
        framework=framework,
        snapshot=snapshot,
        plan=plan,
        channel="json",
        output_format=output_format,
        evidence_study_id=evidence_study_id,
    )


QR_BODY = {
    "requestBody": {
        "required": True,
        "description": "A FHIR R4 QuestionnaireResponse to the assessment Questionnaire "
        "(GET /v1/recommendations/questionnaires/{slug}/{version}).",
        "content": {
            FHIR_JSON: {"schema": _fhir_schema("QuestionnaireResponse")},
            "application/json": {"schema": _fhir_schema("QuestionnaireResponse")},
        },
    }
}


def _questionnaire_ref(
    resource: dict[str, Any], base_url: str, slug: str | None, version: str | None
) -> tuple[str, str]:
    if resource.get("resourceType") != "QuestionnaireResponse":
        found = resource.get("resourceType")
        raise Unprocessable(
            "The body is not a QuestionnaireResponse.",
            errors=[
                {
                    "loc": ["body", "resourceType"],
                    "msg": f"expected a QuestionnaireResponse, not {found!r}",
                    "type": "wrong_resource",
                }
            ],
        )
    if slug and version:
        return slug, version
    if slug or version:
        raise Unprocessable(
            "Give both `framework` and `version`, or neither.",
            errors=[
                {
                    "loc": ["query", "version" if slug else "framework"],
                    "msg": "framework and version go together",
                    "type": "missing",
                }
            ],
        )
    canonical = str(resource.get("questionnaire") or "").split("|", 1)[0]
    prefix = base_url.rstrip("/") + terminology.BASE_PATH + "/questionnaires/"
    parts = canonical.removeprefix(prefix).split("/") if canonical.startswith(prefix) else []
    if len(parts) != 2 or not all(parts):
        expected = prefix + "{framework}/{version}"
        raise Unprocessable(
            "The response does not answer an assessment Questionnaire of this service.",
            errors=[
                {
                    "loc": ["body", "questionnaire"],
                    "msg": f"the response answers {canonical or 'no questionnaire'}, "
                    f"not {expected}",
                    "type": "foreign_questionnaire",
                }
            ],
        )
    return parts[0], parts[1]


@router.post(
    "/questionnaire-response",
    response_model=Plan,
    operation_id="recommendations-create-from-questionnaire-response",
    summary="Recommend intervention components for a FHIR QuestionnaireResponse",
    responses={**PLAN_OR_CAREPLAN, **problem_responses(403, 404, 415, 422)},
    openapi_extra=QR_BODY,
)
def create_from_questionnaire_response(
    resource: Annotated[dict[str, Any], Body()],
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    principal: CallerDep,
    framework: Annotated[
        str | None,
        Query(description="Framework slug; by default read from `questionnaire`."),
    ] = None,
    version: Annotated[
        str | None, Query(description="Framework version, with `framework`.")
    ] = None,
    output_format: FormatQuery = "plan",
    evidence_study_id: EvidenceQuery = None,
) -> Response:
    """**Decision support for a clinician, not a diagnosis.** The same as
    `POST /v1/recommendations`, for an assessment captured with the service's FHIR
    Questionnaire: send the QuestionnaireResponse as `application/fhir+json` (or
    `application/json`).

    The framework version comes from the response's `questionnaire` canonical (the
    `url` of the served Questionnaire), or from `framework` and `version`. Only
    `in-progress`, `completed` and `amended` responses are read. A response to another
    questionnaire, an unanswered required item, an answer outside the item's options or
    an unknown item is 422, with the item's `linkId` in `errors[].loc`."""
    base_url = _base_url(request)
    slug, version = _questionnaire_ref(resource, base_url, framework, version)
    found = recommendations_service.framework_for_assessment(
        session=session,
        slug=slug,
        version=version,
        slug_loc=["query", "framework"] if framework else ["body", "questionnaire"],
        version_loc=["query", "version"] if framework else ["body", "questionnaire"],
    )
    snapshot = recommendations_service.snapshot(session=session, cache=cache, framework=found)
    try:
        assessment = parse_questionnaire_response(snapshot, resource, base_url=base_url)
    except AssessmentError as exc:
        raise recommendations_service.unprocessable(
            exc.problems,
            prefix=["body"],
            detail="The QuestionnaireResponse cannot be read as an assessment; see `errors`.",
        ) from exc
    plan = recommendations_service.recommend(snapshot=snapshot, assessment=assessment)
    return _answer(
        request=request,
        session=session,
        principal=principal,
        framework=found,
        snapshot=snapshot,
        plan=plan,
        channel="questionnaire",
        output_format=output_format,
        evidence_study_id=evidence_study_id,
    )


def _fhir_cached(request: Request, resource: dict[str, Any]) -> Response:
    response = cached_response(request, RootModel[dict[str, Any]](resource))
    if response.status_code == 200:
        response.headers["content-type"] = FHIR_JSON
    return response


@router.get(
    "/questionnaires/{slug}/{version}",
    response_class=Response,
    operation_id="recommendations-questionnaire",
    summary="The assessment form of a framework version, as a FHIR Questionnaire",
    responses={
        200: {
            "description": "A FHIR R4 Questionnaire.",
            "content": {FHIR_JSON: {"schema": _fhir_schema("Questionnaire")}},
        },
        **NOT_MODIFIED,
        **problem_responses(403, 404),
    },
)
def questionnaire(
    slug: str, version: str, request: Request, session: SessionDep, cache: CacheDep, _: CallerDep
) -> Response:
    """The FHIR R4 Questionnaire an EHR or app fills in to ask for a recommendation:
    one required item per domain (need level), a yes/no item per barrier, and optional
    preferences and context. Its `url` is this address and is the canonical that
    QuestionnaireResponses must name. Link ids are stable for a version. Sent as
    `application/fhir+json` with an `ETag` (send `If-None-Match` to revalidate)."""
    framework = recommendations_service.framework_at_path(
        session=session, slug=slug, version=version
    )
    base_url = _base_url(request)

    def build() -> dict[str, Any]:
        snapshot = recommendations_service.snapshot(
            session=session, cache=cache, framework=framework
        )
        return build_questionnaire(snapshot, base_url=base_url)

    resource = recommendations_service.cached(cache, framework, "questionnaire", build, base_url)
    return _fhir_cached(request, resource)


@router.get(
    "/code-systems/{name}",
    response_class=Response,
    operation_id="recommendations-code-system",
    summary="A code system used by the Questionnaire and CarePlan",
    responses={
        200: {
            "description": "A FHIR R4 CodeSystem.",
            "content": {FHIR_JSON: {"schema": _fhir_schema("CodeSystem")}},
        },
        **NOT_MODIFIED,
        **problem_responses(403, 404),
    },
)
def code_system(
    name: str,
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    _: CallerDep,
    version: Annotated[
        str | None,
        Query(
            description="For `{framework}-components`: the framework version (by default "
            "the latest published one)."
        ),
    ] = None,
) -> Response:
    """The code systems that the assessment Questionnaire and the CarePlan proposal
    name under this service's address: `need-level` (none, low, moderate, high),
    `delivery-format` (the person's preferred format) and `{framework}-components`
    (the intervention components of a framework version, coded by key). Theme codings
    use the framework's own CodeSystem (see the frameworks API)."""
    base_url = _base_url(request)
    if name == terminology.NEED_LEVEL:
        return _fhir_cached(request, terminology.need_level_code_system(base_url=base_url))
    if name == terminology.DELIVERY_FORMAT:
        return _fhir_cached(request, terminology.delivery_format_code_system(base_url=base_url))
    slug = name.removesuffix(terminology.COMPONENTS_SUFFIX)
    if slug == name or not slug:
        raise NotFound(f"No code system {name!r}.")
    framework = (
        recommendations_service.framework_at_path(session=session, slug=slug, version=version)
        if version
        else recommendations_service.latest_published(session=session, slug=slug)
    )

    def build() -> dict[str, Any]:
        snapshot = recommendations_service.snapshot(
            session=session, cache=cache, framework=framework
        )
        return terminology.components_code_system(snapshot, base_url=base_url)

    resource = recommendations_service.cached(cache, framework, "components", build, base_url)
    return _fhir_cached(request, resource)
