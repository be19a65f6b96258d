"""The recommendation engine on CIVIC v2 and on small hand-built frameworks."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from service.frameworks.builtin import civic_v2
from service.frameworks.domain import (
    Component,
    DeliveryMode,
    FrameworkSnapshot,
    FrameworkStatus,
    TargetLink,
    ThemeKind,
    ThemeNode,
)
from service.recommendations import engine
from service.recommendations.engine import AssessmentError, recommend
from service.recommendations.schemas import DISCLAIMER, Assessment

V2 = civic_v2()
DOMAIN_CODES = [t.code for t in V2.themes if t.kind == ThemeKind.domain]
BARRIER_CODES = [t.code for t in V2.themes if t.kind == ThemeKind.barrier]
G, ONE = DeliveryMode.group, DeliveryMode.one_to_one


def v2(**kw) -> Assessment:
    return Assessment(framework="civic", version="2", **kw)


def keys(plan) -> list[str]:
    return [c.key for c in plan.components]


def toy(comps: dict[str, tuple[str, ...]], modes: dict[str, tuple] | None = None, n: int = 0):
    """A published framework of domains d1..dn; ``comps`` maps component -> domains."""
    domains = sorted({d for ds in comps.values() for d in ds} | {f"d{i}" for i in range(1, n + 1)})
    return FrameworkSnapshot(
        slug="toy",
        version="1",
        title="Toy",
        description="",
        citation="",
        status=FrameworkStatus.published,
        themes=tuple(
            ThemeNode(key=d, code=d, label=d.upper(), definition="", kind=ThemeKind.domain, order=i)
            for i, d in enumerate(domains)
        ),
        components=tuple(
            Component(key=k, name=k, description=k, delivery_modes=(modes or {}).get(k, (ONE,)))
            for k in comps
        ),
        links=tuple(
            TargetLink(theme_key=d, component_key=k, rationale="r", source="s")
            for k, ds in comps.items()
            for d in ds
        ),
    )


def toy_need(snapshot, **kw) -> Assessment:
    needs = {t.code: "high" for t in snapshot.themes}
    return Assessment(framework="toy", version="1", needs=needs, **kw)


def check_invariants(plan, assessment: Assessment) -> None:
    """Every domain in need is covered or listed as a gap (no component, or declined);
    the plan is irredundant."""
    needed = {c for c, lvl in assessment.needs.items() if lvl != "none"}
    by_status = {d.code: d.status for d in plan.domains}
    assert set(by_status) == needed
    kinds = {"gap": "no_component", "declined": "declined"}
    assert {(g.code, g.kind) for g in plan.gaps} == {
        (c, kinds[s]) for c, s in by_status.items() if s != "covered"
    }
    covered = {c for c, s in by_status.items() if s == "covered"}
    assert covered == {d.code for pc in plan.components for d in pc.covers}
    for pc in plan.components:
        rest = {d.code for other in plan.components if other is not pc for d in other.covers}
        assert not {d.code for d in pc.covers} <= rest, f"{pc.key} is redundant"
    assert plan.disclaimer == DISCLAIMER


def test_every_domain_in_need_is_covered_or_a_gap_on_civic_v2():
    a = v2(needs={c: 3 for c in DOMAIN_CODES}, preferences={"format": "no_group"})
    plan = recommend(V2, a)
    check_invariants(plan, a)
    gap = next(g for g in plan.gaps if g.code == "2.1")  # story-sharing is group-only
    assert "Story-sharing" in gap.reason and "group" in gap.reason
    assert plan.method.name == "exact_set_cover"


def test_declining_closeness_removes_its_components_and_says_so():
    plan = recommend(
        V2, v2(needs={"1": "high", "3": "low"}, preferences={"declined_domains": ["1"]})
    )
    assert "gradual_self_disclosure" not in keys(plan)
    assert "long_term_group" not in keys(plan)
    closeness = next(d for d in plan.domains if d.code == "1")
    assert closeness.status == "declined" and closeness.chosen == []
    assert {r.component_key for r in closeness.removed} == {
        "gradual_self_disclosure",
        "long_term_group",
    }
    assert [d.code for d in plan.declined] == ["1", "1.1", "1.2"]
    assert any(
        a.startswith("Closeness declined") and "self-disclosure" in a for a in plan.adjustments
    )


def test_stigma_adds_barrier_note_and_prefers_peer_settings():
    needs = {"2": "moderate", "5": "moderate"}
    without = recommend(V2, v2(needs=needs))
    assert keys(without) == ["identity_assessment", "group_disclosure"]
    plan = recommend(V2, v2(needs=needs, barriers=["6"]))
    assert keys(plan) == ["story_sharing", "group_disclosure"]  # both shared-experience
    note = plan.barrier_notes[0]
    assert note.label == "Stigma" and any("no intervention" in n for n in note.notes)
    [ev] = note.evidence
    assert not ev.from_framework_study and ev.evidence == "outside the framework study"
    assert any("outside the framework study" in n for n in note.notes)
    # when the externally supported component is in the plan, it carries the label too
    with_closeness = recommend(V2, v2(needs={"1": "high"}, barriers=["6.1"]))
    [pc] = with_closeness.components
    assert pc.barrier_evidence[0].evidence == "outside the framework study"


def test_subordinate_need_without_own_links_uses_parent_links_and_says_so():
    plan = recommend(V2, v2(needs={"1.2": "high"}))
    assert keys(plan) == ["gradual_self_disclosure"]
    assert "through its parent theme Closeness" in plan.components[0].why


def test_one_group_component_covering_two_domains_makes_the_smallest_plan():
    snap = toy({"a1": ("a",), "b1": ("b",), "grp": ("a", "b")}, modes={"grp": (G,)})
    plan = recommend(snap, toy_need(snap))
    assert keys(plan) == ["grp"]
    assert (
        plan.components[0].duration_note
        == "If run as a group, keep it going for more than two months."
    )
    one = recommend(snap, toy_need(snap, preferences={"format": "one_to_one"}))
    assert keys(one) == ["grp"] and "smallest plan needs it" in one.adjustments[-1]
    no_group = recommend(snap, toy_need(snap, preferences={"format": "no_group"}))
    assert sorted(keys(no_group)) == ["a1", "b1"]
    assert any("Group work declined" in a for a in no_group.adjustments)


def test_exact_cover_beats_greedy(monkeypatch):
    # Greedy takes the widest set first (8 > 7) and ends with three; two rows suffice.
    r1, r2 = [f"a{i}" for i in range(7)], [f"b{i}" for i in range(7)]
    snap = toy(
        {
            "row1": tuple(r1),
            "row2": tuple(r2),
            "col1": (r1[0], r2[0]),
            "col2": (*r1[1:3], *r2[1:3]),
            "col3": (*r1[3:], *r2[3:]),
        }
    )
    exact = recommend(snap, toy_need(snap))
    assert sorted(keys(exact)) == ["row1", "row2"] and exact.method.name == "exact_set_cover"
    monkeypatch.setattr(engine, "EXACT_SEARCH_LIMIT", 0)
    greedy = recommend(snap, toy_need(snap))
    assert sorted(keys(greedy)) == ["col1", "col2", "col3"]
    assert greedy.method.name == "greedy_set_cover" and "ln(14) + 1" in greedy.method.description


def test_preferences_remove_components_with_reasons():
    a = v2(
        needs={"4": 4, "7.1": 1, "7.2": 1, "1": 3},
        preferences={"spiritual_beliefs_important": False, "likes_animals": False},
        context={"weeks_available": 6, "in_group_intervention": True},
    )
    plan = recommend(V2, a)
    check_invariants(plan, a)
    assert {g.code for g in plan.gaps} == {"7.1", "7.2"}
    assert "not important" in plan.gaps[0].reason and "not fond" in plan.gaps[1].reason
    assert "long_term_group" not in keys(plan)  # needs 9 weeks
    text = " ".join(plan.adjustments)
    for phrase in ("Digital contact not agreed", "Not enough weeks", "Already in a group"):
        assert phrase in text


def test_no_need_and_everything_declined_give_explained_empty_plans():
    empty = recommend(V2, v2(needs={c: 0 for c in DOMAIN_CODES}))
    assert empty.components == [] and "No need was assessed" in empty.summary
    declined = recommend(
        V2,
        v2(needs={"1": "low", "3": "high"}, preferences={"declined_domains": ["1", "3"]}),
    )
    assert declined.components == []
    assert [(g.code, g.kind) for g in declined.gaps] == [("1", "declined"), ("3", "declined")]
    assert all("declined" in g.reason for g in declined.gaps)
    assert "declined" in declined.summary and len(declined.adjustments) == 2


def test_ratings_map_to_levels_and_bad_values_are_refused():
    a = v2(needs={"1": 0, "2": 1, "3": 2, "4": 3, "5": 4})
    assert list(a.needs.values()) == ["none", "low", "moderate", "high", "high"]
    for bad in (5, True, "severe"):
        with pytest.raises(ValidationError):
            v2(needs={"1": bad})
    with pytest.raises(ValidationError):
        v2(preferences={"colour": "blue"})


def test_invalid_assessment_names_each_offending_code():
    with pytest.raises(AssessmentError) as err:
        recommend(
            V2,
            v2(
                needs={"9": "low", "6": "high"},
                barriers=["1"],
                preferences={"declined_domains": ["6.1"]},
            ),
        )
    found = {(p.code, p.type) for p in err.value.problems}
    assert found == {
        ("9", "unknown_theme"),
        ("6", "not_a_domain"),
        ("1", "not_a_barrier"),
        ("6.1", "not_a_domain"),
    }
    draft = replace(toy({"x": ("a",)}), status=FrameworkStatus.draft)
    with pytest.raises(AssessmentError, match="draft"):
        recommend(draft, toy_need(draft))


assessments = st.builds(
    v2,
    needs=st.dictionaries(
        st.sampled_from(DOMAIN_CODES),
        st.sampled_from(["none", "low", "moderate", "high", 0, 1, 2, 3, 4]),
    ),
    barriers=st.lists(st.sampled_from(BARRIER_CODES), max_size=2),
    preferences=st.fixed_dictionaries(
        {
            "declined_domains": st.lists(st.sampled_from(DOMAIN_CODES), max_size=3),
            "format": st.sampled_from(["one_to_one", "group", "no_group", "no_preference"]),
            "digital_contact_ok": st.booleans(),
            "spiritual_beliefs_important": st.none() | st.booleans(),
            "likes_animals": st.none() | st.booleans(),
        }
    ),
    context=st.fixed_dictionaries(
        {
            "in_group_intervention": st.booleans(),
            "weeks_available": st.none() | st.integers(0, 20),
        }
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(assessments)
def test_plans_are_deterministic_and_complete_for_any_assessment(a: Assessment):
    first = recommend(V2, a).model_dump_json()
    shuffled = a.model_copy(
        update={
            "needs": dict(reversed(list(a.needs.items()))),
            "barriers": list(reversed(a.barriers)),
            "preferences": a.preferences.model_copy(
                update={"declined_domains": list(reversed(a.preferences.declined_domains))}
            ),
        }
    )
    assert recommend(civic_v2(), shuffled).model_dump_json() == first
    plan = recommend(V2, a)
    check_invariants(plan, a)
    declined = {d.code for d in plan.declined}
    assert not declined & {d.code for pc in plan.components for d in pc.covers}
