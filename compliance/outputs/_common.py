"""Small helpers shared by the format modules (standard library only)."""

from __future__ import annotations

from compliance.gate.decisions import GATE_ERROR, Decision, GateResult, Waiver

__all__ = ["controls_of", "is_gate_error", "subject_names", "waiver_note"]


def subject_names(result: GateResult) -> list[str]:
    """Subjects in ``result.subjects`` order, then any subject named only by a decision (first seen first)."""
    seen = [s.name for s in result.subjects]
    known = set(seen)
    for d in result.decisions:
        if d.subject not in known:
            known.add(d.subject)
            seen.append(d.subject)
    return seen


def controls_of(result: GateResult, decision: Decision) -> tuple[str, ...]:
    """The decision's own control refs, else its rule's (``EU AI Act Art. 10(2)(f)``, …)."""
    if decision.controls:
        return decision.controls
    rule = result.rule(decision.id)
    return rule.control_refs if rule else ()


def is_gate_error(decision: Decision) -> bool:
    return decision.id == GATE_ERROR


def waiver_note(waiver: Waiver) -> str:
    """``risk-ml@example.com, expires 2026-12-31``."""
    return f"{waiver.owner}, expires {waiver.expires.isoformat()}"
