"""The two published versions of the CIVIC framework, as plain snapshots.

Version 1 comes from the systematic review of Hare-Duke et al. (2019); version 2 from
the ecological validation interview study that refined it. Every definition,
description and rationale below is a summary written for this service, not text taken
from either publication.

Theme keys are stable across versions: a theme that version 2 renamed keeps the key it
had in version 1 (``involvement.group``: "Group/network involvement" became "Group
activities"; ``cared_for.acceptance``: "Social acceptance" became "Acceptance"), so a
diff recognises it as the same theme. Themes shared by both versions carry the same
service-written definition in both, so the v1 -> v2 diff shows only what the
validation study actually changed (new themes and two new labels).
"""

from __future__ import annotations

from service.frameworks.domain import (
    Component,
    DeliveryMode,
    FrameworkSnapshot,
    FrameworkStatus,
    TargetLink,
    ThemeKind,
    ThemeNode,
)

SLUG = "civic"

V1_CITATION = (
    "Hare-Duke L, Dening T, de Oliveira D, Milner K, Slade M. Conceptual framework for "
    "social connectedness in mental disorders: systematic review and narrative synthesis. "
    "J Affect Disord. 2019;245:188-199."
)
V2_CITATION = (
    "CIVIC ecological validation study: semi-structured interviews with 13 adults with "
    "lived experience of mental disorder and 9 mental-health staff, analysed thematically "
    "(inductive, then deductive against version 1). Refines Hare-Duke et al. (2019)."
)

# Source strings used on target links (clients show them next to a recommendation).
SOURCE_TABLE = "Validation study, table of candidate intervention targets"
SOURCE_TEXT = "Validation study, discussion text (suggested there, not listed in its table)"
SOURCE_RUSCH = "Discussion, citing Rüsch et al. 2014"

# The vocabulary of component tags. The recommendation engine reasons about these, so
# keep the set small and add a line here before using a new tag.
COMPONENT_TAGS: dict[str, str] = {
    "peer": "delivered by, or alongside, people with lived experience of mental ill-health",
    "shared_experience": "relies on people recognising experiences they have in common",
    "self_disclosure": "asks the person to open up about themselves, at their own pace",
    "assessment": "a structured conversation or tool that maps the person's situation",
    "psychoeducation": "teaches how relationships and connection work",
    "community": "links the person to groups and places outside services",
    "group_work": "takes place in a facilitated group that meets repeatedly",
    "facilitation": "about how a group is run rather than what it does",
    "spiritual": "touches on faith, religion or spiritual practice",
    "animals": "involves pets or other animals",
    "digital_contact": "keeps people in touch through online or phone channels",
}

# Definitions shared by both versions (see the module docstring for why).
_DEF = {
    "closeness": (
        "How at ease a person feels with particular others and how far they trust them. "
        "It tends to build slowly, through repeated contact and step-by-step openness."
    ),
    "closeness.comfort": (
        "Being relaxed and familiar with someone, so that time together feels easy "
        "rather than effortful."
    ),
    "closeness.trust": (
        "Confidence that another person will be reliable and discreet, which makes it "
        "safe to share personal matters with them."
    ),
    "identity": (
        "Having something personally important in common with another person or a "
        "group, which gives a sense of belonging with them."
    ),
    "identity.shared_experience": (
        "Common ground built on having lived through mental ill-health; recognising this "
        "in others helps a person feel they fit in."
    ),
    "valued_relationships": (
        "Relationships, one-to-one or with a group, that the person already has and "
        "regards as worthwhile; they depend on give and take in both directions."
    ),
    "involvement": (
        "Taking part alongside others, in recurring group activities or one-to-one "
        "company; how regular the contact is matters most."
    ),
    "involvement.group": (
        "Regular participation in groups, networks or shared activities with other people."
    ),
    "involvement.companionship": (
        "Spending time with a particular person for company, in a one-to-one setting."
    ),
    "cared_for": (
        "Seeing oneself as accepted and supported by others, both in how they regard the "
        "person and in how they treat them."
    ),
    "cared_for.acceptance": (
        "Sensing that others understand and value you without judging you, and that you "
        "are welcomed and included in what they do."
    ),
    "cared_for.support": (
        "Receiving help from others, whether emotional (listening, encouragement) or "
        "practical (tasks, resources)."
    ),
    "stigma": (
        "Attitudes or behaviour from others, or turned inward, that mark a person out "
        "because of mental ill-health. It works against connectedness rather than being "
        "a part of it, and changes how help should be offered."
    ),
    "stigma.different": (
        "A sense of standing apart from other people because of one's mental health."
    ),
    "stigma.judged": (
        "Experiencing others' negative opinions or being left out, on account of one's "
        "mental health."
    ),
    "beyond_social": (
        "Bonds that give a feeling of connection without being relationships with other people."
    ),
    "beyond_social.spiritual": (
        "Connection felt through faith, religion or a wider spiritual sense of meaning."
    ),
    "beyond_social.animals": "Connection felt with pets or other animals.",
}


