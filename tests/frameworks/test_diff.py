import dataclasses
import json

import pytest

from service.frameworks.builtin import civic_v1, civic_v2
from service.frameworks.diff import ValueChange, diff_frameworks
from service.frameworks.domain import Component, TargetLink, ThemeKind, ThemeNode


def test_v1_to_v2_diff_is_exactly_the_validation_study_changes():
    v1, v2 = civic_v1(), civic_v2()
    d = diff_frameworks(v1, v2)
    assert [t.code for t in d.themes_added] == [
        "1.1", "1.2", "2.1", "6", "6.1", "6.2", "7", "7.1", "7.2"
    ]  # fmt: skip
    assert d.themes_renamed == (
        ValueChange("involvement.group", "Group/network involvement", "Group activities"),
        ValueChange("cared_for.acceptance", "Social acceptance", "Acceptance"),
    )
    assert not (d.themes_removed or d.themes_moved or d.themes_recoded)
    assert not (d.themes_redefined or d.themes_kind_changed)
    assert [c.key for c in d.components_added] == [c.key for c in v2.components]
    assert len(d.links_added) == len(v2.links)
    assert not (d.components_removed or d.components_changed)
    assert not (d.links_removed or d.links_changed)
    assert {m.key for m in d.metadata_changed} == {"title", "description", "citation"}
    json.dumps(d.to_dict())  # JSON-ready
    assert d.to_dict()["themes_renamed"][0]["new"] == "Group activities"


def test_derived_and_edited_version():
    v2 = civic_v2()
    themes = {t.key: t for t in v2.themes}
    # Rename, move, recode, redefine and re-kind a few themes; drop one; add one.
    themes["closeness.trust"] = dataclasses.replace(themes["closeness.trust"], label="Trusting")
    themes["involvement.companionship"] = dataclasses.replace(
        themes["involvement.companionship"], parent_key="cared_for", code="5.3"
    )
    themes["valued_relationships"] = dataclasses.replace(
        themes["valued_relationships"], definition="Edited."
    )
    themes["stigma.judged"] = dataclasses.replace(themes["stigma.judged"], kind=ThemeKind.domain)
    del themes["beyond_social.animals"]
    themes["local.extra"] = ThemeNode("local.extra", "8", "Extra", "New.", ThemeKind.domain)
    comps = [c for c in v2.components if c.key != "companion_animals"]
    comps[0] = dataclasses.replace(comps[0], min_duration_weeks=4)
    comps.append(Component("buddy", "Buddy scheme", "Pairs people up."))
    links = [lk for lk in v2.links if lk.component_key != "companion_animals"]
    links[0] = dataclasses.replace(links[0], rationale="Changed.")
    links.append(TargetLink("local.extra", "buddy", "Because.", "Local team"))
    v3 = dataclasses.replace(
        v2,
        version="3",
        derived_from_version="2",
        themes=tuple(themes.values()),
        components=tuple(comps),
        links=tuple(links),
    )

    d = diff_frameworks(v2, v3)
    assert [t.key for t in d.themes_added] == ["local.extra"]
    assert [t.key for t in d.themes_removed] == ["beyond_social.animals"]
    assert d.themes_renamed == (ValueChange("closeness.trust", "Trust", "Trusting"),)
    assert d.themes_moved == (ValueChange("involvement.companionship", "involvement", "cared_for"),)
    assert d.themes_recoded == (ValueChange("involvement.companionship", "4.2", "5.3"),)
    assert [c.key for c in d.themes_redefined] == ["valued_relationships"]
    assert d.themes_kind_changed == (ValueChange("stigma.judged", "barrier", "domain"),)
    assert [c.key for c in d.components_added] == ["buddy"]
    assert [c.key for c in d.components_removed] == ["companion_animals"]
    assert [(c.key, c.changed_fields) for c in d.components_changed] == [
        (comps[0].key, ("min_duration_weeks",))
    ]
    assert [(lk.theme_key, lk.component_key) for lk in d.links_added] == [("local.extra", "buddy")]
    assert [(lk.theme_key, lk.component_key) for lk in d.links_removed] == [
        ("beyond_social.animals", "companion_animals")
    ]
    assert [c.changed_fields for c in d.links_changed] == [("rationale",)]
    assert not d.metadata_changed
    assert diff_frameworks(v3, v3).is_empty and not d.is_empty


def test_duplicate_keys_are_rejected():
    v2 = civic_v2()
    bad = dataclasses.replace(v2, themes=(*v2.themes, v2.themes[0]))
    with pytest.raises(ValueError, match="duplicate theme key"):
        diff_frameworks(v2, bad)
