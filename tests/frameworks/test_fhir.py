import dataclasses

import pytest
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.valueset import ValueSet
from pydantic import ValidationError

from service.frameworks.builtin import civic_v1, civic_v2
from service.frameworks.domain import FrameworkStatus
from service.frameworks.fhir import code_system, computable_name, domain_value_set

BASE = "https://civic.example.org/"


def _walk(concepts, depth=0):
    for c in concepts:
        yield depth, c
        yield from _walk(c.get("concept", []), depth + 1)


def test_code_system_for_v2():
    cs = code_system(civic_v2(), base_url=BASE)
    CodeSystem.model_validate(cs)
    assert cs["url"] == "https://civic.example.org/v1/frameworks/civic/fhir/code-system"
    assert (cs["version"], cs["name"], cs["status"]) == ("2", "Civic", "active")
    assert (cs["content"], cs["hierarchyMeaning"], cs["count"]) == ("complete", "is-a", 18)
    concepts = dict((c["code"], (d, c)) for d, c in _walk(cs["concept"]))
    assert len(concepts) == 18
    assert [c["code"] for c in cs["concept"]][5] == "stigma"
    depth, trust = concepts["closeness.trust"]
    assert depth == 1 and trust["display"] == "Trust" and trust["definition"]
    props = {p["code"]: p for p in concepts["stigma"][1]["property"]}
    assert props["kind"]["valueCode"] == "barrier"
    assert props["introduced_in"]["valueString"] == "2"
    assert props["position"]["valueString"] == "6"


def test_status_mapping_and_v1():
    v1 = civic_v1()
    for status, fhir_status in [("draft", "draft"), ("retired", "retired")]:
        snap = dataclasses.replace(v1, status=FrameworkStatus(status))
        assert code_system(snap, base_url=BASE)["status"] == fhir_status
    assert computable_name("my-local framework") == "MyLocalFramework"
    assert computable_name("2024") == "Framework2024"


def test_domain_value_set_excludes_barriers():
    vs = domain_value_set(civic_v2(), base_url=BASE)
    ValueSet.model_validate(vs)
    (include,) = vs["compose"]["include"]
    assert include["system"] == "https://civic.example.org/v1/frameworks/civic/fhir/code-system"
    codes = [c["code"] for c in include["concept"]]
    assert len(codes) == 15 and not any(c.startswith("stigma") for c in codes)
    assert codes[:3] == ["closeness", "closeness.comfort", "closeness.trust"]


def test_validation_is_real():
    # fhir.resources checks structure and cardinality (not value-set bindings).
    cs = code_system(civic_v2(), base_url=BASE)
    with pytest.raises(ValidationError):
        CodeSystem.model_validate({**cs, "concept": [{"display": "no code"}]})
