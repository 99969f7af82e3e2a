"""Stage 4: evaluate every input document against every policy package, apply waivers, fail closed.

Anything but a clean result — an engine error, an undefined package, a value that is not a set of
``{id, msg}`` objects — becomes a ``GATE-ERROR`` deny: the gate never passes on what it could not read.
The engine may be wrapped (``compliance.gate.cache``, ``compliance.gate.parallel``); waivers, their expiry and
the sorting come after it, as they depend on ``today``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from compliance.evidence.pins import EvidencePin, compare_pins, pins_of_document
from compliance.gate.bundle import PolicyBundle
from compliance.gate.decisions import (
    EVIDENCE_CHANGED,
    GATE_ERROR,
    Decision,
    GateResult,
    Level,
    Subject,
    Waiver,
    sort_decisions,
)
from compliance.gate.engine import UNDEFINED, Engine, EngineFailure, evaluate_all
from compliance.gate.inputs import GateInput

__all__ = ["WAIVER_EXPIRED", "evaluate"]

WAIVER_EXPIRED = "GATE-WAIVER-EXPIRED"
_OPTIONAL = ("version", "region", "resource")


def _gate_error(subject: Subject, message: str, policy: str = "mlgate.gate") -> Decision:
    return Decision(GATE_ERROR, "deny", message, subject.name, policy, file=subject.file, line=subject.line)


def _decisions_of(subject: Subject, package: str, value: Any, controls: dict[str, tuple[str, ...]]) -> list[Decision]:
    """The package's deny/warn sets as Decisions, or one GATE-ERROR naming what was wrong."""
    if value is UNDEFINED:
        return [_gate_error(subject, f"package {package} is undefined: no policy was evaluated", package)]
    if not isinstance(value, dict):
        return [_gate_error(subject, f"package {package} returned {type(value).__name__}, not an object", package)]
    decisions: list[Decision] = []
    level: Level
    for level in ("deny", "warn"):
        items = value.get(level, [])
        if not isinstance(items, list):
            return [_gate_error(subject, f"{package}.{level} is {type(items).__name__}, not a set", package)]
        for item in items:
            if not (isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("msg"), str)):
                return [_gate_error(subject, f"{package}.{level} holds a malformed decision: {item!r:.200}", package)]
            extra = {k: item[k] for k in _OPTIONAL if isinstance(item.get(k), str)}
            decisions.append(
                Decision(
                    id=item["id"],
                    level=level,
                    msg=item["msg"],
                    subject=subject.name,
                    policy=package,
                    controls=controls.get(item["id"], ()),
                    file=subject.file,
                    line=subject.line,
                    **extra,
                )
            )
    return decisions


def _apply_waivers(decisions: Iterable[Decision], waivers: Sequence[Waiver], today: dt.date) -> list[Decision]:
    result: list[Decision] = []
    for decision in decisions:
        if decision.id == GATE_ERROR:
            result.append(decision)  # an undecided gate cannot be waived
            continue
        active = next(
            (w for w in waivers if not w.expired(today) and w.covers(decision.id, decision.subject, decision.version)),
            None,
        )
        result.append(replace(decision, waiver=active) if active else decision)
    return result


def _expired_waiver_warnings(subjects: Sequence[Subject], waivers: Sequence[Waiver], today: dt.date) -> list[Decision]:
    warnings: list[Decision] = []
    for waiver in waivers:
        if not waiver.expired(today):
            continue
        for subject in subjects:
            model, _, env = subject.name.partition("@")
            w_model, _, rest = waiver.subject.partition("@")
            w_env = rest.partition(":")[0]
            if model == w_model and (not w_env or w_env == env):
                warnings.append(
                    Decision(
                        WAIVER_EXPIRED,
                        "warn",
                        f"waiver of {waiver.policy} for {waiver.subject} expired on {waiver.expires.isoformat()} "
                        f"(owner {waiver.owner}): it waives nothing",
                        subject.name,
                        "mlgate.gate",
                        file=waiver.file,
                        line=waiver.line,
                    )
                )
    return warnings


def _pin_denials(
    inputs: Sequence[GateInput], pins: Sequence[EvidencePin], pinned: Mapping[str, str | None]
) -> list[Decision]:
    """A deny per evidence file that differs from the pinned record; added after waivers, so never waived."""
    subjects = {i.subject.name: i.subject for i in inputs}
    denials: list[Decision] = []
    for problem in compare_pins(pins, pinned):
        subject = subjects[problem.pin.subject]
        denials.append(
            Decision(
                EVIDENCE_CHANGED,
                "deny",
                f"version {problem.pin.version}: {problem.message}",
                subject.name,
                "mlgate.gate",
                version=problem.pin.version,
                file=subject.file,
                line=subject.line,
            )
        )
    return denials


def evaluate(
    inputs: Sequence[GateInput],
    engine: Engine,
    bundle: PolicyBundle,
    *,
    environment: str,
    waivers: Sequence[Waiver] = (),
    today: dt.date | None = None,
    pinned: Mapping[str, str | None] | None = None,
) -> GateResult:
    """Judge ``inputs``; with ``pinned`` (file → sha256 of a record), evidence that differs from it is denied."""
    today = today or dt.datetime.now(dt.UTC).date()
    packages = bundle.packages
    controls = {r.id: r.control_refs for r in bundle.rules}
    decisions: list[Decision] = []
    # In input order, whether cached, judged here or in worker processes: the result does not depend on which.
    outcomes = evaluate_all(engine, [i.document for i in inputs], packages)
    for gate_input, values in zip(inputs, outcomes, strict=True):
        subject = gate_input.subject
        if isinstance(values, EngineFailure):
            decisions.append(_gate_error(subject, values.message))
            continue
        if not isinstance(values, dict):
            decisions.append(_gate_error(subject, f"{engine.name} engine returned {type(values).__name__}"))
            continue
        for package in packages:
            decisions.extend(_decisions_of(subject, package, values.get(package, UNDEFINED), controls))
    subjects = tuple(i.subject for i in inputs)
    decisions = _apply_waivers(decisions, waivers, today)
    decisions.extend(_expired_waiver_warnings(subjects, waivers, today))
    pins = [pin for gate_input in inputs for pin in pins_of_document(gate_input.document)]
    if pinned is not None:
        decisions.extend(_pin_denials(inputs, pins, pinned))
    return GateResult(
        environment=environment,
        subjects=subjects,
        decisions=sort_decisions(decisions),
        rules=bundle.rules,
        packages=packages,
        engine=engine.name,
        evidence=tuple(pins),
    )
