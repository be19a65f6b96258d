"""Coded segments: who may see them (blind coding), checking them, and CRUD.

Everything that reads segments filters with ``visible_segments_clause(access)``: the
one place the blind-coding rule lives. Creating one segment and importing 100,000 both
check rows with ``check_row`` against ``References`` (loaded in one query per kind),
so both apply the same rules and report problems in the same words.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select
from sqlmodel import Session

from service.coding.access import StudyAccess, StudyRole
from service.coding.models import Coder, CodingPass, Document, Segment
from service.coding.segment_schemas import SegmentCreate, SegmentPublic, SegmentUpdate
from service.db import utcnow
from service.errors import Forbidden, NotFound, Unprocessable
from service.frameworks.models import Theme
from service.http.idempotency import forget_study_replays
from service.http.pagination import PageParams, paginate

LIST_ORDER = [Segment.document_id, Segment.start, Segment.id]


def visible_segments_clause(access: StudyAccess) -> ColumnElement[bool]:
    """The segments of ``access.study`` that its caller may read, as a WHERE clause on
    ``Segment``. Reuse it for every read of segments (lists, analyses, exports).

    Blind double coding: while the study, or a segment's pass, is blind and not yet
    revealed, a coder sees only the segments of the coders they may code as, and a
    viewer sees none of them. Owners (and admins, who act as owners) see everything.
    """
    in_study = Segment.study_id == access.study.id
    if access.is_owner:
        return in_study
    own: ColumnElement[bool] = (
        Segment.coder_id.in_(access.coder_ids)
        if access.role is StudyRole.coder and access.coder_ids
        else false()
    )
    if access.study.blind and access.study.revealed_at is None:
        return and_(in_study, own)
    in_hidden_pass = exists().where(
        CodingPass.id == Segment.pass_id,
        CodingPass.blind.is_(True),
        CodingPass.revealed_at.is_(None),
    )
    return and_(in_study, or_(~in_hidden_pass, own))


# --- checking rows against what the study holds -------------------------------------


@dataclass(frozen=True, slots=True)
class DocumentRef:
    id: UUID
    hex: str  # 32 hex digits, for writers that bypass SQLAlchemy (bulk import)
    length: int  # code points


@dataclass(frozen=True, slots=True)
class ThemeRef:
    id: UUID
    hex: str
    framework_id: UUID
    code: str
    label: str


@dataclass(frozen=True, slots=True)
class CoderRef:
    id: UUID
    hex: str
    allowed: bool  # the caller may code as this coder


@dataclass(frozen=True, slots=True)
class FrameworkRef:
    id: UUID
    themes_by_code: dict[str, ThemeRef]


@dataclass(frozen=True, slots=True)
class PassRef:
    id: UUID
    hex: str
    framework: FrameworkRef  # the version this pass codes against
    coder_id: UUID | None  # a pass of one coder, or None


@dataclass(frozen=True, slots=True)
class References:
    """What segments of one study may refer to, keyed by canonical id strings (the
    form ``str(UUID)`` gives), so rows are checked without parsing their ids."""

    framework: FrameworkRef  # the study's
    documents: dict[str, DocumentRef]
    themes: dict[str, ThemeRef]
    coders: dict[str, CoderRef]
    passes: dict[str, PassRef]
    own_coder: CoderRef | None  # the caller's coder in the study, when it has exactly one


@dataclass(slots=True)
class CheckedRow:
    document: DocumentRef
    start: int
    end: int
    theme: ThemeRef
    coder: CoderRef
    pass_: PassRef | None
    memo: str
    negative_case: bool
    exemplar: bool


@dataclass(frozen=True, slots=True)
class RowProblem:
    field: str
    msg: str
    type: str


CODER_NOT_ALLOWED: Final = "coder_not_allowed"


def load_references(
    *, session: Session, access: StudyAccess, document_ids: Collection[UUID] | None = None
) -> References:
    """One query per kind of reference. ``document_ids`` limits the documents loaded
    (None: every document of the study, which a bulk import needs)."""
    study = access.study
    pass_rows = session.execute(
        select(CodingPass.id, CodingPass.framework_id, CodingPass.coder_id).where(
            CodingPass.study_id == study.id
        )
    ).all()
    frameworks = {
        fid: FrameworkRef(fid, {}) for fid in {study.framework_id, *(r[1] for r in pass_rows)}
    }
    themes: dict[str, ThemeRef] = {}
    for tid, fid, code, label in session.execute(
        select(Theme.id, Theme.framework_id, Theme.code, Theme.label).where(
            Theme.framework_id.in_(frameworks)
        )
    ):
        themes[str(tid)] = frameworks[fid].themes_by_code[code] = ThemeRef(
            tid, tid.hex, fid, code, label
        )
    documents = select(Document.id, Document.length).where(Document.study_id == study.id)
    if document_ids is not None:
        documents = documents.where(Document.id.in_(document_ids))
    coder_rows = session.execute(
        select(Coder.id, Coder.principal_id).where(Coder.study_id == study.id)
    ).all()
    coders = {
        str(cid): CoderRef(cid, cid.hex, access.is_owner or cid in access.coder_ids)
        for cid, _ in coder_rows
    }
    own = [coders[str(cid)] for cid, pid in coder_rows if pid == access.principal.id]
    return References(
        framework=frameworks[study.framework_id],
        documents={str(did): DocumentRef(did, did.hex, n) for did, n in session.execute(documents)},
        themes=themes,
        coders=coders,
        passes={
            str(pid): PassRef(pid, pid.hex, frameworks[fid], cid) for pid, fid, cid in pass_rows
        },
        own_coder=own[0] if len(own) == 1 else None,
    )


_INVALID: Final = object()


def _find(mapping: Mapping[str, Any], value: str) -> Any:
    """The entry for an id as sent: exact match first (the common case), else by its
    canonical form; ``_INVALID`` when it is not a UUID at all."""
    found = mapping.get(value)
    if found is not None:
        return found
    try:
        return mapping.get(str(UUID(value)))
    except (ValueError, TypeError, AttributeError):
        return _INVALID


def check_row(
    row: Mapping[str, Any], refs: References
) -> tuple[CheckedRow | None, list[RowProblem]]:
    """Check one row (the fields of ``SegmentCreate``, ids as strings) against the
    study. Returns the resolved row, or None and every problem found."""
    problems: list[RowProblem] = []

    document = _find(refs.documents, row["document_id"])
    start, end = row["start"], row["end"]
    if document is None or document is _INVALID:
        problems.append(_unknown("document_id", row["document_id"], document, "document"))
    elif end > document.length:
        problems.append(
            RowProblem(
                "end",
                f"end ({end}) is beyond the end of the document ({document.length} code points)",
                "offset_out_of_range",
            )
        )
    if start >= end:
        problems.append(RowProblem("end", "end must be greater than start", "empty_span"))

    pass_ref = None
    if (pass_id := row.get("pass_id")) is not None:
        pass_ref = _find(refs.passes, pass_id)
        if pass_ref is None or pass_ref is _INVALID:
            problems.append(_unknown("pass_id", pass_id, pass_ref, "coding pass"))
            pass_ref = None

    memo = row.get("memo") or ""
    if "\x00" in memo:
        problems.append(RowProblem("memo", "the memo contains a NUL character", "string_nul"))
    theme = _check_theme(row, refs, pass_ref, problems)
    coder = _check_coder(row, refs, pass_ref, problems)
    if problems:
        return None, problems
    return CheckedRow(
        document, start, end, theme, coder, pass_ref, memo,
        bool(row.get("negative_case")), bool(row.get("exemplar")),
    ), problems  # fmt: skip


def _unknown(field: str, value: str, found: Any, what: str) -> RowProblem:
    if found is _INVALID:
        return RowProblem(field, f"{value!r} is not a valid UUID", "uuid_parsing")
    return RowProblem(field, f"no {what} {value} in this study", f"{field[:-3]}_not_in_study")


def _check_theme(
    row: Mapping[str, Any], refs: References, pass_ref: PassRef | None, problems: list[RowProblem]
) -> ThemeRef | None:
    framework = pass_ref.framework if pass_ref else refs.framework
    theme_id, code = row.get("theme_id"), row.get("theme_code")
    if (theme_id is None) == (code is None):
        problems.append(
            RowProblem("theme_id", "give exactly one of theme_id and theme_code", "theme_required")
        )
        return None
    if code is not None:
        theme = framework.themes_by_code.get(code)
        if theme is None:
            problems.append(
                RowProblem(
                    "theme_code",
                    f"no theme with code {code!r} in the framework version coded against",
                    "theme_not_in_framework",
                )
            )
        return theme
    theme = _find(refs.themes, theme_id)
    if theme is _INVALID:
        problems.append(RowProblem("theme_id", f"{theme_id!r} is not a valid UUID", "uuid_parsing"))
        return None
    if theme is None or theme.framework_id != framework.id:
        problems.append(
            RowProblem(
                "theme_id",
                f"theme {theme_id} is not in the framework version coded against",
                "theme_not_in_framework",
            )
        )
        return None
    return theme


def _check_coder(
    row: Mapping[str, Any], refs: References, pass_ref: PassRef | None, problems: list[RowProblem]
) -> CoderRef | None:
    value = row.get("coder_id")
    if value is None:
        coder = refs.own_coder
        if coder is None:
            problems.append(
                RowProblem(
                    "coder_id",
                    "coder_id is required: you have no coder of your own in this study",
                    "missing",
                )
            )
            return None
    else:
        coder = _find(refs.coders, value)
        if coder is None or coder is _INVALID:
            problems.append(_unknown("coder_id", value, coder, "coder"))
            return None
    if not coder.allowed:
        problems.append(
            RowProblem("coder_id", f"you may not code as coder {coder.id}", CODER_NOT_ALLOWED)
        )
    if pass_ref is not None and pass_ref.coder_id is not None and pass_ref.coder_id != coder.id:
        problems.append(
            RowProblem(
                "pass_id", f"pass {pass_ref.id} belongs to another coder", "pass_of_other_coder"
            )
        )
    return coder


def _check_one(row: Mapping[str, Any], refs: References) -> CheckedRow:
    checked, problems = check_row(row, refs)
    if checked is not None:
        return checked
    refused = [p for p in problems if p.type == CODER_NOT_ALLOWED]
    if refused:
        raise Forbidden(f"You may not code as coder {row['coder_id']}.")
    raise Unprocessable(
        "The segment is not valid; see `errors`.",
        errors=[{"loc": ["body", p.field], "msg": p.msg, "type": p.type} for p in problems],
    )


def _as_text(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, UUID) else v for k, v in values.items()}


# --- create, read, update, delete -----------------------------------------------------


def create_segment(*, session: Session, access: StudyAccess, body: SegmentCreate) -> Segment:
    refs = load_references(session=session, access=access, document_ids=[body.document_id])
    checked = _check_one(_as_text(body.model_dump()), refs)
    segment = Segment(study_id=access.study.id, **_columns(checked))
    session.add(segment)
    session.flush()
    return segment


def _columns(checked: CheckedRow) -> dict[str, Any]:
    return {
        "document_id": checked.document.id,
        "start": checked.start,
        "end": checked.end,
        "theme_id": checked.theme.id,
        "coder_id": checked.coder.id,
        "pass_id": checked.pass_.id if checked.pass_ else None,
        "memo": checked.memo,
        "negative_case": checked.negative_case,
        "exemplar": checked.exemplar,
    }


def get_segment(*, session: Session, access: StudyAccess, segment_id: UUID) -> Segment:
    """The segment, or 404 when it does not exist, is in another study or is hidden
    from the caller by blind coding (the same answer, so nothing leaks)."""
    segment = session.scalars(
        select(Segment).where(Segment.id == segment_id, visible_segments_clause(access))
    ).first()
    if segment is None:
        raise NotFound(f"No segment {segment_id} in this study.")
    return segment


def list_segments(
    *,
    session: Session,
    access: StudyAccess,
    page: PageParams,
    document_id: UUID | None = None,
    theme_id: UUID | None = None,
    theme_code: str | None = None,
    coder_id: UUID | None = None,
    pass_id: UUID | None = None,
    negative_case: bool | None = None,
    exemplar: bool | None = None,
) -> tuple[list[Segment], str | None]:
    statement = select(Segment).where(visible_segments_clause(access))
    equal = {
        Segment.document_id: document_id,
        Segment.theme_id: theme_id,
        Segment.coder_id: coder_id,
        Segment.pass_id: pass_id,
        Segment.negative_case: negative_case,
        Segment.exemplar: exemplar,
    }
    for column, value in equal.items():
        if value is not None:
            statement = statement.where(column == value)
    if theme_code is not None:
        statement = statement.where(
            Segment.theme_id.in_(select(Theme.id).where(Theme.code == theme_code))
        )
    return paginate(session, statement, order_by=LIST_ORDER, params=page)


def update_segment(
    *, session: Session, access: StudyAccess, segment: Segment, changes: SegmentUpdate
) -> Segment:
    require_may_edit(access, segment)
    sent = changes.model_dump(exclude_unset=True)
    row = _as_text(
        {
            "document_id": segment.document_id,
            "start": segment.start,
            "end": segment.end,
            "coder_id": segment.coder_id,
            "pass_id": segment.pass_id,
            "memo": segment.memo,
            "negative_case": segment.negative_case,
            "exemplar": segment.exemplar,
        }
        | ({} if {"theme_id", "theme_code"} & sent.keys() else {"theme_id": segment.theme_id})
        | sent
    )
    refs = load_references(session=session, access=access, document_ids=[segment.document_id])
    for name, value in _columns(_check_one(row, refs)).items():
        setattr(segment, name, value)
    segment.updated_at = utcnow()
    session.add(segment)
    session.flush()
    return segment


def delete_segment(*, session: Session, access: StudyAccess, segment: Segment) -> None:
    require_may_edit(access, segment)
    session.delete(segment)
    session.flush()
    forget_study_replays(session=session, study_id=segment.study_id)


def require_may_edit(access: StudyAccess, segment: Segment) -> None:
    """Coders change only what they coded (as themselves or, for owners, anyone)."""
    if not access.is_owner and segment.coder_id not in access.coder_ids:
        raise Forbidden("You may change only segments coded by a coder you code as.")


def require_may_delete_segments(
    session: Session, access: StudyAccess, *where: ColumnElement[bool]
) -> None:
    """Before a cascade deletes the study's segments matching ``where``: the same rule
    as ``require_may_edit``, so that deleting a transcript or a participant never
    destroys another coder's (possibly blind) coding. 403 for a non-owner otherwise."""
    if access.is_owner:
        return
    conditions = [Segment.study_id == access.study.id, *where]
    if access.coder_ids:
        conditions.append(Segment.coder_id.not_in(access.coder_ids))
    if session.scalar(select(exists().where(*conditions))):
        raise Forbidden("This would also delete segments coded by other coders; only owners may.")


