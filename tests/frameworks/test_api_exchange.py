"""Exchange formats through the API: FHIR CodeSystem and ValueSet, REFI-QDA codebook
export and import (including hostile and oversized uploads), and the CSV table."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.valueset import ValueSet

from service.frameworks.refi_codebook import code_guid

CIVIC = "/v1/frameworks/civic/versions"
PROBLEM = "application/problem+json"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "refi"
ATLAS = FIXTURES / "atlasti-23-codebook-only.qdpx"  # a real ATLAS.ti 23 export
IMPORT = "/v1/frameworks:import-codebook"
XML = {"Content-Type": "application/xml"}
ZIP = {"Content-Type": "application/zip"}

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE CodeBook [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>
  <Code guid="6f1c2e7a-93b4-4d8e-a1f0-2b3c4d5e6f70" name="&lol3;" isCodable="true"/>
</Codes></CodeBook>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE CodeBook [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>
  <Code guid="6f1c2e7a-93b4-4d8e-a1f0-2b3c4d5e6f70" name="&secret;" isCodable="true"/>
</Codes></CodeBook>"""


def tree(nodes, parent=None):
    rows = []
    for node in nodes:
        rows.append((node["code"], node["label"], node["definition"], parent, node["kind"]))
        rows += tree(node["children"], node["code"])
    return rows


def keys(nodes):
    out = []
    for node in nodes:
        out.append(node["key"])
        out += keys(node["children"])
    return out


def import_codebook(client, headers, data, content_headers=XML, **params):
    params = {"slug": "imported", **params}
    return client.post(IMPORT, params=params, content=data, headers={**headers, **content_headers})


# --------------------------------------------------------------------------- FHIR


def test_code_system_is_valid_fhir_with_the_public_base_url(app, client, researcher):
    response = client.get(f"{CIVIC}/2/fhir/code-system", headers=researcher)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    resource = CodeSystem.model_validate(response.json())
    base = app.state.settings.public_base_url
    assert resource.url == f"{base}/v1/frameworks/civic/fhir/code-system"
    assert (resource.version, resource.status, resource.count) == ("2", "active", 18)
    top = [(c.code, c.display) for c in resource.concept]
    assert top[5] == ("stigma", "Stigma") and len(top) == 7
    assert "validation study" in resource.description


