"""Stage 3: spec + Plan + evidence → one input document per (model, environment), one per platform.

The shape is documented in ``docs/gate-input.md``; policy authors write against it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance._internal.files import shown_path
from compliance.evidence import EvidenceFile, read_evidence
from compliance.gate.decisions import Subject
from compliance.plan.model import Plan, PlannedResource
from compliance.spec.load import Catalog, Deployment, LoadedModel
from compliance.spec.stack import StackConfig

__all__ = ["GateInput", "build_inputs"]

MODEL_LABEL = "mlgate.io/model"


@dataclass(frozen=True)
class GateInput:
    subject: Subject
    document: dict[str, Any]
    evidence: tuple[EvidenceFile, ...] = ()


def _manifest(resource: PlannedResource) -> dict[str, Any]:
    inputs = resource.inputs
    return {
        "type": resource.type,
        "name": resource.name,
        "region": resource.region,
        "apiVersion": inputs.get("apiVersion"),
        "kind": inputs.get("kind"),
        "metadata": inputs.get("metadata") or {},
        "spec": inputs.get("spec") or {},
    }


def _model_label(resource: PlannedResource) -> str | None:
    metadata = resource.inputs.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    value = labels.get(MODEL_LABEL) if isinstance(labels, dict) else None
    return value if isinstance(value, str) else None


def _versions(deployment: Deployment, root: Path) -> tuple[list[dict[str, Any]], list[EvidenceFile]]:
    loaded = deployment.loaded
    traffic = deployment.env.traffic
    versions: list[dict[str, Any]] = []
    files: list[EvidenceFile] = []
    for position, version in enumerate(loaded.model.spec.versions):
        evidence: dict[str, Any] = {}
        for kind in ("fairness", "lineage", "data"):
            reference = getattr(version.evidence, kind)
            if reference is None:
                evidence[kind] = None
                continue
            path = (loaded.file.parent / reference).resolve()
            read = read_evidence(path, kind, shown_path(path, root))
            files.append(read)
            evidence[kind] = read.to_input()
        versions.append(
            {
                "name": version.name,
                "position": position,
                "newest": position == 0,
                "storageUri": version.storageUri,
                "digest": version.digest,
                "deployed": version.name in traffic,
                "weight": traffic.get(version.name),
                "evidence": evidence,
            }
        )
    return versions, files


def _deployment_input(
    deployment: Deployment, stack: StackConfig, resources: list[PlannedResource], root: Path, now: str
) -> GateInput:
    loaded: LoadedModel = deployment.loaded
    model = loaded.model
    subject = f"{model.name}@{deployment.environment}"
    versions, files = _versions(deployment, root)
    manifests = [_manifest(r) for r in resources]
    document = {
        "kind": "deployment",
        "subject": subject,
        "now": now,
        "environment": {"name": stack.environment, "regions": stack.region_names},
        "model": {
            "name": model.name,
            "file": shown_path(loaded.file, root),
            "owner": model.metadata.owner,
            "riskTier": model.metadata.riskTier,
            "purpose": model.metadata.purpose,
            **model.spec.model_dump(mode="json", include={"framework", "protocol", "resources", "autoscaling"}),
            "batching": model.spec.batching.model_dump(mode="json") if model.spec.batching else None,
            "data": model.spec.data.model_dump(mode="json"),
        },
        "deployment": deployment.env.model_dump(mode="json"),
        "versions": versions,
        "plannedRegions": sorted({r.region for r in resources if r.region}),
        "resources": manifests,
    }
    line = loaded.line_of(("spec", "environments", deployment.environment))
    return GateInput(Subject(subject, "deployment", shown_path(loaded.file, root), line), document, tuple(files))


def build_inputs(catalog: Catalog, stack: StackConfig, plan: Plan, root: Path, now: str) -> list[GateInput]:
    """The deployment documents of every model in the stack's environment, then the platform document."""
    deployments = catalog.deployments(stack)
    by_model: dict[str, list[PlannedResource]] = defaultdict(list)
    for resource in plan.kubernetes_objects():
        model = _model_label(resource)
        if model is not None:
            by_model[model].append(resource)
    inputs = [_deployment_input(d, stack, by_model.get(d.model.name, []), root, now) for d in deployments]
    platform = {
        "kind": "platform",
        "subject": f"platform@{stack.environment}",
        "now": now,
        "environment": {"name": stack.environment, "regions": stack.region_names},
        "deployments": [
            {"model": d.model.name, "regions": list(d.env.regions), "versions": sorted(d.env.traffic)}
            for d in deployments
        ],
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "region": r.region,
                "custom": r.custom,
                "parent": r.parent,
                "provider": r.provider,
                "dependencies": list(r.dependencies),
                "inputs": r.inputs,
            }
            for r in plan.resources
        ],
    }
    inputs.append(GateInput(Subject(f"platform@{stack.environment}", "platform"), platform))
    return inputs
