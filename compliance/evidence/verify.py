"""``mlgate evidence verify``: is the evidence of a catalog still what was decided on, and is it about this artifact?

Per model version, for every evidence file its spec references:
- the file exists, parses and is valid evidence of its kind, about this model and version;
- with a pinned record (``--pinned``, see :mod:`compliance.evidence.pins`): its sha256 equals the pin;
- lineage: the artifact digest it records equals the digest the spec pins;
- with a local copy of the artifact (``--artifact MODEL@VERSION=PATH``): its digest equals the spec's.
Artifacts behind s3://, gs://… are not fetched: their digest is compared through the lineage only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from compliance._internal.files import shown_path
from compliance.errors import EvidenceError
from compliance.evidence import EvidenceKind, read_evidence
from compliance.evidence.pins import EvidencePin, compare_pins
from compliance.spec.load import Catalog, LoadedModel
from compliance.spec.model import ModelVersion

__all__ = ["Check", "verify_catalog"]

Status = Literal["ok", "fail"]


@dataclass(frozen=True)
class Check:
    model: str
    version: str
    what: str  # fairness | lineage | data | artifact
    status: Status
    detail: str

    def to_json(self) -> dict[str, str]:
        return {
            "model": self.model,
            "version": self.version,
            "check": self.what,
            "status": self.status,
            "detail": self.detail,
        }


def _version_checks(
    loaded: LoadedModel,
    version: ModelVersion,
    root: Path,
    pinned: Mapping[str, str | None] | None,
    artifact: Path | None,
) -> list[Check]:
    model = loaded.model
    checks: list[Check] = []

    def add(what: str, failure: str | None, ok: str) -> None:
        status: Status = "fail" if failure else "ok"
        checks.append(Check(model.name, version.name, what, status, failure or ok))

    for kind in get_args(EvidenceKind):
        reference = getattr(version.evidence, kind, None)
        if reference is None:
            continue
        path = (loaded.file.parent / reference).resolve()
        shown = shown_path(path, root)
        try:
            read = read_evidence(path, kind, shown)
        except EvidenceError as exc:
            add(kind, exc.diagnostics(), "")
            continue
        if not read.present or read.document is None:
            add(kind, f"{shown} is missing", "")
            continue
        about = (read.document.get("model"), read.document.get("version"))
        if about != (model.name, version.name):
            add(kind, f"{shown} is evidence for {about[0]}@{about[1]}, not {model.name}@{version.name}", "")
            continue
        if pinned is not None:
            pin = EvidencePin(model.name, version.name, kind, shown, read.sha256)
            problems = compare_pins([pin], pinned)
            if problems:
                add(kind, problems[0].message, "")
                continue
        if kind == "lineage":
            recorded = read.document["artifact"]["digest"]
            if recorded != version.digest:
                add(kind, f"{shown} records artifact {recorded}, the spec pins {version.digest}", "")
                continue
        add(kind, None, f"{shown} sha256:{read.sha256}" + (" (as pinned)" if pinned is not None else ""))
    if artifact is not None:
        from compliance.evidence.artifacts import artifact_digest

        digest = artifact_digest(artifact)
        mismatch = None if digest == version.digest else f"{artifact} is {digest}, the spec pins {version.digest}"
        add("artifact", mismatch, f"{artifact} is {digest}")
    return checks


def verify_catalog(
    catalog: Catalog,
    root: Path,
    *,
    environment: str | None = None,
    pinned: Mapping[str, str | None] | None = None,
    artifacts: Mapping[tuple[str, str], Path] | None = None,
) -> list[Check]:
    """The checks of every version of every model (only models deployed in ``environment`` when given).

    ``artifacts`` maps (model, version) to a local copy of the artifact; one for an unknown version is an
    EvidenceError (a typo must not pass silently).
    """
    artifacts = dict(artifacts or {})
    checks: list[Check] = []
    for loaded in catalog:
        if environment is not None and environment not in loaded.model.spec.environments:
            continue
        for version in loaded.model.spec.versions:
            artifact = artifacts.pop((loaded.model.name, version.name), None)
            checks.extend(_version_checks(loaded, version, root, pinned, artifact))
    if artifacts:
        model, name = next(iter(artifacts))
        raise EvidenceError(f"--artifact names {model}@{name}, not a version of the catalog", field="--artifact")
    return checks
