"""Request and response bodies of the agreement routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from service.agreement.bootstrap import MAX_BOOTSTRAP_RESAMPLES
from service.agreement.stats import STATISTICS
from service.coding.models import AGREEMENT_UNITS
from service.http.schemas import StorableText, StrictInput

Unit = Literal["character", "coded_only", "word", "sentence", "paragraph", "segment", "document"]
assert get_args(Unit) == AGREEMENT_UNITS
Statistic = Literal[
    "percent_agreement",
    "cohen_kappa",
    "weighted_kappa",
    "scott_pi",
    "fleiss_kappa",
    "krippendorff_alpha",
    "gwet_ac1",
    "gwet_ac2",
    "brennan_prediger",
]
assert set(get_args(Statistic)) == set(STATISTICS)
Aggregation = Literal["pooled", "theme_mean", "cell_mean", "cell_weighted_mean"]
NoVariation = Literal["null", "one"]
Decision = Literal["apply", "reject"]

AGGREGATION_HELP = (
    "Which overall figure the threshold verdict uses: `pooled` (default: the statistic of "
    "the tables summed over every theme and document), `theme_mean` (unweighted mean of "
    "the themes' pooled figures), `cell_mean` (unweighted mean of the theme x document "
    "cells' figures) or `cell_weighted_mean` (cells weighted by their number of units)."
)
NO_VARIATION_HELP = (
    "A cell where neither coder varies (e.g. nobody coded the theme in the document) has "
    "no chance-corrected coefficient: `null` (default) reports value null with reason "
    "`no_variation`; `one` reports 1.0 marked `convention: no_variation_as_one`, as NVivo does."
)
BANDS_HELP = (
    "Interpretation bands: `landis_koch` and `mchugh` for the kappa family, "
    "`krippendorff` for alpha; none for percent agreement. Empty when there is no value."
)


# --- requests -------------------------------------------------------------------------


class AgreementRequest(StrictInput):
    """What to compare. Every field but `coders` has a default."""

    coders: list[UUID | list[UUID]] = Field(
        description="Two or more coders to compare. An entry that is a list is a group: "
        "text counts as coded by the group when any member coded it.",
    )
    documents: list[UUID] | None = Field(
        None, description="Default: every document coded by at least two of the coders."
    )
    themes: list[str] | None = Field(
        None,
        description="Theme ids or codes (e.g. `1.2`). Default: every theme of the framework "
        "(with `include_subthemes`, every superordinate theme).",
    )
    passes: list[UUID] | None = Field(
        None,
        description="Only segments in these coding passes (e.g. each coder's pass of the "
        "same round). Default: every segment of the coders.",
    )
    unit: Unit | None = Field(None, description="Default: the study's default unit.")
    statistics: list[Statistic] | None = Field(
        None,
        description="Default: `cohen_kappa` and `percent_agreement` for two coders "
        "(`brennan_prediger` instead of Cohen's kappa for the `segment` unit); "
        "`krippendorff_alpha`, `fleiss_kappa` and `percent_agreement` for more.",
    )
    min_share: float | None = Field(
        None,
        ge=0,
        le=100,
        description="word/sentence/paragraph units: the % of a unit's characters a coder "
        "must code for the unit to count as coded (default 0: any character).",
    )
    min_overlap: float | None = Field(
        None,
        gt=0,
        le=100,
        description="segment unit: the overlap (shared characters / characters either "
        "segment covers, in %) at which two coders' segments agree (default 90).",
    )
    include_subthemes: bool = Field(
        False, description="Count coding of a subordinate theme as coding of its parent."
    )
    aggregation: Aggregation = Field("pooled", description=AGGREGATION_HELP)
    no_variation: NoVariation = Field("null", description=NO_VARIATION_HELP)
    confidence: float = Field(0.95, gt=0, lt=1, description="Level of the intervals.")
    bootstrap_resamples: int | None = Field(
        None,
        ge=1,
        le=MAX_BOOTSTRAP_RESAMPLES,
        description="Percentile bootstrap intervals over units for the pooled figures.",
    )
    seed: int | None = Field(
        None, ge=0, le=2**63 - 1, description="Bootstrap seed (drawn and reported if omitted)."
    )
    cells: bool = Field(True, description="Include the per-cell (theme x document) table.")


class AgreementComputeRequest(StrictInput):
    """Agreement on data you send: a two-coder confusion table or a units x coders matrix."""

    table: list[list[float]] | None = Field(
        None, description="k x k counts: the first coder's categories in rows."
    )
    ratings: list[list[float | None]] | None = Field(
        None, description="One row per unit, one column per coder; null where a coder gave none."
    )
    weights: list[float] | None = Field(
        None, description="How many units each ratings row stands for (whole numbers)."
    )
    categories: list[float] | None = Field(
        None,
        description="The codes in their order. Needed for weighting; also fixes the "
        "number of categories (AC1, Brennan-Prediger) and the order for ordinal alpha.",
    )
    weighting: Literal["linear", "quadratic"] | None = Field(
        None, description="Partial credit by category position (weighted kappa, AC2)."
    )
    level: Literal["nominal", "ordinal", "interval", "ratio"] = Field(
        "nominal", description="Level of measurement for Krippendorff's alpha."
    )
    statistics: list[Statistic] | None = Field(
        None,
        description="Default: `cohen_kappa` (`weighted_kappa` with a weighting) and "
        "`percent_agreement` for two coders; `krippendorff_alpha`, `fleiss_kappa` and "
        "`percent_agreement` (`gwet_ac2` and `percent_agreement` with a weighting) for more.",
    )
    no_variation: NoVariation = Field("null", description=NO_VARIATION_HELP)
    confidence: float = Field(0.95, gt=0, lt=1)
    bootstrap_resamples: int | None = Field(None, ge=1, le=MAX_BOOTSTRAP_RESAMPLES)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)

    @model_validator(mode="after")
    def _one_input(self) -> AgreementComputeRequest:
        if (self.table is None) == (self.ratings is None):
            raise ValueError("send either `table` or `ratings`, not both and not neither")
        return self


class AgreementReportCreate(StrictInput):
    title: StorableText = Field("", max_length=300)
    parameters: AgreementRequest


class AdjudicationCreate(StrictInput):
    """A consensus decision on a span of one document for one theme."""

    document_id: UUID
    theme_id: UUID
    start: int = Field(ge=0, description="Unicode code points, half-open [start, end).")
    end: int = Field(ge=1)
    decision: Decision = Field(
        description="`apply`: the theme holds on the span (a consensus segment is written); "
        "`reject`: it does not (only the decision is recorded)."
    )
    note: StorableText = Field("", max_length=20_000, description="Why, as agreed in the meeting.")
    source_segment_ids: list[UUID] = Field(
        default_factory=list,
        max_length=1000,
        description="The coders' segments the decision settles (from the disagreements list).",
    )
    pass_id: UUID | None = Field(
        None,
        description="A consensus pass of the study. Default: the study's only consensus "
        "pass, created (named `Consensus`) on first use.",
    )

    @model_validator(mode="after")
    def _span(self) -> AdjudicationCreate:
        if self.end <= self.start:
            raise ValueError("end must be greater than start")
        return self


# --- figures --------------------------------------------------------------------------


class IntervalPublic(BaseModel):
    low: float
    high: float
    level: float
    method: str = Field(description="`normal` or `bootstrap_percentile`.")
    resamples: int | None = None
    undefined_resamples: int | None = None
    seed: int | None = None


class EstimatePublic(BaseModel):
    """A coefficient with its inference. `value` is null (never NaN) when the data cannot
    determine it, and `reason` says why: `no_units`, `no_pairable_units`, `no_variation`."""

    statistic: Statistic
    value: float | None
    reason: str | None = None
    convention: str | None = None
    percent_agreement: float | None = None
    observed_agreement: float | None = None
    expected_agreement: float | None = None
    n_units: int = 0
    n_pairable_units: int = 0
    n_coders: int = 0
    n_categories: int = 0
    weighting: str | None = None
    level: str | None = None
    standard_error: float | None = None
    standard_error_h0: float | None = None
    z: float | None = None
    p_value: float | None = None
    ci: IntervalPublic | None = None
    bands: dict[str, str] = Field(default_factory=dict, description=BANDS_HELP)


class MeanPublic(BaseModel):
    """A mean of cell (or theme) figures; `n_values` entered it, `n_undefined` had none."""

    value: float | None
    reason: str | None = None
    n_values: int
    n_undefined: int
    bands: dict[str, str] = Field(default_factory=dict, description=BANDS_HELP)


class CellStatistic(BaseModel):
    value: float | None
    reason: str | None = None
    convention: str | None = Field(None, description="Present only when a convention applied.")
    bands: dict[str, str] = Field(default_factory=dict, description=BANDS_HELP)


class TwoCoderTable(BaseModel):
    """Units by the two coders' codes (for the `segment` unit: segments, no `neither`)."""

    both: int
    first_only: int
    second_only: int
    neither: int


