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
from compliance.spec.stack import SecretRef, StackConfig
from components import ModelDeployment, Region
from components.manifests import ModelDeploymentArgs, VersionArgs

__all__ = ["build", "deployment_args", "stack_config_from_pulumi"]

GATEWAY = "istio-system/mlgate-gateway"


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
        host=f"{model.name}.{deployment.environment}.{stack.domain}",
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


def build(root: Path | None = None, *, shard: tuple[int, int] | None = None) -> None:
    """Register the stack's resources. ``shard=(i, n)`` builds only every n-th model file from the i-th
    (``mlgate plan`` captures big catalogs in parallel processes; shared resources repeat per shard)."""
    root = root or find_project_root()
    stack = stack_config_from_pulumi(pulumi.get_stack(), root)
    # A shard reads only its own model files: the parent process validated the whole catalog.
    catalog = load_catalog(root / stack.catalog, shard=shard)
    deployments: Sequence[Deployment] = catalog.deployments(stack)
    for region_config in stack.regions:
        region = Region(region_config.name, {"kubeconfig": _kubeconfig(region_config.kubeconfig)})
        placed = pulumi.ResourceOptions(parent=region, providers={"kubernetes": region.kubernetes})
        for deployment in deployments:
            if region_config.name in deployment.env.regions:
                ModelDeployment(
                    f"{deployment.model.name}-{region_config.name}",
                    deployment_args(deployment, region_config.name, stack),
                    placed,
                )
