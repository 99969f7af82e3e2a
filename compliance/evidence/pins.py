"""Evidence pins: the sha256 of every evidence file a decision was made on, and the check that they still hold.

``mlgate check --format json`` records, beside its decisions, an ``evidence`` manifest: one pin per evidence
file of every judged version (subject, version, kind, file, sha256; sha256 null for a missing file). That
record is what a later gate or ``mlgate evidence verify`` compares against (``--pinned RECORD``): a file whose
bytes changed since, that appeared or vanished, or that the record never saw, is a problem, never a pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.errors import UsageError

__all__ = ["MAX_RECORD_BYTES", "EvidencePin", "PinProblem", "compare_pins", "load_pinned", "pins_of_document"]

MAX_RECORD_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class EvidencePin:
    subject: str  # model@env
    version: str
    kind: str  # fairness | lineage | data
    file: str  # as shown: relative to the project root where possible
    sha256: str | None  # None: the file did not exist

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "version": self.version,
            "kind": self.kind,
            "file": self.file,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class PinProblem:
    pin: EvidencePin
    message: str


def pins_of_document(document: Mapping[str, Any]) -> list[EvidencePin]:
    """The pins of one gate input document (deployment documents carry evidence; the platform none)."""
    pins: list[EvidencePin] = []
    for version in document.get("versions") or ():
        for kind, evidence in sorted((version.get("evidence") or {}).items()):
            if evidence:
                sha = evidence["sha256"] if evidence.get("present") else None
                pins.append(EvidencePin(document["subject"], version["name"], kind, evidence["file"], sha))
    return pins


def load_pinned(path: str | Path) -> dict[str, str | None]:
    """file → sha256 from a GateResult JSON record (``mlgate check --format json``); UsageError if unusable."""
    record = Path(path)
    try:
        if record.stat().st_size > MAX_RECORD_BYTES:
            raise UsageError("pinned record is larger than 256 MiB", file=record)
        data = json.loads(record.read_bytes())
    except FileNotFoundError:
        raise UsageError("pinned record not found", file=record) from None
    except OSError as exc:
        raise UsageError(f"cannot read pinned record: {exc.strerror}", file=record) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"pinned record is not JSON: {getattr(exc, 'msg', exc)}", file=record) from None
    if not isinstance(data, dict) or data.get("kind") != "GateResult":
        raise UsageError("not a GateResult record (write one with mlgate check --format json)", file=record)
    entries = data.get("evidence")
    if not isinstance(entries, list):
        raise UsageError("record has no evidence manifest (made by an older mlgate?)", file=record, field="evidence")
    pinned: dict[str, str | None] = {}
    for index, entry in enumerate(entries):
        file = entry.get("file") if isinstance(entry, dict) else None
        sha = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(file, str) or not (sha is None or isinstance(sha, str)):
            raise UsageError("malformed pin: needs file and sha256", file=record, field=f"evidence[{index}]")
        if pinned.get(file, sha) != sha:
            raise UsageError(f"{file} is pinned twice with different digests", file=record, field=f"evidence[{index}]")
        pinned[file] = sha
    return pinned


def compare_pins(current: Iterable[EvidencePin], pinned: Mapping[str, str | None]) -> list[PinProblem]:
    """Every current pin that does not match the record, with a message saying how."""
    problems: list[PinProblem] = []
    for pin in current:
        if pin.file not in pinned:
            problems.append(PinProblem(pin, f"{pin.kind} evidence {pin.file} is not pinned by the record"))
            continue
        expected = pinned[pin.file]
        if expected == pin.sha256:
            continue
        if pin.sha256 is None:
            message = f"{pin.kind} evidence {pin.file} was pinned (sha256 {expected:.12}…) and is now missing"
        elif expected is None:
            message = f"{pin.kind} evidence {pin.file} was missing when pinned and exists now"
        else:
            message = (
                f"{pin.kind} evidence {pin.file} changed since it was pinned "
                f"(sha256 {expected:.12}… → {pin.sha256:.12}…)"
            )
        problems.append(PinProblem(pin, message))
    return problems