@pytest.mark.parametrize(
    "path", ["fhir/code-system", "fhir/value-set", "codebook.qdc", "themes.csv"]
)
def test_exports_carry_an_etag_and_revalidate(client, researcher, path):
    url = f"{CIVIC}/2/{path}"
    first = client.get(url, headers=researcher)
    assert first.status_code == 200 and first.headers["etag"]
    again = client.get(url, headers={**researcher, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = client.get(f"{CIVIC}/1/{path}", headers=researcher)
    assert other.headers["etag"] != first.headers["etag"]


def test_canonical_urls_resolve_on_the_service(app, client, researcher):
    base = app.state.settings.public_base_url
    code_system = client.get(f"{CIVIC}/2/fhir/code-system", headers=researcher).json()
    value_set = client.get(f"{CIVIC}/2/fhir/value-set", headers=researcher).json()
    for resource in (code_system, value_set):
        path = resource["url"].removeprefix(base)
        latest = client.get(path, headers=researcher)
        assert latest.status_code == 200, path
        assert latest.json() == resource  # version 2 is the latest published
        older = client.get(path, params={"version": "1"}, headers=researcher).json()
        assert older["version"] == "1" and older["url"] == resource["url"]
    missing = client.get("/v1/frameworks/nothing/fhir/code-system", headers=researcher)
    assert missing.status_code == 404


def test_value_set_lists_the_domains_only(client, researcher):
    response = client.get(f"{CIVIC}/2/fhir/value-set", headers=researcher)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    resource = ValueSet.model_validate(response.json())
    codes = [c.code for c in resource.compose.include[0].concept]
    assert "closeness.trust" in codes and not any(c.startswith("stigma") for c in codes)
    assert len(codes) == 15


def test_fhir_of_an_unknown_version_is_a_problem(client, researcher):
    response = client.get(f"{CIVIC}/9/fhir/code-system", headers=researcher)
    assert response.status_code == 404 and response.headers["content-type"] == PROBLEM


# --------------------------------------------------------------------------- REFI-QDA


def test_export_is_an_xml_download_with_stable_guids(client, researcher):
    response = client.get(f"{CIVIC}/2/codebook.qdc", headers=researcher)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.headers["content-disposition"] == 'attachment; filename="civic-v2.qdc"'
    assert code_guid("civic", "closeness.trust").encode() in response.content
    assert client.get(f"{CIVIC}/2/codebook.qdc", headers=researcher).content == response.content


@pytest.mark.parametrize("version", ["1", "2"])
def test_exported_codebook_imports_back_to_an_identical_tree(client, researcher, version):
    original = client.get(f"{CIVIC}/{version}", headers=researcher).json()
    exported = client.get(f"{CIVIC}/{version}/codebook.qdc", headers=researcher).content
    response = import_codebook(client, researcher, exported, slug="civic-copy", version=version)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/frameworks/civic-copy/versions/{version}"
    body = response.json()
    assert body["report"] == [] and body["source_format"] == "qdc"
    copy = body["framework"]
    assert copy["status"] == "draft" and copy["slug"] == "civic-copy"
    assert tree(copy["themes"]) == tree(original["themes"])
    assert keys(copy["themes"]) == [code_guid("civic", k) for k in keys(original["themes"])]
    assert "CIVIC service" in copy["citation"]
    # The copy is a draft like any other: it can be read again and published.
    stored = client.get("/v1/frameworks/civic-copy/versions/" + version, headers=researcher)
    assert tree(stored.json()["themes"]) == tree(original["themes"])
    published = client.post(
        f"/v1/frameworks/civic-copy/versions/{version}/publish", headers=researcher
    )
    assert published.status_code == 200


def test_another_tools_codebook_imports_with_a_report(client, researcher):
    data = (FIXTURES / "other-tool-codebook.qdc").read_bytes()
    response = import_codebook(
        client, researcher, data, content_headers={"Content-Type": "text/xml"}, title="Belonging"
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["origin"] == "Example QDA 4.2" and body["framework"]["title"] == "Belonging"
    assert [(c, lbl, p) for c, lbl, _, p, _ in tree(body["framework"]["themes"])] == [
        ("1", "Belonging", None),
        ("1.1", "Neighbourhood", "1"),
        ("1.2", "Online groups", "1"),
        ("2", "Loneliness", None),
    ]
    assert body["framework"]["themes"][0]["definition"] == "Feeling part of a group or place."
    actions = {(note["action"], note["where"]) for note in body["report"]}
    assert ("dropped", "Code/@color") in actions
    assert ("repaired", "CodeBook") in actions  # the older namespace
    assert any("NoteRef" in note["detail"] for note in body["report"])


def test_atlas_ti_project_imports(client, researcher):
    response = import_codebook(
        client, researcher, ATLAS.read_bytes(), content_headers=ZIP, filename=ATLAS.name
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["source_format"] == "qdpx" and body["origin"].startswith("ATLAS.ti")
    themes = tree(body["framework"]["themes"])
    assert [(code, parent) for code, _, _, parent, _ in themes] == [
        ("1", None),
        ("1.1", "1"),
        ("1.2", "1"),
    ]
    assert themes[0][1] == "Commits"
    assert body["framework"]["themes"][0]["key"] == "a182cd3a-d83c-4d8c-bc80-26d9103ec6d6"
    assert ("dropped", "Project/Users") in {(n["action"], n["where"]) for n in body["report"]}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (BILLION_LAUGHS, "DOCTYPE"),
        (EXTERNAL_ENTITY, "DOCTYPE"),
        (b"<CodeBook><Codes><Code name='x'>", "malformed XML"),
        (b"<Project xmlns='urn:QDA-XML:project:1.0'/>", "no CodeBook"),
        (b"<Other/>", "root element"),
        (b"<CodeBook xmlns='urn:QDA-XML:codebook:1.0'><Codes/></CodeBook>", "no codes"),
        (b"PK\x03\x04 not really a zip", "ZIP"),
    ],
    ids=["entity-expansion", "external-entity", "malformed", "empty-project", "wrong-root",
         "no-codes", "broken-zip"],
)  # fmt: skip
def test_malformed_or_hostile_codebooks_are_400_saying_why(client, researcher, data, words):
    response = import_codebook(client, researcher, data)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    assert words in response.json()["detail"]
    assert client.get("/v1/frameworks/imported/versions/1", headers=researcher).status_code == 404


def test_oversized_uploads_are_413(app, client, researcher, monkeypatch):
    monkeypatch.setattr(app.state.settings, "max_upload_bytes", 4096)
    big = import_codebook(client, researcher, b"<CodeBook>" + b" " * 5000 + b"</CodeBook>")
    assert big.status_code == 413 and big.headers["content-type"] == PROBLEM
    # Small on the wire, too large once unpacked.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.qde", b"<Project>" + b" " * 50_000 + b"</Project>")
    assert len(buffer.getvalue()) < 4096
    bomb = import_codebook(client, researcher, buffer.getvalue(), content_headers=ZIP)
    assert bomb.status_code == 413 and "project.qde" in bomb.json()["detail"]


def test_import_rules(client, researcher, make_key):
    data = (FIXTURES / "other-tool-codebook.qdc").read_bytes()
    taken = import_codebook(client, researcher, data, slug="civic", version="2")
    assert taken.status_code == 409
    wrong_type = import_codebook(
        client, researcher, data, content_headers={"Content-Type": "application/json"}
    )
    assert wrong_type.status_code == 415
    assert import_codebook(client, researcher, data, slug="Bad Slug").status_code == 422
    assert import_codebook(client, make_key("clinician"), data).status_code == 403
    assert import_codebook(client, {}, data).status_code == 401


def test_overlong_code_names_are_shortened_and_reported(client, researcher):
    name = "A" * 250
    data = (
        "<CodeBook xmlns='urn:QDA-XML:codebook:1.0'><Codes>"
        f"<Code guid='6f1c2e7a-93b4-4d8e-a1f0-2b3c4d5e6f70' name='{name}' isCodable='true'/>"
        "</Codes></CodeBook>"
    ).encode()
    response = import_codebook(client, researcher, data)
    assert response.status_code == 201
    assert len(response.json()["framework"]["themes"][0]["label"]) == 200
    assert any("shortened" in note["detail"] for note in response.json()["report"])


# --------------------------------------------------------------------------- CSV


def test_themes_csv(client, researcher):
    response = client.get(f"{CIVIC}/2/themes.csv", headers=researcher)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="civic-v2.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["code"] for r in rows][:3] == ["1", "1.1", "1.2"] and len(rows) == 18
    stigma = next(r for r in rows if r["code"] == "6")
    assert stigma["kind"] == "barrier" and "outside the study" in stigma["components"]


def test_codes_nested_deeper_than_a_theme_code_allows_are_400(client, researcher):
    depth = 17  # position "1.1.1…" reaches 33 characters, over the 32 a code may have
    opening = "".join(
        f"<Code guid='{i:08d}-0000-4000-8000-000000000000' name='L{i}'>" for i in range(depth)
    )
    data = (
        "<CodeBook xmlns='urn:QDA-XML:codebook:1.0'><Codes>"
        + opening
        + "</Code>" * depth
        + "</Codes></CodeBook>"
    ).encode()
    response = import_codebook(client, researcher, data)
    assert response.status_code == 400 and "nested too deeply" in response.json()["detail"]
