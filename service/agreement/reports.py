"""Saved agreement reports: a figure as it was computed, and a check that it still holds.

A report stores the exact parameters (defaults filled in, documents listed), the
data hash, the framework version and the full result, with who ran it and when.
Verifying recomputes with the stored parameters: the data hash says whether the
segments and transcripts used are unchanged, and the figures are compared too.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import Session

from service.agreement import service as agreement_service
from service.agreement.dataset import BLIND_MESSAGE, Where
from service.agreement.models import AgreementReport
from service.agreement.schemas import (
    AgreementReportCreate,
    ReportPublic,
    ReportSummary,
    ReportVerification,
)
from service.coding.access import StudyAccess
from service.coding.models import CodingPass
from service.db import utcnow
from service.errors import Forbidden, NotFound, Unprocessable
from service.http.pagination import PageParams, paginate

BODY = Where(("body", "parameters"))


def create(
    *, session: Session, access: StudyAccess, body: AgreementReportCreate
) -> AgreementReport:
    result = agreement_service.compute(
        session=session, access=access, request=body.parameters, where=BODY
    )
    report = AgreementReport(
        study_id=access.study.id,
        created_by=access.principal.id,
        created_by_name=access.principal.name,
        title=body.title,
        parameters=result["parameters"],
        data_hash=result["data_hash"],
        framework_id=UUID(result["framework"]["id"]),
        results=result,
    )
    session.add(report)
    session.flush()
    return report


def _still_hidden(session: Session, access: StudyAccess) -> set[str]:
    """Ids of the study's blind passes that are not revealed yet."""
    return {
        str(pid)
        for pid in session.scalars(
            select(CodingPass.id).where(
                CodingPass.study_id == access.study.id,
                CodingPass.blind.is_(True),
                CodingPass.revealed_at.is_(None),
            )
        )
    }


def _visible(report: AgreementReport, access: StudyAccess, hidden: set[str]) -> bool:
    """Figures on blind coding stay with the owners until all of it is revealed."""
    if access.is_owner:
        return True
    study = access.study
    if study.blind and study.revealed_at is None:
        return False
    blind = report.results.get("blind") or {}
    return hidden.isdisjoint(blind.get("passes") or ())


def get(*, session: Session, access: StudyAccess, report_id: UUID) -> AgreementReport:
    report = session.get(AgreementReport, report_id)
    if report is None or report.study_id != access.study.id:
        raise NotFound(f"No agreement report {report_id} in this study.")
    if not _visible(report, access, _still_hidden(session, access)):
        raise Forbidden(BLIND_MESSAGE)
    return report


def list_reports(
    *, session: Session, access: StudyAccess, page: PageParams
) -> tuple[list[AgreementReport], str | None]:
    """Oldest first. For non-owners, reports on blind coding that is not revealed yet
    are left out, so a page may hold fewer than `limit` items."""
    rows, next_cursor = paginate(
        session,
        select(AgreementReport).where(AgreementReport.study_id == access.study.id),
        order_by=[AgreementReport.created_at, AgreementReport.id],
        params=page,
    )
    hidden = set() if access.is_owner else _still_hidden(session, access)
    return [r for r in rows if _visible(r, access, hidden)], next_cursor


def summary(report: AgreementReport) -> ReportSummary:
    return ReportSummary(
        id=report.id,
        study_id=report.study_id,
        title=report.title,
        created_by=report.created_by,
        created_by_name=report.created_by_name,
        created_at=report.created_at,
        framework_id=report.framework_id,
        data_hash=report.data_hash,
        parameters=report.parameters,
        threshold=report.results.get("threshold"),
    )


def public(report: AgreementReport) -> ReportPublic:
    return ReportPublic(**summary(report).model_dump(), results=report.results)


def _figures(result: dict[str, Any]) -> str:
    """The overall and per-theme figures (not the threshold verdict, which follows the
    study's current threshold), canonically serialised."""
    themes = [
        {k: v for k, v in theme.items() if k != "meets_threshold"}
        for theme in result.get("themes") or ()
    ]
    return json.dumps([result.get("overall"), themes], sort_keys=True, allow_nan=False)


def verify(*, session: Session, access: StudyAccess, report: AgreementReport) -> ReportVerification:
    """Recompute the report with its stored parameters and compare."""
    current, problem = None, None
    try:
        request = agreement_service.to_request(report.parameters)
        current = agreement_service.compute(
            session=session, access=access, request=request, where=Where(("parameters",))
        )
    except Unprocessable as exc:  # e.g. a document or coder has been deleted since
        problem = exc.detail
    except ValidationError as exc:  # parameters stored by an older version of the service
        problem = f"The stored parameters are no longer valid: {exc.errors()[0]['msg']}"
    current_hash = None if current is None else current["data_hash"]
    results_match = None
    if current is not None:
        results_match = _figures(current) == _figures(report.results)
    return ReportVerification(
        report_id=report.id,
        verified_at=utcnow(),
        data_hash=report.data_hash,
        current_data_hash=current_hash,
        data_matches=current_hash == report.data_hash,
        results_match=results_match,
        problem=problem,
    )
