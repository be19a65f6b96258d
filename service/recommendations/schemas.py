"""Bodies of the recommendation API, also the input and output of the pure engine.

Input models forbid unknown fields so a misspelt preference is an error, not a silent
default. Output models list everything in a fixed order, so the same assessment always
serialises to the same bytes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

NeedLevel = Literal["none", "low", "moderate", "high"]
NEED_LEVELS: tuple[NeedLevel, ...] = ("none", "low", "moderate", "high")

# A 0-4 rating scale folds onto the four levels; both ends of the top of the scale mean
# the domain is a priority, so 3 and 4 share "high".
RATING_TO_LEVEL: dict[int, NeedLevel] = {0: "none", 1: "low", 2: "moderate", 3: "high", 4: "high"}

# How much a level weighs when ties between equally small plans are broken.
LEVEL_WEIGHT: dict[str, int] = {"none": 0, "low": 1, "moderate": 2, "high": 3}

Format = Literal["one_to_one", "group", "no_group", "no_preference"]

DISCLAIMER = (
    "Decision support for a clinician, not a diagnosis or a prescription: discuss these "
    "suggestions with the person and use clinical judgement before acting on them."
)


def _rating_to_level(value: object) -> object:
    # bool is an int subclass; True must not quietly mean "low".
    if isinstance(value, int) and not isinstance(value, bool):
        if value not in RATING_TO_LEVEL:
            raise ValueError("a rating must be an integer from 0 to 4")
        return RATING_TO_LEVEL[value]
    return value


Need = Annotated[NeedLevel, BeforeValidator(_rating_to_level)]


class Preferences(BaseModel):
    """What the person wants, which can turn recommendations down or off."""

    model_config = ConfigDict(extra="forbid")

    declined_domains: list[str] = Field(
        default_factory=list,
        description="Domain theme codes the person does not want worked on. Declining a "
        "superordinate theme declines its subordinate themes too.",
    )
    format: Format = Field(
        "no_preference",
        description="one_to_one: group-only components are ranked after one-to-one ones; "
        "group: group components are ranked first; no_group: group-only components are "
        "removed and mixed ones are offered without their group option.",
    )
    digital_contact_ok: bool = Field(
        False,
        description="Whether online or phone contact is acceptable. Unless it is, "
        "digital-only components are removed.",
    )
    spiritual_beliefs_important: bool | None = Field(
        None, description="False removes spiritual components; true ranks them first."
    )
    likes_animals: bool | None = Field(
        None, description="False removes animal components; true ranks them first."
    )


class Context(BaseModel):
    model_config = ConfigDict(extra="forbid")

    in_group_intervention: bool = Field(
        False, description="Already attends a group intervention: group components build on it."
    )
    weeks_available: int | None = Field(
        None, ge=0, description="Components needing more weeks than this are removed."
    )


class Assessment(BaseModel):
    """One person's assessment against a framework version.

    ``needs`` maps a domain theme code to a level, or to a 0-4 rating read as
    0 none, 1 low, 2 moderate, 3 or 4 high. Domains left out count as no need.
    """

    model_config = ConfigDict(extra="forbid")

    framework: str = Field(description="Framework slug, e.g. 'civic'.")
    version: str = Field(description="Framework version, e.g. '2'.")
    needs: dict[str, Need] = Field(default_factory=dict)
    barriers: list[str] = Field(
        default_factory=list, description="Codes of barrier themes (e.g. Stigma) present."
    )
    preferences: Preferences = Field(default_factory=Preferences)
    context: Context = Field(default_factory=Context)


class AssessmentProblem(BaseModel):
    """One reason an assessment was refused; ``code`` names the offending theme or item."""

    loc: list[str | int]
    code: str
    msg: str
    type: str


class FrameworkRef(BaseModel):
    slug: str
    version: str
    title: str


class DomainRef(BaseModel):
    code: str
    key: str = Field(description="The theme's stable key, its code in FHIR codings.")
    label: str
    level: NeedLevel


class CandidateLink(BaseModel):
    """A component the framework links to a theme, with the evidence behind the link."""

    component_key: str
    component_name: str
    theme_code: str = Field(description="The theme the link is attached to.")
    rationale: str
    source: str
    from_framework_study: bool
    evidence: str = Field(description="'framework study' or 'outside the framework study'.")


class Removal(BaseModel):
    component_key: str
    component_name: str
    reason: str


class GroupCount(BaseModel):
    group: str
    participants: int = Field(description="Distinct participants of the group coded so.")
    of: int = Field(description="Participants of the group in the study.")


class DomainEvidence(BaseModel):
    """What a research study's coding says about a domain: counted over the theme and
    every theme below it, matched by theme key, over the segments the caller may see."""

    study_id: str
    participants: list[GroupCount] = Field(
        description="Per participant group, how many participants had at least one "
        "passage coded with the theme (negative cases not included)."
    )
    negative_cases: int = Field(
        description="Passages coded with the theme as a negative case: ones that do not support it."
    )


class DomainExplanation(BaseModel):
    code: str
    key: str
    label: str
    level: NeedLevel
    status: Literal["covered", "gap", "declined"]
    candidates: list[CandidateLink]
    chosen: list[str] = Field(description="Keys of plan components that cover this domain.")
    removed: list[Removal]
    evidence: DomainEvidence | None = Field(
        None, description="Only when the request names a study (`evidence_study_id`)."
    )


class PlanComponent(BaseModel):
    key: str
    name: str
    description: str
    delivery: list[str] = Field(description="Delivery modes on offer, preferred first.")
    delivery_note: str | None = None
    duration_note: str | None = None
    covers: list[DomainRef]
    why: str
    barrier_evidence: list[CandidateLink] = Field(
        default_factory=list, description="Links from a barrier present to this component."
    )


class Gap(BaseModel):
    """A domain in need that the plan does not cover, and why: no component is
    available for it, or the person declined work on it."""

    code: str
    label: str
    level: NeedLevel
    kind: Literal["no_component", "declined"]
    reason: str


class BarrierNote(BaseModel):
    code: str
    label: str
    notes: list[str]
    evidence: list[CandidateLink]


class Method(BaseModel):
    name: Literal["none", "exact_set_cover", "greedy_set_cover"]
    description: str


class Plan(BaseModel):
    framework: FrameworkRef
    summary: str
    components: list[PlanComponent]
    domains: list[DomainExplanation]
    gaps: list[Gap]
    declined: list[DomainRef]
    adjustments: list[str]
    barrier_notes: list[BarrierNote]
    method: Method
    disclaimer: str = DISCLAIMER
