"""The stack config (``stacks/Pulumi.<env>.yaml``, Pulumi's own format), the ``mlgate:`` part typed.

The same model is built from the YAML file (``mlgate plan``, tests) and from the live Pulumi config
inside ``pulumi up``, where structured values arrive as JSON strings and secrets decrypted.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from compliance.spec.types import DnsLabel, EnvironmentName, Region

__all__ = [
    "ADVISORY_STACKS",
    "GPU_FAMILIES",
    "GpuNodePool",
    "PlatformConfig",
    "PolicyConfig",
    "PolicyMode",
    "RegionConfig",
    "SecretRef",
    "StackConfig",
    "consistency_errors",
]

InstanceType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*\.[0-9]*[a-z0-9-]+$", max_length=40)]
Cidr = Annotated[str, StringConstraints(pattern=r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$")]
AvailabilityZone = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9][a-z]$")]
Hostname = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)]

#: EC2 instance families with NVIDIA GPUs that EKS's AL2023 NVIDIA AMI supports.
GPU_FAMILIES = frozenset(
    {"g4dn", "g5", "g6", "g6e", "gr6", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200"}
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SecretRef(_Strict):
    """A ``{secure: ...}`` value: Pulumi-encrypted, never decrypted or printed by mlgate."""

    secure: str


class GpuNodePool(_Strict):
    name: DnsLabel
    instanceTypes: list[InstanceType] = Field(min_length=1)
    minSize: int = Field(ge=0, le=1000)
    maxSize: int = Field(ge=1, le=1000)


class RegionConfig(_Strict):
    name: Region
    cluster: Literal["provision", "existing"]
    gpuNodePools: list[GpuNodePool] = []
    kubeconfig: SecretRef | str | None = Field(
        default=None, description="Kubeconfig of an existing cluster; store it with `pulumi config set --secret`"
    )
    vpcCidr: Cidr = Field(default="10.0.0.0/16", description="CIDR of the VPC a provisioned cluster gets")
    availabilityZones: list[AvailabilityZone] | None = Field(
        default=None, min_length=2, max_length=6, description="Default: the region's zones a, b and c"
    )
    ingressHostname: Hostname | None = Field(
        default=None, description="Load balancer hostname of an existing cluster's ingress gateway, for global DNS"
    )

    @property
    def zones(self) -> list[str]:
        return self.availabilityZones or [f"{self.name}{suffix}" for suffix in "abc"]


class PlatformConfig(_Strict):
    """``mlgate:platform``: how provisioned regions are built (all optional)."""

    kubernetesVersion: Annotated[str, StringConstraints(pattern=r"^1\.[0-9]{2}$")] | None = Field(
        default=None, description="EKS version; default: the version mlgate pins"
    )
    endpointPublicAccess: bool = False
    publicAccessCidrs: list[Cidr] = []
    singleNatGateway: bool = Field(default=False, description="One NAT gateway instead of one per zone")
    systemInstanceTypes: list[InstanceType] = Field(default=["m6i.large"], min_length=1)
    dnsZoneId: str | None = Field(default=None, description="Route53 zone for model endpoints; default: created")


PolicyMode = Literal["enforce", "advisory", "off"]
#: Stacks whose pre-flight defaults to advisory; every other name (prod, staging, prod-eu, …) enforces.
ADVISORY_STACKS = frozenset({"dev", "test", "sandbox"})


class PolicyConfig(_Strict):
    engine: Literal["embedded", "opa"] = "embedded"
    opaUrl: str | None = None
    mode: PolicyMode | None = Field(
        default=None,
        description="The `pulumi up` pre-flight: enforce (a deny fails the update), advisory (warnings), off; "
        "default: advisory in dev-like stacks (dev, dev-*, *-dev, test, sandbox), enforce in all others",
    )


class StackConfig(_Strict):
    """The ``mlgate:`` namespace of one stack; ``environment`` is the stack name."""

    environment: EnvironmentName
    awsRegion: Region
    catalog: Annotated[str, StringConstraints(min_length=1)] = "models"
    regions: list[RegionConfig] = Field(min_length=1)
    policy: PolicyConfig = PolicyConfig()
    platform: PlatformConfig = PlatformConfig()
    domain: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")] = "models.internal"
    payloadLogUrl: str = "http://mlgate-payload-logger.mlgate-system.svc.cluster.local"

    @property
    def policy_mode(self) -> PolicyMode:
        """``mlgate:policy.mode``, else the environment's default (fails closed: unknown names enforce)."""
        if self.policy.mode is not None:
            return self.policy.mode
        env = self.environment
        dev_like = env in ADVISORY_STACKS or env.startswith("dev-") or env.endswith("-dev")
        return "advisory" if dev_like else "enforce"

    @property
    def region_names(self) -> list[str]:
        return [region.name for region in self.regions]

    def region(self, name: str) -> RegionConfig:
        return next(r for r in self.regions if r.name == name)


def consistency_errors(config: StackConfig) -> list[tuple[tuple[str | int, ...], str]]:
    errors: list[tuple[tuple[str | int, ...], str]] = []
    seen: set[str] = set()
    for i, region in enumerate(config.regions):
        at: tuple[str | int, ...] = ("mlgate:regions", i)
        if region.name in seen:
            errors.append(((*at, "name"), f"region {region.name!r} is listed twice"))
        seen.add(region.name)
        if region.cluster == "existing" and region.kubeconfig is None:
            errors.append(((*at, "kubeconfig"), "cluster: existing needs a kubeconfig (pulumi config set --secret)"))
        if region.cluster == "existing":
            for key in ("gpuNodePools", "availabilityZones"):
                if getattr(region, key):
                    errors.append(((*at, key), "applies only to cluster: provision (mlgate does not manage it)"))
        elif region.ingressHostname is not None:
            errors.append(((*at, "ingressHostname"), "applies only to cluster: existing (a provisioned one is known)"))
        for k, zone in enumerate(region.availabilityZones or []):
            if not zone.startswith(region.name) or zone[len(region.name) :].isdigit():
                errors.append(((*at, "availabilityZones", k), f"{zone!r} is not a zone of {region.name}"))
        pools: set[str] = set()
        for j, pool in enumerate(region.gpuNodePools):
            if pool.name in pools:
                errors.append(((*at, "gpuNodePools", j, "name"), f"node pool {pool.name!r} is listed twice"))
            pools.add(pool.name)
            if pool.minSize > pool.maxSize:
                errors.append(((*at, "gpuNodePools", j, "minSize"), f"{pool.minSize} is above maxSize {pool.maxSize}"))
            for k, instance in enumerate(pool.instanceTypes):
                if instance.split(".")[0] not in GPU_FAMILIES:
                    families = ", ".join(sorted(GPU_FAMILIES))
                    errors.append(
                        (
                            (*at, "gpuNodePools", j, "instanceTypes", k),
                            f"{instance!r} is not an NVIDIA GPU instance type (families: {families})",
                        )
                    )
    if config.policy.engine == "opa" and not config.policy.opaUrl:
        errors.append((("mlgate:policy", "opaUrl"), "engine: opa needs opaUrl"))
    return errors


def stack_fields(environment: str, config: dict[str, Any]) -> dict[str, Any]:
    """Map a Pulumi config map (``mlgate:regions`` …) onto StackConfig's field names."""
    fields: dict[str, Any] = {"environment": environment}
    if "aws:region" in config:
        fields["awsRegion"] = config["aws:region"]
    for key, value in config.items():
        namespace, _, name = key.partition(":")
        if namespace == "mlgate":
            fields[name] = value
    return fields
