"""Inter-coder agreement: a study's figures, its disagreements, consensus decisions,
saved reports, and statistics on data sent by the client."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from service.agreement import adjudication as adjudication_service
from service.agreement import disagreements as disagreements_service
from service.agreement import reports as reports_service
from service.agreement import service as agreement_service
from service.agreement.dataset import invalid
from service.agreement.export import cells_csv
from service.agreement.models import Adjudication
from service.agreement.schemas import (
    AdjudicationCreate,
    AdjudicationPublic,
    Aggregation,
    AgreementComputeRequest,
    AgreementComputeResult,
    AgreementReportCreate,
    AgreementRequest,
    AgreementResult,
    DisagreementPublic,
    NoVariation,
    ReportPublic,
    ReportSummary,
    ReportVerification,
    Statistic,
    Unit,
)
from service.agreement.stats import MAX_BOOTSTRAP_RESAMPLES
from service.auth.deps import PrincipalDep
from service.coding.access import StudyReader, StudyWriter
from service.db import SessionDep
from service.errors import problem_responses
from service.http.conditional import cached_response
from service.http.pagination import Page, PageDep
from service.http.routing import CivicRoute

router = APIRouter(tags=["agreement"], route_class=CivicRoute)
STUDY = "/studies/{study_id}"
NOT_MODIFIED = {304: {"description": "Not modified (`If-None-Match`)."}}
CSV_RESPONSE = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}

CODER_HELP = (
    "A coder id, repeated for each coder compared (at least two). A group is several "
    "ids joined by `+` (`coder=a+b`; an unescaped `+` arrives as a space, also accepted): "
    "text counts as coded by the group when any member coded it."
)


def _coder_columns(values: list[str]) -> list[UUID | list[UUID]]:
    columns: list[UUID | list[UUID]] = []
    for i, value in enumerate(values):
        members = [m for m in value.replace("+", " ").replace(",", " ").split() if m]
        try:
            ids = [UUID(m) for m in members]
        except ValueError:
            msg = f"{value!r} is not a coder id or a group of ids"
            raise invalid(["query", "coder", i], msg) from None
        columns.append(ids[0] if len(ids) == 1 else ids)
    return columns


async def selection_query(
    coder: Annotated[list[str], Query(description=CODER_HELP)],
    document: Annotated[
        list[UUID] | None,
        Query(
            description="Documents to compare (repeat). Default: every document coded "
            "by at least two of the coders."
        ),
    ] = None,
    theme: Annotated[
        list[str] | None,
        Query(
            description="Theme ids or codes such as `1.2` (repeat). Default: every theme "
            "of the framework version (with `include_subthemes`, the superordinate ones)."
        ),
    ] = None,
    pass_: Annotated[
        list[UUID] | None,
        Query(alias="pass", description="Only segments in these coding passes (repeat)."),
    ] = None,
    include_subthemes: Annotated[
        bool, Query(description="Count coding of a subordinate theme for its parent theme.")
    ] = False,
) -> dict[str, Any]:
    return {
        "coders": _coder_columns(coder),
        "documents": document,
        "themes": theme,
        "passes": pass_,
        "include_subthemes": include_subthemes,
    }


SelectionDep = Annotated[dict[str, Any], Depends(selection_query)]


async def agreement_query(
    selection: SelectionDep,
    unit: Annotated[Unit | None, Query(description="Default: the study's default unit.")] = None,
    statistic: Annotated[
        list[Statistic] | None,
        Query(
            description="Statistics to compute (repeat). Default: `cohen_kappa` and "
            "`percent_agreement` for two coders (`brennan_prediger` instead of kappa for "
            "the segment unit); `krippendorff_alpha`, `fleiss_kappa` and "
            "`percent_agreement` for more."
        ),
    ] = None,
    min_share: Annotated[
        float | None,
        Query(
            ge=0,
            le=100,
            description="word/sentence/paragraph: % of a unit's characters "
            "a coder must code for it to count as coded (default 0: any).",
        ),
    ] = None,
    min_overlap: Annotated[
        float | None,
        Query(
            gt=0, le=100, description="segment: % overlap at which two segments agree (default 90)."
        ),
    ] = None,
    aggregation: Annotated[
        Aggregation, Query(description="The overall figure the threshold verdict uses.")
    ] = "pooled",
    no_variation: Annotated[
        NoVariation, Query(description="`null` or `one` for coefficients without variation.")
    ] = "null",
    confidence: Annotated[float, Query(gt=0, lt=1)] = 0.95,
    bootstrap_resamples: Annotated[
        int | None, Query(ge=1, le=MAX_BOOTSTRAP_RESAMPLES, description="Bootstrap intervals.")
    ] = None,
    seed: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    cells: Annotated[bool, Query(description="Include the per-cell table.")] = True,
) -> AgreementRequest:
    return AgreementRequest(
        **selection,
        unit=unit,
        statistics=statistic,
        min_share=min_share,
        min_overlap=min_overlap,
        aggregation=aggregation,
        no_variation=no_variation,
        confidence=confidence,
        bootstrap_resamples=bootstrap_resamples,
        seed=seed,
        cells=cells,
    )


def _wants_csv(request: Request, format: str | None) -> bool:
    if format is not None:
        return format == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


def _json(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    # Serialised directly: a large study has tens of thousands of cells, and the
    # figures never hold NaN (allow_nan=False makes sure).
    body = json.dumps(
        content, allow_nan=False, check_circular=False, separators=(",", ":")
    ).encode()
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")


AGREEMENT_DESCRIPTION = """\
Inter-coder agreement of two or more coders (or coder groups) over the study's coded
segments, for every theme x document cell, every theme, and overall.

