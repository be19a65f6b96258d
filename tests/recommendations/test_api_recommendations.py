"""POST /v1/recommendations through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest
from fhir.resources.R4B.careplan import CarePlan
from sqlalchemy import func, select

from service.audit.models import AuditEvent
from service.frameworks.builtin import civic_v2
from service.frameworks.domain import FrameworkStatus, ThemeKind
from service.frameworks.models import Framework
from service.frameworks.store import store_snapshot
from service.http.idempotency import IdempotencyRecord
from service.logs import JsonFormatter
from service.recommendations.schemas import DISCLAIMER

URL = "/v1/recommendations"
V2 = civic_v2()
DOMAINS = [t.code for t in V2.themes if t.kind == ThemeKind.domain]


def body(**kw) -> dict:
    return {"framework": "civic", "version": "2", **kw}


@pytest.fixture
def clinician(make_key) -> dict[str, str]:
    return make_key("clinician", "test-clinician")


def plan_for(client, headers, **kw) -> dict:
    response = client.post(URL, json=body(**kw), headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def keys(plan: dict) -> list[str]:
    return [c["key"] for c in plan["components"]]


def test_every_domain_in_need_is_covered_or_listed_as_a_gap(client, clinician):
    plan = plan_for(
        client,
        clinician,
        needs=dict.fromkeys(DOMAINS, 3),
        preferences={"format": "no_group", "likes_animals": False},
    )
    status = {d["code"]: d["status"] for d in plan["domains"]}
    assert set(status) == set(DOMAINS)
    covered = {d["code"] for c in plan["components"] for d in c["covers"]}
    gaps = {g["code"] for g in plan["gaps"]}
    assert covered | gaps == set(DOMAINS) and not covered & gaps
    assert {c for c, s in status.items() if s == "gap"} == gaps
    assert all(g["reason"] for g in plan["gaps"])
    assert plan["framework"] == {
        "slug": "civic",
        "version": "2",
        "title": V2.title,
    }
    assert plan["disclaimer"] == DISCLAIMER


def test_declining_closeness_removes_its_components_and_says_so(client, clinician):
    plan = plan_for(
        client,
        clinician,
        needs={"1": "high", "3": "low"},
        preferences={"declined_domains": ["1"]},
    )
    assert not {"gradual_self_disclosure", "long_term_group"} & set(keys(plan))
    closeness = next(d for d in plan["domains"] if d["code"] == "1")
    assert closeness["status"] == "declined" and closeness["chosen"] == []
    assert {r["component_key"] for r in closeness["removed"]} == {
        "gradual_self_disclosure",
        "long_term_group",
    }
    assert [d["code"] for d in plan["declined"]] == ["1", "1.1", "1.2"]
    assert any(a.startswith("Closeness declined") for a in plan["adjustments"])
    assert "declined by the person" in plan["summary"]


def test_stigma_adds_the_barrier_note_and_prefers_peer_settings(client, clinician):
    needs = {"2": "moderate", "5": "moderate"}
    without = plan_for(client, clinician, needs=needs)
    assert without["barrier_notes"] == []
    plan = plan_for(client, clinician, needs=needs, barriers=["6"])
    assert keys(plan) == ["story_sharing", "group_disclosure"]
    assert keys(plan) != keys(without)
    [note] = plan["barrier_notes"]
    assert note["label"] == "Stigma"
    assert any("not a need to increase" in n for n in note["notes"])
    assert all("Peer or shared-experience" in c["why"] for c in plan["components"])
    assert "6" not in {d["code"] for d in plan["domains"]}  # a barrier is never a need


def test_no_need_gives_an_empty_plan_with_a_sentence(client, clinician):
    plan = plan_for(client, clinician, needs=dict.fromkeys(DOMAINS, "none"))
    assert plan["components"] == [] and plan["domains"] == [] and plan["gaps"] == []
    assert plan["summary"] == "No need was assessed in any domain, so no component is proposed."
    assert plan["method"]["name"] == "none"


def test_everything_declined_gives_an_empty_plan_that_explains_it(client, clinician):
    top = ["1", "2", "3", "4", "5", "7"]
    plan = plan_for(
        client,
        clinician,
        needs=dict.fromkeys(top, "high"),
        preferences={"declined_domains": top},
    )
    assert plan["components"] == []
    assert [(g["code"], g["kind"]) for g in plan["gaps"]] == [(c, "declined") for c in top]
    assert {d["status"] for d in plan["domains"]} == {"declined"}
    assert "Every domain in need was declined" in plan["summary"]
    assert len(plan["adjustments"]) == len(top)
    assert all(d["removed"] for d in plan["domains"] if d["candidates"])


def test_the_same_assessment_gives_byte_identical_responses(client, clinician):
    needs = {"1": 3, "2": 1, "4.2": "moderate", "7.1": 2}
    prefs = {"declined_domains": ["5", "3"], "format": "one_to_one"}
    responses = [
        client.post(
            URL,
            content=json.dumps(
                body(
                    needs=dict(reversed(list(needs.items()))) if i % 2 else needs,
                    barriers=["6", "6.2"] if i % 2 else ["6.2", "6"],
                    preferences={**prefs, "declined_domains": ["3", "5"]} if i % 2 else prefs,
                ),
                indent=i,
            ),
            headers={**clinician, "Content-Type": "application/json"},
        )
        for i in range(3)
    ]
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1


def test_careplan_format_is_a_valid_fhir_careplan(client, clinician):
    response = client.post(
        URL + "?format=careplan",
        json=body(needs={"1": "high", "5": "low"}, barriers=["6"]),
        headers=clinician,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    careplan = response.json()
    model = CarePlan.model_validate(careplan)
    assert (model.status, model.intent) == ("draft", "proposal")
    assert "reference" not in careplan["subject"]  # no patient is known on this route
    assert careplan["note"][0]["text"] == DISCLAIMER
    plan = plan_for(client, clinician, needs={"1": "high", "5": "low"}, barriers=["6"])
    assert [a["detail"]["code"]["coding"][0]["code"] for a in careplan["activity"]] == keys(plan)
    bad = client.post(URL + "?format=pdf", json=body(), headers=clinician)
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "format"]


def errors_of(response) -> list[tuple[list, str]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [(e["loc"], e["type"]) for e in response.json()["errors"]]


def test_unknown_domains_and_misplaced_themes_are_422_naming_them(client, clinician):
    response = client.post(
        URL,
        json=body(
            needs={"9": "low", "6": "high"},
            barriers=["1"],
            preferences={"declined_domains": ["6.1"]},
        ),
        headers=clinician,
    )
    assert sorted(errors_of(response)) == sorted(
        [
            (["body", "needs", "9"], "unknown_theme"),
            (["body", "needs", "6"], "not_a_domain"),
            (["body", "barriers", "1"], "not_a_barrier"),
            (["body", "preferences", "declined_domains", "6.1"], "not_a_domain"),
        ]
    )
    messages = " ".join(e["msg"] for e in response.json()["errors"])
    assert "'9'" in messages and "Stigma" in messages


def test_unknown_fields_and_bad_levels_are_422(client, clinician):
    cases = [
        (body(colour="blue"), ["body", "colour"]),
        (body(preferences={"colour": "blue"}), ["body", "preferences", "colour"]),
        (body(needs={"1": "severe"}), ["body", "needs", "1"]),
        (body(needs={"1": 5}), ["body", "needs", "1"]),
        ({"version": "2"}, ["body", "framework"]),
    ]
    for payload, loc in cases:
        response = client.post(URL, json=payload, headers=clinician)
        assert response.status_code == 422, payload
        assert loc in [e["loc"] for e in response.json()["errors"]], response.json()


def test_unknown_framework_is_422_naming_it(client, clinician):
    for slug, version, field in (("civic", "9", "version"), ("nope", "1", "framework")):
        response = client.post(URL, json={"framework": slug, "version": version}, headers=clinician)
        [(loc, kind)] = errors_of(response)
        assert (loc, kind) == (["body", field], "unknown_framework")
        assert f"{slug}@{version}" in response.json()["errors"][0]["msg"]


@pytest.mark.parametrize("field", ["framework", "version"])
@pytest.mark.parametrize("bad", ["civic\x00", "\ud800"])
def test_a_framework_name_that_cannot_be_stored_is_422_not_500(client, clinician, field, bad):
    # Neither can be sent to PostgreSQL (NUL) or encoded at all (a lone surrogate).
    response = client.post(
        URL,
        content=json.dumps(body(**{field: bad})),
        headers={**clinician, "Content-Type": "application/json"},
    )
    [(loc, kind)] = errors_of(response)
    assert (loc, kind) == (["body", field], "unknown_framework")


def test_a_problem_quoting_a_lone_surrogate_is_sent_not_500(client, clinician):
    # The problem names the theme code sent; UTF-8 could not encode it.
    response = client.post(
        URL,
        content=json.dumps(body(needs={"\ud800": 3})),
        headers={**clinician, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == ["body", "needs", "\ufffd"]


def test_draft_and_retired_frameworks_are_422(app, client, clinician):
    draft_v3 = replace(V2, version="3-draft", status=FrameworkStatus.draft)
    with app.state.sessionmaker() as session:
        store_snapshot(session=session, snapshot=draft_v3)
        session.commit()
    draft = client.post(URL, json=body(version="3-draft", needs={"1": 2}), headers=clinician)
    assert errors_of(draft) == [(["body", "version"], "not_published")]
    assert "draft" in draft.json()["errors"][0]["msg"]

    assert plan_for(client, clinician, needs={"1": 2})["components"]  # cached while published
    with app.state.sessionmaker() as session:
        v2 = session.scalars(
            select(Framework).where(Framework.slug == "civic", Framework.version == "2")
        ).one()
        v2.status = FrameworkStatus.retired.value
        session.commit()
    retired = client.post(URL, json=body(needs={"1": 2}), headers=clinician)
    assert errors_of(retired) == [(["body", "version"], "not_published")]
    assert "retired" in retired.json()["errors"][0]["msg"]


@pytest.mark.parametrize("role", ["clinician", "integrator", "researcher", "admin"])
def test_every_role_may_ask_for_a_recommendation(client, make_key, role):
    response = client.post(URL, json=body(needs={"3": 1}), headers=make_key(role))
    assert response.status_code == 200


def test_callers_without_a_valid_key_get_401(client):
    for headers in ({}, {"Authorization": "Bearer civic_not-a-key"}, {"Authorization": "Basic x"}):
        response = client.post(URL, json=body(needs={"3": 1}), headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"


def audit_rows(app) -> list[AuditEvent]:
    with app.state.sessionmaker() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.at)))


# Everything an assessment or its plan could reveal, none of which may be audited or logged.
CONTENT = [
    "Closeness",
    "closeness",
    "Stigma",
    "stigma",
    "high",
    "moderate",
    "needs",
    "barrier",
    "declined",
    "gradual_self_disclosure",
    "peer_support",
    "story_sharing",
    "one_to_one",
    "zz-secret-theme",
]


def test_each_recommendation_is_audited_with_identifiers_and_counts_only(app, client, make_key):
    headers = make_key("clinician", "dr-audit")
    plan = plan_for(
        client,
        headers,
        needs={"1": "high", "2": "moderate", "7.2": "low"},
        barriers=["6"],
        preferences={"declined_domains": ["7"], "format": "one_to_one"},
    )
    client.post(URL + "?format=careplan", json=body(needs={"1": 1}), headers=headers)
    client.post(URL, json=body(needs={"zz-secret-theme": 1}), headers=headers)  # 422: no row
    first, second = audit_rows(app)
    assert (first.action, first.principal_name, first.resource_type) == (
        "recommendation.created",
        "dr-audit",
        "framework_version",
    )
    assert first.principal_id is not None and first.at is not None
    assert first.details == {
        "framework": "civic",
        "version": "2",
        "channel": "json",
        "output": "plan",
        "domains_in_need": len(plan["domains"]),
        "components": len(plan["components"]),
        "gaps": len(plan["gaps"]),
    }
    assert second.details["output"] == "careplan"
    stored = json.dumps([r.model_dump(mode="json") for r in (first, second)])
    for word in CONTENT:
        assert word not in stored, word


def test_no_assessment_content_reaches_the_logs(client, clinician, caplog):
    caplog.set_level(logging.DEBUG)
    plan_for(
        client,
        clinician,
        needs={"1": "high", "2": "moderate"},
        barriers=["6"],
        preferences={"declined_domains": ["2"], "format": "one_to_one"},
    )
    client.post(URL, json=body(needs={"zz-secret-theme": "high"}), headers=clinician)
    client.post(URL, json=body(needs={"1": "severe"}), headers=clinician)
    formatter = JsonFormatter()
    logged = "\n".join(formatter.format(r) for r in caplog.records)
    assert "/v1/recommendations" in logged  # the access log did run
    for word in [*CONTENT, "severe"]:
        assert word not in logged, word


def test_retries_with_an_idempotency_key_recompute_and_keep_no_plan(app, client, clinician):
    headers = {**clinician, "Idempotency-Key": "k-1"}
    first = client.post(URL, json=body(needs={"1": 3}), headers=headers)
    again = client.post(URL, json=body(needs={"1": 3}), headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert "idempotent-replayed" not in again.headers
    with app.state.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    assert len(audit_rows(app)) == 2
