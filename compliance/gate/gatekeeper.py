"""``mlgate export gatekeeper``: the serving rules that only need the resource itself, as OPA Gatekeeper
ConstraintTemplates and Constraints, enforced again at cluster admission.

The Rego is not generated: each template's source is a module of ``policies/gatekeeper/`` (Gatekeeper's
``violation contains {"msg": …}`` over ``input.review.object`` and ``input.parameters``), sharing the helpers
of ``policies/gatekeeper/lib/mlgate.rego`` (the template's ``libs``), tested with the embedded engine against
the objects the example stacks plan (``tests/test_gatekeeper.py``). Ids and messages are those of
``policies/serving/serving.rego`` and ``policies/platform/platform.rego``; thresholds come from
``policies/data.json`` (``minReplicas`` of the chosen environment). The gate bundle skips ``gatekeeper/``
(``mlgate check`` and ``mlgate policy test`` do not load these modules).

The modules are Rego v1 with ``import rego.v1``, which Gatekeeper's ``rego`` source field parses from
Gatekeeper 3.15 (OPA 0.59) on; the written templates use that field, so 3.15 or later is needed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from compliance.errors import PolicyError

__all__ = ["TEMPLATES", "Template", "export_gatekeeper", "render"]

TARGET = "admission.k8s.gatekeeper.sh"
LIB = "gatekeeper/lib/mlgate.rego"
REQUIRED_LABELS = ["mlgate.io/model", "mlgate.io/environment", "app.kubernetes.io/part-of"]
MAX_GPUS_PER_REPLICA = 8  # the largest GPU node of the supported families (p4d/p5: 8 GPUs)
# What mlgate renders: every serving object carries app.kubernetes.io/part-of=mlgate.
_MLGATE_OBJECTS = {"matchExpressions": [{"key": "app.kubernetes.io/part-of", "operator": "In", "values": ["mlgate"]}]}
_ISVC = {"apiGroups": ["serving.kserve.io"], "kinds": ["InferenceService"]}


@dataclass(frozen=True)
class Template:
    kind: str  # the Constraint kind; the template's name and the module's package are its lower case
    source: str  # the module, relative to the policy directory
    description: str
    match: tuple[dict[str, Any], ...]
    schema: dict[str, Any]  # openAPIV3Schema properties of the parameters
    parameters: Callable[[Mapping[str, Any], str], dict[str, Any]]  # (thresholds of the env, env) -> values

    @property
    def name(self) -> str:
        return self.kind.lower()


def _none(_: Mapping[str, Any], __: str) -> dict[str, Any]:
    return {}


TEMPLATES: tuple[Template, ...] = (
    Template(
        "MlgateTrafficSplit",
        "gatekeeper/traffic_split.rego",
        "SERV-005: the routes named weighted of a VirtualService send 100% of the traffic.",
        ({"apiGroups": ["networking.istio.io"], "kinds": ["VirtualService"]},),
        {},
        _none,
    ),
    Template(
        "MlgateMutualTls",
        "gatekeeper/mutual_tls.rego",
        "SERV-006 / PLAT-018: DestinationRules use ISTIO_MUTUAL; no PeerAuthentication weakens STRICT mTLS.",
        (
            {"apiGroups": ["networking.istio.io"], "kinds": ["DestinationRule"]},
            {"apiGroups": ["security.istio.io"], "kinds": ["PeerAuthentication"]},
        ),
        {},
        _none,
    ),
    Template(
        "MlgateGpuLimits",
        "gatekeeper/gpu_limits.rego",
        "SERV-004: an InferenceService requesting nvidia.com/gpu limits it to the same count, at most "
        "maxGpusPerReplica.",
        (_ISVC,),
        {"maxGpusPerReplica": {"type": "integer", "minimum": 0}},
        lambda _, __: {"maxGpusPerReplica": MAX_GPUS_PER_REPLICA},
    ),
    Template(
        "MlgateDeploymentMode",
        "gatekeeper/deployment_mode.rego",
        "SERV-007: InferenceServices set serving.kserve.io/deploymentMode: Standard.",
        (_ISVC,),
        {},
        _none,
    ),
    Template(
        "MlgateMinReplicas",
        "gatekeeper/min_replicas.rego",
        "SERV-003: an InferenceService keeps at least the environment's minimum of replicas.",
        (_ISVC,),
        {"environment": {"type": "string"}, "minReplicas": {"type": "integer", "minimum": 0}},
        lambda thresholds, env: {"environment": env, "minReplicas": thresholds["minReplicas"]},
    ),
    Template(
        "MlgateRequiredLabels",
        "gatekeeper/required_labels.rego",
        "The labels mlgate selects serving objects by are set.",
        (
            _ISVC,
            {"apiGroups": ["networking.istio.io"], "kinds": ["VirtualService", "DestinationRule"]},
        ),
        {"labels": {"type": "array", "items": {"type": "string"}}},
        lambda _, __: {"labels": list(REQUIRED_LABELS)},
    ),
)


def _thresholds(data: Mapping[str, Any], environment: str) -> Mapping[str, Any]:
    environments = data.get("mlgate", {}).get("thresholds", {}).get("environments", {})
    chosen = environments.get(environment, environments.get("default"))
    if not isinstance(chosen, dict):
        raise PolicyError(f"data.json has no thresholds for {environment!r} (nor default)")
    return chosen


def _read(policies: Path, relative: str, package: str | None = None) -> str:
    path = policies / relative
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read: {exc}", file=path) from None
    found = re.search(r"^package\s+(\S+)", text, re.MULTILINE)
    if package is not None and (not found or found.group(1) != package):
        raise PolicyError(f"must be `package {package}` (the template's name)", file=path)
    return text


class _Literal(str):
    """A YAML block scalar (``|``): Rego stays readable in the written files."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