**Units.** `character` (every character, coded or not, as NVivo's coding comparison),
`coded_only` (characters at least one coder coded), `word`, `sentence`, `paragraph`
(a unit counts as coded when at least `min_share` % of it is), `segment` (MAXQDA:
segments agree when they overlap by `min_overlap` %; two coders only; there is no
"neither" cell, so Cohen's kappa is not meaningful and Brennan-Prediger is the default),
`document` (coded anywhere in the document or not).

**Aggregations**, each named in the response: a cell's own figure; `pooled` (the
statistic of the tables summed over documents, per theme, and over every theme and
document, overall); `cell_mean`; `cell_weighted_mean` (cells weighted by their units);
`theme_mean` (overall: the mean of the themes' pooled figures). The threshold verdict
compares the chosen aggregation (default `pooled`) of the first chance-corrected
statistic asked for against the study's `agreement_threshold`, and passes when
`value > threshold`; themes that do not are listed.

**Undefined figures.** A cell without variation (e.g. nobody coded the theme in the
document, so both coders "agree" on every character) has no chance-corrected
coefficient: its value is `null` with `reason: "no_variation"` (or 1.0 marked
`convention: "no_variation_as_one"` with `no_variation=one`). A cell without units has
`reason: "no_units"`. Values are never NaN. Means leave undefined values out and count
them in `n_undefined`.

**Reproducibility.** `parameters` lists exactly what was compared (defaults filled in),
with the framework version. `data_hash` is the SHA-256 of the data used: the prefix
`civic-agreement-data/1\\n`; then for each document, sorted by id, its id (16 bytes) and
`content_hash` (64 ASCII bytes); then for each segment used, sorted by id, its id,
document, theme and coder ids (16 bytes each) and start and end (8-byte big-endian).

**Blind coding.** While the study, or a pass whose segments would count, is blind and
not revealed, only owners may see agreement (others get 403).

Send `format=csv` (or `Accept: text/csv`) for the per-cell table as CSV.
"""


@router.get(
    f"{STUDY}/agreement",
    response_model=AgreementResult,
    operation_id="agreement-study",
    summary="Inter-coder agreement of a study",
    description=AGREEMENT_DESCRIPTION,
    responses={**problem_responses(403, 404, 422), **CSV_RESPONSE},
)
def study_agreement(
    request: Request,
    session: SessionDep,
    access: StudyReader,
    parameters: Annotated[AgreementRequest, Depends(agreement_query)],
    format: Annotated[
        Literal["json", "csv"] | None, Query(description="`csv`: the per-cell table as CSV.")
    ] = None,
) -> Response:
    as_csv = _wants_csv(request, format)
    if as_csv:
        parameters = parameters.model_copy(update={"cells": True})
    result = agreement_service.compute(session=session, access=access, request=parameters)
    if as_csv:
        return Response(
            cells_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"X-Data-Hash": result["data_hash"]},
        )
    return _json(result)


@router.get(
    f"{STUDY}/disagreements",
    response_model=Page[DisagreementPublic],
    operation_id="agreement-disagreements",
    summary="Where the coders disagree",
    responses=problem_responses(400, 403, 404, 422),
)
def list_disagreements(
    session: SessionDep,
    access: StudyReader,
    selection: SelectionDep,
    page: PageDep,
    min_length: Annotated[
        int, Query(ge=1, description="Leave out spans shorter than this (boundary jitter).")
    ] = 1,
) -> Response:
    """Spans where some of the compared coders coded a theme and others did not, with
    the quoted text, who coded it and the segments that did, ordered for a
    reconciliation meeting: by document interview order, then offset, then theme
    (codebook order). Text every coder coded, or nobody coded, is agreement and is not
    listed. Same selection parameters and blind-coding rule as the agreement route."""
    request = AgreementRequest(**selection)
    items, next_cursor = disagreements_service.list_disagreements(
        session=session, access=access, request=request, page=page, min_length=min_length
    )
    return _json({"items": items, "next_cursor": next_cursor, "limit": page.limit})


def _adjudication(row: Adjudication) -> AdjudicationPublic:
    return AdjudicationPublic.model_validate(row, from_attributes=True)


@router.post(
    f"{STUDY}/adjudications",
    status_code=status.HTTP_201_CREATED,
    response_model=AdjudicationPublic,
    operation_id="agreement-adjudicate",
    summary="Record a consensus decision",
    responses=problem_responses(403, 404, 409, 422),
)
def adjudicate(
    body: AdjudicationCreate, session: SessionDep, access: StudyWriter
) -> AdjudicationPublic:
    """Settle a disagreement: `apply` (the theme holds on the span) writes a segment in
    the consensus pass, coded by the study's consensus coder; `reject` records the
    decision only. The consensus pass is the one named by `pass_id`, else the study's
    only consensus pass, created (named `Consensus`, not blind) on first use. The
    reconciled dataset is that pass's segments.

    Owners and coders decide (viewers get 403); while blind coding is not revealed, only
    owners. A span is decided once per theme and pass: a decision overlapping an earlier
    one is 409."""
    row = adjudication_service.create(session=session, access=access, body=body)
    return _adjudication(row)


@router.get(
    f"{STUDY}/adjudications",
    response_model=Page[AdjudicationPublic],
    operation_id="agreement-adjudications-list",
    summary="List consensus decisions",
    responses=problem_responses(400, 403, 404, 422),
)
def list_adjudications(
    session: SessionDep,
    access: StudyReader,
    page: PageDep,
    document: Annotated[UUID | None, Query(description="Only this document's.")] = None,
    theme: Annotated[UUID | None, Query(description="Only this theme's.")] = None,
) -> Page[AdjudicationPublic]:
    """The study's decisions, oldest first (owners only while blind coding is hidden)."""
    rows, next_cursor = adjudication_service.list_adjudications(
        session=session, access=access, page=page, document_id=document, theme_id=theme
    )
    items = [_adjudication(row) for row in rows]
    return Page(items=items, next_cursor=next_cursor, limit=page.limit)


@router.post(
    "/agreement",
    response_model=AgreementComputeResult,
    operation_id="agreement-compute",
    summary="Agreement statistics on data you send",
    responses=problem_responses(413, 415, 422),
)
def compute(body: AgreementComputeRequest, _: PrincipalDep) -> AgreementComputeResult:
    """Any statistic on a two-coder confusion `table` or a units x coders `ratings`
    matrix (null for a missing code; `weights` repeat rows), with interpretation bands.
    Nothing is stored. Weighted statistics need `weighting` and the ordered
    `categories`; `weighting` and `level` apply to the statistics that take them.
    Undefined coefficients are `null` with a `reason`, never NaN. Any role may call it."""
    return AgreementComputeResult.model_validate(agreement_service.compute_stateless(body))


@router.post(
    f"{STUDY}/agreement-reports",
    status_code=status.HTTP_201_CREATED,
    response_model=ReportPublic,
    operation_id="agreement-reports-create",
    summary="Save an agreement report",
    responses=problem_responses(403, 404, 413, 415, 422),
)
def create_report(
    body: AgreementReportCreate, request: Request, session: SessionDep, access: StudyWriter
) -> Response:
    """Compute agreement as `GET /agreement` does, with `parameters` as its query
    parameters (plural names, JSON lists; a group is a list of ids), and keep the
    result with the exact parameters, data hash, framework version, who and when.
    The per-cell table is kept too; send `parameters.cells: false` to keep a report on
    a large study small. Owners and coders (owners only while blind coding is hidden)."""
    report = reports_service.create(session=session, access=access, body=body)
    location = f"{request.url.path}/{report.id}"
    resource = reports_service.public(report)
    return _json(resource.model_dump(mode="json"), 201, {"Location": location})


@router.get(
    f"{STUDY}/agreement-reports",
    response_model=Page[ReportSummary],
    operation_id="agreement-reports-list",
    summary="List saved agreement reports",
    responses=problem_responses(400, 404, 422),
)
def list_reports(session: SessionDep, access: StudyReader, page: PageDep) -> Page[ReportSummary]:
    """Saved reports, oldest first, without their full results. Reports on blind coding
    that is not revealed yet are listed to owners only (a page may be short)."""
    rows, next_cursor = reports_service.list_reports(session=session, access=access, page=page)
    items = [reports_service.summary(row) for row in rows]
    return Page(items=items, next_cursor=next_cursor, limit=page.limit)


@router.get(
    f"{STUDY}/agreement-reports/{{report_id}}",
    response_model=ReportPublic,
    operation_id="agreement-reports-get",
    summary="Get a saved agreement report",
    responses={**problem_responses(403, 404), **NOT_MODIFIED},
)
def get_report(
    report_id: UUID, request: Request, session: SessionDep, access: StudyReader
) -> Response:
    """One report with its full results, with an ETag."""
    report = reports_service.get(session=session, access=access, report_id=report_id)
    return cached_response(request, reports_service.public(report))


@router.get(
    f"{STUDY}/agreement-reports/{{report_id}}/verify",
    response_model=ReportVerification,
    operation_id="agreement-reports-verify",
    summary="Verify a saved agreement report",
    responses=problem_responses(403, 404),
)
def verify_report(report_id: UUID, session: SessionDep, access: StudyReader) -> ReportVerification:
    """Recompute the report with its stored parameters. `data_matches` says whether the
    segments and transcripts used are unchanged (same data hash); `results_match`
    whether the figures come out the same. When it can no longer be computed (e.g. a
    coder or document was deleted), `problem` says why and `data_matches` is false."""
    report = reports_service.get(session=session, access=access, report_id=report_id)
    return reports_service.verify(session=session, access=access, report=report)
