"""The assessment Questionnaire, reading its responses, and the CarePlan proposal."""

from __future__ import annotations

import copy

import pytest
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from hypothesis import given, settings
from hypothesis import strategies as st

from service.frameworks.builtin import civic_v1, civic_v2
from service.recommendations.careplan import plan_to_careplan
from service.recommendations.engine import AssessmentError, recommend
from service.recommendations.questionnaire import (
    assessment_to_questionnaire_response,
    build_questionnaire,
    parse_questionnaire_response,
)
from service.recommendations.schemas import DISCLAIMER, Assessment

BASE = "https://civic.example.org"
V2 = civic_v2()
DOMAINS = [t.code for t in V2.themes if t.kind == "domain"]


def link_ids(items: list[dict]) -> list[str]:
    return [x for i in items for x in [i["linkId"], *link_ids(i.get("item", []))]]


def full_assessment(**kw) -> Assessment:
    needs = {c: ["none", "low", "moderate", "high"][i % 4] for i, c in enumerate(DOMAINS)}
    return Assessment(framework="civic", version="2", needs=needs, **kw)


def response(assessment: Assessment) -> dict:
    return assessment_to_questionnaire_response(V2, assessment, base_url=BASE)


def problems(resource: dict, **kw) -> set[tuple[str, str]]:
    with pytest.raises(AssessmentError) as err:
        parse_questionnaire_response(V2, resource, **kw)
    return {(p.code, p.type) for p in err.value.problems}


def test_questionnaire_is_valid_fhir_with_stable_link_ids():
    q = build_questionnaire(V2, base_url=BASE + "/")
    Questionnaire.model_validate(q)
    assert q["url"] == f"{BASE}/v1/recommendations/questionnaires/civic/2"
    ids = link_ids(q["item"])
    assert len(ids) == len(set(ids)) and ids == link_ids(
        build_questionnaire(V2, base_url=BASE)["item"]
    )
    needs = q["item"][0]["item"]
    assert [i["prefix"] for i in needs] == DOMAINS and all(i["required"] for i in needs)
    assert [o["valueCoding"]["code"] for o in needs[0]["answerOption"]] == [
        "none",
        "low",
        "moderate",
        "high",
    ]
    assert "barrier.stigma.judged" in ids and "context.weeks-available" in ids
    v1_groups = [g["linkId"] for g in build_questionnaire(civic_v1(), base_url=BASE)["item"]]
    assert v1_groups == ["needs", "preferences", "context"]  # v1 has no barrier themes


def test_response_round_trips_to_the_same_assessment():
    a = full_assessment(
        barriers=["6", "6.2"],
        preferences={
            "declined_domains": ["1", "3"],
            "format": "no_group",
            "digital_contact_ok": True,
            "likes_animals": False,
        },
        context={"in_group_intervention": True, "weeks_available": 12},
    )
    qr = response(a)
    QuestionnaireResponse.model_validate(qr)
    assert parse_questionnaire_response(V2, qr, base_url=BASE) == a
    assert parse_questionnaire_response(V2, response(full_assessment())) == full_assessment()


def in_order(codes: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(codes), unique=True).map(
        lambda xs: [c for c in codes if c in xs]
    )


@settings(max_examples=30, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "needs": st.fixed_dictionaries(
                {c: st.sampled_from(["none", "low", "moderate", "high"]) for c in DOMAINS}
            ),
            "barriers": in_order(["6", "6.1", "6.2"]),
            "preferences": st.fixed_dictionaries(
                {
                    "declined_domains": in_order(DOMAINS),
                    "format": st.sampled_from(["one_to_one", "group", "no_group", "no_preference"]),
                    "digital_contact_ok": st.booleans(),
                    "spiritual_beliefs_important": st.none() | st.booleans(),
                    "likes_animals": st.none() | st.booleans(),
                }
            ),
            "context": st.fixed_dictionaries(
                {
                    "in_group_intervention": st.booleans(),
                    "weeks_available": st.none() | st.integers(0, 52),
                }
            ),
        }
    )
)
def test_any_complete_assessment_round_trips(fields: dict):
    a = Assessment(framework="civic", version="2", **fields)
    assert parse_questionnaire_response(V2, response(a), base_url=BASE) == a