class PatternCount(BaseModel):
    coded: list[int] = Field(description="1 where that coder (column) coded the unit, else 0.")
    units: int


class CellPublic(BaseModel):
    document_id: UUID
    theme_id: UUID
    n_units: int
    table: TwoCoderTable | None = Field(None, description="Two coders only.")
    patterns: list[PatternCount] | None = Field(None, description="More than two coders.")
    statistics: dict[str, CellStatistic]


class ThemeResult(BaseModel):
    theme_id: UUID
    code: str
    label: str
    n_units: int
    table: TwoCoderTable | None = None
    patterns: list[PatternCount] | None = None
    pooled: dict[str, EstimatePublic]
    cell_mean: dict[str, MeanPublic]
    cell_weighted_mean: dict[str, MeanPublic]
    meets_threshold: bool | None = Field(
        description="The threshold verdict's statistic and aggregation, for this theme."
    )


class OverallResult(BaseModel):
    n_units: int
    table: TwoCoderTable | None = None
    patterns: list[PatternCount] | None = None
    pooled: dict[str, EstimatePublic]
    theme_mean: dict[str, MeanPublic]
    cell_mean: dict[str, MeanPublic]
    cell_weighted_mean: dict[str, MeanPublic]


class ThresholdVerdict(BaseModel):
    statistic: str
    aggregation: Aggregation
    value: float | None
    reason: str | None = None
    threshold: float = Field(description="The study's `agreement_threshold`.")
    rule: str = Field(description="What passing means, e.g. `value > threshold`.")
    passed: bool | None = Field(description="Null when the value is undefined.")
    themes_not_meeting: list[UUID] = Field(
        description="Themes whose own figure (same statistic and aggregation) does not "
        "exceed the threshold, or has no value."
    )


