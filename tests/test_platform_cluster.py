"""components.network and components.cluster under Pulumi's mock engine.

Two small programs (a VPC and a GPU cluster under an explicit AWS provider) are captured once per module:
one zone-redundant with a public API endpoint, one with a single NAT gateway and a private endpoint. The
assertions read the recorded inputs and dependencies, as the platform policies do.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from pulumi_aws.provider import Provider

from compliance.errors import PlanError
from compliance.plan.capture import run_program
from compliance.plan.model import SECRET, PlannedResource
from components.cluster import CLUSTER_LOG_TYPES, GpuCluster, GpuClusterArgs, GpuPoolArgs, gpus_per_node
from components.network import Network, subnet_cidrs
from components.versions import ADDONS, CHARTS, KUBERNETES_VERSION

REGION = "eu-west-1"
ZONES = [f"{REGION}{z}" for z in "abc"]
CIDR = "10.0.0.0/16"
CLUSTER = "mlgate-test"
K8S_PROVIDER = "test-k8s"
POOLS: list[GpuPoolArgs] = [
    {"name": "a10g", "instance_types": ["g5.xlarge", "g5.2xlarge"], "min_size": 0, "max_size": 8},
    {"name": "l40s", "instance_types": ["g6e.12xlarge"], "min_size": 1, "max_size": 2},
]
CA = "k8s.io/cluster-autoscaler"

SUBNET = "aws:ec2/subnet:Subnet"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ROLE = "aws:iam/role:Role"
RELEASE = "kubernetes:helm.sh/v3:Release"
COMPONENTS = ("mlgate:platform:Network", "mlgate:platform:GpuCluster")


class Captured:
    """The recorded resources of one program, plus values its outputs resolved to."""

    def __init__(self, resources: list[PlannedResource], values: dict[str, Any]) -> None:
        self.resources = resources
        self.values = values
        self.by_urn = {r.urn: r for r in resources}

    def of(self, type_: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> PlannedResource:
        found = [r for r in self.of(type_) if name is None or r.name == name]
        assert len(found) == 1, f"{len(found)} {type_} named {name}"
        return found[0]

    def deps(self, resource: PlannedResource, type_: str) -> list[PlannedResource]:
        return [self.by_urn[u] for u in resource.dependencies if self.by_urn[u].type == type_]

    def subnets(self, tier: str) -> list[PlannedResource]:
        return [s for s in self.of(SUBNET) if s.inputs["tags"]["mlgate.io/tier"] == tier]


def capture(*, single_nat: bool, public: bool, version: str | None, pools: list[GpuPoolArgs]) -> Captured:
    values: dict[str, Any] = {}

    def keep(key: str) -> Callable[[Any], None]:
        return lambda value: values.__setitem__(key, value)

    def program() -> None:
        aws = Provider("test-aws", region=REGION)
        on_aws = pulumi.ResourceOptions(providers={"aws": aws})
        network = Network(
            "net",
            {
                "cidr": CIDR,
                "availability_zones": ZONES,
                "cluster_name": CLUSTER,
                "single_nat_gateway": single_nat,
                "tags": {"mlgate.io/environment": "test"},
            },
            on_aws,
        )
        args: GpuClusterArgs = {
            "cluster_name": CLUSTER,
            "region": REGION,
            "endpoint_public_access": public,
            "public_access_cidrs": ["203.0.113.0/24"],
            "vpc_id": network.vpc_id,
            "private_subnet_ids": network.private_subnet_ids,
            "system_instance_types": ["m7i.large"],
            "gpu_pools": pools,
            "provider_name": K8S_PROVIDER,
            "tags": {"mlgate.io/environment": "test"},
        }
        if version is not None:
            args["kubernetes_version"] = version
        cluster = GpuCluster(
            "gpu",
            args,
            pulumi.ResourceOptions.merge(on_aws, pulumi.ResourceOptions(depends_on=network.private_subnets)),
        )
        cluster.kubeconfig.apply(keep("kubeconfig"))
        cluster.oidc_issuer.apply(keep("oidc_issuer"))
        network.private_subnet_ids.apply(keep("private_subnet_ids"))
        values["ready"] = [type(r).__name__ for r in cluster.ready]

    return Captured(run_program(program, "test", {"aws:region": REGION}), values)


@pytest.fixture(scope="module")
def plan() -> Captured:
    """Three zones, a NAT gateway per zone, a public API endpoint, two GPU pools, the pinned version."""
    return capture(single_nat=False, public=True, version=None, pools=POOLS)


@pytest.fixture(scope="module")
def lean() -> Captured:
    """One NAT gateway, a private-only API endpoint, an explicit Kubernetes version, one GPU pool."""
    return capture(single_nat=True, public=False, version=KUBERNETES_VERSION, pools=POOLS[:1])


# --- network ---------------------------------------------------------------------------------------------------


def test_subnets_per_zone_and_tier(plan: Captured) -> None:
    vpc = plan.one("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == CIDR
    assert vpc.inputs["enableDnsSupport"] is True and vpc.inputs["enableDnsHostnames"] is True
    for tier, role, public_ips in (("public", "elb", True), ("private", "internal-elb", False)):
        subnets = plan.subnets(tier)
        assert sorted(s.inputs["availabilityZone"] for s in subnets) == ZONES
        for subnet in subnets:
            tags = subnet.inputs["tags"]
            assert tags[f"kubernetes.io/role/{role}"] == "1"
            assert tags[f"kubernetes.io/cluster/{CLUSTER}"] == "shared"
            assert tags["mlgate.io/environment"] == "test"
            assert subnet.inputs["mapPublicIpOnLaunch"] is public_ips
    assert len(plan.of(SUBNET)) == 6


def test_subnet_cidrs_disjoint_inside_the_vpc(plan: Captured) -> None:
    vpc = ipaddress.IPv4Network(CIDR)
    blocks = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in plan.of(SUBNET)]
    assert all(b.subnet_of(vpc) for b in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    # Pods take VPC addresses: private subnets are the big ones.
    private = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in plan.subnets("private")]
    assert {b.prefixlen for b in private} == {18}


@pytest.mark.parametrize("cidr", ["10.0.0.0/8", "10.0.0.0/25", "10.0.0.1/16", "fd00::/56"])
def test_subnet_cidrs_reject_bad_blocks(cidr: str) -> None:
    with pytest.raises(ValueError):
        subnet_cidrs(cidr, 3)


def test_subnet_cidrs_are_deterministic_for_two_zones() -> None:
    assert subnet_cidrs("10.1.0.0/20", 2) == (["10.1.0.0/22", "10.1.4.0/22"], ["10.1.12.0/24", "10.1.13.0/24"])


def test_nat_gateway_per_zone_or_single(plan: Captured, lean: Captured) -> None:
    for captured, count in ((plan, 3), (lean, 1)):
        nats = captured.of("aws:ec2/natGateway:NatGateway")
        assert len(nats) == count and len(captured.of("aws:ec2/eip:Eip")) == count
        public_ids = {f"{s.name}-id" for s in captured.subnets("public")}
        assert all(n.inputs["subnetId"] in public_ids for n in nats)
        nat_ids = {f"{n.name}-id" for n in nats}
        private_routes = [r for r in captured.of("aws:ec2/route:Route") if "private" in r.name]
        assert len(private_routes) == 3
        assert {r.inputs["natGatewayId"] for r in private_routes} == nat_ids
    # Zone-redundant mode: each zone's private subnets leave through their own zone's NAT gateway.
    for zone in ZONES:
        route = plan.one("aws:ec2/route:Route", f"net-private-{zone}-default")
        assert route.inputs["natGatewayId"] == f"net-nat-{zone}-id"


def test_public_subnets_route_to_the_internet_gateway(plan: Captured) -> None:
    route = plan.one("aws:ec2/route:Route", "net-public-default")
    assert route.inputs == {
        "routeTableId": "net-public-rt-id",
        "destinationCidrBlock": "0.0.0.0/0",
        "gatewayId": "net-igw-id",
    }
    associated = {a.inputs["subnetId"] for a in plan.of("aws:ec2/routeTableAssociation:RouteTableAssociation")}
    assert associated == {f"{s.name}-id" for s in plan.of(SUBNET)}


def test_flow_logs_capture_all_traffic(plan: Captured) -> None:
    flow = plan.one("aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL"
    assert flow.inputs["vpcId"] == "net-vpc-id"
    assert flow.inputs["logDestinationType"] == "cloud-watch-logs"
    (group,) = plan.deps(flow, "aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["retentionInDays"] >= 365
    (role,) = plan.deps(flow, ROLE)
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "vpc-flow-logs.amazonaws.com"}]


def test_vpc_endpoints_keep_node_traffic_private(plan: Captured) -> None:
    endpoints = {e.inputs["serviceName"]: e for e in plan.of("aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert set(endpoints) == {f"com.amazonaws.{REGION}.{s}" for s in ("s3", "ecr.api", "ecr.dkr", "sts")}
    s3 = endpoints.pop(f"com.amazonaws.{REGION}.s3")
    assert s3.inputs["vpcEndpointType"] == "Gateway"
    assert sorted(s3.inputs["routeTableIds"]) == sorted(f"net-private-{z}-id" for z in ZONES)
    private_ids = sorted(f"{s.name}-id" for s in plan.subnets("private"))
    group = plan.one("aws:ec2/securityGroup:SecurityGroup")
    assert group.inputs["ingress"] == [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": [CIDR]}]
    assert "egress" not in group.inputs
    for endpoint in endpoints.values():
        assert endpoint.inputs["vpcEndpointType"] == "Interface"
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert sorted(endpoint.inputs["subnetIds"]) == private_ids
        assert endpoint.inputs["securityGroupIds"] == [f"{group.name}-id"]


def test_private_subnet_ids_wait_for_routing(plan: Captured) -> None:
    """Anything built on the private subnet ids (the cluster, node groups) waits for routes and endpoints."""
    assert plan.values["private_subnet_ids"] == [f"net-private-{z}-id" for z in ZONES]
    cluster = plan.one("aws:eks/cluster:Cluster")
    for type_ in ("aws:ec2/route:Route", "aws:ec2/routeTableAssociation:RouteTableAssociation"):
        assert len(plan.deps(cluster, type_)) == 3
    assert len(plan.deps(cluster, "aws:ec2/vpcEndpoint:VpcEndpoint")) == 4


def test_network_rejects_zones_of_two_regions() -> None:
    def program() -> None:
        Network(
            "net",
            {
                "cidr": CIDR,
                "availability_zones": ["eu-west-1a", "eu-central-1a"],
                "cluster_name": CLUSTER,
                "single_nat_gateway": True,
                "tags": {},
            },
        )

    with pytest.raises(PlanError, match="one region"):
        run_program(program, "test", {})


# --- cluster -------------------------------------------------------------------------------------------------------


def test_cluster_control_plane(plan: Captured, lean: Captured) -> None:
    for captured, public in ((plan, True), (lean, False)):
        cluster = captured.one("aws:eks/cluster:Cluster")
        inputs = cluster.inputs
        assert inputs["name"] == CLUSTER
        assert inputs["version"] == KUBERNETES_VERSION
        vpc = inputs["vpcConfig"]
        assert vpc["endpointPrivateAccess"] is True
        assert vpc["endpointPublicAccess"] is public
        assert vpc.get("publicAccessCidrs") == (["203.0.113.0/24"] if public else None)
        assert vpc["subnetIds"] == [f"net-private-{z}-id" for z in ZONES]
        assert {s.inputs["tags"]["mlgate.io/tier"] for s in captured.deps(cluster, SUBNET)} == {"private"}
        assert (
            set(inputs["enabledClusterLogTypes"])
            == set(CLUSTER_LOG_TYPES)
            == {
                "api",
                "audit",
                "authenticator",
                "controllerManager",
                "scheduler",
            }
        )
        assert inputs["accessConfig"]["authenticationMode"] == "API"


def test_secrets_encrypted_with_a_rotated_key(plan: Captured) -> None:
    cluster = plan.one("aws:eks/cluster:Cluster")
    (key,) = plan.deps(cluster, "aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    encryption = cluster.inputs["encryptionConfig"]
    assert encryption["resources"] == ["secrets"]
    assert encryption["provider"]["keyArn"] == f"arn:aws:kms::123456789012:{key.name}"
    alias = plan.one("aws:kms/alias:Alias")
    assert alias.inputs["name"] == f"alias/eks/{CLUSTER}" and key.urn in alias.dependencies
    # The cluster role may use the key, and only that key.
    (kms_policy,) = plan.deps(cluster, "aws:iam/rolePolicy:RolePolicy")
    (statement,) = json.loads(kms_policy.inputs["policy"])["Statement"]
    assert statement["Resource"] == encryption["provider"]["keyArn"]


def test_control_plane_log_group_exists_before_the_cluster(plan: Captured) -> None:
    cluster = plan.one("aws:eks/cluster:Cluster")
    (group,) = plan.deps(cluster, "aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["name"] == f"/aws/eks/{CLUSTER}/cluster"
    assert group.inputs["retentionInDays"] >= 365


def test_oidc_provider_for_irsa(plan: Captured) -> None:
    oidc = plan.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    issuer = f"https://oidc.eks.mock.invalid/id/{CLUSTER}"  # compliance.plan.capture.mock_state
    assert oidc.inputs["url"] == issuer
    assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert plan.values["oidc_issuer"] == issuer.removeprefix("https://")


def test_gpu_node_groups(plan: Captured) -> None:
    for pool in POOLS:
        group = plan.one(NODE_GROUP, f"gpu-gpu-{pool['name']}")
        inputs = group.inputs
        assert inputs["amiType"] == "AL2023_x86_64_NVIDIA"
        assert inputs["instanceTypes"] == pool["instance_types"]
        assert inputs["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
        assert inputs["labels"] == {"mlgate.io/node-class": "gpu", "mlgate.io/gpu-pool": pool["name"]}
        assert inputs["scalingConfig"] == {
            "minSize": pool["min_size"],
            "desiredSize": pool["min_size"],
            "maxSize": pool["max_size"],
        }
        tags = inputs["tags"]
        assert tags[f"{CA}/enabled"] == "true" and tags[f"{CA}/{CLUSTER}"] == "owned"
        template = {
            f"{CA}/node-template/label/mlgate.io/node-class": "gpu",
            f"{CA}/node-template/label/mlgate.io/gpu-pool": pool["name"],
            f"{CA}/node-template/taint/nvidia.com/gpu": "true:NoSchedule",
            f"{CA}/node-template/resources/nvidia.com/gpu": str(gpus_per_node(pool["instance_types"][0])),
        }
        assert template.items() <= tags.items()
        # Scale from zero reads the template from the Auto Scaling group, which EKS does not tag for us.
        asg_tags = {
            t.inputs["tag"]["key"]: t.inputs["tag"]["value"]
            for t in plan.of("aws:autoscaling/tag:Tag")
            if t.name.startswith(f"gpu-gpu-{pool['name']}-")
        }
        assert asg_tags == template


def test_system_node_group(plan: Captured) -> None:
    system = plan.one(NODE_GROUP, "gpu-system")
    assert system.inputs["amiType"] == "AL2023_x86_64_STANDARD"
    assert system.inputs["instanceTypes"] == ["m7i.large"]
    assert system.inputs["labels"] == {"mlgate.io/node-class": "system"}
    assert system.inputs["scalingConfig"]["minSize"] >= 2
    assert "taints" not in system.inputs


def test_node_groups_only_on_private_subnets(plan: Captured) -> None:
    groups = plan.of(NODE_GROUP)
    assert len(groups) == 1 + len(POOLS)
    private = {s.urn for s in plan.subnets("private")}
    for group in groups:
        assert {s.urn for s in plan.deps(group, SUBNET)} == private
        assert group.inputs["subnetIds"] == [f"net-private-{z}-id" for z in ZONES]


def test_node_role_policies(plan: Captured) -> None:
    (role,) = {r.urn: r for g in plan.of(NODE_GROUP) for r in plan.deps(g, ROLE)}.values()
    attached = {
        a.inputs["policyArn"].rsplit("/", 1)[1]
        for a in plan.of("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if role.urn in a.dependencies
    }
    assert attached == {"AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy"}


def test_addons_pinned_and_ordered(plan: Captured) -> None:
    addons = {a.inputs["addonName"]: a for a in plan.of("aws:eks/addon:Addon")}
    assert {name: a.inputs["addonVersion"] for name, a in addons.items()} == ADDONS
    system = plan.one(NODE_GROUP, "gpu-system")
    assert system.urn in addons["coredns"].dependencies
    assert system.urn in addons["aws-ebs-csi-driver"].dependencies
    # The CNI must be there before any node can become Ready.
    for group in plan.of(NODE_GROUP):
        assert {addons["vpc-cni"].urn, addons["kube-proxy"].urn} <= set(group.dependencies)


def _trust(captured: Captured, role_name: str) -> dict[str, Any]:
    role = captured.one(ROLE, role_name)
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    oidc = captured.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert statement["Principal"] == {"Federated": f"arn:aws:iam::123456789012:{oidc.name}"}
    assert set(statement["Condition"]) == {"StringEquals"}  # no pattern match on the subject
    result: dict[str, Any] = statement["Condition"]["StringEquals"]
    return result


def test_ebs_csi_irsa_scoped_to_its_service_account(plan: Captured) -> None:
    issuer = plan.values["oidc_issuer"]
    assert _trust(plan, "gpu-ebs-csi") == {
        f"{issuer}:aud": "sts.amazonaws.com",
        f"{issuer}:sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa",
    }
    addon = next(a for a in plan.of("aws:eks/addon:Addon") if a.inputs["addonName"] == "aws-ebs-csi-driver")
    assert addon.inputs["serviceAccountRoleArn"] == "arn:aws:iam::123456789012:gpu-ebs-csi"
    attachment = plan.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "gpu-ebs-csi-attach-0")
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"


def test_cluster_autoscaler_least_privilege(plan: Captured) -> None:
    issuer = plan.values["oidc_issuer"]
    assert (
        _trust(plan, "gpu-cluster-autoscaler")[f"{issuer}:sub"]
        == "system:serviceaccount:kube-system:cluster-autoscaler"
    )
    policy = json.loads(plan.one("aws:iam/rolePolicy:RolePolicy", "gpu-cluster-autoscaler-policy").inputs["policy"])
    mutating = {"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all(a.split(":")[1].startswith(("Describe", "Get")) for a in actions) or set(actions) == mutating
        if set(actions) == mutating:
            assert statement["Condition"] == {"StringEquals": {f"aws:ResourceTag/{CA}/{CLUSTER}": "owned"}}


def test_helm_releases_pinned_on_the_cluster_provider(plan: Captured) -> None:
    releases = {r.inputs["chart"]: r for r in plan.of(RELEASE)}
    for key in ("nvidia-device-plugin", "cluster-autoscaler"):
        chart = CHARTS[key]
        assert releases[chart.chart].inputs["version"] == chart.version
        assert releases[chart.chart].inputs["namespace"] == chart.namespace
    plugin = releases["nvidia-device-plugin"].inputs["values"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in plugin["tolerations"]
    assert plugin["nodeSelector"] == {"mlgate.io/node-class": "gpu"}
    autoscaler = releases["cluster-autoscaler"].inputs["values"]
    assert autoscaler["autoDiscovery"] == {"clusterName": CLUSTER}
    assert autoscaler["awsRegion"] == REGION
    account = autoscaler["rbac"]["serviceAccount"]
    assert account["name"] == "cluster-autoscaler"
    assert account["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:gpu-cluster-autoscaler"}


def test_every_resource_on_its_provider_and_under_a_component(plan: Captured) -> None:
    k8s = plan.one("pulumi:providers:kubernetes")
    assert k8s.name == K8S_PROVIDER and k8s.inputs["kubeconfig"] == SECRET
    aws = plan.one("pulumi:providers:aws")
    components = {r.urn for r in plan.resources if r.type in COMPONENTS}
    for resource in plan.resources:
        if resource.type.startswith("kubernetes:"):
            assert resource.provider == f"{k8s.urn}::{k8s.name}-id", resource.urn
        elif resource.type.startswith("aws:"):
            assert resource.provider == f"{aws.urn}::{aws.name}-id", resource.urn
        if resource.urn in components or resource is aws:
            continue
        parent = resource.parent
        while parent and parent not in components:
            parent = plan.by_urn[parent].parent
        assert parent in components, f"{resource.urn} is not under a platform component"


def test_kubeconfig_uses_the_aws_exec_plugin(plan: Captured) -> None:
    config = json.loads(plan.values["kubeconfig"])
    (cluster,) = config["clusters"]
    assert cluster["cluster"]["server"] == f"https://{CLUSTER}.eks.mock.invalid"
    (user,) = config["users"]
    exec_ = user["user"]["exec"]
    assert exec_["command"] == "aws"
    assert exec_["args"][:4] == ["eks", "get-token", "--cluster-name", CLUSTER]
    assert exec_["args"][4:6] == ["--region", REGION]


def test_ready_lists_what_workloads_wait_for(plan: Captured) -> None:
    assert plan.values["ready"].count("NodeGroup") == 1 + len(POOLS)
    assert plan.values["ready"].count("Addon") == len(ADDONS)
    assert plan.values["ready"].count("Release") == 2


@pytest.mark.parametrize(
    ("pool", "message"),
    [
        ({"name": "a10g", "instance_types": ["g5.xlarge"], "min_size": 3, "max_size": 2}, "min_size <= max_size"),
        ({"name": "A10G", "instance_types": ["g5.xlarge"], "min_size": 0, "max_size": 2}, "DNS label"),
        ({"name": "a10g", "instance_types": [], "min_size": 0, "max_size": 2}, "instance_types"),
    ],
)
def test_gpu_pool_validation(pool: GpuPoolArgs, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        capture(single_nat=True, public=False, version=None, pools=[pool])