def _theme(
    key: str,
    code: str,
    label: str,
    *,
    parent: str | None = None,
    kind: ThemeKind = ThemeKind.domain,
    introduced_in: str = "1",
) -> ThemeNode:
    order = int(code.rsplit(".", 1)[-1])
    return ThemeNode(
        key=key,
        code=code,
        label=label,
        definition=_DEF[key],
        kind=kind,
        parent_key=parent,
        order=order,
        introduced_in=introduced_in,
    )


def civic_v1() -> FrameworkSnapshot:
    """CIVIC version 1, from the systematic review (Hare-Duke et al., 2019)."""
    themes = (
        _theme("closeness", "1", "Closeness"),
        _theme("identity", "2", "Identity and common bond"),
        _theme("valued_relationships", "3", "Valued relationships"),
        _theme("involvement", "4", "Involvement"),
        _theme("involvement.group", "4.1", "Group/network involvement", parent="involvement"),
        _theme("involvement.companionship", "4.2", "Companionship", parent="involvement"),
        _theme("cared_for", "5", "Cared for and accepted"),
        _theme("cared_for.acceptance", "5.1", "Social acceptance", parent="cared_for"),
        _theme("cared_for.support", "5.2", "Social support", parent="cared_for"),
    )
    return FrameworkSnapshot(
        slug=SLUG,
        version="1",
        title="CIVIC framework of social connectedness (version 1)",
        description=(
            "Five domains of social connectedness for adults with mental disorders, drawn "
            "from a systematic review and narrative synthesis; their initials spell CIVIC. "
            "The review names no intervention components."
        ),
        citation=V1_CITATION,
        status=FrameworkStatus.published,
        themes=themes,
    )


_W = DeliveryMode  # short alias for the component table


