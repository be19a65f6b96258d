"""Framework versions in other formats: FHIR terminology, REFI-QDA codebooks, CSV."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from service.auth.deps import PrincipalDep
from service.db import SessionDep
from service.errors import problem_responses
from service.frameworks import csv_export, fhir, refi_codebook, views
from service.frameworks import exchange as exchange_service
from service.frameworks import service as frameworks_service
from service.frameworks.deps import VERSION_PATH, RawBodyDep, VersionDep, WriterDep
from service.frameworks.models import Framework
from service.frameworks.schemas import (
    SLUG_PATTERN,
    VERSION_PATTERN,
    CodebookImport,
    ImportNote,
)
from service.http.conditional import cached_content
from service.http.routing import CivicRoute, upload

router = APIRouter(tags=["frameworks"], route_class=CivicRoute)
FHIR_JSON = "application/fhir+json"
CODEBOOK_TYPES = ("application/xml", "text/xml", "application/zip", "application/octet-stream")


NOT_MODIFIED = {304: {"description": "Not modified: your copy (If-None-Match) is current."}}


def _fhir(
    request: Request,
    session: SessionDep,
    framework: Framework,
    build: Callable[..., dict[str, Any]],
) -> Response:
    """The version as a FHIR resource (``build``: code system or value set), with an
    ETag over its bytes (304 when the client's copy is current)."""
    snapshot = frameworks_service.snapshot(session=session, framework=framework)
    resource = build(snapshot, base_url=request.app.state.settings.public_base_url)
    body = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
    return cached_content(request, body, media_type=FHIR_JSON)


def _filename(framework: Framework, extension: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", f"{framework.slug}-v{framework.version}")
    return f"{stem}.{extension}"


def _attachment(framework: Framework, extension: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{_filename(framework, extension)}"'}


def _file_response(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": description,
            "content": {media_type: {"schema": {"type": "string"}}},
        }
    }


def _fhir_response(resource_type: str) -> dict[int | str, dict[str, Any]]:
    schema = {
        "type": "object",
        "description": f"A FHIR R4 {resource_type} resource.",
        "properties": {"resourceType": {"type": "string", "enum": [resource_type]}},
        "required": ["resourceType"],
    }
    return {
        200: {
            "description": f"A FHIR R4 {resource_type}.",
            "content": {FHIR_JSON: {"schema": schema}},
        }
    }


@router.get(
    VERSION_PATH + "/fhir/code-system",
    response_class=Response,
    operation_id="frameworks-fhir-code-system",
    summary="The version as a FHIR CodeSystem",
    responses={**_fhir_response("CodeSystem"), **NOT_MODIFIED, **problem_responses(404, 422)},
)
def fhir_code_system(
    request: Request, _: PrincipalDep, framework: VersionDep, session: SessionDep
) -> Response:
    """A FHIR R4 `CodeSystem` (`application/fhir+json`) with one concept per theme,
    nested as the themes are. A concept's `code` is the theme's stable key (e.g.
    `closeness.trust`); its number (`1.2`), kind (`domain` or `barrier`) and the version
    that introduced it are concept properties. The canonical `url` is built from the
    service's public base URL; `version` is the framework version."""
    return _fhir(request, session, framework, fhir.code_system)


@router.get(
    VERSION_PATH + "/fhir/value-set",
    response_class=Response,
    operation_id="frameworks-fhir-value-set",
    summary="The version's domains as a FHIR ValueSet",
    responses={**_fhir_response("ValueSet"), **NOT_MODIFIED, **problem_responses(404, 422)},
)
def fhir_value_set(
    request: Request, _: PrincipalDep, framework: VersionDep, session: SessionDep
) -> Response:
    """A FHIR R4 `ValueSet` (`application/fhir+json`) of the themes of kind `domain`,
    drawn from the version's CodeSystem: what an assessment rates and what intervention
    components target. Barrier themes such as Stigma are left out."""
    return _fhir(request, session, framework, fhir.domain_value_set)


CanonicalVersionQuery = Annotated[
    str | None,
    Query(max_length=32, description="A version; default: the latest published one."),
]


def _canonical_version(session: SessionDep, slug: str, version: str | None) -> Framework:
    if version is None:
        return frameworks_service.latest_published(session=session, slug=slug)
    return frameworks_service.get_version(session=session, slug=slug, version=version)


@router.get(
    "/frameworks/{slug}/fhir/code-system",
    response_class=Response,
    operation_id="frameworks-fhir-code-system-canonical",
    summary="The framework's FHIR CodeSystem at its canonical URL",
    responses={**_fhir_response("CodeSystem"), **NOT_MODIFIED, **problem_responses(404, 422)},
)
def fhir_code_system_canonical(
    request: Request,
    _: PrincipalDep,
    session: SessionDep,
    slug: Annotated[str, Path(max_length=64)],
    version: CanonicalVersionQuery = None,
) -> Response:
    """The address the CodeSystem's `url` names (and that codings in Questionnaires and
    CarePlans use as `system`): the latest published version, or `?version=`."""
    return _fhir(request, session, _canonical_version(session, slug, version), fhir.code_system)


@router.get(
    "/frameworks/{slug}/fhir/value-set",
    response_class=Response,
    operation_id="frameworks-fhir-value-set-canonical",
    summary="The framework's domain ValueSet at its canonical URL",
    responses={**_fhir_response("ValueSet"), **NOT_MODIFIED, **problem_responses(404, 422)},
)
def fhir_value_set_canonical(
    request: Request,
    _: PrincipalDep,
    session: SessionDep,
    slug: Annotated[str, Path(max_length=64)],
    version: CanonicalVersionQuery = None,
) -> Response:
    """The address the ValueSet's `url` names: the latest published version's domains,
    or those of `?version=`."""
    return _fhir(
        request, session, _canonical_version(session, slug, version), fhir.domain_value_set
    )


@router.get(
    VERSION_PATH + "/codebook.qdc",
    response_class=Response,
    operation_id="frameworks-codebook-export",
    summary="The version as a REFI-QDA codebook (.qdc)",
    responses={
        **_file_response("application/xml", "A REFI-QDA codebook."),
        **NOT_MODIFIED,
        **problem_responses(404, 422),
    },
)
def export_codebook(
    request: Request, _: PrincipalDep, framework: VersionDep, session: SessionDep
) -> Response:
    """The themes as a REFI-QDA `.qdc` codebook (XML, valid against the standard's
    Codebook.xsd), to load into NVivo, ATLAS.ti, MAXQDA and other QDA tools. Codes nest
    as the themes do and every code is codable. GUIDs are stable: exporting the same
    version again gives the same file. Barrier themes are also listed in a code set
    named "CIVIC: barriers to connectedness", which the import here reads back."""
    snapshot = frameworks_service.snapshot(session=session, framework=framework)
    return cached_content(
        request,
        refi_codebook.export_qdc(snapshot),
        media_type="application/xml",
        headers=_attachment(framework, "qdc"),
    )


@router.get(
    VERSION_PATH + "/themes.csv",
    response_class=Response,
    operation_id="frameworks-themes-csv",
    summary="The version's themes as CSV",
    responses={
        **_file_response("text/csv", "One row per theme, header first."),
        **NOT_MODIFIED,
        **problem_responses(404, 422),
    },
)
def export_csv(
    request: Request, _: PrincipalDep, framework: VersionDep, session: SessionDep
) -> Response:
    """One row per theme in tree order (parents before children), with its code, key,
    label, parent's code, kind, the version that introduced it, its definition, and the
    components that target it (marked when the evidence is from outside the study).
    Cells that a spreadsheet would run as formulas are escaped."""
    snapshot = frameworks_service.snapshot(session=session, framework=framework)
    return cached_content(
        request,
        csv_export.themes_csv(snapshot),
        media_type="text/csv; charset=utf-8",
        headers=_attachment(framework, "csv"),
    )


@router.post(
    "/frameworks:import-codebook",
    status_code=201,
    response_model=CodebookImport,
    operation_id="frameworks-codebook-import",
    summary="Import a REFI-QDA codebook as a new draft framework",
    responses=problem_responses(400, 403, 409, 413, 415, 422),
    openapi_extra=upload(
        *CODEBOOK_TYPES,
        description="A REFI-QDA codebook (.qdc, XML) or project (.qdpx, ZIP), as the raw body.",
    ),
)
def import_codebook(
    request: Request,
    body: RawBodyDep,
    _: WriterDep,
    session: SessionDep,
    slug: Annotated[str, Query(pattern=SLUG_PATTERN, description="The new framework's slug.")],
    version: Annotated[
        str, Query(pattern=VERSION_PATTERN, description="Its version string, e.g. `1`.")
    ] = "1",
    title: Annotated[
        str | None,
        Query(min_length=1, max_length=300, description="Default: names the exporting tool."),
    ] = None,
    citation: Annotated[
        str | None,
        Query(min_length=1, max_length=2000, description="Default: names the file and tool."),
    ] = None,
    filename: Annotated[
        str | None, Query(max_length=255, description="The uploaded file's name, if known.")
    ] = None,
) -> Response:
    """Create a **new draft** from a codebook exported by a QDA tool: the raw body is a
    `.qdc` codebook or a `.qdpx` project (only its codebook is read). Codes become
    themes (nested as they were, numbered by position), their descriptions become
    definitions, and each code's GUID becomes the theme key, so exporting it back gives
    the same GUIDs.

    The import is lenient: what CIVIC does not keep (colours, memos, code sets, sources
    of a project) is dropped, what is broken but fixable (braces around GUIDs, missing
    GUIDs, an older namespace) is repaired, and `report` lists each case. Files it
    cannot read, and unsafe XML (DTDs, entity declarations), get 400 saying why; files
    over the upload limit, or archives that expand too far, get 413. 409 if
    `slug`/`version` exist already."""
    settings = request.app.state.settings
    framework, imported = exchange_service.import_codebook(
        session=session,
        data=body,
        filename=filename,
        max_bytes=settings.max_upload_bytes,
        slug=slug,
        version=version,
        title=title,
        citation=citation,
    )
    result = CodebookImport(
        framework=views.version(frameworks_service.load_rows(session=session, framework=framework)),
        source_format=imported.source_format,
        origin=imported.origin,
        report=[
            ImportNote(action=note.action, where=note.where, detail=note.detail)
            for note in imported.report
        ],
    )
    return JSONResponse(
        result.model_dump(mode="json"),
        status_code=201,
        headers={"Location": views.version_url(framework)},
    )
