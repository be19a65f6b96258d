"""Importing a REFI-QDA codebook as a new draft framework version.

The pure reader (``refi_codebook``) does the parsing, the hostile-input guards and the
lenient repairs; this adds what the tables need (labels within their column size,
codes short enough) and stores the result.
"""

from __future__ import annotations

import dataclasses

from sqlmodel import Session

from service.errors import BadRequest, PayloadTooLarge
from service.frameworks import domain, refi_codebook
from service.frameworks.models import Framework
from service.frameworks.service import ensure_free
from service.frameworks.store import store_snapshot

MAX_LABEL = 200  # the width of themes.label
MAX_CODE = 32  # the width of themes.code


def import_codebook(
    *,
    session: Session,
    data: bytes,
    filename: str | None,
    max_bytes: int,
    slug: str,
    version: str,
    title: str | None,
    citation: str | None,
) -> tuple[Framework, refi_codebook.ImportedCodebook]:
    """Read ``data`` (.qdc or .qdpx) and store its codes as the themes of a new draft."""
    ensure_free(session=session, slug=slug, version=version)
    try:
        imported = refi_codebook.import_codebook(data, filename=filename, max_bytes=max_bytes)
    except refi_codebook.CodebookTooLarge as exc:
        raise PayloadTooLarge(f"The codebook is too large: {exc}.") from exc
    except refi_codebook.CodebookError as exc:
        raise BadRequest(f"The codebook cannot be read: {exc}.") from exc

    themes, notes = _fit_columns(imported.themes, version=version)
    report = (*imported.report, *notes)
    tool = imported.origin or "an unnamed tool"
    snapshot = domain.FrameworkSnapshot(
        slug=slug,
        version=version,
        title=title or f"Codebook imported from {tool}"[:300],
        description="",
        citation=citation
        or f"Imported from a REFI-QDA .{imported.source_format} codebook exported by {tool}."[
            :5000
        ],
        status=domain.FrameworkStatus.draft,
        themes=themes,
    )
    framework = store_snapshot(session=session, snapshot=snapshot)
    return framework, dataclasses.replace(imported, themes=themes, report=report)


def _fit_columns(
    themes: tuple[domain.ThemeNode, ...], *, version: str
) -> tuple[tuple[domain.ThemeNode, ...], list[refi_codebook.ImportNote]]:
    notes: list[refi_codebook.ImportNote] = []
    fitted = []
    for theme in themes:
        if len(theme.code) > MAX_CODE:
            raise BadRequest(
                f'The codebook cannot be read: code "{theme.label}" is nested too deeply '
                f"(its position {theme.code} is longer than {MAX_CODE} characters)."
            )
        label = theme.label
        if len(label) > MAX_LABEL:
            label = label[: MAX_LABEL - 1] + "…"
            notes.append(
                refi_codebook.ImportNote(
                    "repaired",
                    f'Code "{theme.label[:40]}…"',
                    f"name shortened to {MAX_LABEL} characters",
                )
            )
        fitted.append(dataclasses.replace(theme, label=label, introduced_in=version))
    return tuple(fitted), notes
