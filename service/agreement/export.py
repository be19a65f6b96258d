"""The per-cell agreement table as CSV (one row per document x theme cell).

Columns: the document and theme, the number of units, the two-coder table (two
coders only), then for each statistic its value, its reason when it has none, and
its band under each scheme that fits it. Empty fields stand for null. Text cells a
spreadsheet would run as a formula are prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from service.agreement.aggregate import schemes_for

TABLE = ("both", "first_only", "second_only", "neither")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def cells_csv(result: dict[str, Any]) -> str:
    """CSV text (RFC 4180, CRLF line ends, header first) of ``result["cells"]``."""
    statistics = result["parameters"]["statistics"]
    documents = {d["id"]: d for d in result["documents"]}
    themes = {t["theme_id"]: t for t in result["themes"]}
    two_coders = len(result["coders"]) == 2
    header = [
        "document_id",
        "document_title",
        "interview_order",
        "theme_id",
        "theme_code",
        "theme_label",
        "n_units",
    ]
    if two_coders:
        header += list(TABLE)
    for statistic in statistics:
        header += [statistic, f"{statistic}_reason"]
        header += [f"{statistic}_{scheme}" for scheme in schemes_for(statistic)]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for cell in result["cells"] or ():
        document, theme = documents[cell["document_id"]], themes[cell["theme_id"]]
        row = [
            cell["document_id"],
            document["title"],
            document["interview_order"],
            cell["theme_id"],
            theme["code"],
            theme["label"],
            cell["n_units"],
        ]
        if two_coders:
            row += [cell["table"][name] for name in TABLE]
        for statistic in statistics:
            figure = cell["statistics"][statistic]
            row += [figure["value"], figure["reason"]]
            row += [figure["bands"].get(scheme) for scheme in schemes_for(statistic)]
        writer.writerow([_safe(v) for v in row])
    return buf.getvalue()
