"""The ModelDeployment format (``models/<name>.yaml``) as typed, strict pydantic models.

Field names are the public contract of DESIGN.md. Checks that span fields (traffic names a version
that exists, weights sum to 100) live in :func:`consistency_errors` so that each error can name the
exact field path instead of the enclosing object.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from compliance.spec.types import (
    Digest,
    EnvironmentName,
    ModelName,
    Quantity,
    Region,
    ResidencyZone,
    StorageUri,
    VersionName,
)

__all__ = [
    "API_VERSION",
    "AbTest",
    "Autoscaling",
    "Batching",
    "DataHandling",
    "Environment",
    "EvidenceRefs",
    "Metadata",
    "ModelDeployment",
    "ModelVersion",
    "PayloadLogging",
    "Resources",
    "Shadow",
    "Spec",
    "consistency_errors",
]

API_VERSION = "mlgate.io/v1"

RiskTier = Literal["minimal", "limited", "high"]
DataCategory = Literal["none", "personal", "special", "financial", "health", "biometric", "children"]
# GDPR Art. 6(1) lawful bases.
LegalBasis = Literal[
    "consent", "contract", "legal-obligation", "vital-interests", "public-task", "legitimate-interests"
]
HeaderName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=100)]
QuantityField = Annotated[
    Quantity,
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}], "examples": ["2", "500m", "8Gi"]}),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Metadata(_Strict):
    name: ModelName = Field(description="DNS-1035 label, at most 40 characters; names the InferenceServices")
    owner: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] = Field(
        description="Accountable team's e-mail address"
    )
    riskTier: RiskTier = Field(description="EU AI Act style risk tier")
    purpose: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class Resources(_Strict):
    cpu: QuantityField
    memory: QuantityField
    gpu: int = Field(default=0, ge=0, le=16, description="nvidia.com/gpu per replica; 0 = CPU only")


class Autoscaling(_Strict):
    minReplicas: int = Field(ge=0, le=1000)
    maxReplicas: int = Field(ge=1, le=1000)
    metric: Literal["concurrency", "rps", "cpu", "memory"] = "concurrency"
    target: int = Field(ge=1, le=100_000)


class Batching(_Strict):
    maxBatchSize: int = Field(ge=1, le=10_000)
    maxLatencyMs: int = Field(ge=1, le=60_000)


class EvidenceRefs(_Strict):
    fairness: str | None = Field(default=None, description="Path relative to this file")
    lineage: str | None = Field(default=None, description="Path relative to this file")
    data: str | None = Field(default=None, description="Path relative to this file (data-handling evidence)")


class ModelVersion(_Strict):
    name: VersionName
    storageUri: StorageUri
    digest: Digest
    evidence: EvidenceRefs = EvidenceRefs()


class PayloadLogging(_Strict):
    enabled: bool = False
    mode: Literal["all", "request", "response"] = "all"
    redact: list[Annotated[str, StringConstraints(min_length=1)]] = []
    retentionDays: int | None = Field(default=None, ge=1, le=3650)


class DataHandling(_Strict):
    categories: list[DataCategory] = Field(min_length=1)
    residency: list[ResidencyZone] = Field(min_length=1)
    payloadLogging: PayloadLogging = PayloadLogging()
    legalBasis: LegalBasis | None = None


class AbTest(_Strict):
    header: HeaderName
    routes: dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], str] = Field(
        min_length=1, description="Header value → version"
    )


class Shadow(_Strict):
    version: str
    percent: float = Field(gt=0, le=100, strict=False)


class Environment(_Strict):
    regions: list[Region] = Field(min_length=1)
    traffic: dict[str, int] = Field(min_length=1, description="Version → weight; weights sum to 100")
    abTest: AbTest | None = None
    shadow: Shadow | None = None


class Spec(_Strict):
    framework: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=63)]
    protocol: Literal["v1", "v2"] = "v2"
    resources: Resources
    autoscaling: Autoscaling
    batching: Batching | None = None
    versions: list[ModelVersion] = Field(min_length=1, description="Newest first")
    data: DataHandling
    environments: dict[EnvironmentName, Environment] = Field(min_length=1)


class ModelDeployment(_Strict):
    apiVersion: Literal["mlgate.io/v1"]
    kind: Literal["ModelDeployment"]
    metadata: Metadata
    spec: Spec

    @property
    def name(self) -> str:
        return self.metadata.name

    def version(self, name: str) -> ModelVersion | None:
        return next((v for v in self.spec.versions if v.name == name), None)


Path_ = tuple[str | int, ...]


def _not_deployed(version: str, environment: str) -> str:
    return f"version {version!r} is not deployed in {environment} (add it to traffic, weight 0 is fine)"


def consistency_errors(model: ModelDeployment) -> list[tuple[Path_, str]]:
    """Cross-field errors as (field path, message), in document order."""
    errors: list[tuple[Path_, str]] = []
    spec = model.spec
    seen: set[str] = set()
    for i, version in enumerate(spec.versions):
        if version.name in seen:
            errors.append((("spec", "versions", i, "name"), f"version {version.name!r} is listed twice"))
        seen.add(version.name)
    auto = spec.autoscaling
    if auto.minReplicas > auto.maxReplicas:
        errors.append(
            (("spec", "autoscaling", "minReplicas"), f"{auto.minReplicas} is above maxReplicas {auto.maxReplicas}")
        )
    categories = spec.data.categories
    if "none" in categories and len(categories) > 1:
        errors.append((("spec", "data", "categories"), "'none' cannot be combined with other categories"))
    known = ", ".join(sorted(seen))
    for env_name, env in spec.environments.items():
        at: Path_ = ("spec", "environments", env_name)
        if len(set(env.regions)) != len(env.regions):
            errors.append(((*at, "regions"), "a region is listed twice"))
        for version_name, weight in env.traffic.items():
            if version_name not in seen:
                errors.append(
                    ((*at, "traffic", version_name), f"version {version_name!r} is not in spec.versions ({known})")
                )
            if not 0 <= weight <= 100:
                errors.append(((*at, "traffic", version_name), f"weight {weight} must be between 0 and 100"))
        total = sum(env.traffic.values())
        if total != 100:
            errors.append(((*at, "traffic"), f"weights sum to {total}, must be 100"))
        if env.abTest is not None:
            for value, version_name in env.abTest.routes.items():
                if version_name not in env.traffic:
                    errors.append(((*at, "abTest", "routes", value), _not_deployed(version_name, env_name)))
        if env.shadow is not None and env.shadow.version not in env.traffic:
            errors.append(((*at, "shadow", "version"), _not_deployed(env.shadow.version, env_name)))
    return errors
