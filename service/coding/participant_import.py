"""Reading participants from CSV, all or nothing.

The header row names ``label`` and ``group``, then attribute columns: the named
attributes (``age``, ``gender``, ``diagnoses``…) and any others, whose values are kept
as text. ``diagnoses`` holds several values separated by ``;``. Empty cells are left
out. Every bad row is reported with its line number (the header is line 1), so one
round of corrections fixes the whole file.

No FastAPI and no database here: the caller passes what it needs to know.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any, NoReturn

from pydantic import ValidationError

from service.coding.identifiers import attribute_problem
from service.coding.schemas import ParticipantAttributes, ParticipantCreate
from service.errors import Unprocessable

MAX_ROWS = 10_000
TYPED = set(ParticipantAttributes.model_fields)
LIST_SEPARATOR = ";"


def parse_participants_csv(
    raw: bytes, *, groups: list[str], existing_labels: set[str]
) -> list[ParticipantCreate]:
    text = _decode(raw)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        _fail(f"The CSV header cannot be read: {exc}.", [])
    if header is None or not any(cell.strip() for cell in header):
        _fail("The CSV is empty; its first line must name the columns.", [])
    columns, header_errors = _read_header(header)
    if header_errors:
        _fail("The CSV header is not valid; nothing was imported.", header_errors)

    rows: list[ParticipantCreate] = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    read = 0
    for line, cells in _records(reader):
        if not any(cell.strip() for cell in cells):
            continue
        read += 1
        if read > MAX_ROWS:
            _fail(f"The CSV has more than {MAX_ROWS} participants; split it.", [])
        row = _read_row(cells, columns, line, groups)
        if isinstance(row, list):
            errors += row
            continue
        if row.label in existing_labels:
            errors.append(_error(line, "label", f"label {row.label!r} is already in the study"))
        elif row.label in seen:
            errors.append(
                _error(line, "label", f"label {row.label!r} is also on line {seen[row.label]}")
            )
        seen.setdefault(row.label, line)
        rows.append(row)
    if errors:
        lines = sorted({error["loc"][1] for error in errors})
        listed = ", ".join(str(n) for n in lines)
        _fail(f"{len(lines)} row(s) are not valid (line {listed}); nothing was imported.", errors)
    if not rows:
        _fail("The CSV has a header but no participants.", [])
    return rows


def _records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on (a quoted cell may span lines)."""
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            _fail(f"The CSV cannot be read from line {start}: {exc}.", [])
        yield start, cells
        start = reader.line_num + 1


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        _fail("The CSV is not UTF-8 text; save it as UTF-8 and try again.", [])


def _read_header(header: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    columns: list[str] = []
    errors: list[dict[str, Any]] = []
    for cell in header:
        name = cell.strip()
        canonical = name.lower().replace(" ", "_")
        if canonical in TYPED or canonical in ("label", "group"):
            name = canonical
        if not name:
            pass  # spreadsheets often save empty trailing columns; their cells must be empty
        elif name in columns:
            errors.append(_error(1, name, f"column {name!r} appears twice"))
        elif problem := attribute_problem(name):
            errors.append(_error(1, name, problem))
        columns.append(name)
    errors += [
        _error(1, None, f"the header has no {required!r} column")
        for required in ("label", "group")
        if required not in columns
    ]
    return columns, errors


def _read_row(
    cells: list[str], columns: list[str], line: int, groups: list[str]
) -> ParticipantCreate | list[dict[str, Any]]:
    if len(cells) != len(columns):
        return [_error(line, None, f"{len(cells)} cells, but the header has {len(columns)}")]
    values: dict[str, str] = {}
    for column, cell in zip(columns, cells, strict=True):
        if not column and cell.strip():
            return [_error(line, None, "a cell under a column with no name has a value")]
        values[column] = cell.strip()
    attributes: dict[str, Any] = {}
    for column, value in values.items():
        if column in ("", "label", "group") or not value:
            continue
        if column == "diagnoses":
            attributes[column] = [v.strip() for v in value.split(LIST_SEPARATOR) if v.strip()]
        else:
            attributes[column] = value
    try:
        row = ParticipantCreate.model_validate(
            {"label": values["label"], "group": values["group"], "attributes": attributes}
        )
    except ValidationError as exc:
        return [_pydantic_error(line, error) for error in exc.errors()]
    if row.group not in groups:
        allowed = ", ".join(groups)
        return [_error(line, "group", f"group {row.group!r} is not one of the study's ({allowed})")]
    return row


def _pydantic_error(line: int, error: Any) -> dict[str, Any]:
    loc = [part for part in error["loc"] if part != "attributes"]
    column = next((str(part) for part in loc if isinstance(part, str)), None)
    return _error(line, column, error["msg"].removeprefix("Value error, "), error["type"])


def _error(line: int, column: str | None, msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"loc": ["row", line, *([column] if column else [])], "msg": msg, "type": kind}


def _fail(detail: str, errors: list[dict[str, Any]]) -> NoReturn:
    raise Unprocessable(detail, errors=errors or None)
