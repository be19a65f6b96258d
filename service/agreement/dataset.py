"""Loading what an agreement computation needs, in a few bulk queries.

One query each for the study's coders, passes, framework themes and document
metadata (small), ONE query for the segments (plain columns, never ORM objects),
and one for document texts only when the unit splits text. Parameters are checked
against what the study holds, and every unknown id is a 422 that names it.

The data hash (SHA-256) covers exactly what entered the computation:

    b"civic-agreement-data/1\\n"
    + for each document, sorted by id: id (16 bytes) + content_hash (64 ASCII bytes)
    + for each segment, sorted by id: id, document_id, theme_id, coder_id (16 bytes
      each) + start, end (8-byte big-endian integers)

so any edit to a used segment or transcript changes it, and nothing else does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import numpy as np
from sqlalchemy import String, case, cast, literal, select
from sqlmodel import Session

from service.agreement.schemas import AgreementRequest
from service.coding.access import StudyAccess
from service.coding.models import Coder, CodingPass, Document, Segment
from service.coding.segments import visible_segments_clause
from service.errors import Forbidden, Unprocessable
from service.frameworks.models import Framework, Theme

HASH_PREFIX = b"civic-agreement-data/1\n"
TEXT_UNITS = frozenset({"word", "sentence", "paragraph"})
MAX_COLUMNS = 62
BLIND_MESSAGE = (
    "Blind coding is not revealed yet: agreement figures and disagreements are for the "
    "study's owners until an owner reveals the coding, so that coding stays independent."
)


def invalid(loc: Sequence[str | int], msg: str, kind: str = "value_error") -> Unprocessable:
    detail = msg[0].upper() + msg[1:] + "."
    return Unprocessable(detail, errors=[{"loc": list(loc), "msg": msg, "type": kind}])


@dataclass(frozen=True, slots=True)
class ThemeRow:
    id: UUID
    code: str
    label: str
    parent_id: UUID | None


@dataclass(frozen=True, slots=True)
class DocumentRow:
    id: UUID
    title: str
    length: int
    content_hash: str
    interview_order: int | None
    key: str  # the id as the database writes it as text


@dataclass(frozen=True, slots=True)
class CoderRow:
    id: UUID
    name: str


@dataclass(frozen=True, slots=True, eq=False)
class Spans:
    """The segments used, as parallel arrays. ``document`` indexes ``StudyData.documents``,
    ``theme`` indexes ``StudyData.all_themes`` (the segment's own theme), ``column`` the
    coder columns and ``coder`` ``StudyData.coder_rows``."""

    ids: np.ndarray  # the segment ids as 16-byte values (dtype V16)
    document: np.ndarray
    theme: np.ndarray
    column: np.ndarray
    coder: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def take(self, keep: np.ndarray) -> Spans:
        index = np.flatnonzero(keep)
        return Spans(
            self.ids[index],
            self.document[index],
            self.theme[index],
            self.column[index],
            self.coder[index],
            self.start[index],
            self.end[index],
        )

    def segment_id(self, i: int) -> UUID:
        return UUID(bytes=self.ids[i].tobytes())


@dataclass(frozen=True, slots=True, eq=False)
class StudyData:
    framework: Framework
    all_themes: list[ThemeRow]  # the framework's themes, in codebook order
    themes: list[ThemeRow]  # the selected ones
    targets: list[list[int]]  # per framework theme: the selected themes its coding counts for
    documents: list[DocumentRow]  # the selected ones, in interview order
    documents_default: bool
    columns: list[list[CoderRow]]
    coder_rows: list[CoderRow]  # every coder in a column, flattened
    passes: list[UUID] | None
    spans: Spans
    data_hash: str
    blind_study: bool  # the study is blind and not revealed yet
    blind_passes: list[UUID]  # blind passes, not revealed yet, whose segments are used

    @property
    def hidden(self) -> bool:
        return self.blind_study or bool(self.blind_passes)


def theme_targets(
    all_themes: Sequence[ThemeRow], selected: Sequence[ThemeRow], include_subthemes: bool
) -> list[list[int]]:
    """For each framework theme, the positions in ``selected`` its coding counts for:
    its own, and with ``include_subthemes`` its ancestors' too."""
    position = {t.id: i for i, t in enumerate(selected)}
    by_id = {t.id: t for t in all_themes}
    targets = []
    for theme in all_themes:
        chain, seen = [theme], {theme.id}
        while include_subthemes and chain[-1].parent_id in by_id:
            parent = by_id[chain[-1].parent_id]
            if parent.id in seen:
                break
            seen.add(parent.id)
            chain.append(parent)
        targets.append([position[t.id] for t in chain if t.id in position])
    return targets


def reading_order(document: DocumentRow) -> tuple:
    """Interview order first (documents without one last), then title and id."""
    order = document.interview_order
    return (order is None, order if order is not None else 0, document.title, str(document.id))


# --- checking the parameters ----------------------------------------------------------------

QUERY_NAMES = {
    "coders": "coder",
    "documents": "document",
    "themes": "theme",
    "passes": "pass",
    "statistics": "statistic",
}


@dataclass(frozen=True, slots=True)
class Where:
    """Where parameters came from, so that a 422 points at them: the query string of
    GET /agreement (``coder=…``) or a JSON body (``parameters.coders``)."""

    prefix: tuple[str, ...] = ("query",)

    def __call__(self, field: str, *index: int) -> list[str | int]:
        name = QUERY_NAMES.get(field, field) if self.prefix == ("query",) else field
        return [*self.prefix, name, *index]


QUERY = Where()


def _columns(session: Session, study_id: UUID, coders: list, where: Where) -> list[list[CoderRow]]:
    rows = {
        cid: CoderRow(cid, name)
        for cid, name in session.execute(
            select(Coder.id, Coder.name).where(Coder.study_id == study_id)
        ).all()
    }
    if len(coders) < 2:
        raise invalid(
            where("coders"),
            "agreement needs at least two coders (or coder groups) to compare",
            "too_few_coders",
        )
    if len(coders) > MAX_COLUMNS:
        raise invalid(where("coders"), f"compare at most {MAX_COLUMNS} coders or groups")
    columns, seen = [], set()
    for i, entry in enumerate(coders):
        members = entry if isinstance(entry, list) else [entry]
        if not members:
            raise invalid(where("coders", i), "a coder group needs at least one member")
        column = []
        for member in members:
            if member not in rows:
                raise invalid(
                    where("coders", i), f"unknown coder {member} in this study", "unknown_coder"
                )
            if member in seen:
                # Someone on both sides of a comparison would agree with themself.
                raise invalid(where("coders", i), f"coder {member} is listed more than once")
            seen.add(member)
            column.append(rows[member])
        columns.append(column)
    return columns


def _passes(
    session: Session, study_id: UUID, passes: list[UUID] | None, where: Where
) -> tuple[dict[UUID, UUID], dict[str, UUID]]:
    """The requested passes (id → framework id) and every hidden pass of the study
    (blind and not revealed), keyed by the id as the database writes it as text."""
    rows = session.execute(
        select(
            CodingPass.id,
            CodingPass.framework_id,
            CodingPass.blind,
            CodingPass.revealed_at,
            cast(CodingPass.id, String).label("id_text"),
        ).where(CodingPass.study_id == study_id)
    ).all()
    hidden = {key: pid for pid, _, blind, revealed, key in rows if blind and revealed is None}
    if passes is None:
        return {}, hidden
    known = {pid: fid for pid, fid, _, _, _ in rows}
    for i, pid in enumerate(passes):
        if pid not in known:
            raise invalid(
                where("passes", i), f"unknown coding pass {pid} in this study", "unknown_pass"
            )
    return {pid: known[pid] for pid in passes}, hidden


def _themes(
    session: Session,
    framework_id: UUID,
    wanted: list[str] | None,
    include_subthemes: bool,
    where: Where,
) -> tuple[list[ThemeRow], list[ThemeRow]]:
    all_themes = [
        ThemeRow(*row)
        for row in session.execute(
            select(
                Theme.id,
                Theme.code,
                Theme.label,
                Theme.parent_id,
            )
            .where(Theme.framework_id == framework_id)
            .order_by(Theme.order, Theme.code)
        ).all()
    ]
    if wanted is None:
        if include_subthemes:
            return all_themes, [t for t in all_themes if t.parent_id is None]
        return all_themes, all_themes
    by_key = {str(t.id): t for t in all_themes} | {t.code: t for t in all_themes}
    selected: list[ThemeRow] = []
    for i, key in enumerate(wanted):
        theme = by_key.get(key) or by_key.get(_canonical_uuid(key))
        if theme is None:
            raise invalid(
                where("themes", i),
                f"unknown theme {key!r} in the framework version compared",
                "unknown_theme",
            )
        if theme not in selected:
            selected.append(theme)
    if not selected:
        raise invalid(where("themes"), "choose at least one theme")
    return all_themes, selected


def _canonical_uuid(value: str) -> str:
    try:
        return str(UUID(value))
    except ValueError:
        return value


def _documents(session: Session, study_id: UUID) -> list[DocumentRow]:
    rows = session.execute(
        select(
            Document.id,
            Document.title,
            Document.length,
            Document.content_hash,
            Document.interview_order,
            cast(Document.id, String).label("id_text"),
        ).where(Document.study_id == study_id)
    ).all()
    return sorted((DocumentRow(*row) for row in rows), key=reading_order)


def _check_blind_passes(
    session: Session, access: StudyAccess, coder_ids: list[UUID], request, hidden: dict
) -> None:
    """403 for a non-owner when a hidden pass would count: named, or holding segments
    of the coders compared."""
    if access.is_owner or not hidden:
        return
    hidden_ids = set(hidden.values())
    named = hidden_ids.intersection(request.passes or ())
    if named or session.scalar(
        select(Segment.id)
        .where(
            Segment.study_id == access.study.id,
            Segment.coder_id.in_(coder_ids),
            Segment.pass_id.in_(hidden_ids),
        )
        .limit(1)
    ):
        raise Forbidden(BLIND_MESSAGE)


def _position(column, positions: dict[UUID, int]):
    """The position of the row's id in ``positions`` (-1 elsewhere), computed by the
    database: a CASE over a few dozen ids costs it less than writing each id as text."""
    if not positions:
        return literal(-1)
    return case(positions, value=column, else_=-1)


def _segments(
    session: Session,
    access: StudyAccess,
    coders: dict[UUID, int],
    themes: dict[UUID, int],
    passes: list[UUID] | None,
    *,
    with_pass: bool,
) -> tuple[tuple, ...]:
    """Every segment of the coders (in the passes) as columns, from ONE query: ids and
    document ids (as text), theme and coder positions, starts, ends, and pass ids (as
    text, only when asked: otherwise empty).

    Ids come back as the database writes them as text: building 200,000 UUID objects
    (and hashing them in dict lookups) would cost more than the whole computation.
    """
    columns = [
        cast(Segment.id, String).label("id_text"),
        cast(Segment.document_id, String).label("document_id_text"),
        _position(Segment.theme_id, themes).label("theme_position"),
        _position(Segment.coder_id, coders).label("coder_position"),
        Segment.start,
        Segment.end,
    ]
    if with_pass:
        columns.append(cast(Segment.pass_id, String).label("pass_id_text"))
    statement = select(*columns).where(
        visible_segments_clause(access), Segment.coder_id.in_(list(coders))
    )
    if passes is not None:
        statement = statement.where(Segment.pass_id.in_(passes))
    # Core execution, rows fetched straight from the driver as plain tuples: the
    # columns are text and integers, which need no result processing, and building
    # (then transposing) 200,000 Row objects would take longer than the sweep.
    result = session.connection().execute(statement)
    try:
        rows = result.cursor.fetchall()
    finally:
        result.close()
    transposed = tuple(zip(*rows, strict=True)) if rows else ((),) * len(columns)
    return transposed if with_pass else (*transposed, ())


_HEX = np.zeros(256, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
_HEX[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)


def id_bytes(texts: Sequence[str]) -> np.ndarray:
    """16-byte values (dtype V16) of UUIDs written as 32 hex digits, with or without
    the four dashes, decoded all at once."""
    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype="V16")
    digits = np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8).reshape(n, -1)
    if digits.shape[1] == 36:
        digits = np.delete(digits, [8, 13, 18, 23], axis=1)
    nibbles = _HEX[digits]
    packed = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    return np.ascontiguousarray(packed).view("V16").reshape(n)


