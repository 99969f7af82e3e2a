"""The Pulumi program: stack config + catalog → one Region per AWS region, model deployments in each.

``stacks/__main__.py`` calls :func:`build` under ``pulumi up``; ``mlgate plan`` calls it under
Pulumi's mock engine. It must stay a function: a module-level program registers nothing the
second time it is imported. Under ``pulumi up`` it judges the model deployments before registering
anything (the pre-flight, :mod:`compliance.preflight`); ``mlgate plan`` captures with it off.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pulumi

from compliance._internal.project import find_project_root
from compliance.plan.model import UNKNOWN, Plan, PlannedResource, normalise
from compliance.spec.load import Deployment, load_catalog
from compliance.spec.pulumi_config import stack_config_from_pulumi
from compliance.spec.stack import RegionConfig, SecretRef, StackConfig
from components import ModelDeployment, Region
from components.manifests import GATEWAY, ModelDeploymentArgs, VersionArgs, objects
from components.region import REGION_TYPE, ProvisionArgs, RegionArgs

__all__ = [
    "build",
    "deployment_args",
    "placements",
    "preflight_plan",
    "region_args",
    "stack_config_from_pulumi",
]

DEPLOYMENT_TYPE = "mlgate:serving:ModelDeployment"


def deployment_args(deployment: Deployment, region: str, stack: StackConfig) -> ModelDeploymentArgs:
    """Map one catalog entry onto the component's arguments for one region."""
    model = deployment.model
    spec = model.spec
    env = deployment.env
    # Newest first, as the catalog lists them; only versions the environment names are deployed.
    versions = [
        VersionArgs(name=v.name, storage_uri=v.storageUri, digest=v.digest, weight=env.traffic[v.name])
        for v in spec.versions
        if v.name in env.traffic
    ]
    logging = spec.data.payloadLogging
    return ModelDeploymentArgs(
        model=model.name,
        environment=deployment.environment,
        region=region,
        owner=model.metadata.owner,
        risk_tier=model.metadata.riskTier,
        framework=spec.framework,
        protocol=spec.protocol,
        cpu=spec.resources.cpu,
        memory=spec.resources.memory,
        gpu=spec.resources.gpu,
        min_replicas=spec.autoscaling.minReplicas,
        max_replicas=spec.autoscaling.maxReplicas,
        scale_metric=spec.autoscaling.metric,
        scale_target=spec.autoscaling.target,
        versions=versions,
        host=_host(deployment, stack),
        gateway=GATEWAY,
        batching=(
            {"max_batch_size": spec.batching.maxBatchSize, "max_latency_ms": spec.batching.maxLatencyMs}
            if spec.batching
            else None
        ),
        payload_logging=(
            {
                "mode": logging.mode,
                "url": stack.payloadLogUrl,
                "redact": list(logging.redact),
                "retention_days": logging.retentionDays,
            }
            if logging.enabled
            else None
        ),
        ab_test={"header": env.abTest.header, "routes": dict(env.abTest.routes)} if env.abTest else None,
        shadow={"version": env.shadow.version, "percent": env.shadow.percent} if env.shadow else None,
    )


def _kubeconfig(value: SecretRef | str | None) -> pulumi.Input[str] | None:
    if value is None:
        return None
    # A kubeconfig is a credential: keep it secret even when the stack stored it in plain text.
    text = value.secure if isinstance(value, SecretRef) else os.path.expanduser(value)
    return pulumi.Output.secret(text)


def region_args(config: RegionConfig, stack: StackConfig) -> RegionArgs:
    """Map one region of the stack config onto the Region component's arguments."""
    tags = {"mlgate.io/environment": stack.environment, "mlgate.io/region": config.name, "managed-by": "pulumi"}
    if config.cluster == "existing":
        kubeconfig = _kubeconfig(config.kubeconfig)
        return RegionArgs(kubeconfig=kubeconfig, ingress_hostname=config.ingressHostname, provision=None, tags=tags)
    platform = stack.platform
    return RegionArgs(
        kubeconfig=None,
        ingress_hostname=None,
        tags=tags,
        provision=ProvisionArgs(
            environment=stack.environment,
            cluster_name=f"mlgate-{stack.environment}-{config.name}",
            kubernetes_version=platform.kubernetesVersion,
            endpoint_public_access=platform.endpointPublicAccess,
            public_access_cidrs=list(platform.publicAccessCidrs),
            vpc_cidr=config.vpcCidr,
            availability_zones=config.zones,
            single_nat_gateway=platform.singleNatGateway,
            system_instance_types=list(platform.systemInstanceTypes),
            gpu_pools=[
                {"name": p.name, "instance_types": list(p.instanceTypes), "min_size": p.minSize, "max_size": p.maxSize}
                for p in config.gpuNodePools
            ],
            bucket_name=f"mlgate-{stack.environment}-models-{config.name}",
            hosts=[f"*.{stack.environment}.{stack.domain}"],
        ),
    )


