"""A typed view of one ledger record (docs/ledger-record.md): what the PDF and Markdown reports show.

The record is the only input: every number in a report comes from it, so a report states exactly what the
gate decided in that run. Nothing here reads files, the clock or the policy directory. Records are JSON
written by mlgate, but they are read defensively: a missing optional field shows as "—", never a crash.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from compliance.errors import UsageError
from compliance.spec.types import region_in_zone

__all__ = [
    "CONCERNS",
    "Cell",
    "FairnessThresholds",
    "ReportData",
    "SubjectView",
    "concern_of",
    "overall_verdict",
    "report_data",
]

# Columns of the executive summary, in this order; any other package (mlgate.gate) is appended when present.
CONCERNS = ("fairness", "lineage", "data", "serving", "platform")
_DEPLOYMENT_CONCERNS = ("fairness", "lineage", "data", "serving")
Cell = Literal["pass", "warn", "deny", "waived", "n/a"]


def concern_of(decision: Mapping[str, Any]) -> str:
    """``mlgate.fairness`` → ``fairness``; ``mlgate.gate`` (GATE-ERROR, expired waivers, changed evidence): ``gate``."""
    policy = str(decision.get("policy") or "")
    return policy.removeprefix("mlgate.") or "gate"


def _cell(decisions: Sequence[Mapping[str, Any]]) -> Cell:
    unwaived = [d for d in decisions if not d.get("waiver")]
    if any(d.get("level") == "deny" for d in unwaived):
        return "deny"
    if unwaived:
        return "warn"
    if decisions:
        return "waived"
    return "pass"


@dataclass(frozen=True)
class FairnessThresholds:
    """The environment's limits for one risk tier (``data.mlgate.thresholds``), as the record carries them."""

    max_dp_difference: float | None = None
    min_dp_ratio: float | None = None
    max_eo_difference: float | None = None
    min_group_size: int | None = None


