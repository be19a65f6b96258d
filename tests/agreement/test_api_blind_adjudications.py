"""Security review: consensus decisions on blind coding stay with the owners.

An owner may settle disagreements while a pass is still blind (the study itself is
not). The decision quotes the span, the theme and the hidden segments it rests on, so
other members must not list it until the pass is revealed."""

from datetime import UTC, datetime

from service.coding.models import CodingPass


def test_decisions_resting_on_a_hidden_pass_are_listed_to_owners_only(client, coded):
    document = coded.document("x" * 1000)
    a = coded.coder("A", principal_id=coded.coder_principal)
    b = coded.coder("B")
    blind = coded.coding_pass("Deductive B", b, kind="deductive", blind=True)
    coded.segment(document, "1.2", a, 100, 250)
    hidden_segment = coded.segment(document, "1.2", b, 200, 300, pass_id=blind)
    decided = client.post(
        f"{coded.url}/adjudications",
        json={
            "document_id": document,
            "theme_id": coded.themes["1.2"],
            "start": 250,
            "end": 300,
            "decision": "reject",
            "source_segment_ids": [hidden_segment],
        },
        headers=coded.owner,
    )
    assert decided.status_code == 201, decided.text
    url = f"{coded.url}/adjudications"
    assert [d["id"] for d in client.get(url, headers=coded.owner).json()["items"]] == [
        decided.json()["id"]
    ]
    for who in (coded.coder_member, coded.viewer):
        listed = client.get(url, headers=who)
        assert listed.status_code == 200
        assert listed.json()["items"] == []  # where B coded stays hidden
        assert hidden_segment not in listed.text

    coded.update(CodingPass, blind, revealed_at=datetime.now(UTC))
    for who in (coded.coder_member, coded.viewer):
        items = client.get(url, headers=who).json()["items"]
        assert [d["id"] for d in items] == [decided.json()["id"]]


def test_decisions_in_a_blind_consensus_pass_are_listed_to_owners_only(client, coded):
    document = coded.document("x" * 1000)
    consensus = coded.coding_pass("Blind consensus", None, kind="consensus", blind=True)
    decided = client.post(
        f"{coded.url}/adjudications",
        json={
            "document_id": document,
            "theme_id": coded.themes["1.2"],
            "start": 10,
            "end": 20,
            "decision": "apply",
            "pass_id": consensus,
        },
        headers=coded.owner,
    )
    assert decided.status_code == 201, decided.text
    url = f"{coded.url}/adjudications"
    assert len(client.get(url, headers=coded.owner).json()["items"]) == 1
    assert client.get(url, headers=coded.viewer).json()["items"] == []
