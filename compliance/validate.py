"""Validate a Plan's custom resources against CRDs: what ``kubectl apply --validate=strict`` would say."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compliance.crds import CrdCatalog
from compliance.plan.model import Plan, PlannedResource

__all__ = ["CrdProblem", "ValidationReport", "is_builtin_kind", "validate_plan"]


def is_builtin_kind(api_version: str) -> bool:
    """Kubernetes' own kinds (``v1``, ``apps/v1``, ``*.k8s.io``) are served without a CRD."""
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


@dataclass(frozen=True)
class CrdProblem:
    resource: str  # Pulumi resource name
    kind: str  # "InferenceService credit-scoring-prod/credit-scoring-v7"
    region: str | None
    path: str
    message: str

    def render(self) -> str:
        where = f" [{self.region}]" if self.region else ""
        return f"{self.resource}{where} ({self.kind}): {self.path}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "kind": self.kind,
            "region": self.region,
            "path": self.path,
            "message": self.message,
        }


@dataclass(frozen=True)
class ValidationReport:
    checked: int
    skipped_builtin: int
    problems: tuple[CrdProblem, ...]
    #: API groups the CRD directory has no CRD of at all (e.g. monitoring.coreos.com): objects not checked.
    unchecked_groups: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        invalid = len({p.resource for p in self.problems})
        unchecked = "".join(
            f"; {count} {group} objects not checked: no CRD of that group in the directory"
            for group, count in sorted(self.unchecked_groups.items())
        )
        return (
            f"{self.checked} custom resources checked, {invalid} invalid, {len(self.problems)} errors"
            f" ({self.skipped_builtin} built-in Kubernetes objects not checked{unchecked})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "skippedBuiltin": self.skipped_builtin,
            "uncheckedGroups": dict(sorted(self.unchecked_groups.items())),
            "problems": [p.to_json() for p in self.problems],
        }


def _describe(resource: PlannedResource) -> str:
    metadata = resource.inputs.get("metadata") or {}
    name = metadata.get("name", "?") if isinstance(metadata, dict) else "?"
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    return f"{resource.inputs.get('kind')} {namespace + '/' if namespace else ''}{name}"


def validate_plan(plan: Plan, crds: CrdCatalog) -> ValidationReport:
    checked = skipped = 0
    problems: list[CrdProblem] = []
    unchecked: dict[str, int] = {}
    for resource in plan.kubernetes_objects():
        api_version = str(resource.inputs.get("apiVersion", ""))
        if is_builtin_kind(api_version):
            skipped += 1
            continue
        # A group the directory knows nothing of (the Prometheus operator's, when only KServe and Istio CRDs
        # were given) is reported as not checked; a group it knows with a missing kind or version is an error.
        if not crds.serves_group(api_version):
            group = api_version.rpartition("/")[0]
            unchecked[group] = unchecked.get(group, 0) + 1
            continue
        checked += 1
        for violation in crds.validate(resource.inputs):
            problems.append(
                CrdProblem(resource.name, _describe(resource), resource.region, violation.path, violation.message)
            )
    return ValidationReport(checked, skipped, tuple(problems), unchecked)
