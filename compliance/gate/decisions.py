"""What the gate decides: decisions, waivers, the policy catalogue, and the run's result with its exit code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from compliance.evidence.pins import EvidencePin

__all__ = [
    "EVIDENCE_CHANGED",
    "GATE_ERROR",
    "Decision",
    "GateResult",
    "Level",
    "RuleInfo",
    "Waiver",
]

GATE_ERROR = "GATE-ERROR"
EVIDENCE_CHANGED = "GATE-EVIDENCE-CHANGED"  # an evidence file differs from the pinned record: a deny, never waived
Level = Literal["deny", "warn"]


@dataclass(frozen=True)
class Waiver:
    """One entry of ``policies/waivers.yaml``: accepts a policy's finding for a subject until it expires."""

    policy: str
    subject: str  # model[@env][:version]
    reason: str
    owner: str
    approvedBy: str
    expires: dt.date
    file: str | None = None
    line: int | None = None

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def covers(self, policy_id: str, subject: str, version: str | None) -> bool:
        """``credit-scoring`` covers every env; ``credit-scoring@prod`` one env; ``…@prod:v7`` one version."""
        if policy_id != self.policy:
            return False
        model, _, rest = self.subject.partition("@")
        env, _, wanted_version = rest.partition(":")
        d_model, _, d_env = subject.partition("@")
        if model != d_model or (env and env != d_env):
            return False
        return not wanted_version or wanted_version == version

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "subject": self.subject,
            "reason": self.reason,
            "owner": self.owner,
            "approvedBy": self.approvedBy,
            "expires": self.expires.isoformat(),
        }


@dataclass(frozen=True)
class RuleInfo:
    """A rule's ``# METADATA``: the catalogue entry behind an id (docs, SARIF rules, reports)."""

    id: str
    title: str
    description: str
    severity: str  # low | medium | high | critical
    level: Level
    package: str
    controls: dict[str, tuple[str, ...]] = field(default_factory=dict)  # framework -> refs
    file: str | None = None
    line: int | None = None

    @property
    def control_refs(self) -> tuple[str, ...]:
        """``("EU AI Act Art. 10(2)(f)", "NIST AI RMF MEASURE 2.11", …)``."""
        return tuple(f"{FRAMEWORKS.get(k, k)} {ref}" for k, refs in self.controls.items() for ref in refs)


FRAMEWORKS = {"eu-ai-act": "EU AI Act", "nist-ai-rmf": "NIST AI RMF", "iso-42001": "ISO/IEC 42001"}


@dataclass(frozen=True)
class Decision:
    id: str
    level: Level
    msg: str
    subject: str  # model@env, or platform@env
    policy: str  # the Rego package, e.g. mlgate.fairness
    controls: tuple[str, ...] = ()
    waiver: Waiver | None = None
    version: str | None = None
    region: str | None = None
    resource: str | None = None
    file: str | None = None  # where a user fixes it: the model's YAML
    line: int | None = None

    @property
    def waived(self) -> bool:
        return self.waiver is not None

    @property
    def model(self) -> str:
        return self.subject.partition("@")[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "level": self.level,
            "msg": self.msg,
            "subject": self.subject,
            "policy": self.policy,
            "controls": list(self.controls),
            "waiver": self.waiver.to_json() if self.waiver else None,
            "version": self.version,
            "region": self.region,
            "resource": self.resource,
            "file": self.file,
            "line": self.line,
        }


@dataclass(frozen=True)
class Subject:
    """One evaluated document: a deployment (``model@env``) or the platform (``platform@env``)."""

    name: str
    kind: Literal["deployment", "platform"]
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class GateResult:
    environment: str
    subjects: tuple[Subject, ...]
    decisions: tuple[Decision, ...]
    rules: tuple[RuleInfo, ...] = ()
    packages: tuple[str, ...] = ()
    engine: str = "embedded"
    evidence: tuple[EvidencePin, ...] = ()  # what the decisions were made on (compliance.evidence.pins)

    def of(self, subject: str) -> list[Decision]:
        return [d for d in self.decisions if d.subject == subject]

    def unwaived(self, level: Level) -> list[Decision]:
        return [d for d in self.decisions if d.level == level and not d.waived]

    def errors(self) -> list[Decision]:
        """GATE-ERROR decisions: subjects the gate could not decide."""
        return [d for d in self.decisions if d.id == GATE_ERROR]

    def exit_code(self, *, fail_on_warn: bool = False) -> int:
        """2 when the gate could not decide (engine error), 1 when an unwaived deny remains (or warn,
        with ``fail_on_warn``), else 0. Never 0 with a GATE-ERROR present."""
        if self.errors():
            return 2
        if self.unwaived("deny") or (fail_on_warn and self.unwaived("warn")):
            return 1
        return 0

    def verdict(self, subject: str) -> str:
        """``denied`` / ``warned`` / ``passed`` for one subject (waived findings do not count)."""
        mine = [d for d in self.of(subject) if not d.waived]
        if any(d.level == "deny" for d in mine):
            return "denied"
        if mine:
            return "warned"
        return "passed"

    def counts(self) -> dict[str, int]:
        """Verdicts of the model deployments (the platform document is reported on its own)."""
        verdicts = [self.verdict(s.name) for s in self.subjects if s.kind == "deployment"]
        return {
            "subjects": len(verdicts),
            "passed": verdicts.count("passed"),
            "warned": verdicts.count("warned"),
            "denied": verdicts.count("denied"),
            "waived": sum(1 for d in self.decisions if d.waived),
        }

    def summary(self) -> str:
        c = self.counts()
        text = (
            f"{c['subjects']} deployments, {c['passed']} passed, {c['warned']} warned, "
            f"{c['denied']} denied, {c['waived']} waived"
        )
        platform = [s.name for s in self.subjects if s.kind == "platform"]
        if platform and self.verdict(platform[0]) != "passed":
            text += f"; platform {self.verdict(platform[0])}"
        if self.errors():
            text += f"; {len(self.errors())} gate errors"
        return text

    def rule(self, rule_id: str) -> RuleInfo | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "apiVersion": "mlgate.io/v1",
            "kind": "GateResult",
            "environment": self.environment,
            "engine": self.engine,
            "summary": self.counts(),
            "exitCode": self.exit_code(),
            "subjects": [{"name": s.name, "kind": s.kind, "verdict": self.verdict(s.name)} for s in self.subjects],
            "decisions": [d.to_json() for d in self.decisions],
            "evidence": [pin.to_json() for pin in self.evidence],
        }


def sort_decisions(decisions: Iterable[Decision]) -> tuple[Decision, ...]:
    order = {"deny": 0, "warn": 1}
    return tuple(sorted(decisions, key=lambda d: (d.subject, order[d.level], d.id, d.version or "", d.msg)))