@dataclass(frozen=True)
class SubjectView:
    """One judged document (``model@env`` or ``platform@env``) and the decisions about it."""

    name: str
    kind: str  # deployment | platform
    verdict: str  # passed | warned | denied
    digest: str | None
    document: Mapping[str, Any]
    decisions: tuple[Mapping[str, Any], ...]
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def model(self) -> Mapping[str, Any]:
        value = self.document.get("model")
        return value if isinstance(value, Mapping) else {}

    @property
    def deployment(self) -> Mapping[str, Any]:
        value = self.document.get("deployment")
        return value if isinstance(value, Mapping) else {}

    @property
    def versions(self) -> list[Mapping[str, Any]]:
        return [v for v in self.document.get("versions") or () if isinstance(v, Mapping)]

    @property
    def title(self) -> str:
        """The heading: ``credit-scoring@prod``, with a display name when the document has one."""
        display = self.model.get("displayName")
        return f"{self.name} — {display}" if isinstance(display, str) and display else self.name

    @property
    def planned_regions(self) -> list[str]:
        return [str(r) for r in self.document.get("plannedRegions") or ()]

    def residency_rows(self) -> list[tuple[str, bool, bool]]:
        """(region, planned, inside the declared residency) for every spec or planned region."""
        data = self.model.get("data") or {}
        zones = [str(z) for z in data.get("residency") or ()]
        spec = [str(r) for r in self.deployment.get("regions") or ()]
        planned = self.planned_regions
        regions = spec + [r for r in planned if r not in spec]
        return [(r, r in planned, region_in_zone(r, zones)) for r in regions]

    def evidence(self, version: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
        """The parsed evidence document of ``kind`` for a version, or None when absent or unreadable."""
        entry = (version.get("evidence") or {}).get(kind)
        if not isinstance(entry, Mapping) or not entry.get("present"):
            return None
        document = entry.get("document")
        return document if isinstance(document, Mapping) else None

    def shown_versions(self) -> list[Mapping[str, Any]]:
        """The versions whose evidence the report details: those deployed in this environment (all when none is)."""
        deployed = [v for v in self.versions if v.get("deployed")]
        return deployed or self.versions


@dataclass(frozen=True)
class ReportData:
    record: Mapping[str, Any]
    subjects: tuple[SubjectView, ...]
    concerns: tuple[str, ...]
    rules: tuple[Mapping[str, Any], ...]
    evidence: tuple[Mapping[str, Any], ...]
    waivers: tuple[Mapping[str, Any], ...]

    @property
    def run_id(self) -> str:
        return str(self.record.get("runId") or "")

    @property
    def environment(self) -> str:
        return str(self.record.get("environment") or "")

    @property
    def time(self) -> str:
        return str(self.record.get("time") or "")

    @property
    def seq(self) -> int | None:
        seq = self.record.get("seq")
        return seq if isinstance(seq, int) else None

    @property
    def record_hash(self) -> str:
        return str(self.record.get("hash") or "")

    @property
    def bundle_digest(self) -> str:
        return str((self.record.get("policyBundle") or {}).get("digest") or "")

    @property
    def commit(self) -> str:
        repo = self.record.get("repo") or {}
        commit = repo.get("commit")
        if not commit:
            return "— (not a git checkout)"
        return f"{commit} (uncommitted changes)" if repo.get("dirty") else str(commit)

    @property
    def exit_code(self) -> int | None:
        code = (self.record.get("result") or {}).get("exitCode")
        return code if isinstance(code, int) else None

    @property
    def summary(self) -> Mapping[str, Any]:
        value = (self.record.get("result") or {}).get("summary")
        return value if isinstance(value, Mapping) else {}

    @cached_property
    def deployments(self) -> list[SubjectView]:
        return [s for s in self.subjects if s.kind == "deployment"]

    @cached_property
    def platforms(self) -> list[SubjectView]:
        return [s for s in self.subjects if s.kind != "deployment"]

    @cached_property
    def decisions(self) -> list[Mapping[str, Any]]:
        return [d for s in self.subjects for d in s.decisions]

    @cached_property
    def _rules_by_id(self) -> dict[str, Mapping[str, Any]]:
        return {str(r.get("id")): r for r in self.rules}

    def rule(self, rule_id: str) -> Mapping[str, Any] | None:
        return self._rules_by_id.get(rule_id)

    def level_counts(self) -> Counter[str]:
        """deny / warn / waived counts over every decision of the run."""
        counts: Counter[str] = Counter()
        for d in self.decisions:
            counts["waived" if d.get("waiver") else str(d.get("level"))] += 1
        return counts

    def thresholds(self, risk_tier: str) -> FairnessThresholds:
        """The fairness limits the run judged with (record field ``thresholds``: the environment's entry of
        ``data.mlgate.thresholds.environments``). Empty when the record does not carry them."""
        env = self.record.get("thresholds")
        if not isinstance(env, Mapping):
            return FairnessThresholds()
        tier = (env.get("fairness") or {}).get(risk_tier) or {}

        def number(value: Any) -> float | None:
            return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

        size = env.get("minGroupSize")
        return FairnessThresholds(
            max_dp_difference=number(tier.get("maxDemographicParityDifference")),
            min_dp_ratio=number(tier.get("minDemographicParityRatio")),
            max_eo_difference=number(tier.get("maxEqualizedOddsDifference")),
            min_group_size=size if isinstance(size, int) else None,
        )


def overall_verdict(data: ReportData) -> str:
    """One line for the cover: what the gate's exit code meant."""
    code = data.exit_code
    if code == 0:
        warned = data.summary.get("warned") or 0
        return "PASSED with warnings" if warned else "PASSED"
    if code == 1:
        return "DENIED"
    if code == 2:
        return "GATE ERROR (undecided)"
    return "UNKNOWN"


def report_data(record: Mapping[str, Any]) -> ReportData:
    """The view of a record; UsageError when it is not a ledger record at all."""
    if not isinstance(record, Mapping) or record.get("kind") != "LedgerRecord":
        raise UsageError("not a ledger record (kind LedgerRecord)")
    decisions = [d for d in record.get("decisions") or () if isinstance(d, Mapping)]
    by_subject: dict[str, list[Mapping[str, Any]]] = {}
    for d in decisions:
        by_subject.setdefault(str(d.get("subject")), []).append(d)
    present = {concern_of(d) for d in decisions}
    concerns = CONCERNS + tuple(sorted(present - set(CONCERNS)))
    subjects: list[SubjectView] = []
    for entry in record.get("subjects") or ():
        if not isinstance(entry, Mapping):
            continue
        name = str(entry.get("name"))
        kind = str(entry.get("kind") or "deployment")
        mine = tuple(by_subject.get(name, ()))
        applies = _DEPLOYMENT_CONCERNS if kind == "deployment" else ("platform",)
        cells: dict[str, Cell] = {}
        for concern in concerns:
            found = [d for d in mine if concern_of(d) == concern]
            cells[concern] = _cell(found) if found or concern in applies else "n/a"
        document = entry.get("document")
        subjects.append(
            SubjectView(
                name=name,
                kind=kind,
                verdict=str(entry.get("verdict") or ""),
                digest=entry.get("digest") if isinstance(entry.get("digest"), str) else None,
                document=document if isinstance(document, Mapping) else {},
                decisions=mine,
                cells=cells,
            )
        )
    return ReportData(
        record=record,
        subjects=tuple(subjects),
        concerns=concerns,
        rules=tuple(r for r in record.get("rules") or () if isinstance(r, Mapping)),
        evidence=tuple(e for e in record.get("evidence") or () if isinstance(e, Mapping)),
        waivers=tuple(w for w in record.get("waivers") or () if isinstance(w, Mapping)),
    )
