"""The Plan: every resource a stack would register, whichever way it was captured.

Built from the program under Pulumi's mock engine (:mod:`compliance.plan.capture`) or from
``pulumi preview --json`` (:mod:`compliance.plan.preview`); the gate reads nothing else of Pulumi.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from compliance.errors import PlanError

__all__ = [
    "PLAN_KIND",
    "SECRET",
    "UNKNOWN",
    "Plan",
    "PlannedResource",
    "assign_regions",
    "normalise",
]

PLAN_API_VERSION = "mlgate.io/v1"
PLAN_KIND = "Plan"
SECRET = "[secret]"  # how Pulumi itself prints a secret; no secret value is ever written to a plan
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # Pulumi's placeholder for a value computed during the update
REGION_TYPE = "mlgate:platform:Region"
# Pulumi's wire encoding of a secret: {_SIG_KEY: _SECRET_SIG, "value": ...}
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_K8S_PREFIX = "kubernetes:"
_MAX_PLAN_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class PlannedResource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None = None
    provider: str | None = None  # "<provider urn>::<id>", as Pulumi references providers
    region: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()

    @property
    def is_kubernetes_object(self) -> bool:
        """A Kubernetes object with a manifest (not the provider, not a Helm release)."""
        return (
            self.custom and self.type.startswith(_K8S_PREFIX) and "kind" in self.inputs and "apiVersion" in self.inputs
        )

    def to_json(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every input (seconds on a big plan).
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "custom": self.custom,
            "parent": self.parent,
            "provider": self.provider,
            "region": self.region,
            "inputs": self.inputs,
            "dependencies": list(self.dependencies),
        }


@dataclass(frozen=True)
class Plan:
    project: str
    environment: str
    source: str  # "mock" (mlgate plan) | "preview" (pulumi preview --json)
    resources: tuple[PlannedResource, ...]

    def __iter__(self) -> Iterator[PlannedResource]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def of_type(self, type_: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_]

    def kubernetes_objects(self) -> list[PlannedResource]:
        return [r for r in self.resources if r.is_kubernetes_object]

    def _header(self) -> dict[str, Any]:
        return {
            "apiVersion": PLAN_API_VERSION,
            "kind": PLAN_KIND,
            "project": self.project,
            "environment": self.environment,
            "source": self.source,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self._header(), "resources": [r.to_json() for r in self.resources]}

    def dumps(self) -> str:
        """Canonical JSON, one resource per line: diffable, and fast (indentation stops the C encoder)."""
        opening = json.dumps(self._header(), sort_keys=True, ensure_ascii=False)[:-1]
        rows = ",\n".join(json.dumps(r.to_json(), sort_keys=True, ensure_ascii=False) for r in self.resources)
        body = f"\n{rows}\n" if rows else ""
        return f'{opening}, "resources": [{body}]}}\n'

    @classmethod
    def from_json(cls, data: Any, file: Path | str = "<plan>") -> Plan:
        if not isinstance(data, dict) or data.get("kind") != PLAN_KIND:
            raise PlanError(f"not an mlgate plan (expected kind: {PLAN_KIND})", file=file)
        try:
            resources = tuple(
                PlannedResource(
                    urn=str(r["urn"]),
                    type=str(r["type"]),
                    name=str(r["name"]),
                    custom=bool(r["custom"]),
                    parent=r.get("parent"),
                    provider=r.get("provider"),
                    region=r.get("region"),
                    inputs=dict(r.get("inputs") or {}),
                    dependencies=tuple(r.get("dependencies") or ()),
                )
                for r in data["resources"]
            )
            return cls(str(data["project"]), str(data["environment"]), str(data["source"]), resources)
        except (KeyError, TypeError, ValueError) as exc:
            raise PlanError(f"malformed plan: {exc!r}", file=file) from None

    @classmethod
    def load(cls, path: Path | str) -> Plan:
        file = Path(path)
        try:
            if file.stat().st_size > _MAX_PLAN_BYTES:
                raise PlanError("plan file is larger than 512 MiB", file=file)
            data = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PlanError("file not found", file=file) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PlanError(f"cannot read: {exc}", file=file) from None
        except json.JSONDecodeError as exc:
            raise PlanError(f"invalid JSON: {exc.msg}", file=file, line=exc.lineno) from None
        return cls.from_json(data, file)


def normalise(value: Any) -> Any:
    """Plan-ready JSON: secrets masked, unknowns as Pulumi prints them, integral floats back to ints (Pulumi's
    wire has only doubles)."""
    if isinstance(value, str | bool | int) or value is None:
        return value
    if isinstance(value, Mapping):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return SECRET
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if type(value).__name__ == "Unknown":  # pulumi.output.Unknown: an output of a resource not yet created
        return UNKNOWN
    raise PlanError(f"a resource input of type {type(value).__name__} has no JSON form: {value!r:.100}")


def assign_regions(resources: Iterable[PlannedResource]) -> list[PlannedResource]:
    """Set each resource's region from its nearest ``mlgate:platform:Region`` ancestor, else from its
    provider's (an AWS provider's ``region`` input, or the provider's own ancestor)."""
    items = list(resources)
    by_urn = {r.urn: r for r in items}
    cache: dict[str, str | None] = {}

    def region_of(urn: str | None, depth: int = 0) -> str | None:
        if urn is None or depth > 100:
            return None
        if urn in cache:
            return cache[urn]
        resource = by_urn.get(urn)
        found: str | None = None
        if resource is not None:
            if resource.type == REGION_TYPE:
                found = resource.name
            elif resource.type.startswith("pulumi:providers:") and isinstance(resource.inputs.get("region"), str):
                found = resource.inputs["region"]
            else:
                found = region_of(resource.parent, depth + 1)
                if found is None and resource.provider:
                    found = region_of(resource.provider.rsplit("::", 1)[0], depth + 1)
        cache[urn] = found
        return found

    return [replace(r, region=region_of(r.urn)) for r in items]
