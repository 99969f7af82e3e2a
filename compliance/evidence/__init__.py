"""Evidence: the fairness, lineage and data files a deployment is judged on, read and pinned by sha256."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from compliance.errors import EvidenceError

__all__ = ["EvidenceFile", "read_evidence"]

MAX_EVIDENCE_BYTES = 16 * 1024 * 1024
EvidenceKind = Literal["fairness", "lineage", "data"]


@dataclass(frozen=True)
class EvidenceFile:
    """One referenced evidence file; ``present`` False when it does not exist (a policy denies that)."""

    kind: EvidenceKind
    file: str  # as shown to users: relative to the project root where possible
    present: bool
    sha256: str | None
    document: dict[str, Any] | None

    def to_input(self) -> dict[str, Any]:
        return {"file": self.file, "present": self.present, "sha256": self.sha256, "document": self.document}


def read_evidence(path: Path, kind: EvidenceKind, shown: str) -> EvidenceFile:
    """Read, hash and validate one evidence file. Missing → present False; malformed → EvidenceError."""
    from compliance.evidence.formats import DataEvidence, FairnessEvidence, LineageEvidence

    try:
        if path.stat().st_size > MAX_EVIDENCE_BYTES:
            raise EvidenceError("evidence file is larger than 16 MiB", file=shown)
        raw = path.read_bytes()
    except FileNotFoundError:
        return EvidenceFile(kind, shown, False, None, None)
    except OSError as exc:
        raise EvidenceError(f"cannot read: {exc.strerror}", file=shown) from None
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise EvidenceError(f"invalid JSON: {getattr(exc, 'msg', exc)}", file=shown, line=line) from None
    models: dict[str, type[BaseModel]] = {
        "fairness": FairnessEvidence,
        "lineage": LineageEvidence,
        "data": DataEvidence,
    }
    model = models[kind]
    try:
        model.model_validate(document)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in error["loc"])
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        raise EvidenceError(f"not valid {kind} evidence: {message}", file=shown, field=field or None) from None
    return EvidenceFile(kind, shown, True, hashlib.sha256(raw).hexdigest(), document)
