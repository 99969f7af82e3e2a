"""The Pulumi program: stack config + catalog → one Region per AWS region, model deployments in each.

``stacks/__main__.py`` calls :func:`build` under ``pulumi up``; ``mlgate plan`` calls it under
Pulumi's mock engine. It must stay a function: a module-level program registers nothing the
second time it is imported.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as pulumi_config

from compliance._internal.project import find_project_root
from compliance.spec.load import Deployment, load_catalog, parse_stack_config
from compliance.spec.stack import RegionConfig, SecretRef, StackConfig
from components import ModelDeployment, Region
from components.manifests import GATEWAY, ModelDeploymentArgs, VersionArgs
from components.region import ProvisionArgs, RegionArgs

__all__ = ["build", "deployment_args", "region_args", "stack_config_from_pulumi"]


def _config_map() -> dict[str, Any]:
    """All stack config as Pulumi hands it over: the PULUMI_CONFIG env of the engine, or set_all_config."""
    raw = {**pulumi_config.get_config_env(), **pulumi_config.CONFIG.get()}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        values[key] = value
    return values


def stack_config_from_pulumi(environment: str, root: Path) -> StackConfig:
    source = root / "stacks" / f"Pulumi.{environment}.yaml"
    return parse_stack_config(environment, _config_map(), file=source)


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


def build(root: Path | None = None, *, shard: tuple[int, int] | None = None) -> None:
    """Register the stack's resources. ``shard=(i, n)`` builds only every n-th model file from the i-th
    (``mlgate plan`` captures big catalogs in parallel processes; shared resources repeat per shard)."""
    root = root or find_project_root()
    stack = stack_config_from_pulumi(pulumi.get_stack(), root)
    # A shard reads only its own model files: the parent process validated the whole catalog.
    catalog = load_catalog(root / stack.catalog, shard=shard)
    deployments: Sequence[Deployment] = catalog.deployments(stack)
    regions = {config.name: Region(config.name, region_args(config, stack)) for config in stack.regions}
    _global(stack, regions, deployments)
    for name, region in regions.items():
        # Model workloads wait for KServe, Istio and the GPU pools of a provisioned cluster.
        placed = pulumi.ResourceOptions(
            parent=region, providers={"kubernetes": region.kubernetes}, depends_on=region.ready
        )
        for deployment in deployments:
            if name in deployment.env.regions:
                args = deployment_args(deployment, name, stack)
                args["reader_role_arn"] = region.reader_role_arn
                args["monitoring"] = region.monitoring
                ModelDeployment(f"{deployment.model.name}-{name}", args, placed)
