"""Data-handling evidence: which columns of a dataset likely hold personal data, and of which category.

``mlgate evidence data`` reads a seeded uniform sample of every column of each dataset (as text, see
:func:`compliance.evidence.tables.sample_table`) and runs the small, checksum-backed detectors of
:mod:`compliance.evidence.detectors` on the distinct values of each column. **Precision over recall**: a value
detector flags a column only when at least ``VALUE_THRESHOLD`` (80 %) of its non-empty sampled values match, and
the loose shapes (plain digit strings as phone numbers or SSNs, capitalised words as names, dates as birth dates,
numbers as ages) count only when the column's name says what it holds. Attribute columns (sex, race, religion,
…) are flagged by their name alone.

No value is ever copied into the evidence: per flagged column it records the column name, detector,
category (DESIGN.md's vocabulary), the share of non-empty sampled values that matched, their number and the
column-name hint that enabled or supported the detector.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.errors import EvidenceError, UsageError
from compliance.evidence.detectors import (
    ATTRIBUTES,
    CORROBORATE,
    DETECTORS,
    Detector,
    column_hints,
    hint_for,
    parse_age,
)
from compliance.evidence.formats import RFC3339_TIME, tool

__all__ = [
    "VALUE_THRESHOLD",
    "ColumnFinding",
    "DataRequest",
    "build_data_evidence",
    "scan_column",
    "write_data_evidence",
]

VALUE_THRESHOLD = 0.8
DEFAULT_SAMPLE = 10_000
# Markers that mean "no value" in exported tables; they do not count as values.
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "nil", "?", "-", "--", "nat", "<na>"})


# ---------------------------------------------------------------------------------------------- columns

CHILD_AGE = 18  # an age column whose values are mostly below this holds children's data


@dataclass(frozen=True)
class ColumnFinding:
    name: str
    category: str
    detector: str
    share: float  # of the non-empty sampled values, the share that matched (1.0 for attribute columns)
    values: int  # non-empty sampled values
    hint: str | None  # the column-name hint that enabled or supports the detector

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "category": self.category,
            "detector": self.detector,
            "share": round(self.share, 4),
            "values": self.values,
            "hint": self.hint,
        }


def scan_column(name: str, values: Sequence[str], threshold: float = VALUE_THRESHOLD) -> ColumnFinding | None:
    """The finding for one column (its sampled values as text), or None when nothing is likely personal."""
    counts: dict[str, int] = {}
    for raw in values:
        value = raw.strip()
        if value.lower() in MISSING:
            continue
        counts[value] = counts.get(value, 0) + 1
    total = sum(counts.values())
    if total == 0:
        return None
    hints = column_hints(name)

    def share(test: Callable[[str], bool]) -> float:
        return sum(n for value, n in counts.items() if test(value)) / total

    best: tuple[float, Detector] | None = None
    for detector in DETECTORS:
        if detector.hints and not detector.hints & hints:
            continue
        matched = share(detector.test)
        if matched < threshold or (best is not None and matched <= best[0]):
            continue
        corroborate = CORROBORATE.get((detector.name, detector.hints))
        if corroborate is not None and share(corroborate[0]) < corroborate[1]:
            continue
        best = (matched, detector)
    if best is not None:
        matched, detector = best
        category = detector.category
        if detector.name == "age":
            ages = [(n, parse_age(value)) for value, n in counts.items()]
            children = sum(n for n, age in ages if age is not None and age < CHILD_AGE)
            if children / total >= threshold:
                category = "children"
        return ColumnFinding(name, category, detector.name, matched, total, hint_for(detector.name, hints))
    for hint, category in ATTRIBUTES.items():
        if hint in hints:
            return ColumnFinding(name, category, f"attribute:{hint}", 1.0, total, hint)
    return None


# ---------------------------------------------------------------------------------------------- command


@dataclass(frozen=True)
class DataRequest:
    """What ``mlgate evidence data`` was asked for."""

    model: str
    version: str
    datasets: Sequence[Path]
    sample: int = DEFAULT_SAMPLE
    seed: int = 0
    generated_at: str | None = None


def _check_request(request: DataRequest) -> None:
    if not request.datasets:
        raise UsageError("give one or more datasets", field="--dataset")
    if request.sample < 1:
        raise UsageError(f"the sample size must be 1 or more, not {request.sample}", field="--sample")
    if request.generated_at is not None and not RFC3339_TIME.match(request.generated_at):
        raise UsageError(
            f"{request.generated_at!r} is not an RFC 3339 time like 2026-11-25T10:00:00Z", field="--generated-at"
        )
    for path in request.datasets:
        if not path.is_file():
            raise UsageError("file not found", file=path)


def build_data_evidence(request: DataRequest) -> dict[str, Any]:
    """The DataEvidence document for ``request``; validated before it is returned.

    Raises UsageError for bad flags or a missing file, EvidenceError for an unreadable or empty table.
    """
    from pydantic import ValidationError

    from compliance.evidence.artifacts import artifact_digest
    from compliance.evidence.formats import DataEvidence
    from compliance.evidence.tables import sample_table

    _check_request(request)
    datasets: list[dict[str, Any]] = []
    found: set[str] = set()
    for path in request.datasets:
        table = sample_table(path, request.sample, request.seed)
        columns = []
        for index, name in enumerate(table.columns):
            finding = scan_column(name, table.sample.iloc[:, index].tolist())
            if finding is not None:
                columns.append(finding.to_json())
                found.add(finding.category)
        datasets.append(
            {
                "uri": str(path),
                "digest": artifact_digest(path),
                "rows": table.rows,
                "sampled": len(table.sample),
                "columns": columns,
            }
        )
    document: dict[str, Any] = {
        "apiVersion": "mlgate.io/v1",
        "kind": "DataEvidence",
        "model": request.model,
        "version": request.version,
        "generatedAt": request.generated_at or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tool": tool(),
        "sampling": {"method": "seeded-uniform", "size": request.sample, "seed": request.seed},
        "datasets": datasets,
        "categories": sorted(found) or ["none"],
    }
    try:
        DataEvidence.model_validate(document)
    except ValidationError as exc:  # a bug: everything above should produce valid evidence
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in error["loc"])
        raise EvidenceError(f"would write invalid data evidence: {error['msg']}", field=where) from None
    return document


def write_data_evidence(document: dict[str, Any], out: str | Path) -> None:
    """Write ``document`` as indented JSON, atomically (no partial file on failure)."""
    from compliance._internal.files import atomic_write

    atomic_write(out, json.dumps(document, indent=2) + "\n")


def summary(document: dict[str, Any], started: float) -> str:
    rows = sum(d["rows"] for d in document["datasets"])
    sampled = sum(d["sampled"] for d in document["datasets"])
    flagged = sum(len(d["columns"]) for d in document["datasets"])
    return (
        f"{len(document['datasets'])} dataset(s), {rows} rows, {sampled} sampled, {flagged} flagged column(s) "
        f"(categories: {', '.join(document['categories'])}) ({time.perf_counter() - started:.1f} s)"
    )
