"""The platform of each example stack, as the real program plans it under Pulumi's mock engine.

Per region: what a `cluster: provision` region builds (counts, GPU pools, taints, KMS on EKS and S3,
replication, IRSA trust, Helm chart versions), that an `existing` region builds none of it, the global DNS
records, and that no Kubernetes resource crosses into another region's cluster. Then the platform policies on
the real plan: the examples pass, and each PLAT-01x rule fails on a plan broken in its way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliance.gate.check import prepare
from compliance.plan.model import Plan, PlannedResource
from components.versions import ADDONS, CHARTS, KUBERNETES_VERSION

ROOT = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PUBLIC_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
ROLE = "aws:iam/role:Role"
KEY = "aws:kms/key:Key"
RELEASE = "kubernetes:helm.sh/v3:Release"
PEER_AUTH = "kubernetes:security.istio.io/v1:PeerAuthentication"
RECORD = "aws:route53/record:Record"
HEALTH = "aws:route53/healthCheck:HealthCheck"
K8S_PROVIDER = "pulumi:providers:kubernetes"

# What one provisioned region registers besides model deployments, by resource type (prod eu-west-1 has two
# GPU pools, us-east-1 one: the pool-dependent types are checked separately).
PLATFORM_PER_REGION = {
    "aws:ec2/vpc:Vpc": 1,
    "aws:ec2/subnet:Subnet": 6,
    "aws:ec2/natGateway:NatGateway": 3,
    "aws:ec2/flowLog:FlowLog": 1,
    "aws:ec2/vpcEndpoint:VpcEndpoint": 4,
    CLUSTER: 1,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": 1,
    "aws:eks/addon:Addon": len(ADDONS),
    KEY: 2,
    BUCKET: 1,
    SSE: 1,
    PUBLIC_BLOCK: 1,
    RELEASE: 10,
    PEER_AUTH: 1,
}


def in_region(plan: Plan, region: str, type_: str) -> list[PlannedResource]:
    return [r for r in plan.of_type(type_) if r.region == region]


def by_urn(plan: Plan) -> dict[str, PlannedResource]:
    return {r.urn: r for r in plan}


def provisioned(plan: Plan) -> list[str]:
    return sorted({r.region for r in plan.of_type(CLUSTER) if r.region})


def test_which_regions_are_provisioned(plans: dict[str, Plan]) -> None:
    assert provisioned(plans["dev"]) == []
    assert provisioned(plans["staging"]) == ["eu-west-1", "us-east-1"]
    assert provisioned(plans["prod"]) == ["eu-west-1", "us-east-1"]


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_resource_counts_per_provisioned_region(plans: dict[str, Plan], env: str) -> None:
    plan = plans[env]
    # staging saves NAT gateways (singleNatGateway: true): one per region instead of one per zone
    expected = {**PLATFORM_PER_REGION, "aws:ec2/natGateway:NatGateway": 1 if env == "staging" else 3}
    for region in provisioned(plan):
        counts = Counter(r.type for r in plan if r.region == region)
        assert {t: counts[t] for t in expected} == expected, (env, region)


def test_an_existing_cluster_gets_no_platform(prod_plan: Plan, dev_plan: Plan) -> None:
    central = Counter(r.type for r in prod_plan if r.region == "eu-central-1" and not r.type.startswith("aws:route53"))
    assert not [t for t in central if t.startswith("aws:") or t == RELEASE]
    assert not [r for r in dev_plan if r.type.startswith("aws:") or r.type == RELEASE]


def test_clusters_pinned_private_logged_and_encrypted(prod_plan: Plan) -> None:
    keys = {r.urn for r in prod_plan.of_type(KEY)}
    for cluster in prod_plan.of_type(CLUSTER):
        inputs = cluster.inputs
        assert inputs["version"] == KUBERNETES_VERSION
        assert inputs["vpcConfig"]["endpointPublicAccess"] is False
        assert inputs["vpcConfig"]["endpointPrivateAccess"] is True
        assert set(inputs["enabledClusterLogTypes"]) >= {"api", "audit", "authenticator"}
        (encryption,) = (
            inputs["encryptionConfig"] if isinstance(inputs["encryptionConfig"], list) else [inputs["encryptionConfig"]]
        )
        assert encryption["resources"] == ["secrets"]
        assert keys & set(cluster.dependencies), "the cluster's secrets key is one of the plan's KMS keys"


def test_gpu_pools_follow_the_stack_config(prod_plan: Plan) -> None:
    pools = {
        (r.region, r.inputs["labels"].get("mlgate.io/gpu-pool")): r
        for r in prod_plan.of_type(NODE_GROUP)
        if r.inputs["labels"].get("mlgate.io/node-class") == "gpu"
    }
    assert sorted(pools) == [("eu-west-1", "a10g"), ("eu-west-1", "l40s"), ("us-east-1", "a10g")]
    assert pools["eu-west-1", "a10g"].inputs["instanceTypes"] == ["g5.xlarge", "g5.2xlarge"]
    assert pools["eu-west-1", "l40s"].inputs["instanceTypes"] == ["g6e.xlarge"]
    assert pools["eu-west-1", "l40s"].inputs["scalingConfig"]["maxSize"] == 4
    assert pools["us-east-1", "a10g"].inputs["scalingConfig"]["maxSize"] == 8
    for pool in pools.values():
        assert pool.inputs["amiType"] == "AL2023_x86_64_NVIDIA"
        assert {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"} in pool.inputs["taints"]


def test_node_groups_sit_in_private_subnets(prod_plan: Plan) -> None:
    resources = by_urn(prod_plan)
    for group in prod_plan.of_type(NODE_GROUP):
        subnets = [resources[u] for u in group.dependencies if resources[u].type == "aws:ec2/subnet:Subnet"]
        assert len(subnets) == 3, group.name
        assert all(s.inputs["tags"]["mlgate.io/tier"] == "private" for s in subnets)
        assert all(s.region == group.region for s in subnets)


def test_model_buckets_encrypted_private_and_replicated(prod_plan: Plan) -> None:
    resources = by_urn(prod_plan)
    buckets = {b.region: b for b in prod_plan.of_type(BUCKET)}
    assert sorted(buckets) == ["eu-west-1", "us-east-1"]
    for region, bucket in buckets.items():
        (sse,) = [r for r in prod_plan.of_type(SSE) if bucket.urn in r.dependencies]
        rule = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        assert rule["sseAlgorithm"] == "aws:kms"
        assert resources[next(u for u in sse.dependencies if resources[u].type == KEY)].region == region
        (block,) = [r for r in prod_plan.of_type(PUBLIC_BLOCK) if bucket.urn in r.dependencies]
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        assert all(block.inputs[f] is True for f in flags)
    # One replication config, on the home region's (aws:region eu-west-1) bucket, to the other one.
    (replication,) = prod_plan.of_type(REPLICATION)
    assert buckets["eu-west-1"].urn in replication.dependencies
    assert buckets["us-east-1"].urn in replication.dependencies
    (rule,) = replication.inputs["rules"]
    assert rule["status"] == "Enabled"


def test_kserve_reader_role_trusts_only_its_service_account(prod_plan: Plan) -> None:
    readers = [r for r in prod_plan.of_type(ROLE) if r.name.endswith("-models-reader")]
    assert sorted(r.region for r in readers) == ["eu-west-1", "us-east-1"]
    for role in readers:
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Principal"]["Federated"].startswith("arn:aws:iam::")
        (sub,) = [v for k, v in statement["Condition"]["StringLike"].items() if k.endswith(":sub")]
        assert sub == "system:serviceaccount:*-prod:mlgate-model-reader"
        (aud,) = [v for k, v in statement["Condition"]["StringEquals"].items() if k.endswith(":aud")]
        assert aud == "sts.amazonaws.com"
        # ... of its own region's cluster (the mock engine reports an issuer named after the cluster)
        keys = [*statement["Condition"]["StringLike"], *statement["Condition"]["StringEquals"]]
        assert all(k.startswith(f"oidc.eks.mock.invalid/id/mlgate-prod-{role.region}:") for k in keys)


def test_helm_releases_pinned_to_the_chart_list(prod_plan: Plan) -> None:
    pinned = {(c.chart, c.version) for c in CHARTS.values()}
    for region in provisioned(prod_plan):
        releases = in_region(prod_plan, region, RELEASE)
        assert {(r.inputs["chart"], r.inputs["version"]) for r in releases} == pinned


def test_mtls_strict_in_every_provisioned_region(prod_plan: Plan) -> None:
    for region in provisioned(prod_plan):
        (peer,) = in_region(prod_plan, region, PEER_AUTH)
        assert peer.inputs["metadata"]["namespace"] == "istio-system"
        assert peer.inputs["spec"]["mtls"]["mode"] == "STRICT"


def test_dns_records_per_model_and_region_with_health_checks(prod_plan: Plan) -> None:
    checks = {r.name: r for r in prod_plan.of_type(HEALTH)}
    assert sorted(checks) == [f"prod-routing-{r}-health" for r in ("eu-central-1", "eu-west-1", "us-east-1")]
    assert checks["prod-routing-eu-central-1-health"].inputs["fqdn"] == "ingress.eu-central-1.platform.example.com"
    deployed = {
        (r.inputs["metadata"]["labels"]["mlgate.io/model"], r.region)
        for r in prod_plan.of_type("kubernetes:networking.istio.io/v1:VirtualService")
    }
    records = prod_plan.of_type(RECORD)
    assert {(r.inputs["name"].split(".")[0], r.inputs["setIdentifier"]) for r in records} == deployed
    for record in records:
        region = record.inputs["setIdentifier"]
        assert record.inputs["latencyRoutingPolicies"] == [{"region": region}]
        assert record.inputs["name"].endswith(".prod.models.example.com")
        assert f"prod-routing-{region}-health" in {u.rpartition("::")[2] for u in record.dependencies}


def test_every_kubernetes_resource_uses_its_own_regions_provider(plans: dict[str, Plan]) -> None:
    for env, plan in plans.items():
        providers = {r.urn: r.name for r in plan.of_type(K8S_PROVIDER)}
        kubernetes = [r for r in plan if r.custom and r.type.startswith("kubernetes:")]
        assert kubernetes, env
        for resource in kubernetes:
            provider_urn = (resource.provider or "").rpartition("::")[0]
            assert providers.get(provider_urn) == f"{resource.region}-k8s", (env, resource.name)


# ------------------------------------------------------------------------------- platform policies


@pytest.fixture(scope="module")
def judge(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Plan], list[tuple[str, str | None]]]:
    gate = prepare(ROOT, "prod")

    def _judge(plan: Plan) -> list[tuple[str, str | None]]:
        result = gate.judge(plan, NOW)
        return sorted((d.id, d.resource) for d in result.decisions if d.subject == "platform@prod")

    return _judge


def _patched(plan: Plan, type_: str, change: Callable[[dict[str, Any]], None], *, name: str | None = None) -> Plan:
    resources = []
    for resource in plan:
        if resource.type == type_ and (name is None or resource.name == name):
            inputs = json.loads(json.dumps(resource.inputs))
            change(inputs)
            resource = dataclasses.replace(resource, inputs=inputs)
        resources.append(resource)
    return dataclasses.replace(plan, resources=tuple(resources))


def test_the_example_platform_passes(prod_plan: Plan, judge: Callable[[Plan], list[Any]]) -> None:
    assert judge(prod_plan) == []


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = inputs
        for key in parents:
            target = target[key]
        target[last] = value

    return change


# (rule, type, resource broken, how); the rule reports the broken resource, or for bucket settings the bucket.
BROKEN = [
    ("PLAT-010", CLUSTER, "eu-west-1-cluster-eks", _set("encryptionConfig", None)),
    ("PLAT-011", CLUSTER, "eu-west-1-cluster-eks", _set("vpcConfig.endpointPublicAccess", True)),
    ("PLAT-012", CLUSTER, "eu-west-1-cluster-eks", _set("enabledClusterLogTypes", ["api"])),
    ("PLAT-013", NODE_GROUP, "eu-west-1-cluster-gpu-l40s", _set("taints", [])),
    (
        "PLAT-014",
        SSE,
        "eu-west-1-models-sse",
        lambda i: i["rules"][0]["applyServerSideEncryptionByDefault"].update(sseAlgorithm="AES256"),
    ),
    ("PLAT-015", PUBLIC_BLOCK, "eu-west-1-models-public-access", _set("restrictPublicBuckets", False)),
    ("PLAT-017", RELEASE, "eu-west-1-serving-kserve", _set("version", "^0.20")),
    ("PLAT-018", PEER_AUTH, "us-east-1-serving-mtls", _set("spec.mtls.mode", "PERMISSIVE")),
]


@pytest.mark.parametrize(("rule", "type_", "name", "change"), BROKEN, ids=[b[0] for b in BROKEN])
def test_each_platform_rule_fails_its_broken_plan(
    prod_plan: Plan, judge: Callable[[Plan], list[Any]], rule: str, type_: str, name: str, change: Any
) -> None:
    assert prod_plan.of_type(type_), type_
    assert name in {r.name for r in prod_plan.of_type(type_)}, f"{name} is not in the plan"
    reported = {(rule, "eu-west-1-models-bucket" if type_ in (SSE, PUBLIC_BLOCK) else name)}
    if rule == "PLAT-018":  # a weakened policy, and its cluster's region left without a STRICT one
        reported.add((rule, "us-east-1-cluster-eks"))
    assert judge(_patched(prod_plan, type_, change, name=name)) == sorted(reported)


def test_node_group_in_a_public_subnet_fails(prod_plan: Plan, judge: Callable[[Plan], list[Any]]) -> None:
    # Point a GPU pool at a public subnet of its region (as a mistaken subnet list would).
    (group,) = [r for r in prod_plan.of_type(NODE_GROUP) if r.name == "eu-west-1-cluster-gpu-a10g"]
    public = next(
        r
        for r in prod_plan.of_type("aws:ec2/subnet:Subnet")
        if r.region == "eu-west-1" and r.inputs["tags"]["mlgate.io/tier"] == "public"
    )
    moved = dataclasses.replace(group, dependencies=(*group.dependencies, public.urn))
    plan = dataclasses.replace(prod_plan, resources=tuple(moved if r is group else r for r in prod_plan))
    assert judge(plan) == [("PLAT-016", group.name)]


def test_model_deployments_wait_for_their_regions_platform(prod_plan: Plan) -> None:
    resources = by_urn(prod_plan)
    deployments = prod_plan.of_type("mlgate:serving:ModelDeployment")
    for deployment in deployments:
        waits_for = {(resources[u].type, resources[u].region, resources[u].name) for u in deployment.dependencies}
        region = deployment.region
        if region in provisioned(prod_plan):
            assert (RELEASE, region, f"{region}-serving-kserve") in waits_for
            assert (RELEASE, region, f"{region}-monitoring-kube-prometheus-stack") in waits_for
            assert (PEER_AUTH, region, f"{region}-serving-mtls") in waits_for
            assert {r for _, r, _ in waits_for} == {region}  # never on another region's platform
        else:
            assert waits_for == set(), deployment.name
