"""REFI-QDA codebook exchange (``.qdc``, and the codebook inside a ``.qdpx`` project).

Export is strict: the output is valid against the published QDA-XML Codebook.xsd and
byte-identical every time for the same snapshot, so other tools see stable GUIDs.

* GUIDs: a theme whose key already is a GUID (e.g. one imported from another tool)
  keeps it; any other key gets ``uuid5(CIVIC namespace, "<slug>:<key>")``.
* ``isCodable`` is ``true`` on every code, superordinate themes included. In CIVIC a
  passage may fit a domain without fitting any of its subordinate themes (Valued
  relationships has none at all), so coders must be able to code to every level.
* Themes of kind ``barrier`` (Stigma) are also listed in a Set named
  ``BARRIER_SET_NAME``; REFI-QDA has no notion of theme kinds, and a set is the
  standard's own way to group codes. Import recognises that set and restores the kind.

Import is lenient, as the REFI-QDA standard asks: whatever cannot be kept is dropped or
repaired and listed in ``ImportedCodebook.report`` so the user can be told. Elements
are matched by local name, so older namespace versions are read too. What cannot be
repaired raises ``CodebookError`` (HTTP 400); input over the size limits raises
``CodebookTooLarge`` (HTTP 413). The two are deliberately siblings, not parent and
child, so catching ``CodebookError`` never swallows a size error.
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass, replace
from xml.etree import ElementTree as ET  # only to *build* output; parsing uses defusedxml

import defusedxml
import defusedxml.ElementTree as SafeET

from service.frameworks.domain import FrameworkSnapshot, ThemeKind, ThemeNode

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
PROJECT_NS = "urn:QDA-XML:project:1.0"
BARRIER_SET_NAME = "CIVIC: barriers to connectedness"

# Fixed namespace for the deterministic code GUIDs; never change it, or every GUID
# that other tools hold for CIVIC themes changes with it.
_GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:civic:refi-qda:codebook")

# Zip-bomb guards for .qdpx uploads. A project may carry many large media sources we
# never read, so the total is measured against the upload limit with generous room.
MAX_ZIP_ENTRIES = 10_000
MAX_TOTAL_UNCOMPRESSED_FACTOR = 100  # x max_bytes
MAX_COMPRESSION_RATIO = 100  # for entries above _RATIO_FLOOR bytes
_RATIO_FLOOR = 1 << 20
MAX_CODE_DEPTH = 64

_GUID_RE = re.compile(
    r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$"
)
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CODE_ATTRS = {"guid", "name", "isCodable", "color"}


class CodebookError(ValueError):
    """The upload is not a codebook we can read (maps to HTTP 400)."""


class CodebookTooLarge(ValueError):
    """The upload, or what it expands to, exceeds the size limits (maps to HTTP 413)."""


@dataclass(frozen=True, slots=True)
class ImportNote:
    """One thing the import dropped or repaired; shown to the user after an import."""

    action: str  # "dropped" | "repaired"
    where: str  # e.g. 'Code "Trust"' or "CodeBook/Sets"
    detail: str

    def __str__(self) -> str:
        return f"{self.action}: {self.where}: {self.detail}"


@dataclass(frozen=True, slots=True)
class ImportedCodebook:
    themes: tuple[ThemeNode, ...]  # depth-first, parents before children
    report: tuple[ImportNote, ...]
    origin: str | None  # the exporting tool, when it says
    source_format: str  # "qdc" or "qdpx"


# --------------------------------------------------------------------------- export


def code_guid(slug: str, key: str) -> str:
    """The REFI-QDA GUID a theme is exported under; the same on every export."""
    match = _GUID_RE.match(key)
    if match:
        return match.group(1).lower()
    return str(uuid.uuid5(_GUID_NAMESPACE, f"{slug}:{key}"))


def _clean(text: str) -> str:
    return _XML_INVALID.sub("", text)


def export_qdc(snapshot: FrameworkSnapshot) -> bytes:
    """The framework's themes as a REFI-QDA ``.qdc`` codebook (UTF-8 XML)."""
    root = ET.Element(
        "CodeBook",
        {"xmlns": CODEBOOK_NS, "origin": f"CIVIC service ({snapshot.slug} v{snapshot.version})"},
    )
    codes = ET.SubElement(root, "Codes")

    def add(parent: ET.Element, theme: ThemeNode) -> None:
        el = ET.SubElement(
            parent,
            "Code",
            {
                "guid": code_guid(snapshot.slug, theme.key),
                "name": _clean(theme.label),
                "isCodable": "true",
            },
        )
        if theme.definition:
            ET.SubElement(el, "Description").text = _clean(theme.definition)
        for child in snapshot.children(theme.key):
            add(el, child)

    for top in snapshot.children(None):
        add(codes, top)

    barriers = [t for t in snapshot.themes if t.kind is ThemeKind.barrier]
    if barriers:
        sets = ET.SubElement(root, "Sets")
        barrier_set = ET.SubElement(
            sets,
            "Set",
            {"guid": code_guid(snapshot.slug, "set:barriers"), "name": BARRIER_SET_NAME},
        )
        ET.SubElement(
            barrier_set, "Description"
        ).text = "Themes that work against social connectedness rather than being part of it."
        for theme in barriers:
            ET.SubElement(barrier_set, "MemberCode", {"guid": code_guid(snapshot.slug, theme.key)})

    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


