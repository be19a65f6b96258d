"""What a research study's coding says about each domain of a plan.

Two grouped queries, whatever the number of domains: participants (per group, with the
themes their visible, non-negative segments were coded with) and negative cases per
theme. Segments reach a participant through their document; themes are matched by key
across versions of the same framework, and a domain counts every theme below it.
Blind coding is respected by filtering with the coding package's visibility rule.
"""

from __future__ import annotations

from collections import defaultdict
from uuid import UUID

from sqlalchemy import and_, func, select
from sqlmodel import Session

from service.coding.access import StudyAccess
from service.coding.models import Document, Participant, Segment
from service.coding.segments import visible_segments_clause
from service.errors import Unprocessable
from service.frameworks.domain import FrameworkSnapshot
from service.frameworks.models import Framework, Theme
from service.recommendations.schemas import DomainEvidence, GroupCount, Plan


def _below(snapshot: FrameworkSnapshot) -> dict[str, set[str]]:
    """Each theme key with every key under it (itself included)."""
    children: dict[str | None, list[str]] = defaultdict(list)
    for theme in snapshot.themes:
        children[theme.parent_key].append(theme.key)

    def walk(key: str) -> set[str]:
        out = {key}
        for child in children[key]:
            out |= walk(child)
        return out

    return {t.key: walk(t.key) for t in snapshot.themes}


def add_evidence(
    *, session: Session, access: StudyAccess, snapshot: FrameworkSnapshot, plan: Plan
) -> Plan:
    """The plan with ``evidence`` filled in for each domain, from ``access.study``."""
    study = access.study
    study_framework = session.get(Framework, study.framework_id)
    if study_framework is None or study_framework.slug != snapshot.slug:
        coded = study_framework.slug if study_framework else "another framework"
        raise Unprocessable(
            f"Study {study.id} is coded against {coded}, not {snapshot.slug}.",
            errors=[
                {
                    "loc": ["query", "evidence_study_id"],
                    "msg": f"the study is coded against {coded}, not {snapshot.slug}",
                    "type": "other_framework",
                }
            ],
        )
    same_framework = select(Framework.id).where(Framework.slug == snapshot.slug)
    visible = visible_segments_clause(access)
    coded_themes = session.execute(
        select(Participant.group, Participant.id, Theme.key)
        .select_from(Participant)
        .outerjoin(
            Document,
            and_(
                Document.study_id == Participant.study_id,
                Document.participant_id == Participant.id,
            ),
        )
        .outerjoin(
            Segment,
            and_(
                Segment.study_id == Document.study_id,
                Segment.document_id == Document.id,
                Segment.negative_case.is_(False),
                visible,
            ),
        )
        .outerjoin(
            Theme,
            and_(Theme.id == Segment.theme_id, Theme.framework_id.in_(same_framework)),
        )
        .where(Participant.study_id == study.id)
        .group_by(Participant.group, Participant.id, Theme.key)
    ).all()
    negatives = dict(
        session.execute(
            select(Theme.key, func.count(Segment.id))
            .join(Theme, Theme.id == Segment.theme_id)
            .where(
                Segment.study_id == study.id,
                Segment.negative_case.is_(True),
                visible,
                Theme.framework_id.in_(same_framework),
            )
            .group_by(Theme.key)
        ).all()
    )

    groups = list(study.participant_groups)
    groups += sorted({g for g, _, _ in coded_themes} - set(groups))
    members: dict[str, set[UUID]] = defaultdict(set)
    coded: dict[str, dict[str, set[UUID]]] = defaultdict(lambda: defaultdict(set))
    for group, participant_id, key in coded_themes:
        members[group].add(participant_id)
        if key is not None:
            coded[key][group].add(participant_id)

    below = _below(snapshot)
    domains = []
    for domain in plan.domains:
        keys = below.get(domain.key, {domain.key})
        counts = []
        for group in groups:
            who: set[UUID] = set()
            for key in keys:
                who |= coded.get(key, {}).get(group, set())
            counts.append(GroupCount(group=group, participants=len(who), of=len(members[group])))
        evidence = DomainEvidence(
            study_id=str(study.id),
            participants=counts,
            negative_cases=sum(negatives.get(key, 0) for key in keys),
        )
        domains.append(domain.model_copy(update={"evidence": evidence}))
    return plan.model_copy(update={"domains": domains})
