"""CDS Hooks discovery and cards, checked against the specification's card rules."""

from __future__ import annotations

import json
from dataclasses import replace

from fhir.resources.R4B.careplan import CarePlan

from service.frameworks.builtin import civic_v1, civic_v2
from service.frameworks.domain import FrameworkStatus
from service.recommendations.careplan import plan_to_careplan
from service.recommendations.cds import cards_for, discovery
from service.recommendations.engine import recommend
from service.recommendations.schemas import Assessment

BASE = "https://civic.example.org"
V2 = civic_v2()


def assert_no_empty_optionals(value, path="") -> None:
    """CDS Hooks: optional fields are left out, never null, "" or empty."""
    assert value is not None and value != "" and value != [] and value != {}, path
    if isinstance(value, dict):
        for key, inner in value.items():
            assert_no_empty_optionals(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            assert_no_empty_optionals(inner, f"{path}[{i}]")


def assert_valid_card_response(body: dict) -> None:
    assert set(body) == {"cards"} and isinstance(body["cards"], list)
    for card in body["cards"]:
        assert_no_empty_optionals(card, "card")
        assert isinstance(card["summary"], str) and len(card["summary"]) < 140
        assert card["indicator"] in {"info", "warning", "critical"}
        assert isinstance(card["source"]["label"], str)
        assert set(card["source"]) <= {"label", "url", "icon", "topic"}
        for suggestion in card.get("suggestions", []):
            assert suggestion["label"]
            for action in suggestion.get("actions", []):
                assert action["type"] in {"create", "update", "delete"}
                assert action["description"]
                if action["type"] != "delete":
                    assert action["resource"]["resourceType"]
        if "suggestions" in card:
            assert card["selectionBehavior"] in {"at-most-one", "any"}
        for link in card.get("links", []):
            assert link["label"] and link["url"] and link["type"] in {"absolute", "smart"}


def assert_valid_discovery(body: dict) -> None:
    assert set(body) == {"services"}
    assert_no_empty_optionals(body["services"], "services")
    for service in body["services"]:
        assert service["hook"] and service["description"] and service["id"]


def respond(assessment: Assessment, **kw) -> dict:
    plan = recommend(V2, assessment)
    careplan = plan_to_careplan(plan, subject_reference="Patient/p1", base_url=BASE)
    return cards_for(plan, careplan=careplan, source_label="CIVIC service", **kw)


def v2(**kw) -> Assessment:
    return Assessment(framework="civic", version="2", **kw)


def test_discovery_lists_one_patient_view_service_per_published_version():
    draft = replace(V2, version="3", status=FrameworkStatus.draft)
    body = discovery([V2, draft, civic_v1()], base_url=BASE)
    assert_valid_discovery(body)
    assert [s["id"] for s in body["services"]] == ["civic-1-connectedness", "civic-2-connectedness"]
    prefetch = body["services"][1]["prefetch"]["assessment"]
    assert prefetch.startswith("QuestionnaireResponse?subject=Patient/{{context.patientId}}")
    assert f"questionnaire={BASE}/v1/recommendations/questionnaires/civic/2" in prefetch


def test_cards_follow_the_rules_for_plans_of_every_shape():
    cases = {
        "info": v2(needs={"3": "high"}),
        "warning_barrier": v2(needs={"1": "high", "5": 2}, barriers=["6"]),
        "warning_gap": v2(needs={"7.2": 3}, preferences={"likes_animals": False}),
        "empty": v2(),
    }
    bodies = {name: respond(a) for name, a in cases.items()}
    for body in bodies.values():
        assert_valid_card_response(body)
    info = bodies["info"]["cards"][0]
    assert info["indicator"] == "info" and info["source"] == {"label": "CIVIC service"}
    [action] = info["suggestions"][0]["actions"]
    assert action["type"] == "create"
    CarePlan.model_validate(action["resource"])
    barrier = bodies["warning_barrier"]["cards"][0]
    assert barrier["indicator"] == "warning" and "Stigma" in barrier["summary"]
    assert "outside the framework study" in barrier["detail"]
    gap = bodies["warning_gap"]["cards"][0]
    assert gap["indicator"] == "warning" and "suggestions" not in gap
    assert "Connectedness to animals" in gap["detail"]
    assert "suggestions" not in bodies["empty"]["cards"][0]
    linked = respond(cases["info"], source_url=f"{BASE}/docs")["cards"][0]
    assert linked["source"]["url"] == f"{BASE}/docs"


def test_cards_are_byte_identical_for_the_same_input():
    a = v2(needs={"1": 3, "2": 1, "4.2": 2}, barriers=["6.2"])
    first, second = json.dumps(respond(a)), json.dumps(respond(a.model_copy(deep=True)))
    assert first == second
    other = json.dumps(respond(v2(needs={"1": 3})))
    assert json.loads(first)["cards"][0]["uuid"] != json.loads(other)["cards"][0]["uuid"]