def test_response_answered_by_walking_the_generated_form_parses():
    def answer(item: dict) -> dict:
        out: dict = {"linkId": item["linkId"]}
        if item["type"] == "group":
            out["item"] = [answer(i) for i in item["item"]]
        elif item["type"] == "choice":
            out["answer"] = [item["answerOption"][-1]]
        else:
            out["answer"] = [
                {"valueInteger": 3} if item["type"] == "integer" else {"valueBoolean": True}
            ]
        return out

    form = build_questionnaire(V2, base_url=BASE)
    qr = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": form["url"],
        "status": "completed",
    }
    qr["item"] = [answer(i) for i in form["item"]]
    a = parse_questionnaire_response(V2, qr)
    assert set(a.needs.values()) == {"high"} and a.barriers == ["6", "6.1", "6.2"]
    assert a.preferences.declined_domains == ["7.2"] and a.context.weeks_available == 3


def test_bad_responses_name_the_link_id():
    qr = response(full_assessment())
    missing = copy.deepcopy(qr)
    del missing["item"][0]["item"][0]
    assert problems(missing) == {("need.closeness", "missing_answer")}

    bad = copy.deepcopy(qr)
    bad["item"][0]["item"][1]["answer"] = [{"valueCoding": {"code": "severe"}}]
    bad["item"][0]["item"][2]["answer"] = [{"valueBoolean": True}]
    weeks = {"linkId": "context.weeks-available", "answer": [{"valueInteger": -1}]}
    bad["item"][-1]["item"].append(weeks)
    bad["item"].append({"linkId": "need.made_up", "answer": [{"valueBoolean": True}]})
    assert problems(bad) == {
        ("need.closeness.comfort", "invalid_answer"),
        ("need.closeness.trust", "invalid_answer"),
        ("context.weeks-available", "invalid_answer"),
        ("need.made_up", "unknown_item"),
    }

    foreign = {**qr, "questionnaire": "https://elsewhere.org/fhir/Questionnaire/phq-9"}
    assert problems(foreign) == {
        ("https://elsewhere.org/fhir/Questionnaire/phq-9", "foreign_questionnaire")
    }
    other_server = {
        **qr,
        "questionnaire": "https://elsewhere.org/v1/recommendations/questionnaires/civic/2",
    }
    assert problems(other_server, base_url=BASE) == {
        (other_server["questionnaire"], "foreign_questionnaire")
    }
    assert problems({"resourceType": "Patient"}) == {("Patient", "wrong_resource")}
    assert problems({**qr, "status": "entered-in-error"}) == {
        ("entered-in-error", "invalid_status")
    }


def test_careplan_is_a_valid_draft_proposal_with_domains_as_reason_codes():
    plan = recommend(V2, full_assessment(barriers=["6"]))
    cp = plan_to_careplan(plan, subject_reference="Patient/123", base_url=BASE)
    model = CarePlan.model_validate(cp)
    assert (model.status, model.intent, model.subject.reference) == (
        "draft",
        "proposal",
        "Patient/123",
    )
    assert len(cp["activity"]) == len(plan.components)
    first, pc = cp["activity"][0]["detail"], plan.components[0]
    assert first["status"] == "not-started" and first["code"]["text"] == pc.name
    coding = first["reasonCode"][0]["coding"][0]
    assert coding == {
        "system": f"{BASE}/v1/frameworks/civic/fhir/code-system",
        "version": "2",
        "code": pc.covers[0].key,
        "display": pc.covers[0].label,
    }
    assert cp["note"][0]["text"] == DISCLAIMER and DISCLAIMER in cp["description"]
    empty = recommend(V2, Assessment(framework="civic", version="2"))
    anonymous = plan_to_careplan(empty, subject_reference=None, base_url=BASE)
    CarePlan.model_validate(anonymous)
    assert "activity" not in anonymous and "reference" not in anonymous["subject"]
