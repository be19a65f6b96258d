import dataclasses
import io
import zipfile
from pathlib import Path

import pytest
import xmlschema

from service.frameworks import refi_codebook as rc
from service.frameworks.builtin import civic_v1, civic_v2
from service.frameworks.domain import ThemeKind
from service.frameworks.refi_codebook import (
    CodebookError,
    CodebookTooLarge,
    code_guid,
    export_qdc,
    import_codebook,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "refi"
ATLAS = FIXTURES / "atlasti-23-codebook-only.qdpx"  # a real ATLAS.ti 23 export
MB = 1 << 20


@pytest.fixture(scope="module")
def schema():
    return xmlschema.XMLSchema(FIXTURES / "Codebook.xsd")


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("make", [civic_v1, civic_v2])
def test_export_is_valid_and_stable(schema, make):
    data = export_qdc(make())
    schema.validate(data.decode())
    assert export_qdc(make()) == data
    assert b'isCodable="false"' not in data


def test_guid_keys_are_kept_and_others_are_deterministic():
    assert code_guid("civic", "{6F1C2E7A-93B4-4D8E-A1F0-2B3C4D5E6F70}") == (
        "6f1c2e7a-93b4-4d8e-a1f0-2b3c4d5e6f70"
    )
    assert code_guid("civic", "closeness") == code_guid("civic", "closeness")
    assert code_guid("civic", "closeness") != code_guid("other", "closeness")


def test_round_trip_keeps_the_tree():
    v2 = civic_v2()
    data = export_qdc(v2)
    imported = import_codebook(data, filename="civic.qdc", max_bytes=MB)
    assert imported.report == () and imported.source_format == "qdc"
    guid = {t.key: code_guid("civic", t.key) for t in v2.themes}
    expected = [
        (guid[t.key], t.code, t.label, t.definition, guid.get(t.parent_key), t.order, t.kind)
        for t in v2.themes
    ]
    got = [
        (t.key, t.code, t.label, t.definition, t.parent_key, t.order, t.kind)
        for t in imported.themes
    ]
    assert got == expected
    # The imported (GUID-keyed) tree exports to the very same bytes.
    again = dataclasses.replace(v2, themes=imported.themes)
    assert export_qdc(again) == data


def test_other_tools_codebook_imports_leniently():
    data = (FIXTURES / "other-tool-codebook.qdc").read_bytes()
    result = import_codebook(data, filename="other.qdc", max_bytes=MB)
    assert [(t.code, t.label, t.key) for t in result.themes] == [
        ("1", "Belonging", "6f1c2e7a-93b4-4d8e-a1f0-2b3c4d5e6f70"),
        ("1.1", "Neighbourhood", "0a1b2c3d-4e5f-4061-8728-394a5b6c7d8e"),
        ("1.2", "Online groups", "b2c3d4e5-f607-4182-9394-a5b6c7d8e9f0"),
        ("2", "Loneliness", "c3d4e5f6-0718-4293-a4b5-c6d7e8f90a1b"),
    ]
    assert result.themes[0].definition == "Feeling part of a group or place."
    assert result.themes[1].parent_key == result.themes[0].key
    assert all(t.kind is ThemeKind.domain for t in result.themes)
    assert result.origin == "Example QDA 4.2"
    notes = [str(n) for n in result.report]
    assert any("urn:QDA-XML:codebook:0:4" in n for n in notes)
    assert any("NoteRef" in n for n in notes)
    assert any("Sets" in n and n.startswith("dropped") for n in notes)
    assert any("3 code colour(s)" in n for n in notes)
    assert any("not codable (Belonging)" in n for n in notes)


def test_atlas_ti_export_imports():
    result = import_codebook(ATLAS.read_bytes(), filename=ATLAS.name, max_bytes=MB)
    assert result.source_format == "qdpx"
    assert result.origin.startswith("ATLAS.ti")
    assert [(t.code, t.label) for t in result.themes] == [
        ("1", "Commits"),
        ("1.1", "2022-05-10T02:05:59Z 19e4dce"),
        ("1.2", "2022-02-11T10:39:25Z cdbfd92"),
    ]
    assert result.themes[0].key == "a182cd3a-d83c-4d8c-bc80-26d9103ec6d6"
    assert [n.where for n in result.report] == ["Project/Users"]


CB = '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>{}</Codes></CodeBook>'
G1, G2 = "11111111-2222-4333-8444-555555555555", "{11111111-2222-4333-8444-555555555555}"


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (
            '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            + CB.format(f'<Code guid="{G1}" name="&b;" isCodable="true"/>'),
            "DOCTYPE",
        ),
        (
            '<!DOCTYPE x SYSTEM "http://example.invalid/x.dtd">' + CB.format(""),
            "DOCTYPE",
        ),
        ("<CodeBook><Codes>", "malformed XML"),
        ('<Codebook xmlns="urn:QDA-XML:codebook:1.0"/>', "root element is <Codebook>"),
        (CB.format(f'<Code guid="{G1}" isCodable="true"/>'), "has no name"),
        (CB.format(f'<Code guid="{G1}" name="A"/><Code guid="{G2}" name="B"/>'), "duplicate"),
        ('<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Sets/></CodeBook>', "no <Codes>"),
    ],
)
def test_bad_codebooks_are_rejected(xml, message):
    with pytest.raises(CodebookError, match=message):
        import_codebook(xml.encode(), filename="bad.qdc", max_bytes=MB)


def test_bad_archives_are_rejected():
    with pytest.raises(CodebookError, match="not a ZIP"):
        import_codebook(b"<CodeBook/>", filename="x.qdpx", max_bytes=MB)
    with pytest.raises(CodebookError, match=r"no project\.qde"):
        import_codebook(_zip({"sources/a.txt": b"hi"}), filename="x.qdpx", max_bytes=MB)


def test_size_limits(monkeypatch):
    with pytest.raises(CodebookTooLarge):
        import_codebook(b" " * 101, filename="a.qdc", max_bytes=100)
    bomb = _zip({"project.qde": b" " * (4 * MB)})  # about 4 KiB compressed
    with pytest.raises(CodebookTooLarge, match=r"project\.qde expands"):
        import_codebook(bomb, filename="b.qdpx", max_bytes=MB)
    with pytest.raises(CodebookTooLarge, match="suspiciously"):
        import_codebook(bomb, filename="b.qdpx", max_bytes=8 * MB)
    monkeypatch.setattr(rc, "MAX_ZIP_ENTRIES", 3)
    many = _zip({f"sources/{i}.txt": b"" for i in range(4)})
    with pytest.raises(CodebookTooLarge, match="entries"):
        import_codebook(many, filename="c.qdpx", max_bytes=MB)
    assert not issubclass(CodebookTooLarge, CodebookError)