def _components() -> tuple[Component, ...]:
    ev = "CIVIC validation study (version 2)"
    return (
        Component(
            key="gradual_self_disclosure",
            name="Supported, gradual self-disclosure",
            description=(
                "Helping the person share personal things about themselves a little at a "
                "time, with a worker or group that backs them up, so trust can build."
            ),
            delivery_modes=(_W.one_to_one, _W.group),
            tags=("self_disclosure",),
            evidence_source=ev,
        ),
        Component(
            key="long_term_group",
            name="Long-running structured group",
            description=(
                "A facilitated group with a set programme that meets weekly for a sustained "
                "period, giving members the repeated contact that familiarity needs."
            ),
            delivery_modes=(_W.group,),
            tags=("group_work",),
            min_duration_weeks=9,
            delivery_notes=(
                "Run it for longer than two months (at least 9 weekly sessions); the study "
                "judged shorter groups too brief for closeness and involvement to develop."
            ),
            evidence_source=ev,
        ),
        Component(
            key="identity_assessment",
            name="Personal and social identity assessment",
            description=(
                "A structured conversation about which roles, interests, backgrounds and "
                "affiliations matter to the person, to find groups where they would share them."
            ),
            delivery_modes=(_W.one_to_one,),
            tags=("assessment",),
            evidence_source=ev,
        ),
        Component(
            key="story_sharing",
            name="Story-sharing and narrative exercises",
            description=(
                "Activities in which people tell and hear accounts of living with mental "
                "ill-health, making common experience visible to the group."
            ),
            delivery_modes=(_W.group,),
            tags=("shared_experience", "self_disclosure", "group_work"),
            evidence_source=ev,
        ),
        Component(
            key="social_network_assessment",
            name="Social network assessment",
            description=(
                "Mapping the people and groups the person is in touch with, and which of "
                "those contacts they value, as a starting point for planning."
            ),
            delivery_modes=(_W.one_to_one,),
            tags=("assessment",),
            evidence_source=ev,
        ),
        Component(
            key="reciprocity_psychoeducation",
            name="Psychoeducation on reciprocity",
            description=(
                "Teaching and discussion about the give and take that keeps relationships "
                "going, and how to offer as well as receive."
            ),
            delivery_modes=(_W.group, _W.one_to_one),
            tags=("psychoeducation",),
            evidence_source=ev,
        ),
        Component(
            key="community_group_finding",
            name="Finding ongoing community groups",
            description=(
                "Working out with the person which local groups that keep running beyond the "
                "intervention would suit them, so involvement can continue afterwards."
            ),
            delivery_modes=(_W.one_to_one, _W.self_directed),
            tags=("community",),
            evidence_source=ev,
        ),
        Component(
            key="supported_socialisation",
            name="Supported socialisation",
            description=(
                "A worker goes along with the person to a community group or activity for "
                "the first visits, until they feel able to attend alone."
            ),
            delivery_modes=(_W.one_to_one,),
            tags=("community",),
            evidence_source=ev,
        ),
        Component(
            key="digital_contact",
            name="Digital contact between sessions",
            description=(
                "Online forums, messaging or similar channels that let group members stay "
                "in touch in the days between weekly meetings."
            ),
            delivery_modes=(_W.digital,),
            tags=("digital_contact",),
            delivery_notes="An add-on to a weekly group, not a replacement for it.",
            evidence_source=ev,
        ),
        Component(
            key="peer_support",
            name="Peer support",
            description=(
                "Support offered by people who have themselves lived with mental ill-health, "
                "one-to-one or in groups."
            ),
            delivery_modes=(_W.one_to_one, _W.group),
            tags=("peer", "shared_experience"),
            evidence_source=ev,
        ),
        Component(
            key="group_disclosure",
            name="Sharing mental-health experiences in a group",
            description=(
                "Group sessions in which members choose to talk about their own mental-health "
                "experiences and hear others do the same."
            ),
            delivery_modes=(_W.group,),
            tags=("self_disclosure", "shared_experience", "group_work"),
            evidence_source=ev,
        ),
        Component(
            key="non_judgemental_facilitation",
            name="Explicitly non-judgemental facilitation",
            description=(
                "Facilitators set and uphold ground rules that nobody in the group is judged, "
                "and say so openly."
            ),
            delivery_modes=(_W.group,),
            tags=("facilitation", "group_work"),
            evidence_source=ev,
        ),
        Component(
            key="spiritual_beliefs_assessment",
            name="Exploring religious and spiritual beliefs",
            description=(
                "Asking about the person's faith or spiritual life and, where it matters to "
                "them, how they could take part in it more."
            ),
            delivery_modes=(_W.one_to_one,),
            tags=("assessment", "spiritual"),
            evidence_source=ev,
        ),
        Component(
            key="companion_animals",
            name="Companion animals",
            description=(
                "Considering contact with a pet or other animal, where practical and wanted, "
                "as a source of connection."
            ),
            delivery_modes=(_W.self_directed, _W.one_to_one),
            tags=("animals",),
            evidence_source=ev,
        ),
    )


def _link(theme: str, component: str, rationale: str, source: str = SOURCE_TABLE) -> TargetLink:
    return TargetLink(theme_key=theme, component_key=component, rationale=rationale, source=source)


