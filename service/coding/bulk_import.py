"""Bulk import of coded segments: a JSON array or NDJSON of up to 100,000 rows.

All or nothing, in the request's one transaction: every row is checked and every bad
row reported (the first ``MAX_LISTED_ROWS`` in detail, the rest counted); one bad row
rolls back whatever was written, so nothing is stored. Fast enough for 100,000 rows
in seconds: pydantic parses the body in Rust, ids stay strings until they are matched
against the study's own (loaded in one query per kind), and rows are written while
the next ones are checked: COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from typing import Annotated, Any, Final
from uuid import UUID

import psycopg
from psycopg.copy import QueuedLibpqWriter
from pydantic import Field, TypeAdapter, ValidationError
from sqlmodel import Session

from service.audit import service as audit
from service.coding import segments as segments_service
from service.coding.access import StudyAccess
from service.coding.models import Segment
from service.coding.segment_schemas import BulkImportResult, SegmentImportRow
from service.coding.segments import CheckedRow
from service.db import utcnow
from service.errors import Conflict, PayloadTooLarge, Unprocessable

MAX_ROWS: Final = 100_000
MAX_LISTED_ROWS: Final = 1_000  # bad rows described in a 422; the rest are counted
IDS_LISTED_UP_TO: Final = 10_000  # larger imports return counts without the ids
BATCH_ROWS: Final = 5_000  # rows per COPY write / executemany
NDJSON: Final = "application/x-ndjson"

# max_length: pydantic stops collecting row errors past the limit (one compact error).
_ROWS = TypeAdapter(Annotated[list[SegmentImportRow], Field(max_length=MAX_ROWS)])
_ROW = TypeAdapter(SegmentImportRow)
_COLUMNS: Final = (
    "id", "study_id", "document_id", "theme_id", "coder_id", "pass_id", "start", "end",
    "memo", "negative_case", "exemplar", "created_at", "updated_at",
)  # fmt: skip

Problem = dict[str, Any]  # {"loc": [...], "msg": ..., "type": ...}


def import_segments(
    *, session: Session, access: StudyAccess, body: bytes, media_type: str
) -> BulkImportResult:
    rows, problems = parse(body, media_type)
    refs = segments_service.load_references(session=session, access=access)
    # Rows are written while the rest are checked, so the database works while Python
    # does. At the first bad row writing stops; checking goes on to report them all,
    # and the 422 rolls back what was written: nothing is stored.
    try:
        with SegmentWriter(session=session, study_id=access.study.id) as writer:
            for index, row in enumerate(rows):
                if row is None:
                    continue
                checked, row_problems = segments_service.check_row(row, refs)
                if checked is None:
                    problems.extend(
                        {"loc": ["body", index, p.field], "msg": p.msg, "type": p.type}
                        for p in row_problems
                    )
                elif not problems:
                    writer.add(checked)
            if problems:
                raise _invalid(problems, len(rows))
    except psycopg.errors.IntegrityError as exc:  # SQLite's are SQLAlchemy's: 409 anyway
        # A document, coder, pass or theme was deleted while the rows were checked.
        raise Conflict(
            "The study changed during the import (a referenced object was deleted); "
            "nothing was stored. Send the import again."
        ) from exc
    documents = len(writer.documents)
    audit.record(
        session=session,
        principal=access.principal,
        action="segments.bulk_imported",
        resource_type="study",
        resource_id=str(access.study.id),
        details={"created": len(writer.ids), "documents": documents},
    )
    return BulkImportResult(
        created=len(writer.ids),
        documents=documents,
        ids=[_dashed(i) for i in writer.ids] if len(writer.ids) <= IDS_LISTED_UP_TO else None,
    )


# --- parsing --------------------------------------------------------------------------


def parse(body: bytes, media_type: str) -> tuple[list[dict[str, Any] | None], list[Problem]]:
    """Rows (None for a row that failed to parse) and the problems found so far."""
    if media_type == NDJSON:
        return _parse_ndjson(body)
    return _parse_array(body)


def _parse_array(body: bytes) -> tuple[list[dict[str, Any] | None], list[Problem]]:
    try:
        rows = _ROWS.validate_json(body)
    except ValidationError as exc:
        whole = [e for e in exc.errors(include_url=False, include_input=False) if not e["loc"]]
        if whole and whole[0]["type"] == "too_long":
            _check_count(whole[0]["ctx"]["actual_length"])
        if whole:
            reason = "expected a JSON array" if whole[0]["type"] == "list_type" else whole[0]["msg"]
            raise _unreadable(reason) from exc
        # Some rows are wrong: parse again row by row, so that every bad row is reported
        # and the good ones are still checked against the study.
        try:
            items = json.loads(body)
        except ValueError as error:  # not expected: pydantic read it already
            raise _unreadable(str(error)) from exc
        return _rows_one_by_one(items, _ROW.validate_python)
    _check_count(len(rows))
    return rows, []


def _parse_ndjson(body: bytes) -> tuple[list[dict[str, Any] | None], list[Problem]]:
    lines = [line for line in body.split(b"\n") if line.strip()]
    _check_count(len(lines))
    return _rows_one_by_one(lines, _ROW.validate_json)


def _rows_one_by_one(items: list[Any], validate) -> tuple[list[Any], list[Problem]]:
    rows: list[dict[str, Any] | None] = []
    problems: list[Problem] = []
    for index, item in enumerate(items):
        try:
            rows.append(validate(item))
        except ValidationError as exc:
            rows.append(None)
            problems.extend(
                {"loc": ["body", index, *error["loc"]], "msg": error["msg"], "type": error["type"]}
                for error in exc.errors(include_url=False)
            )
    return rows, problems


def _check_count(count: int) -> None:
    if count > MAX_ROWS:
        raise PayloadTooLarge(
            f"{count:,} segments sent; at most {MAX_ROWS:,} are accepted in one import. "
            "Split the file and send the parts one after another."
        )
    if count == 0:
        raise _unreadable("no segments sent")


def _unreadable(reason: str) -> Unprocessable:
    return Unprocessable(
        f"The body could not be read as segments: {reason}. Nothing was stored.",
        errors=[{"loc": ["body"], "msg": reason, "type": "json_invalid"}],
    )


def _invalid(problems: list[Problem], total: int) -> Unprocessable:
    problems.sort(key=lambda problem: problem["loc"][1])
    bad_rows = sorted({problem["loc"][1] for problem in problems})
    listed = set(bad_rows[:MAX_LISTED_ROWS])
    more = len(bad_rows) - len(listed)
    detail = f"{len(bad_rows):,} of {total:,} rows are invalid; nothing was stored."
    if more:
        detail += f" The first {MAX_LISTED_ROWS:,} are listed; {more:,} more are not."
    return Unprocessable(
        detail,
        errors=[problem for problem in problems if problem["loc"][1] in listed],
        invalid_rows=len(bad_rows),
        unlisted_rows=more,
    )


# --- writing --------------------------------------------------------------------------


class SegmentWriter:
    """Writes checked rows in batches inside the session's transaction: COPY on
    PostgreSQL (on psycopg's connection under the session, fed by a thread so that
    sending overlaps checking), executemany elsewhere. Values are written as the column
    types store them (a UUID as 32 hex digits), skipping SQLAlchemy's per-value
    processing. An exception inside the block abandons the COPY."""

    def __init__(self, *, session: Session, study_id: UUID) -> None:
        self._connection = session.connection()
        self._study = study_id.hex
        self._pending: list[CheckedRow] = []
        self._stack = ExitStack()
        self._copy = None
        self.ids: list[str] = []
        self.documents: set[UUID] = set()

    def __enter__(self) -> SegmentWriter:
        if self._connection.dialect.name == "postgresql":
            driver = self._connection.connection.driver_connection
            cursor = self._stack.enter_context(driver.cursor())
            columns = ", ".join(f'"{name}"' for name in _COLUMNS)
            self._copy = self._stack.enter_context(
                cursor.copy(
                    f"COPY segments ({columns}) FROM STDIN", writer=QueuedLibpqWriter(cursor)
                )
            )
            now = utcnow().isoformat()
        else:
            stamp = Segment.__table__.c.created_at.type.bind_processor(self._connection.dialect)
            now = stamp(utcnow()) if stamp else utcnow()
        self._now = now
        return self

    def add(self, row: CheckedRow) -> None:
        self._pending.append(row)
        if len(self._pending) >= BATCH_ROWS:
            self._flush()

    def __exit__(self, *exc_info) -> None:
        if exc_info[1] is None:
            try:
                self._flush()
            except BaseException as error:
                self._stack.__exit__(type(error), error, error.__traceback__)
                raise
        self._stack.__exit__(*exc_info)

    def _flush(self) -> None:
        rows, self._pending = self._pending, []
        if not rows:
            return
        ids = _uuid4_hex(len(rows))
        self.ids.extend(ids)
        self.documents.update(row.document.id for row in rows)
        if self._copy is not None:
            self._copy.write(_copy_lines(self._study, ids, rows, self._now))
        else:
            self._connection.exec_driver_sql(_INSERT, _tuples(self._study, ids, rows, self._now))


_INSERT = "INSERT INTO segments ({}) VALUES ({})".format(  # noqa: S608 (fixed names)
    ", ".join(f'"{name}"' for name in _COLUMNS), ", ".join("?" for _ in _COLUMNS)
)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_FLAG = {False: "f", True: "t"}


def _copy_lines(study: str, ids: list[str], rows: list[CheckedRow], now: str) -> str:
    """Rows in COPY's text format, built here: psycopg's ``write_row`` adapts value
    by value, which costs more than all the checking."""
    head, tail = f"\t{study}\t", f"\t{now}\t{now}\n"
    return "".join(
        f"{segment_id}{head}{r.document.hex}\t{r.theme.hex}\t{r.coder.hex}\t"
        f"{r.pass_.hex if r.pass_ else NULL}\t{r.start}\t{r.end}\t"
        f"{r.memo.translate(_COPY_ESCAPES)}\t{_FLAG[r.negative_case]}\t{_FLAG[r.exemplar]}{tail}"
        for segment_id, r in zip(ids, rows, strict=True)
    )


NULL: Final = "\\N"


def _tuples(study: str, ids: list[str], rows: list[CheckedRow], now: Any) -> list[tuple]:
    return [
        (
            segment_id,
            study,
            r.document.hex,
            r.theme.hex,
            r.coder.hex,
            r.pass_.hex if r.pass_ else None,
            r.start,
            r.end,
            r.memo,
            int(r.negative_case),
            int(r.exemplar),
            now,
            now,
        )
        for segment_id, r in zip(ids, rows, strict=True)
    ]


_VERSION_4 = bytes((byte & 0x0F) | 0x40 for byte in range(256))
_VARIANT_RFC = bytes((byte & 0x3F) | 0x80 for byte in range(256))


def _uuid4_hex(count: int) -> list[str]:
    """Random (version 4) UUIDs as 32 hex digits, from one read of the system's random
    source with the version and variant bits set in bulk: ``uuid.uuid4()`` per row
    costs more than checking the row."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_VARIANT_RFC)
    digits = raw.hex()
    return [digits[offset : offset + 32] for offset in range(0, 32 * count, 32)]


def _dashed(h: str) -> str:
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