# --- loading ------------------------------------------------------------------------------


def load(
    *, session: Session, access: StudyAccess, request: AgreementRequest, where: Where = QUERY
) -> StudyData:
    """Check ``request`` against the study and load the segments it selects.

    Non-owners get 403 when blind coding that is not revealed would be involved.
    """
    study = access.study
    if study.blind and study.revealed_at is None and not access.is_owner:
        raise Forbidden(BLIND_MESSAGE)
    columns = _columns(session, study.id, request.coders, where)
    pass_frameworks, hidden_passes = _passes(session, study.id, request.passes, where)
    if len(set(pass_frameworks.values())) > 1:
        raise invalid(where("passes"), "the passes code against different framework versions")
    framework_id = next(iter(pass_frameworks.values()), study.framework_id)
    framework = session.get(Framework, framework_id)
    all_themes, themes = _themes(
        session, framework_id, request.themes, request.include_subthemes, where
    )
    documents = _documents(session, study.id)
    known_documents = {d.id: i for i, d in enumerate(documents)}
    for i, did in enumerate(request.documents or ()):
        if did not in known_documents:
            raise invalid(
                where("documents", i), f"unknown document {did} in this study", "unknown_document"
            )

    coder_rows = [c for column in columns for c in column]
    column_ids = {c.id: i for i, column in enumerate(columns) for c in column}
    coder_ids = {c.id: i for i, c in enumerate(coder_rows)}
    _check_blind_passes(session, access, list(column_ids), request, hidden_passes)
    ids, doc_ids, theme_positions, coder_positions, starts, ends, pass_ids = _segments(
        session,
        access,
        coder_ids,
        {t.id: i for i, t in enumerate(all_themes)},
        request.passes,
        with_pass=bool(hidden_passes),
    )
    # Documents are looked up by the database's own text form of their ids.
    doc_index = {d.key: i for i, d in enumerate(documents)}
    used_hidden = {hidden_passes[p] for p in set(pass_ids) if p in hidden_passes}
    blind_passes = used_hidden | set(hidden_passes.values()).intersection(request.passes or ())

    n = len(ids)
    coder = np.fromiter(coder_positions, np.int64, n)
    column_of_coder = np.array([column_ids[c.id] for c in coder_rows], dtype=np.int64)
    spans = Spans(
        id_bytes(ids),
        np.fromiter(map(doc_index.__getitem__, doc_ids), np.int64, n),
        # Themes of another framework version (another pass's) are not compared: -1.
        np.fromiter(theme_positions, np.int64, n),
        column_of_coder[coder],
        coder,
        np.fromiter(starts, np.int64, n),
        np.fromiter(ends, np.int64, n),
    )
    spans = spans.take(spans.theme >= 0)

    if request.documents is None:
        chosen = _coded_by_two(spans, len(documents))
    else:
        chosen = np.zeros(len(documents), dtype=bool)
        chosen[[known_documents[d] for d in request.documents]] = True
    if not chosen.any():
        raise invalid(
            where("documents"),
            "no document is coded by at least two of the coders compared",
            "no_documents",
        )
    selected = [d for d, keep in zip(documents, chosen.tolist(), strict=True) if keep]
    targets = theme_targets(all_themes, themes, request.include_subthemes)
    counted = np.array([bool(t) for t in targets], dtype=bool)
    spans = spans.take(chosen[spans.document] & counted[spans.theme])
    renumber = np.cumsum(chosen) - 1
    spans = Spans(spans.ids, renumber[spans.document], *_rest(spans))
    return StudyData(
        framework=framework,
        all_themes=all_themes,
        themes=themes,
        targets=targets,
        documents=selected,
        documents_default=request.documents is None,
        columns=columns,
        coder_rows=coder_rows,
        passes=list(request.passes) if request.passes is not None else None,
        spans=spans,
        data_hash=data_hash(spans, selected, all_themes, coder_rows),
        blind_study=bool(study.blind and study.revealed_at is None),
        blind_passes=sorted(blind_passes, key=str),
    )