# --------------------------------------------------------------------------- import


def import_codebook(data: bytes, *, filename: str | None, max_bytes: int) -> ImportedCodebook:
    """Read a ``.qdc`` codebook or the codebook of a ``.qdpx`` project.

    The format is recognised from the content (a ZIP is a project); ``filename`` only
    has to agree with it. Theme keys are the code GUIDs, lowercased, without braces;
    codes ("1", "1.2", ...) come from each code's position; every theme is a domain
    unless the codebook carries CIVIC's barrier set.
    """
    if len(data) > max_bytes:
        raise CodebookTooLarge(f"the upload is {len(data)} bytes; the limit is {max_bytes}")
    report: list[ImportNote] = []
    name = (filename or "").lower()
    if data[:4] == b"PK\x03\x04":
        xml, source_format = _read_qdpx(data, max_bytes=max_bytes, report=report), "qdpx"
    elif name.endswith(".qdpx"):
        raise CodebookError("the file is named .qdpx but is not a ZIP archive")
    else:
        xml, source_format = data, "qdc"

    root = _parse(xml)
    root_name = _local(root.tag)
    _check_namespace(root, report)
    if root_name == "Project":
        if source_format == "qdc":
            report.append(
                ImportNote("repaired", "Project", "read the codebook of a bare project file")
            )
        book = _only_child(root, "CodeBook")
        if book is None:
            raise CodebookError("the project holds no CodeBook")
        _note_project_parts(root, report)
    elif root_name == "CodeBook":
        if source_format == "qdpx":
            raise CodebookError("project.qde must have a Project root element, not CodeBook")
        book = root
    else:
        raise CodebookError(
            f"the root element is <{root_name}>; expected <CodeBook> (.qdc) or <Project>"
        )

    themes = _read_codes(book, report)
    themes = _read_sets(book, themes, report)
    return ImportedCodebook(
        themes=tuple(themes),
        report=tuple(report),
        origin=book.get("origin") or root.get("origin"),
        source_format=source_format,
    )


def _read_qdpx(data: bytes, *, max_bytes: int, report: list[ImportNote]) -> bytes:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        raise CodebookError(f"the .qdpx file is not a readable ZIP archive ({exc})") from exc
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise CodebookTooLarge(
                f"the archive has {len(entries)} entries; the limit is {MAX_ZIP_ENTRIES}"
            )
        total = sum(e.file_size for e in entries)
        if total > MAX_TOTAL_UNCOMPRESSED_FACTOR * max_bytes:
            raise CodebookTooLarge(f"the archive expands to {total} bytes, which is too large")
        candidates = [e for e in entries if e.filename.lower() == "project.qde"]
        if not candidates:
            candidates = [e for e in entries if e.filename.lower().endswith(".qde")]
            if len(candidates) != 1:
                raise CodebookError("the .qdpx archive holds no project.qde")
            report.append(
                ImportNote(
                    "repaired", candidates[0].filename, "read as project.qde (non-standard name)"
                )
            )
        entry = candidates[0]
        if entry.flag_bits & 0x1:
            raise CodebookError("project.qde is encrypted")
        if entry.file_size > max_bytes:
            raise CodebookTooLarge(
                f"project.qde expands to {entry.file_size} bytes; the limit is {max_bytes}"
            )
        if entry.file_size > _RATIO_FLOOR and entry.file_size > MAX_COMPRESSION_RATIO * max(
            entry.compress_size, 1
        ):
            raise CodebookTooLarge("project.qde is compressed suspiciously well (zip bomb?)")
        try:
            with archive.open(entry) as fh:
                # Never trust the declared size: read at most one byte past the limit.
                xml = fh.read(max_bytes + 1)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
            raise CodebookError(f"project.qde cannot be read from the archive ({exc})") from exc
        if len(xml) > max_bytes:
            raise CodebookTooLarge(f"project.qde expands beyond the limit of {max_bytes} bytes")
        return xml


