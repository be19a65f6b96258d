import csv
import dataclasses
import io

from service.frameworks.builtin import civic_v1, civic_v2
from service.frameworks.csv_export import COLUMNS, themes_csv


def _rows(snap):
    return list(csv.DictReader(io.StringIO(themes_csv(snap))))


def test_v2_theme_table():
    rows = _rows(civic_v2())
    assert tuple(rows[0]) == COLUMNS
    assert [r["code"] for r in rows][:4] == ["1", "1.1", "1.2", "2"]
    assert len(rows) == 18
    by_code = {r["code"]: r for r in rows}
    assert by_code["4.1"]["label"] == "Group activities"
    assert by_code["4.1"]["parent_code"] == "4"
    assert by_code["4.1"]["components"] == (
        "Long-running structured group; Finding ongoing community groups"
    )
    assert by_code["6"]["kind"] == "barrier"
    assert by_code["6"]["components"].endswith("(evidence from outside the study)")
    assert by_code["1.1"]["introduced_in"] == "2" and by_code["1.1"]["definition"]


def test_v1_has_no_components_and_formulas_are_defused():
    v1 = civic_v1()
    assert all(r["components"] == "" for r in _rows(v1))
    first = dataclasses.replace(v1.themes[0], label="=HYPERLINK(1)")
    rows = _rows(dataclasses.replace(v1, themes=(first, *v1.themes[1:])))
    assert rows[0]["label"] == "'=HYPERLINK(1)"