class FrameworkRef(BaseModel):
    id: UUID
    slug: str
    version: str
    title: str


class CoderRef(BaseModel):
    id: UUID
    name: str


class CoderColumn(BaseModel):
    column: int
    coders: list[CoderRef] = Field(description="One coder, or the members of a group.")


class DocumentRef(BaseModel):
    id: UUID
    title: str
    length: int
    interview_order: int | None


class AgreementParameters(BaseModel):
    """The exact parameters the figures were computed with (defaults filled in)."""

    coders: list[list[UUID]]
    documents: list[UUID]
    documents_default: bool = Field(description="True when `documents` was not given.")
    themes: list[UUID]
    passes: list[UUID] | None
    unit: Unit
    statistics: list[Statistic]
    min_share: float | None
    min_overlap: float | None
    include_subthemes: bool
    aggregation: Aggregation
    no_variation: NoVariation
    confidence: float
    bootstrap_resamples: int | None
    seed: int | None
    cells: bool


class BlindCoding(BaseModel):
    """Blind coding, not yet revealed, that the figures include (seen by owners only)."""

    study: bool = Field(description="The study is blind and not revealed.")
    passes: list[UUID] = Field(description="Blind passes, not revealed, whose segments count.")


class AgreementResult(BaseModel):
    study_id: UUID
    framework: FrameworkRef
    parameters: AgreementParameters
    data_hash: str = Field(description="SHA-256 of the data used (see the route description).")
    n_segments: int = Field(description="Segments that entered the computation.")
    coders: list[CoderColumn]
    documents: list[DocumentRef]
    blind: BlindCoding
    threshold: ThresholdVerdict
    overall: OverallResult
    themes: list[ThemeResult]
    cells: list[CellPublic] | None = Field(description="Null when `cells=false`.")


class AgreementComputeResult(BaseModel):
    n_coders: int
    results: list[EstimatePublic]


# --- disagreements, adjudications, reports ---------------------------------------------


class DisagreementSegment(BaseModel):
    id: UUID
    coder_id: UUID
    start: int
    end: int


class DisagreementPublic(BaseModel):
    """A span on which the coders differ for a theme: some coded it, some did not."""

    document_id: UUID
    document_title: str
    theme_id: UUID
    theme_code: str
    theme_label: str
    start: int
    end: int
    text: str = Field(description="The quoted passage: the document's text[start:end].")
    coded_by: list[list[UUID]] = Field(description="The coders (or groups) who coded it.")
    not_coded_by: list[list[UUID]] = Field(description="Those who did not.")
    segments: list[DisagreementSegment] = Field(
        description="The segments that code the span (whole segments, for context)."
    )


class AdjudicationPublic(BaseModel):
    id: UUID
    study_id: UUID
    document_id: UUID
    theme_id: UUID
    pass_id: UUID = Field(description="The consensus pass the decision is recorded in.")
    start: int
    end: int
    decision: Decision
    segment_id: UUID | None = Field(description="The consensus segment written by `apply`.")
    source_segment_ids: list[UUID]
    note: str
    decided_by: UUID | None
    decided_by_name: str
    decided_at: datetime


class ReportSummary(BaseModel):
    id: UUID
    study_id: UUID
    title: str
    created_by: UUID | None
    created_by_name: str
    created_at: datetime
    framework_id: UUID
    data_hash: str
    parameters: dict[str, Any] = Field(description="As in `AgreementResult.parameters`.")
    threshold: ThresholdVerdict | None


class ReportPublic(ReportSummary):
    results: dict[str, Any] = Field(description="The `AgreementResult` as it was computed.")


class ReportVerification(BaseModel):
    report_id: UUID
    verified_at: datetime
    data_hash: str = Field(description="The hash stored with the report.")
    current_data_hash: str | None = Field(description="Null when it cannot be recomputed.")
    data_matches: bool
    results_match: bool | None = Field(
        description="Whether recomputing gives the same overall and per-theme figures."
    )
    problem: str | None = Field(None, description="Why the report can no longer be recomputed.")