def _parse(xml: bytes) -> ET.Element:
    try:
        return SafeET.fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden as exc:
        raise CodebookError(
            "DOCTYPE declarations (DTDs, entity declarations) are not accepted"
        ) from exc
    except defusedxml.EntitiesForbidden as exc:
        raise CodebookError("entity declarations are not accepted") from exc
    except defusedxml.ExternalReferenceForbidden as exc:
        raise CodebookError("external references are not accepted") from exc
    except defusedxml.DefusedXmlException as exc:
        raise CodebookError(f"unsafe XML construct: {exc}") from exc
    except ET.ParseError as exc:
        raise CodebookError(f"malformed XML: {exc}") from exc


def _local(tag: object) -> str:
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rsplit("}", 1)[-1]


def _ns(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _check_namespace(root: ET.Element, report: list[ImportNote]) -> None:
    expected = PROJECT_NS if _local(root.tag) == "Project" else CODEBOOK_NS
    found = _ns(root.tag)
    if found != expected:
        shown = found or "no namespace"
        report.append(ImportNote("repaired", _local(root.tag), f"read {shown} as {expected}"))


def _only_child(el: ET.Element, name: str) -> ET.Element | None:
    found = [c for c in el if _local(c.tag) == name]
    return found[0] if found else None


def _note_project_parts(project: ET.Element, report: list[ImportNote]) -> None:
    for child in project:
        name = _local(child.tag)
        if name and name != "CodeBook":
            report.append(
                ImportNote("dropped", f"Project/{name}", "only the codebook of a project is read")
            )


def _read_codes(book: ET.Element, report: list[ImportNote]) -> list[ThemeNode]:
    codes_blocks = []
    for child in book:
        name = _local(child.tag)
        if name == "Codes":
            codes_blocks.append(child)
        elif name and name != "Sets":
            report.append(ImportNote("dropped", f"CodeBook/{name}", "not part of a codebook"))
    if not codes_blocks:
        raise CodebookError("the codebook has no <Codes> element")
    if len(codes_blocks) > 1:
        report.append(
            ImportNote("repaired", "CodeBook/Codes", f"merged {len(codes_blocks)} <Codes> blocks")
        )

    themes: list[ThemeNode] = []
    seen: dict[str, str] = {}
    colours = 0
    not_codable: list[str] = []
    odd_attrs: Counter[str] = Counter()

    # Explicit stack rather than recursion, so hostile nesting cannot blow the stack.
    stack: list[tuple[ET.Element, str | None, str, int]] = []
    top = [c for block in codes_blocks for c in block if _local(c.tag) == "Code"]
    for block in codes_blocks:
        for c in block:
            if _local(c.tag) not in ("Code", ""):
                report.append(ImportNote("dropped", f"Codes/{_local(c.tag)}", "not a Code"))
    stack.extend((el, None, str(i), 1) for i, el in reversed(list(enumerate(top, 1))))

    while stack:
        el, parent_key, code, depth = stack.pop()
        if depth > MAX_CODE_DEPTH:
            raise CodebookError(f"codes are nested more than {MAX_CODE_DEPTH} levels deep")
        label = (el.get("name") or "").strip()
        if not label:
            raise CodebookError(f"the code at position {code} has no name")
        if label != el.get("name"):
            report.append(ImportNote("repaired", f'Code "{label}"', "trimmed spaces around name"))
        where = f'Code "{label}"'
        key = _key_for(el.get("guid"), where, code, label, report)
        if key in seen:
            raise CodebookError(
                f'duplicate GUID {key}: used by code "{seen[key]}" and code "{label}"'
            )
        seen[key] = label

        codable = (el.get("isCodable") or "").strip().lower()
        if codable in ("false", "0"):
            not_codable.append(label)
        elif codable not in ("true", "1"):
            report.append(
                ImportNote("repaired", where, "missing or invalid isCodable read as true")
            )
        if el.get("color") is not None:
            colours += 1
        odd_attrs.update(a for a in el.attrib if a not in _CODE_ATTRS)
        if el.text and el.text.strip():
            report.append(ImportNote("dropped", where, "text directly inside <Code>"))

        definition, children, described = "", [], False
        for child in el:
            name = _local(child.tag)
            if name == "Description":
                if described:
                    report.append(ImportNote("dropped", where, "a second <Description>"))
                else:
                    definition, described = (child.text or "").strip(), True
            elif name == "Code":
                children.append(child)
            elif name == "NoteRef":
                report.append(ImportNote("dropped", where, "a <NoteRef> (memos are not read)"))
            elif name:
                report.append(ImportNote("dropped", where, f"unknown element <{name}>"))

        order = int(code.rsplit(".", 1)[-1])
        themes.append(
            ThemeNode(
                key=key,
                code=code,
                label=label,
                definition=definition,
                kind=ThemeKind.domain,
                parent_key=parent_key,
                order=order,
            )
        )
        stack.extend(
            (c, key, f"{code}.{i}", depth + 1) for i, c in reversed(list(enumerate(children, 1)))
        )

    if not themes:
        raise CodebookError("the codebook holds no codes")
    if colours:
        report.append(
            ImportNote("dropped", "Code/@color", f"{colours} code colour(s); CIVIC keeps none")
        )
    if not_codable:
        report.append(
            ImportNote(
                "repaired",
                "Code/@isCodable",
                f"{len(not_codable)} code(s) marked not codable ({', '.join(not_codable)}) "
                "can be coded to directly in CIVIC",
            )
        )
    for attr, n in sorted(odd_attrs.items()):
        report.append(ImportNote("dropped", f"Code/@{attr}", f"unknown attribute on {n} code(s)"))
    return themes


def _key_for(raw: str | None, where: str, code: str, label: str, report: list[ImportNote]) -> str:
    match = _GUID_RE.match((raw or "").strip())
    if match:
        return match.group(1).lower()
    # Repair deterministically, so importing the same file twice gives the same keys.
    key = str(uuid.uuid5(_GUID_NAMESPACE, f"import:{raw or ''}:{code}:{label}"))
    problem = "missing guid" if not raw else f"invalid guid {raw!r}"
    report.append(ImportNote("repaired", where, f"{problem}; assigned {key}"))
    return key


def _read_sets(
    book: ET.Element, themes: list[ThemeNode], report: list[ImportNote]
) -> list[ThemeNode]:
    barrier_keys: set[str] = set()
    for sets in (c for c in book if _local(c.tag) == "Sets"):
        members = [s for s in sets if _local(s.tag) == "Set"]
        if not members:
            report.append(
                ImportNote("dropped", "CodeBook/Sets", "an empty <Sets> element (no sets)")
            )
        for s in members:
            name = s.get("name") or "(unnamed)"
            if name == BARRIER_SET_NAME:
                for m in s:
                    match = _GUID_RE.match((m.get("guid") or "").strip())
                    if _local(m.tag) == "MemberCode" and match:
                        barrier_keys.add(match.group(1).lower())
                continue
            report.append(ImportNote("dropped", f'Set "{name}"', "code sets are not kept by CIVIC"))
    if not barrier_keys:
        return themes
    known = {t.key for t in themes}
    for missing in sorted(barrier_keys - known):
        report.append(
            ImportNote("dropped", f'Set "{BARRIER_SET_NAME}"', f"member {missing} is no code")
        )
    return [replace(t, kind=ThemeKind.barrier) if t.key in barrier_keys else t for t in themes]
