"""Security review: the agreement CSV defuses cells a spreadsheet would run."""

from __future__ import annotations

import csv
import io

import pytest


@pytest.mark.parametrize("title", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)"])
def test_document_titles_cannot_become_formulas(client, coded, title):
    document = coded.document("x" * 1000, title=title)
    a, b = coded.coder("A"), coded.coder("B")
    coded.segment(document, "1.2", a, 100, 250)
    coded.segment(document, "1.2", b, 200, 300)
    response = client.get(
        f"{coded.url}/agreement",
        params={"coder": [a, b], "theme": "1.2", "format": "csv"},
        headers=coded.owner,
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows and all(row["document_title"] == "'" + title for row in rows)
    assert response.headers["cache-control"] == "no-store"
