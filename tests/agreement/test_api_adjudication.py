"""POST/GET /v1/studies/{id}/adjudications: consensus decisions and the consensus layer."""

import uuid

from sqlalchemy import select

from service.agreement.models import Adjudication
from service.coding.models import Coder, CodingPass, Segment


def decide(client, nvivo, headers=None, **overrides):
    study = nvivo.study
    body = {
        "document_id": nvivo.document,
        "theme_id": study.themes["1.2"],
        "start": 100,
        "end": 200,
        "decision": "apply",
        "note": "Both agree the passage is about trust.",
        "source_segment_ids": [nvivo.segments[0]],
    } | overrides
    return client.post(f"{study.url}/adjudications", json=body, headers=headers or study.owner)


def test_apply_writes_a_consensus_segment_and_a_decision_row(client, nvivo, app):
    response = decide(client, nvivo)
    assert response.status_code == 201, response.text
    decision = response.json()
    assert decision["decision"] == "apply" and decision["segment_id"]
    assert decision["source_segment_ids"] == [nvivo.segments[0]]
    with app.state.sessionmaker() as session:
        layer = session.get(CodingPass, uuid.UUID(decision["pass_id"]))
        assert layer.kind == "consensus" and layer.name == "Consensus" and not layer.blind
        segment = session.get(Segment, uuid.UUID(decision["segment_id"]))
        assert (segment.start, segment.end, segment.pass_id) == (100, 200, layer.id)
        coder = session.get(Coder, segment.coder_id)
        assert coder.name == "Consensus" and coder.principal_id is None
        row = session.get(Adjudication, uuid.UUID(decision["id"]))
        assert row.decided_by_name.startswith("owner-")
    # The reconciled dataset is the consensus pass: it can be compared like any coder.
    agreement = nvivo.study.agreement(
        client, [nvivo.a, decision_coder(app, decision)], theme="1.2", document=nvivo.document
    ).json()
    assert agreement["overall"]["table"]["both"] == 100


def decision_coder(app, decision) -> str:
    with app.state.sessionmaker() as session:
        return str(session.get(Segment, uuid.UUID(decision["segment_id"])).coder_id)


def test_reject_records_the_decision_only_in_the_same_consensus_pass(client, nvivo, app):
    applied = decide(client, nvivo).json()
    rejected = decide(
        client,
        nvivo,
        headers=nvivo.study.coder_member,
        start=250,
        end=300,
        decision="reject",
        source_segment_ids=[nvivo.segments[1]],
    )
    assert rejected.status_code == 201, rejected.text
    assert rejected.json()["segment_id"] is None
    assert rejected.json()["pass_id"] == applied["pass_id"]
    with app.state.sessionmaker() as session:
        consensus = session.scalars(
            select(Segment).where(Segment.pass_id == uuid.UUID(applied["pass_id"]))
        ).all()
        assert len(consensus) == 1
    listed = client.get(f"{nvivo.study.url}/adjudications", headers=nvivo.study.viewer).json()
    assert [d["decision"] for d in listed["items"]] == ["apply", "reject"]
    only = client.get(
        f"{nvivo.study.url}/adjudications",
        params={"document": nvivo.document, "theme": nvivo.study.themes["2"]},
        headers=nvivo.study.owner,
    ).json()
    assert only["items"] == []


def test_an_overlapping_second_decision_is_409(client, nvivo):
    assert decide(client, nvivo).status_code == 201
    again = decide(client, nvivo, start=150, end=260, decision="reject")
    assert again.status_code == 409


def test_viewers_may_not_decide(client, nvivo):
    assert decide(client, nvivo, headers=nvivo.study.viewer).status_code == 403


def test_bad_decisions_are_422_naming_the_field(client, nvivo, make_coded):
    study = nvivo.study
    cases = {
        ("body", "document_id"): {"document_id": str(uuid.uuid4())},
        ("body", "end"): {"end": 5000},
        ("body", "theme_id"): {"theme_id": str(uuid.uuid4())},
        ("body", "source_segment_ids", 0): {"source_segment_ids": [str(uuid.uuid4())]},
        ("body", "decision"): {"decision": "maybe"},
        ("body", "note"): {"note": "agreed\x00"},  # PostgreSQL cannot store it: was a 500
    }
    for loc, override in cases.items():
        response = decide(client, nvivo, **override)
        assert response.status_code == 422, (loc, response.text)
        assert tuple(response.json()["errors"][0]["loc"][: len(loc)]) == loc
    # A source segment elsewhere in the document does not support this span.
    far = study.segment(nvivo.document, "1.2", nvivo.a, 800, 900)
    response = decide(client, nvivo, source_segment_ids=[far])
    assert response.status_code == 422
    inductive = study.coding_pass("Inductive A", nvivo.a)
    response = decide(client, nvivo, pass_id=inductive)
    assert response.status_code == 422 and "consensus" in response.json()["detail"]


def test_a_named_consensus_pass_is_used_and_several_need_naming(client, nvivo):
    study = nvivo.study
    first = study.coding_pass("Consensus round 1", None, kind="consensus")
    study.coding_pass("Consensus round 2", None, kind="consensus")
    unnamed = decide(client, nvivo)
    assert unnamed.status_code == 422 and "pass_id" in unnamed.json()["detail"]
    named = decide(client, nvivo, pass_id=first)
    assert named.status_code == 201 and named.json()["pass_id"] == first