def to_public(*, session: Session, segments: Sequence[Segment]) -> list[SegmentPublic]:
    """Responses with the quoted text and the theme, in one query for any number of
    segments; the text is cut in SQL, so transcripts are never loaded whole."""
    if not segments:
        return []
    quoted = func.substr(Document.text, Segment.start + 1, Segment.end - Segment.start)
    extra = {
        sid: (code, label, text)
        for sid, code, label, text in session.execute(
            select(Segment.id, Theme.code, Theme.label, quoted)
            .join(Theme, Theme.id == Segment.theme_id)
            .join(Document, Document.id == Segment.document_id)
            .where(Segment.id.in_([segment.id for segment in segments]))
        )
    }
    return [
        SegmentPublic(
            id=s.id,
            study_id=s.study_id,
            document_id=s.document_id,
            start=s.start,
            end=s.end,
            text=extra[s.id][2],
            theme_id=s.theme_id,
            theme_code=extra[s.id][0],
            theme_label=extra[s.id][1],
            coder_id=s.coder_id,
            pass_id=s.pass_id,
            memo=s.memo,
            negative_case=s.negative_case,
            exemplar=s.exemplar,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )
        for s in segments
    ]


def count_theme_uses(*, session: Session, theme_id: UUID) -> int:
    """How many coded segments use a theme (in every study): a theme in use must not
    be deleted, or coded data would be lost."""
    return session.scalar(select(func.count()).where(Segment.theme_id == theme_id)) or 0