def _global(stack: StackConfig, regions: dict[str, Region], deployments: Sequence[Deployment]) -> None:
    """What spans regions: model artifacts replicated from the home region, one DNS name per model."""
    stores = {name: region.store for name, region in regions.items() if region.store is not None}
    replicate_from = stores.get(stack.awsRegion) if len(stores) > 1 else None
    gateways = {name: region.ingress_hostname for name, region in regions.items() if region.ingress_hostname}
    if replicate_from is None and not gateways:
        return  # e.g. a single existing cluster: nothing global, and no AWS SDK module to load
    from pulumi_aws.provider import Provider

    from components.routing import GlobalRouting
    from components.storage import replicate

    home = pulumi.ResourceOptions(providers={"aws": Provider("global-aws", region=stack.awsRegion)})
    if replicate_from is not None:
        replicas = [store for name, store in stores.items() if name != stack.awsRegion]
        replicate(f"{stack.environment}-models-replication", replicate_from, replicas, home)
    if gateways:
        GlobalRouting(
            f"{stack.environment}-routing",
            {
                "domain": stack.domain,
                "zone_id": stack.platform.dnsZoneId,
                "gateways": gateways,
                "endpoints": [
                    {"name": d.model.name, "host": _host(d, stack), "regions": list(d.env.regions)} for d in deployments
                ],
            },
            home,
        )


def _host(deployment: Deployment, stack: StackConfig) -> str:
    return f"{deployment.model.name}.{deployment.environment}.{stack.domain}"


def placements(stack: StackConfig, deployments: Sequence[Deployment]) -> Iterator[tuple[RegionConfig, Deployment, str]]:
    """Every (region, model deployment) the stack places, in registration order, with the component's name."""
    for config in stack.regions:
        for deployment in deployments:
            if config.name in deployment.env.regions:
                yield config, deployment, f"{deployment.model.name}-{config.name}"


def preflight_plan(stack: StackConfig, deployments: Sequence[Deployment], project: str = "mlgate") -> Plan:
    """The model deployments' Kubernetes objects as the components will register them, before any resource
    exists: rendered by the component's own ``components.manifests.objects``. What only the platform knows
    is filled as a preview shows it: the model store reader role (a provisioned region's) is unknown; the
    Prometheus operator runs in provisioned regions (``Region.monitoring``)."""
    resources: list[PlannedResource] = []
    prefix = f"urn:pulumi:{stack.environment}::{project}::{REGION_TYPE}${DEPLOYMENT_TYPE}"
    for config, deployment, name in placements(stack, deployments):
        provisioned = config.cluster == "provision"
        args = deployment_args(deployment, config.name, stack)
        args["reader_role_arn"] = UNKNOWN if provisioned else None
        args["monitoring"] = provisioned
        urns: dict[str, str] = {}
        for obj in objects(name, args):
            urns[obj.name] = f"{prefix}${obj.type}::{obj.name}"
            resource = PlannedResource(
                urn=urns[obj.name],
                type=obj.type,
                name=obj.name,
                custom=True,
                parent=f"{prefix}::{name}",
                region=config.name,
                inputs=normalise(obj.manifest),
                dependencies=tuple(sorted(urns[dependency] for dependency in obj.depends_on)),
            )
            resources.append(resource)
    return Plan(project, stack.environment, "preflight", tuple(resources))


def build(root: Path | None = None, *, shard: tuple[int, int] | None = None, preflight: bool = True) -> None:
    """Register the stack's resources. ``shard=(i, n)`` builds only every n-th model file from the i-th
    (``mlgate plan`` captures big catalogs in parallel processes; shared resources repeat per shard).

    ``preflight``: judge the model deployments first, as ``mlgate:policy.mode`` says (``pulumi up``: on;
    ``mlgate plan`` turns it off, its plan is the gate's input), before any resource is registered."""
    root = root or find_project_root()
    stack = stack_config_from_pulumi(pulumi.get_stack(), root)
    # A shard reads only its own model files: the parent process validated the whole catalog.
    catalog = load_catalog(root / stack.catalog, shard=shard)
    deployments: Sequence[Deployment] = catalog.deployments(stack)
    if preflight and stack.policy_mode != "off":
        from compliance.preflight import run_preflight

        run_preflight(root, stack, preflight_plan(stack, deployments, pulumi.get_project()))
    regions = {config.name: Region(config.name, region_args(config, stack)) for config in stack.regions}
    _global(stack, regions, deployments)
    placed: dict[str, pulumi.ResourceOptions] = {}
    for config, deployment, name in placements(stack, deployments):
        region = regions[config.name]
        if config.name not in placed:
            # Model workloads wait for KServe, Istio and the GPU pools of a provisioned cluster.
            placed[config.name] = pulumi.ResourceOptions(
                parent=region, providers={"kubernetes": region.kubernetes}, depends_on=region.ready
            )
        args = deployment_args(deployment, config.name, stack)
        args["reader_role_arn"] = region.reader_role_arn
        args["monitoring"] = region.monitoring
        ModelDeployment(name, args, placed[config.name])
