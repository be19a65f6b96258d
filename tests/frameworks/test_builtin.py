from service.frameworks.builtin import BUILTIN_FRAMEWORKS, COMPONENT_TAGS, civic_v1, civic_v2
from service.frameworks.domain import FrameworkStatus, ThemeKind

D, B = ThemeKind.domain, ThemeKind.barrier

V1_TREE = [
    ("1", "Closeness", None, D, "1"),
    ("2", "Identity and common bond", None, D, "1"),
    ("3", "Valued relationships", None, D, "1"),
    ("4", "Involvement", None, D, "1"),
    ("4.1", "Group/network involvement", "4", D, "1"),
    ("4.2", "Companionship", "4", D, "1"),
    ("5", "Cared for and accepted", None, D, "1"),
    ("5.1", "Social acceptance", "5", D, "1"),
    ("5.2", "Social support", "5", D, "1"),
]
V2_TREE = [
    ("1", "Closeness", None, D, "1"),
    ("1.1", "Feeling comfortable", "1", D, "2"),
    ("1.2", "Trust", "1", D, "2"),
    ("2", "Identity and common bond", None, D, "1"),
    ("2.1", "Shared mental health experiences", "2", D, "2"),
    ("3", "Valued relationships", None, D, "1"),
    ("4", "Involvement", None, D, "1"),
    ("4.1", "Group activities", "4", D, "1"),
    ("4.2", "Companionship", "4", D, "1"),
    ("5", "Cared for and accepted", None, D, "1"),
    ("5.1", "Acceptance", "5", D, "1"),
    ("5.2", "Social support", "5", D, "1"),
    ("6", "Stigma", None, B, "2"),
    ("6.1", "Feeling different", "6", B, "2"),
    ("6.2", "Feeling judged and excluded", "6", B, "2"),
    ("7", "Connectedness beyond social relationships", None, D, "2"),
    ("7.1", "Spiritual connectedness", "7", D, "2"),
    ("7.2", "Connectedness to animals", "7", D, "2"),
]


def _tree(snap):
    by_key = {t.key: t for t in snap.themes}
    return [
        (
            t.code,
            t.label,
            by_key[t.parent_key].code if t.parent_key else None,
            t.kind,
            t.introduced_in,
        )
        for t in snap.themes
    ]


def test_v1_tree_matches_the_review():
    snap = civic_v1()
    assert (snap.slug, snap.version, snap.status) == ("civic", "1", FrameworkStatus.published)
    assert _tree(snap) == V1_TREE
    assert snap.components == () and snap.links == ()
    assert "Hare-Duke" in snap.citation and "245:188-199" in snap.citation


def test_v2_tree_matches_the_validation_study():
    snap = civic_v2()
    assert (snap.slug, snap.version, snap.derived_from_version) == ("civic", "2", "1")
    assert snap.status is FrameworkStatus.published
    assert _tree(snap) == V2_TREE
    assert [t.code for t in snap.children(None)] == ["1", "2", "3", "4", "5", "6", "7"]


def test_renamed_themes_keep_their_keys():
    v1, v2 = civic_v1(), civic_v2()
    assert v1.theme("involvement.group").label == "Group/network involvement"
    assert v2.theme("involvement.group").label == "Group activities"
    assert v1.theme("cared_for.acceptance").label == "Social acceptance"
    assert v2.theme("cared_for.acceptance").label == "Acceptance"
    assert {t.key for t in v1.themes} <= {t.key for t in v2.themes}


def test_keys_unique_and_links_resolve():
    for snap in BUILTIN_FRAMEWORKS:
        theme_keys = [t.key for t in snap.themes]
        comp_keys = [c.key for c in snap.components]
        assert len(set(theme_keys)) == len(theme_keys)
        assert len(set(comp_keys)) == len(comp_keys)
        pairs = [(lk.theme_key, lk.component_key) for lk in snap.links]
        assert len(set(pairs)) == len(pairs)
        for lk in snap.links:
            assert lk.theme_key in theme_keys and lk.component_key in comp_keys
            assert lk.rationale and lk.source
        for t in snap.themes:
            assert t.definition
            assert t.parent_key is None or t.parent_key in theme_keys
        for c in snap.components:
            assert c.description and c.delivery_modes
            assert set(c.tags) <= set(COMPONENT_TAGS)


def test_v2_targets():
    snap = civic_v2()
    code_of = {t.key: t.code for t in snap.themes}
    targets = {(code_of[lk.theme_key], lk.component_key) for lk in snap.links}
    assert targets == {
        ("1", "gradual_self_disclosure"),
        ("1", "long_term_group"),
        ("2", "identity_assessment"),
        ("2.1", "story_sharing"),
        ("3", "social_network_assessment"),
        ("3", "reciprocity_psychoeducation"),
        ("4.1", "long_term_group"),
        ("4.1", "community_group_finding"),
        ("4", "supported_socialisation"),
        ("4", "digital_contact"),
        ("5.2", "peer_support"),
        ("5.1", "group_disclosure"),
        ("5.1", "non_judgemental_facilitation"),
        ("7.1", "spiritual_beliefs_assessment"),
        ("7.2", "companion_animals"),
        ("6", "gradual_self_disclosure"),
    }
    comps = {c.key: c for c in snap.components}
    assert comps["long_term_group"].min_duration_weeks == 9
    assert "two months" in comps["long_term_group"].delivery_notes
    digital = next(lk for lk in snap.links if lk.component_key == "digital_contact")
    assert "not listed in its table" in digital.source


def test_stigma_has_no_study_sourced_link():
    snap = civic_v2()
    stigma_keys = {t.key for t in snap.themes if t.kind is ThemeKind.barrier}
    stigma_links = [lk for lk in snap.links if lk.theme_key in stigma_keys]
    assert len(stigma_links) == 1
    (link,) = stigma_links
    assert link.from_framework_study is False
    assert link.source == "Discussion, citing Rüsch et al. 2014"
    assert all(lk.from_framework_study for lk in snap.links if lk is not link)
