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
  cover (``setcover``) is found exactly by trying every combination in increasing size while that
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

from collections.abc import Iterable
from dataclasses import dataclass

from service.frameworks.domain import (
    Component,
    DeliveryMode,
    FrameworkSnapshot,
    FrameworkStatus,
    TargetLink,
    ThemeKind,
    ThemeNode,
)
from service.recommendations import setcover
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
    Plan,
    PlanComponent,
    Removal,
)

# About 0.3 s of search at most. CIVIC v2 has 14 components, so it has at most
# 2**14 = 16,384 combinations and always gets the exact answer; so do frameworks of up
# to 16 components, and larger ones whenever a small plan exists.
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
    """Apply the person's preferences to one component.

    Removal (the first rule that applies is the reason given): tagged
    ``digital_contact`` or digital-only without digital agreement; group-only under
    ``no_group``; tagged ``spiritual`` when beliefs are not important; tagged
    ``animals`` when the person is not fond of them; a minimum duration longer than the
    weeks available. Mixed-mode components lose the declined mode instead. Ranking
    (``pref_fit``): one point per preference matched - preferred format, group work
    while already in a group intervention, spiritual or animal components when wanted.
    """
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
    return _Planner(snapshot, assessment).plan()


class _Planner:
    """One recommendation: the derived facts every part of the explanation reads."""

    def __init__(self, snapshot: FrameworkSnapshot, assessment: Assessment) -> None:
        self.snapshot, self.assessment = snapshot, assessment
        self.tree = tree = _Tree(snapshot)
        self.comps = {c.key: c for c in snapshot.components}
        self.level = {tree.by_code[c].key: lvl for c, lvl in assessment.needs.items()}
        named = {tree.by_code[c].key for c in assessment.preferences.declined_domains}
        self.declined_named = sorted(named, key=tree.position.__getitem__)
        self.declined = {k for d in self.declined_named for k in tree.below(d)}
        barriers = {tree.by_code[c].key for c in assessment.barriers}
        self.barriers = sorted(barriers, key=tree.position.__getitem__)
        self.options = {
            k: _option(c, assessment, bool(barriers)) for k, c in sorted(self.comps.items())
        }
        removed = {k for k, o in self.options.items() if o.removed}
        self.needed = [
            t
            for t in tree.ordered
            if t.kind == ThemeKind.domain and self.level.get(t.key, "none") != "none"
        ]
        self.cands = {t.key: _candidates(snapshot, tree, t, self.declined) for t in self.needed}
        self.available = {
            t.key: sorted({lk.component_key for lk in self.cands[t.key][0]} - removed)
            for t in self.needed
        }
        self.universe = [
            t.key for t in self.needed if t.key not in self.declined and self.available[t.key]
        ]
        self.masks: dict[str, int] = {}
        for bit, key in enumerate(self.universe):
            for comp in self.available[key]:
                self.masks[comp] = self.masks.get(comp, 0) | (1 << bit)
        self.barrier_links = sorted(
            (
                lk
                for lk in snapshot.links
                if lk.component_key in self.comps and lk.theme_key in self._barrier_scope()
            ),
            key=lambda lk: (tree.position[lk.theme_key], lk.component_key),
        )

    def _barrier_scope(self, key: str | None = None) -> set[str]:
        """Themes whose links bear on a reported barrier: it, those above and below it."""
        keys = [key] if key else self.barriers
        return {
            k for b in keys for k in [*self.tree.below(b), *(a.key for a in self.tree.ancestors(b))]
        }

    def plan(self) -> Plan:
        score = {
            k: (
                sum(LEVEL_WEIGHT[self.level[u]] for b, u in enumerate(self.universe) if m >> b & 1),
                self.options[k].barrier_fit,
                self.options[k].pref_fit,
            )
            for k, m in self.masks.items()
        }
        chosen, method = setcover.cover(self.masks, self.universe, score, limit=EXACT_SEARCH_LIMIT)
        components = sorted((self._component(k) for k in chosen), key=self._order)
        plan_keys = [pc.key for pc in components]
        domains = [self._domain(t, components) for t in self.needed]
        # Every domain in need is either covered or listed here, declined ones included.
        gaps = [self._gap(t) for t in self.needed if self._status(t) != "covered"]
        notes = [self._barrier_note(b, plan_keys) for b in self.barriers]
        adjustments = self._adjustments(plan_keys) + [
            f"{self.tree.by_key[b].label} present: components in peer or shared-experience "
            "settings were favoured when choosing and ordering the plan."
            for b in self.barriers
        ]
        fw = self.snapshot
        return Plan(
            framework=FrameworkRef(slug=fw.slug, version=fw.version, title=fw.title),
            summary=self._summary(len(chosen), sum(g.kind == "no_component" for g in gaps)),
            components=components,
            domains=domains,
            gaps=gaps,
            declined=[self._ref(k) for k in sorted(self.declined, key=self.tree.position.get)],
            adjustments=adjustments,
            barrier_notes=notes,
            method=method,
        )

    def _ref(self, key: str) -> DomainRef:
        t = self.tree.by_key[key]
        return DomainRef(code=t.code, key=t.key, label=t.label, level=self.level.get(key, "none"))

    def _link(self, link: TargetLink) -> CandidateLink:
        study = link.from_framework_study
        return CandidateLink(
            component_key=link.component_key,
            component_name=self.comps[link.component_key].name,
            theme_code=self.tree.by_key[link.theme_key].code,
            rationale=link.rationale,
            source=link.source,
            from_framework_study=study,
            evidence="framework study" if study else "outside the framework study",
        )

    def _names(self, keys: Iterable[str]) -> str:
        """Quoted names in an English list: names may contain commas themselves."""
        names = [f"“{self.comps[k].name}”" for k in keys]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    def _order(self, pc: PlanComponent) -> tuple:
        """Most severe need first; then barrier-friendly, preferred, earliest domain, key."""
        option = self.options[pc.key]
        return (
            -max(LEVEL_WEIGHT[d.level] for d in pc.covers),
            -option.barrier_fit,
            -option.pref_fit,
            min(self.tree.position[self.tree.by_code[d.code].key] for d in pc.covers),
            pc.key,
        )

    def _component(self, key: str) -> PlanComponent:
        option, c = self.options[key], self.comps[key]
        covers = [u for b, u in enumerate(self.universe) if self.masks[key] >> b & 1]
        refs = [self._ref(k) for k in covers]
        why = ["Covers " + ", ".join(f"{d.label} ({d.level} need)" for d in refs) + "."]
        if len(refs) > 1:
            why.append("One component for several domains keeps the plan small.")
        for k in covers:
            via = self.cands[k][1]
            if via is not None:
                why.append(
                    f"Meets {self.tree.by_key[k].label} through its parent theme {via.label}: "
                    "the framework links no component to the subordinate theme itself."
                )
        if option.barrier_fit:
            labels = " and ".join(self.tree.by_key[b].label for b in self.barriers)
            verb = "are" if len(self.barriers) > 1 else "is"
            why.append(
                f"Peer or shared-experience setting, favoured because {labels} {verb} present."
            )
        why.extend(r[0].upper() + r[1:] + "." for r in option.pref_reasons)
        notes = [c.delivery_notes, *option.notes] if c.delivery_notes else list(option.notes)
        return PlanComponent(
            key=c.key,
            name=c.name,
            description=c.description,
            delivery=list(option.modes),
            delivery_note=" ".join(notes) or None,
            duration_note=_duration_note(option),
            covers=refs,
            why=" ".join(why),
            barrier_evidence=[
                self._link(lk) for lk in self.barrier_links if lk.component_key == key
            ],
        )

    def _status(self, t: ThemeNode) -> str:
        if t.key in self.declined:
            return "declined"
        return "covered" if self.available[t.key] else "gap"

    def _removed(self, t: ThemeNode) -> list[tuple[str, str]]:
        keys = sorted({lk.component_key for lk in self.cands[t.key][0]})
        if t.key in self.declined:
            return [(k, "the person declined this domain") for k in keys]
        return [(k, r) for k in keys if (r := self.options[k].removed)]

    def _domain(self, t: ThemeNode, components: list[PlanComponent]) -> DomainExplanation:
        return DomainExplanation(
            code=t.code,
            key=t.key,
            label=t.label,
            level=self.level[t.key],
            status=self._status(t),
            candidates=[self._link(lk) for lk in self.cands[t.key][0]],
            chosen=[pc.key for pc in components if t.code in {d.code for d in pc.covers}],
            removed=[
                Removal(component_key=k, component_name=self.comps[k].name, reason=r)
                for k, r in self._removed(t)
            ],
        )

    def _gap(self, t: ThemeNode) -> Gap:
        if t.key in self.declined:
            return Gap(
                code=t.code,
                label=t.label,
                level=self.level[t.key],
                kind="declined",
                reason="The person declined work on this domain, so nothing is proposed for "
                "it; revisit if their preference changes.",
            )
        removed = self._removed(t)
        if not removed:
            reason = "The framework links no intervention component to this theme."
        else:
            why = "; ".join(f"{self.comps[k].name} ({r})" for k, r in removed)
            reason = f"Every component linked to it was removed: {why}."
        return Gap(
            code=t.code, label=t.label, level=self.level[t.key], kind="no_component", reason=reason
        )

    def _adjustments(self, plan: list[str]) -> list[str]:
        prefs, ctx, options = self.assessment.preferences, self.assessment.context, self.options
        out: list[str] = []
        needed = {t.key for t in self.needed}
        for d in self.declined_named:
            label, below = self.tree.by_key[d].label, self.tree.below(d)
            if not needed & set(below):
                out.append(f"{label} declined: no need had been assessed there.")
                continue
            keys = sorted(
                {lk.component_key for k in below if k in needed for lk in self.cands[k][0]}
            )
            text = f"{label} declined: the domain is not worked on"
            if dropped := [k for k in keys if k not in plan]:
                text += f"; {self._names(dropped)} not proposed for it"
            if kept := [k for k in keys if k in plan]:
                text += f"; {self._names(kept)} proposed only for other domains"
            out.append(text + ".")
        relevant = {
            lk.component_key
            for t in self.needed
            if t.key not in self.declined
            for lk in self.cands[t.key][0]
        }
        for rule, label in _RULE_SENTENCE.items():
            if hit := [k for k in sorted(relevant) if options[k].rule == rule]:
                text = f"{label}: {self._names(hit)} not proposed"
                if rule == "weeks":  # the numbers differ per component
                    text += " (" + "; ".join(str(options[k].removed) for k in hit) + ")"
                out.append(text + ".")
        for k in plan:
            out.extend(f"{self._names([k])}: {n[0].lower()}{n[1:]}" for n in options[k].notes)
        if prefs.format == "one_to_one":
            text = "One-to-one work preferred: components offered one-to-one were ranked first"
            if group_only := [
                k for k in plan if _ONE not in options[k].modes and _GROUP in options[k].modes
            ]:
                text += (
                    f"; {self._names(group_only)} only runs as a group and stays because the "
                    "smallest plan needs it (answer 'no_group' to rule group work out)"
                )
            out.append(text + ".")
        if prefs.format == "group":
            out.append("Group work preferred: components offered as a group were ranked first.")
        if ctx.in_group_intervention:
            text = "Already in a group intervention: group components were favoured to build on it"
            if groups := [k for k in plan if _GROUP in options[k].modes]:
                text += f"; {self._names(groups)} can be run within that group"
            out.append(text + ".")
        if prefs.spiritual_beliefs_important:
            out.append(
                "Spiritual beliefs matter to the person: spiritual components were favoured."
            )
        if prefs.likes_animals:
            out.append("The person likes animals: animal components were favoured.")
        return out

    def _barrier_note(self, key: str, plan: list[str]) -> BarrierNote:
        theme, scope = self.tree.by_key[key], self._barrier_scope(key)
        links = [lk for lk in self.barrier_links if lk.theme_key in scope]
        friendly = [k for k in plan if self.options[k].barrier_fit]
        in_plan = f"in this plan: {self._names(friendly)}" if friendly else "none is in this plan"
        notes = [
            f"{theme.label} is a barrier to connectedness, not a need to increase: it changes "
            "how help is offered.",
            f"Prefer settings with peers or shared experience; {in_plan}.",
        ]
        if not any(lk.from_framework_study for lk in links):
            notes.append(
                "The framework's own study identified no intervention aimed directly at "
                f"{theme.label}."
            )
        for lk in links:
            origin = (
                "Framework study"
                if lk.from_framework_study
                else "Evidence from outside the framework study"
            )
            where = "in the plan" if lk.component_key in plan else "not in the plan"
            notes.append(
                f"{origin} ({lk.source}) links {self.tree.by_key[lk.theme_key].label} to "
                f"{self._names([lk.component_key])} ({where})."
            )
        evidence = [self._link(lk) for lk in links]
        return BarrierNote(code=theme.code, label=theme.label, notes=notes, evidence=evidence)

    def _summary(self, n_chosen: int, n_gaps: int) -> str:
        if not self.needed:
            return "No need was assessed in any domain, so no component is proposed."
        n_declined = sum(t.key in self.declined for t in self.needed)
        if n_declined == len(self.needed):
            return "Every domain in need was declined by the person, so no component is proposed."
        if n_chosen:
            head = (
                f"{n_chosen} component(s) together cover the {len(self.universe)} domain(s) "
                "in need that can be worked on"
            )
        else:
            head = "No available component covers the domains in need"
        if n_gaps:
            head += f"; {n_gaps} domain(s) in need have no available component (see gaps)"
        if n_declined:
            head += f"; {n_declined} domain(s) in need were declined by the person"
        return head + "."