def _block(rego: str) -> _Literal:
    """Tabs (opa fmt's indentation) keep PyYAML from writing a block scalar: indent with spaces instead."""
    return _Literal("\n".join(line.expandtabs(4).rstrip() for line in rego.splitlines()) + "\n")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def render(template: Template, policies: Path, data: Mapping[str, Any], environment: str) -> tuple[dict[str, Any], ...]:
    """(ConstraintTemplate, Constraint) of ``template``."""
    rego = _read(policies, template.source, template.name)
    lib = _read(policies, LIB, "lib.mlgate")
    constraint_template = {
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {
            "name": template.name,
            "annotations": {"description": template.description, "mlgate.io/source": f"policies/{template.source}"},
            "labels": {"app.kubernetes.io/part-of": "mlgate"},
        },
        "spec": {
            "crd": {
                "spec": {
                    "names": {"kind": template.kind},
                    "validation": {"openAPIV3Schema": {"type": "object", "properties": template.schema}},
                }
            },
            "targets": [{"target": TARGET, "rego": _block(rego), "libs": [_block(lib)]}],
        },
    }
    constraint = {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": template.kind,
        "metadata": {"name": f"mlgate-{template.name.removeprefix('mlgate')}-{environment}"},
        "spec": {
            "enforcementAction": "deny",
            "match": {"kinds": [dict(m) for m in template.match], "labelSelector": _MLGATE_OBJECTS},
            "parameters": template.parameters(_thresholds(data, environment), environment),
        },
    }
    return constraint_template, constraint


def export_gatekeeper(policies: Path, out: Path, *, environment: str = "prod") -> list[Path]:
    """Write ``out/templates/<name>.yaml`` and ``out/constraints/<name>.yaml`` per template; the paths written."""
    from compliance._internal.files import atomic_write
    from compliance.gate.bundle import PolicyBundle

    bundle = PolicyBundle.load(policies)
    written: list[Path] = []
    for template in TEMPLATES:
        for folder, document in zip(
            ("templates", "constraints"), render(template, policies, bundle.data, environment), strict=True
        ):
            path = out / folder / f"{template.name}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            header = f"# Written by `mlgate export gatekeeper` from policies/{template.source}; do not edit.\n"
            text = header + yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)
            atomic_write(path, text)
            written.append(path)
    return written