def _rest(spans: Spans) -> tuple:
    return spans.theme, spans.column, spans.coder, spans.start, spans.end


def _coded_by_two(spans: Spans, n_documents: int) -> np.ndarray:
    pairs = np.unique(spans.document * MAX_COLUMNS + spans.column)
    return np.bincount(pairs // MAX_COLUMNS, minlength=n_documents) >= 2


def texts(*, session: Session, documents: Sequence[DocumentRow]) -> list[str]:
    """The texts of ``documents``, in their order (one query)."""
    found = dict(
        session.execute(
            select(Document.id, Document.text).where(Document.id.in_([d.id for d in documents]))
        ).all()
    )
    return [found[d.id] for d in documents]


def _uuid_bytes(ids: Sequence[UUID]) -> np.ndarray:
    return np.frombuffer(b"".join(u.bytes for u in ids), dtype="V16")


def data_hash(
    spans: Spans,
    documents: Sequence[DocumentRow],
    themes: Sequence[ThemeRow],
    coders: Sequence[CoderRow],
) -> str:
    """SHA-256 of the documents and segments used (see the module documentation)."""
    digest = hashlib.sha256(HASH_PREFIX)
    for document in sorted(documents, key=lambda d: d.id.bytes):
        digest.update(document.id.bytes + document.content_hash.encode("ascii").ljust(64))
    n = len(spans.ids)
    if n:
        ids = spans.ids
        halves = np.frombuffer(ids.tobytes(), dtype=">u8").reshape(n, 2)
        order = np.lexsort((halves[:, 1], halves[:, 0]))
        record = np.dtype(
            [
                ("id", "V16"),
                ("document", "V16"),
                ("theme", "V16"),
                ("coder", "V16"),
                ("start", ">i8"),
                ("end", ">i8"),
            ]
        )
        rows = np.empty(n, dtype=record)
        rows["id"] = ids[order]
        rows["document"] = _uuid_bytes([d.id for d in documents])[spans.document[order]]
        rows["theme"] = _uuid_bytes([t.id for t in themes])[spans.theme[order]]
        rows["coder"] = _uuid_bytes([c.id for c in coders])[spans.coder[order]]
        rows["start"] = spans.start[order]
        rows["end"] = spans.end[order]
        digest.update(rows.tobytes())
    return digest.hexdigest()
