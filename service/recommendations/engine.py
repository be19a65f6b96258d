"""Turn an assessment against a framework into a plan of intervention components.

Pure: reads a ``FrameworkSnapshot`` and an ``Assessment``, returns a ``Plan``. Nothing
here is specific to CIVIC; any published framework whose themes are linked to
components works. The rules, following the CIVIC validation study's conclusions:

* Coverage. A need at a theme is covered by components linked to that theme or to any
  theme below it, so a need at a superordinate theme is met by the links of its
  subordinate themes too. A need at a subordinate theme counts only toward links on
  itself (and below) - unless the framework links nothing at all to it, in which case
  the direct links of its nearest linked ancestor stand in and the plan says so.
* The plan is the smallest set of available components that together covers every
  domain in need (a complex intervention, not one component per domain). Minimum set
  cover is found exactly by trying every combination in increasing size while that
  means examining at most ``EXACT_SEARCH_LIMIT`` combinations; beyond that a greedy
  cover is used and ``method`` states its ln(n) + 1 bound.
* Ties between equally small plans go to, in order: the most need severity covered
  (overlapping coverage of severe needs counts), peer or shared-experience settings when
  a barrier is present, the person's preferences, then component keys.
* Preferences remove or rank components and every effect is reported in
  ``adjustments``; a domain in need that ends up with no available component is a
  ``gap`` with its reason, never a silent drop.
* Barriers (e.g. Stigma) are not needs: they change how help is offered.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

from service.frameworks.domain import (
    Component,
    DeliveryMode,
    FrameworkSnapshot,
    FrameworkStatus,
    TargetLink,
    ThemeKind,
    ThemeNode,
)
from service.recommendations.schemas import (
    LEVEL_WEIGHT,
    Assessment,
    AssessmentProblem,
    BarrierNote,
    CandidateLink,
    DomainExplanation,
    DomainRef,
    FrameworkRef,
    Gap,
    Method,
    Plan,
    PlanComponent,
    Removal,
)

# 100k combinations take well under a second; CIVIC v2 (14 components) never needs more
# than a few thousand, so realistic frameworks always get the exact answer.
EXACT_SEARCH_LIMIT = 100_000
# Settings favoured when a barrier such as Stigma is present.
BARRIER_FRIENDLY_TAGS = ("peer", "shared_experience")
# A group that meets for this many weeks runs for more than two months.
MORE_THAN_TWO_MONTHS_WEEKS = 9

_GROUP = DeliveryMode.group.value
_ONE = DeliveryMode.one_to_one.value
_DIGITAL = DeliveryMode.digital.value


class AssessmentError(ValueError):
    """The assessment does not fit the framework; each problem names the offending code."""

    def __init__(self, problems: list[AssessmentProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.msg for p in problems))


def problem(loc: list[str | int], code: str, msg: str, kind: str) -> AssessmentProblem:
    return AssessmentProblem(loc=loc, code=code, msg=msg, type=kind)


class _Tree:
    """Theme lookups in display order (depth first, siblings by order then code)."""

    def __init__(self, snapshot: FrameworkSnapshot) -> None:
        self.by_code = {t.code: t for t in snapshot.themes}
        self.by_key = {t.key: t for t in snapshot.themes}
        self.ordered: list[ThemeNode] = []
        stack = list(reversed(snapshot.children(None)))
        while stack:
            theme = stack.pop()
            self.ordered.append(theme)
            stack.extend(reversed(snapshot.children(theme.key)))
        self.position = {t.key: i for i, t in enumerate(self.ordered)}
        self._children = {t.key: snapshot.children(t.key) for t in snapshot.themes}

    def below(self, key: str) -> list[str]:
        """The theme and every theme under it."""
        out, stack = [], [key]
        while stack:
            current = stack.pop()
            out.append(current)
            stack.extend(c.key for c in self._children.get(current, []))
        return out

    def ancestors(self, key: str) -> list[ThemeNode]:
        out, parent = [], self.by_key[key].parent_key
        while parent is not None and parent in self.by_key:
            out.append(self.by_key[parent])
            parent = self.by_key[parent].parent_key
        return out


def validate(snapshot: FrameworkSnapshot, assessment: Assessment) -> None:
    """Raise ``AssessmentError`` listing every way the assessment misfits the framework."""
    problems: list[AssessmentProblem] = []
    ref = f"{snapshot.slug}/{snapshot.version}"
    if (assessment.framework, assessment.version) != (snapshot.slug, snapshot.version):
        asked = f"{assessment.framework}/{assessment.version}"
        problems.append(
            problem(["framework"], asked, f"assessment is for {asked}, not {ref}", "mismatch")
        )
    if snapshot.status != FrameworkStatus.published:
        problems.append(
            problem(["framework"], ref, f"framework {ref} is {snapshot.status}", "not_published")
        )
    themes = {t.code: t for t in snapshot.themes}
    checks = [
        (["needs"], sorted(assessment.needs), ThemeKind.domain),
        (["barriers"], sorted(set(assessment.barriers)), ThemeKind.barrier),
        (
            ["preferences", "declined_domains"],
            sorted(set(assessment.preferences.declined_domains)),
            ThemeKind.domain,
        ),
    ]
    for loc, codes, kind in checks:
        for code in codes:
            theme = themes.get(code)
            if theme is None:
                msg = f"{code!r} is not a theme code of {ref}"
                problems.append(problem([*loc, code], code, msg, "unknown_theme"))
            elif theme.kind != kind:
                where = "barriers" if theme.kind == ThemeKind.barrier else "needs"
                msg = (
                    f"{code!r} ({theme.label}) is a {theme.kind}, not a {kind}: give it in {where}"
                )
                problems.append(problem([*loc, code], code, msg, f"not_a_{kind}"))
    if problems:
        raise AssessmentError(problems)


@dataclass(frozen=True)
class _Option:
    """A component as this person could receive it."""

    component: Component
    modes: tuple[str, ...]  # what remains on offer, preferred first
    removed: str | None  # why it cannot be offered at all
    rule: str | None  # which preference removed it
    notes: tuple[str, ...]  # changes to delivery made by preferences
    barrier_fit: int
    pref_fit: int
    pref_reasons: tuple[str, ...]


def _option(c: Component, a: Assessment, barrier: bool) -> _Option:
    p, ctx = a.preferences, a.context
    modes = [m.value if isinstance(m, DeliveryMode) else str(m) for m in c.delivery_modes]
    tags, notes = set(c.tags), []
    removed = rule = None
    if not p.digital_contact_ok:
        if "digital_contact" in tags or (modes and set(modes) <= {_DIGITAL}):
            removed, rule = "online or phone contact was not agreed", "digital"
        elif _DIGITAL in modes:
            modes.remove(_DIGITAL)
            notes.append("Offered without its digital option (digital contact not agreed).")
    if removed is None and p.format == "no_group" and _GROUP in modes:
        if set(modes) <= {_GROUP, _DIGITAL}:
            removed, rule = (
                "it is only offered as a group and the person declined group work",
                "group",
            )
        else:
            modes.remove(_GROUP)
            notes.append("Offered without its group option (group work declined).")
    if removed is None and p.spiritual_beliefs_important is False and "spiritual" in tags:
        removed, rule = "spiritual beliefs are not important to the person", "spiritual"
    if removed is None and p.likes_animals is False and "animals" in tags:
        removed, rule = "the person is not fond of animals", "animals"
    weeks, need_weeks = ctx.weeks_available, c.min_duration_weeks
    if removed is None and weeks is not None and need_weeks and weeks < need_weeks:
        removed, rule = f"it needs at least {need_weeks} weeks and {weeks} are available", "weeks"

    reasons = []
    if p.format == "one_to_one" and _ONE in modes:
        reasons.append("offered one-to-one, as the person prefers")
    if p.format == "group" and _GROUP in modes:
        reasons.append("offered as a group, as the person prefers")
    if ctx.in_group_intervention and _GROUP in modes:
        reasons.append("can build on the group intervention the person already attends")
    if p.spiritual_beliefs_important and "spiritual" in tags:
        reasons.append("spiritual beliefs matter to the person")
    if p.likes_animals and "animals" in tags:
        reasons.append("the person likes animals")
    preferred = {_GROUP} if (p.format == "group" or ctx.in_group_intervention) else set()
    if p.format == "one_to_one":
        preferred = {_ONE}
    modes.sort(key=lambda m: m not in preferred)  # stable: otherwise the framework's order
    return _Option(
        component=c,
        modes=tuple(modes),
        removed=removed,
        rule=rule,
        notes=tuple(notes),
        barrier_fit=int(barrier and bool(tags & set(BARRIER_FRIENDLY_TAGS))),
        pref_fit=len(reasons),
        pref_reasons=tuple(reasons),
    )


def _candidates(
    snapshot: FrameworkSnapshot, tree: _Tree, theme: ThemeNode, declined: set[str]
) -> tuple[list[TargetLink], ThemeNode | None]:
    """Links that can meet a need at ``theme``, and the ancestor standing in, if any."""
    known = {c.key for c in snapshot.components}
    usable = [
        link
        for link in snapshot.links
        if link.component_key in known
        and link.theme_key in tree.by_key
        and (link.theme_key not in declined or theme.key in declined)
    ]
    scope = set(tree.below(theme.key))
    links, via = [link for link in usable if link.theme_key in scope], None
    if not links:
        for ancestor in tree.ancestors(theme.key):
            links = [link for link in usable if link.theme_key == ancestor.key]
            if links:
                via = ancestor
                break
    links.sort(key=lambda link: (link.component_key, tree.position[link.theme_key]))
    return links, via


def _cover(
    masks: dict[str, int], universe: list[str], score: dict[str, tuple[int, int, int]]
) -> tuple[list[str], Method]:
    """Smallest set of components whose masks OR to every bit of ``universe``."""
    full = (1 << len(universe)) - 1
    keys = sorted(masks)
    n, u = len(keys), len(universe)
    if not u:
        return [], Method(name="none", description="No domain needed covering.")

    def rank(combo: Iterable[str]) -> tuple:
        chosen = sorted(combo)
        totals = [sum(score[k][i] for k in chosen) for i in range(3)]
        return (-totals[0], -totals[1], -totals[2], tuple(chosen))

    widest = max(m.bit_count() for m in masks.values())
    searched = 0
    for size in range(max(1, math.ceil(u / widest)), n + 1):
        if searched + math.comb(n, size) > EXACT_SEARCH_LIMIT:
            break
        searched += math.comb(n, size)
        covers = [
            combo for combo in combinations(keys, size) if _union(masks[k] for k in combo) == full
        ]
        if covers:
            best = min(covers, key=rank)
            return list(best), Method(
                name="exact_set_cover",
                description=(
                    f"Exact minimum set cover: combinations of the {n} available components "
                    f"were tried in increasing size ({searched} examined) and the first size "
                    f"covering all {u} domains in need was kept. Ties: need severity covered, "
                    "peer or shared-experience settings when a barrier is present, the "
                    "person's preferences, then component key."
                ),
            )
    chosen: list[str] = []
    covered = 0
    while covered != full:
        best = min(
            (k for k in keys if k not in chosen and masks[k] & ~covered),
            key=lambda k: (-(masks[k] & ~covered).bit_count(), *rank([k])),
        )
        chosen.append(best)
        covered |= masks[best]
    for k in reversed(list(chosen)):  # drop any component the later picks made redundant
        rest = [o for o in chosen if o != k]
        if _union(masks[o] for o in rest) == full:
            chosen = rest
    bound = math.log(u) + 1
    return sorted(chosen), Method(
        name="greedy_set_cover",
        description=(
            f"Greedy set cover: an exact search over the {n} available components would "
            f"examine more than {EXACT_SEARCH_LIMIT} combinations, so components were added "
            "one at a time by how many uncovered domains each covers, then redundant ones "
            f"dropped. The plan has at most ln({u}) + 1 = {bound:.2f} times as many "
            "components as the smallest possible plan."
        ),
    )


def _union(masks: Iterable[int]) -> int:
    out = 0
    for m in masks:
        out |= m
    return out


def _link_out(link: TargetLink, snapshot_components: dict[str, Component], tree: _Tree):
    return CandidateLink(
        component_key=link.component_key,
        component_name=snapshot_components[link.component_key].name,
        theme_code=tree.by_key[link.theme_key].code,
        rationale=link.rationale,
        source=link.source,
        from_framework_study=link.from_framework_study,
        evidence="framework study" if link.from_framework_study else "outside the framework study",
    )


def _names(options: dict[str, _Option], keys: Iterable[str]) -> str:
    """Quoted names in an English list: component names may contain commas themselves."""
    names = [f"“{options[k].component.name}”" for k in keys]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _duration_note(option: _Option) -> str | None:
    weeks = option.component.min_duration_weeks
    if weeks and weeks >= MORE_THAN_TWO_MONTHS_WEEKS:
        return f"Run for more than two months (at least {weeks} weekly sessions)."
    if weeks:
        return f"Run for at least {weeks} weeks."
    if _GROUP in option.modes:
        return "If run as a group, keep it going for more than two months."
    return None


_RULE_SENTENCE = {
    "digital": "Digital contact not agreed",
    "group": "Group work declined",
    "spiritual": "Spiritual beliefs not important to the person",
    "animals": "Not fond of animals",
    "weeks": "Not enough weeks available",
}


def recommend(snapshot: FrameworkSnapshot, assessment: Assessment) -> Plan:
    """Build the plan for one assessment; raises ``AssessmentError`` if it misfits."""
    validate(snapshot, assessment)
    tree = _Tree(snapshot)
    comps = {c.key: c for c in snapshot.components}
    prefs = assessment.preferences
    level = {tree.by_code[c].key: lvl for c, lvl in assessment.needs.items()}
    declined_named = sorted(
        {tree.by_code[c].key for c in prefs.declined_domains}, key=tree.position.get
    )
    declined = {k for d in declined_named for k in tree.below(d)}
    barriers = sorted({tree.by_code[c].key for c in assessment.barriers}, key=tree.position.get)
    options = {k: _option(c, assessment, bool(barriers)) for k, c in sorted(comps.items())}

    needed = [
        t for t in tree.ordered if t.kind == ThemeKind.domain and level.get(t.key, "none") != "none"
    ]
    cands = {t.key: _candidates(snapshot, tree, t, declined) for t in needed}
    available = {
        t.key: sorted({lk.component_key for lk in cands[t.key][0]} - _removed_keys(options))
        for t in needed
    }
    universe = [t.key for t in needed if t.key not in declined and available[t.key]]
    masks: dict[str, int] = {}
    for bit, key in enumerate(universe):
        for comp in available[key]:
            masks[comp] = masks.get(comp, 0) | (1 << bit)
    score = {
        k: (
            sum(LEVEL_WEIGHT[level[universe[b]]] for b in range(len(universe)) if m >> b & 1),
            options[k].barrier_fit,
            options[k].pref_fit,
        )
        for k, m in masks.items()
    }
    chosen, method = _cover(masks, universe, score)

    def ref(key: str) -> DomainRef:
        t = tree.by_key[key]
        return DomainRef(code=t.code, label=t.label, level=level.get(key, "none"))

    barrier_links = [
        lk
        for lk in snapshot.links
        if lk.component_key in comps
        and any(lk.theme_key in {*tree.below(b), *(a.key for a in tree.ancestors(b))}
                for b in barriers)
    ]  # fmt: skip
    barrier_links.sort(key=lambda lk: (tree.position.get(lk.theme_key, 0), lk.component_key))

    components = []
    for k in chosen:
        covers = [u for b, u in enumerate(universe) if masks[k] >> b & 1]
        components.append(
            _plan_component(options[k], covers, ref, tree, cands, barriers, barrier_links, comps)
        )
    components.sort(
        key=lambda pc: (
            -max(LEVEL_WEIGHT[d.level] for d in pc.covers),
            -options[pc.key].barrier_fit,
            -options[pc.key].pref_fit,
            min(tree.position[tree.by_code[d.code].key] for d in pc.covers),
            pc.key,
        )
    )

    domains, gaps = [], []
    for t in needed:
        links, _via = cands[t.key]
        keys = sorted({lk.component_key for lk in links})
        status = "declined" if t.key in declined else "covered" if available[t.key] else "gap"
        if status == "declined":
            removed = [(k, "the person declined this domain") for k in keys]
        else:
            removed = [(k, options[k].removed) for k in keys if options[k].removed]
        domains.append(
            DomainExplanation(
                code=t.code,
                key=t.key,
                label=t.label,
                level=level[t.key],
                status=status,
                candidates=[_link_out(lk, comps, tree) for lk in links],
                chosen=[pc.key for pc in components if t.code in {d.code for d in pc.covers}],
                removed=[
                    Removal(component_key=k, component_name=comps[k].name, reason=r)
                    for k, r in removed
                ],
            )
        )
        if status == "gap":
            if not keys:
                reason = "The framework links no intervention component to this theme."
            else:
                why = "; ".join(f"{comps[k].name} ({r})" for k, r in removed)
                reason = f"Every component linked to it was removed: {why}."
            gaps.append(Gap(code=t.code, label=t.label, level=level[t.key], reason=reason))

    plan_keys = [pc.key for pc in components]
    adjustments = _adjustments(
        assessment, tree, declined_named, declined, needed, cands, options, plan_keys, comps
    )
    barrier_notes = []
    for b in barriers:
        theme = tree.by_key[b]
        barrier_notes.append(_barrier_note(theme, barrier_links, tree, options, plan_keys, comps))
        adjustments.append(
            f"{theme.label} present: components in peer or shared-experience settings were "
            "favoured when choosing and ordering the plan."
        )

    return Plan(
        framework=FrameworkRef(slug=snapshot.slug, version=snapshot.version, title=snapshot.title),
        summary=_summary(needed, universe, chosen, gaps, declined),
        components=components,
        domains=domains,
        gaps=gaps,
        declined=[ref(k) for k in sorted(declined, key=tree.position.get)],
        adjustments=adjustments,
        barrier_notes=barrier_notes,
        method=method,
    )


def _removed_keys(options: dict[str, _Option]) -> set[str]:
    return {k for k, o in options.items() if o.removed}


def _plan_component(option, covers, ref, tree, cands, barriers, barrier_links, comps):
    c = option.component
    refs = [ref(k) for k in covers]
    parts = ["Covers " + ", ".join(f"{d.label} ({d.level} need)" for d in refs) + "."]
    if len(refs) > 1:
        parts.append("One component for several domains keeps the plan small.")
    for k in covers:
        via = cands[k][1]
        if via is not None:
            parts.append(
                f"Meets {tree.by_key[k].label} through its parent theme {via.label}: the "
                "framework links no component to the subordinate theme itself."
            )
    if option.barrier_fit:
        labels = ", ".join(tree.by_key[b].label for b in barriers)
        parts.append(f"Peer or shared-experience setting, favoured because {labels} is present.")
    parts.extend(r[0].upper() + r[1:] + "." for r in option.pref_reasons)
    notes = list(option.notes)
    if c.delivery_notes:
        notes.insert(0, c.delivery_notes)
    return PlanComponent(
        key=c.key,
        name=c.name,
        description=c.description,
        delivery=list(option.modes),
        delivery_note=" ".join(notes) or None,
        duration_note=_duration_note(option),
        covers=refs,
        why=" ".join(parts),
        barrier_evidence=[
            _link_out(lk, comps, tree) for lk in barrier_links if lk.component_key == c.key
        ],
    )


def _adjustments(assessment, tree, declined_named, declined, needed, cands, options, plan, comps):
    prefs, ctx = assessment.preferences, assessment.context
    out: list[str] = []
    needed_keys = {t.key for t in needed}
    for d in declined_named:
        theme = tree.by_key[d]
        if not needed_keys & set(tree.below(d)):
            out.append(f"{theme.label} declined: no need had been assessed there.")
            continue
        keys = sorted({lk.component_key for k in tree.below(d) if k in cands for lk in cands[k][0]})
        dropped = [k for k in keys if k not in plan]
        kept = [k for k in keys if k in plan]
        text = f"{theme.label} declined: the domain is not worked on"
        if dropped:
            text += f"; {_names(options, dropped)} not proposed for it"
        if kept:
            text += f"; {_names(options, kept)} proposed only for other domains"
        out.append(text + ".")
    relevant = {lk.component_key for t in needed if t.key not in declined for lk in cands[t.key][0]}
    for rule, label in _RULE_SENTENCE.items():
        hit = [k for k in sorted(relevant) if options[k].rule == rule]
        if hit:
            text = f"{label}: {_names(options, hit)} not proposed"
            if rule == "weeks":  # the numbers differ per component
                text += " (" + "; ".join(f"{options[k].removed}" for k in hit) + ")"
            out.append(text + ".")
    for k in plan:
        for note in options[k].notes:
            out.append(f"{_names(options, [k])}: {note[0].lower()}{note[1:]}")
    if prefs.format == "one_to_one":
        text = "One-to-one work preferred: components offered one-to-one were ranked first"
        group_only = [
            k for k in plan if _ONE not in options[k].modes and _GROUP in options[k].modes
        ]
        if group_only:
            text += (
                f"; {_names(options, group_only)} only runs as a group and stays because the "
                "smallest plan needs it (answer 'no_group' to rule group work out)"
            )
        out.append(text + ".")
    if prefs.format == "group":
        out.append("Group work preferred: components offered as a group were ranked first.")
    if ctx.in_group_intervention:
        groups = [k for k in plan if _GROUP in options[k].modes]
        text = "Already in a group intervention: group components were favoured to build on it"
        if groups:
            text += f"; {_names(options, groups)} can be run within that group"
        out.append(text + ".")
    if prefs.spiritual_beliefs_important:
        out.append("Spiritual beliefs matter to the person: spiritual components were favoured.")
    if prefs.likes_animals:
        out.append("The person likes animals: animal components were favoured.")
    return out


def _barrier_note(theme, barrier_links, tree, options, plan, comps):
    scope = {*tree.below(theme.key), *(a.key for a in tree.ancestors(theme.key))}
    links = [lk for lk in barrier_links if lk.theme_key in scope]
    friendly = [k for k in plan if options[k].barrier_fit]
    notes = [
        f"{theme.label} is a barrier to connectedness, not a need to increase: it changes how "
        "help is offered.",
        "Prefer settings with peers or shared experience"
        + (
            f"; in this plan: {_names(options, friendly)}."
            if friendly
            else "; none is in this plan."
        ),
    ]
    if not any(lk.from_framework_study for lk in links):
        notes.append(
            f"The framework's own study identified no intervention aimed directly at {theme.label}."
        )
    for lk in links:
        where = "in the plan" if lk.component_key in plan else "not in the plan"
        origin = (
            "Framework study"
            if lk.from_framework_study
            else "Evidence from outside the framework study"
        )
        notes.append(
            f"{origin} ({lk.source}) links {tree.by_key[lk.theme_key].label} to "
            f"{_names(options, [lk.component_key])} ({where})."
        )
    evidence = [_link_out(lk, comps, tree) for lk in links]
    return BarrierNote(code=theme.code, label=theme.label, notes=notes, evidence=evidence)


def _summary(needed, universe, chosen, gaps, declined) -> str:
    if not needed:
        return "No need was assessed in any domain, so no component is proposed."
    open_needs = [t for t in needed if t.key not in declined]
    if not open_needs:
        return "Every domain in need was declined by the person, so no component is proposed."
    tail = []
    if gaps:
        tail.append(f"{len(gaps)} domain(s) in need have no available component (see gaps)")
    n_declined = len(needed) - len(open_needs)
    if n_declined:
        tail.append(f"{n_declined} domain(s) in need were declined by the person")
    if not chosen:
        head = "No available component covers the domains in need"
    else:
        head = (
            f"{len(chosen)} component(s) together cover the {len(universe)} domain(s) in need "
            "that can be worked on"
        )
    return head + "".join(f"; {t}" for t in tail) + "."
