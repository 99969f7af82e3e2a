"""Validate a Plan's custom resources against CRDs: what ``kubectl apply --validate=strict`` would say."""

from __future__ import annotations

from dataclasses import dataclass
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

    def summary(self) -> str:
        invalid = len({p.resource for p in self.problems})
        return (
            f"{self.checked} custom resources checked, {invalid} invalid, {len(self.problems)} errors"
            f" ({self.skipped_builtin} built-in Kubernetes objects not checked)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "skippedBuiltin": self.skipped_builtin,
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
    for resource in plan.kubernetes_objects():
        if is_builtin_kind(str(resource.inputs.get("apiVersion", ""))):
            skipped += 1
            continue
        checked += 1
        for violation in crds.validate(resource.inputs):
            problems.append(
                CrdProblem(resource.name, _describe(resource), resource.region, violation.path, violation.message)
            )
    return ValidationReport(checked, skipped, tuple(problems))