def _links() -> tuple[TargetLink, ...]:
    return (
        _link(
            "closeness",
            "gradual_self_disclosure",
            "Trust and ease with someone grow as each person reveals a little more over time.",
        ),
        _link(
            "closeness",
            "long_term_group",
            "Meeting the same people regularly for months gives familiarity time to form.",
        ),
        _link(
            "identity",
            "identity_assessment",
            "Knowing which identities matter to someone shows where they could find others "
            "who share them.",
        ),
        _link(
            "identity.shared_experience",
            "story_sharing",
            "Hearing others' accounts makes a common history of mental ill-health visible.",
        ),
        _link(
            "valued_relationships",
            "social_network_assessment",
            "Mapping existing contacts shows which relationships are valued and worth "
            "strengthening.",
        ),
        _link(
            "valued_relationships",
            "reciprocity_psychoeducation",
            "Relationships last when both sides give and receive; learning this helps keep them.",
        ),
        _link(
            "involvement.group",
            "long_term_group",
            "A group that runs for more than two months provides the regular shared "
            "activity this theme is about.",
        ),
        _link(
            "involvement.group",
            "community_group_finding",
            "Groups that carry on after the intervention keep involvement going once it ends.",
        ),
        _link(
            "involvement",
            "supported_socialisation",
            "Being accompanied lowers the hurdle of a first visit, both to a group and to "
            "spending time with others.",
        ),
        _link(
            "involvement",
            "digital_contact",
            "Contact between weekly meetings keeps it regular, which matters most for involvement.",
            source=SOURCE_TEXT,
        ),
        _link(
            "cared_for.support",
            "peer_support",
            "Help from people with similar experience is both practical and emotionally credible.",
        ),
        _link(
            "cared_for.acceptance",
            "group_disclosure",
            "Being met with understanding after speaking openly is direct evidence of acceptance.",
        ),
        _link(
            "cared_for.acceptance",
            "non_judgemental_facilitation",
            "Explicit ground rules against judgement make a group a place where people "
            "feel accepted.",
        ),
        _link(
            "beyond_social.spiritual",
            "spiritual_beliefs_assessment",
            "Knowing what a person believes opens routes to spiritual connection that "
            "services otherwise miss.",
        ),
        _link(
            "beyond_social.animals",
            "companion_animals",
            "Animals can offer a bond to people for whom human contact is hard.",
        ),
        # The study's participants named nothing for Stigma; this link rests on other
        # work cited in its discussion, so it is flagged as external evidence.
        TargetLink(
            theme_key="stigma",
            component_key="gradual_self_disclosure",
            rationale=(
                "Other research suggests that choosing, with support, when and how to "
                "disclose can ease self-stigma; this is not a finding of the CIVIC study."
            ),
            source=SOURCE_RUSCH,
            from_framework_study=False,
        ),
    )


def civic_v2() -> FrameworkSnapshot:
    """CIVIC version 2, refined by the ecological validation interview study."""
    barrier = ThemeKind.barrier
    themes = (
        _theme("closeness", "1", "Closeness"),
        _theme("closeness.comfort", "1.1", "Feeling comfortable", parent="closeness",
               introduced_in="2"),
        _theme("closeness.trust", "1.2", "Trust", parent="closeness", introduced_in="2"),
        _theme("identity", "2", "Identity and common bond"),
        _theme("identity.shared_experience", "2.1", "Shared mental health experiences",
               parent="identity", introduced_in="2"),
        _theme("valued_relationships", "3", "Valued relationships"),
        _theme("involvement", "4", "Involvement"),
        _theme("involvement.group", "4.1", "Group activities", parent="involvement"),
        _theme("involvement.companionship", "4.2", "Companionship", parent="involvement"),
        _theme("cared_for", "5", "Cared for and accepted"),
        _theme("cared_for.acceptance", "5.1", "Acceptance", parent="cared_for"),
        _theme("cared_for.support", "5.2", "Social support", parent="cared_for"),
        _theme("stigma", "6", "Stigma", kind=barrier, introduced_in="2"),
        _theme("stigma.different", "6.1", "Feeling different", parent="stigma", kind=barrier,
               introduced_in="2"),
        _theme("stigma.judged", "6.2", "Feeling judged and excluded", parent="stigma",
               kind=barrier, introduced_in="2"),
        _theme("beyond_social", "7", "Connectedness beyond social relationships",
               introduced_in="2"),
        _theme("beyond_social.spiritual", "7.1", "Spiritual connectedness",
               parent="beyond_social", introduced_in="2"),
        _theme("beyond_social.animals", "7.2", "Connectedness to animals",
               parent="beyond_social", introduced_in="2"),
    )  # fmt: skip
    return FrameworkSnapshot(
        slug=SLUG,
        version="2",
        title="CIVIC framework of social connectedness (version 2)",
        description=(
            "Version 1 checked against the accounts of people with lived experience and of "
            "mental-health staff: subordinate themes added to three domains, Stigma added as "
            "a barrier, connectedness beyond people added, and candidate intervention "
            "components linked to the themes they target."
        ),
        citation=V2_CITATION,
        status=FrameworkStatus.published,
        themes=themes,
        components=_components(),
        links=_links(),
        derived_from_version="1",
    )


BUILTIN_FRAMEWORKS: tuple[FrameworkSnapshot, ...] = (civic_v1(), civic_v2())
