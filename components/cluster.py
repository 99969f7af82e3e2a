"""``mlgate:platform:GpuCluster``: an EKS cluster with a CPU system pool and GPU pools that scale from zero.

Managed node groups with the Cluster Autoscaler, not Karpenter: every pool is a plain AWS resource with
its instance types, size bounds, taints and labels, so the plan (and the platform policies that gate it)
sees exactly which GPUs a stack may buy before anything is deployed; Karpenter decides instance types at
run time from NodePool custom resources the plan cannot evaluate. EKS drains and replaces managed nodes on
AMI upgrades, and a few fixed GPU pools gain little from Karpenter's bin-packing provisioner.

Built from ``pulumi_aws`` primitives (``pulumi_eks`` is opaque to previews under mocks). The AWS provider
(and so the region) comes from the parent; the component creates the cluster's Kubernetes provider.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws.autoscaling as autoscaling
import pulumi_aws.cloudwatch as cloudwatch
import pulumi_aws.eks as eks
import pulumi_aws.iam as iam
import pulumi_aws.kms as kms
import pulumi_kubernetes as k8s

from components.irsa import helm_release, irsa_role, policy_document, service_trust
from components.versions import ADDONS, KUBERNETES_VERSION

__all__ = [
    "CLUSTER_LOG_RETENTION_DAYS",
    "CLUSTER_LOG_TYPES",
    "GPU_CLUSTER_TYPE",
    "GPU_TAINT_KEY",
    "GpuCluster",
    "GpuClusterArgs",
    "GpuPoolArgs",
    "gpus_per_node",
]

GPU_CLUSTER_TYPE = "mlgate:platform:GpuCluster"
CLUSTER_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
CLUSTER_LOG_RETENTION_DAYS = 365  # control-plane audit logs are compliance evidence
GPU_TAINT_KEY = "nvidia.com/gpu"
NODE_CLASS = "mlgate.io/node-class"
GPU_POOL = "mlgate.io/gpu-pool"
_POLICY = "arn:aws:iam::aws:policy/"
# Node add-ons the nodes need to become Ready: created before any node group (the cluster skips the
# self-managed defaults). The others run pods, so they wait for the system node group.
_BEFORE_NODES = frozenset({"vpc-cni", "kube-proxy"})
_CA_TAG = "k8s.io/cluster-autoscaler"
_EBS_CSI_SUBJECT = "system:serviceaccount:kube-system:ebs-csi-controller-sa"
_AUTOSCALER_SA = "cluster-autoscaler"
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?")


class GpuPoolArgs(TypedDict):
    """A GPU node group; ``min_size`` 0 lets an idle pool cost nothing (the autoscaler scales it from zero)."""

    name: str
    instance_types: list[str]
    min_size: int
    max_size: int


class GpuClusterArgs(TypedDict):
    """``cluster_name``: the EKS cluster's name in AWS; ``region``: the parent AWS provider's region (for the
    kubeconfig and the autoscaler); ``kubernetes_version``: absent or None for ``versions.KUBERNETES_VERSION``;
    ``public_access_cidrs``: who may reach a public endpoint (ignored when it is private); ``vpc_id``: the VPC
    of ``private_subnet_ids`` (unused: EKS derives it from the subnets); ``provider_name``: name of the
    Kubernetes provider created for the cluster; ``tags``: on every AWS resource."""

    cluster_name: str
    region: str
    kubernetes_version: NotRequired[str | None]
    endpoint_public_access: bool
    public_access_cidrs: list[str]
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    system_instance_types: list[str]
    gpu_pools: list[GpuPoolArgs]
    provider_name: str
    tags: dict[str, str]


def gpus_per_node(instance_type: str) -> int | None:
    """GPUs of an NVIDIA EC2 instance type, None when unknown (the autoscaler then uses its own table)."""
    family, _, size = instance_type.partition(".")
    if family in ("g4dn", "g5", "g6", "g6e"):
        return {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8, "metal": 8}.get(size, 1)
    if family == "p3":
        return {"2xlarge": 1, "8xlarge": 4, "16xlarge": 8}.get(size)
    if family in ("p3dn", "p4d", "p4de", "p5", "p5e", "p5en"):
        return 8
    return None


def _validate(args: GpuClusterArgs) -> None:
    if not args["system_instance_types"]:
        raise ValueError(f"{args['cluster_name']}: system_instance_types must not be empty")
    names = [pool["name"] for pool in args["gpu_pools"]]
    if len(set(names)) != len(names):
        raise ValueError(f"{args['cluster_name']}: GPU pool names must be unique, got {names}")
    for pool in args["gpu_pools"]:
        where = f"{args['cluster_name']}: GPU pool {pool['name']!r}"
        if not _DNS_LABEL.fullmatch(pool["name"]):
            raise ValueError(f"{where}: the name must be a DNS label of at most 32 characters")
        if not pool["instance_types"]:
            raise ValueError(f"{where}: instance_types must not be empty")
        if not 0 <= pool["min_size"] <= pool["max_size"] or pool["max_size"] < 1:
            raise ValueError(f"{where}: need 0 <= min_size <= max_size and max_size >= 1")


def _issuer(identities: Sequence[eks.outputs.ClusterIdentity]) -> str:
    for identity in identities:
        for oidc in identity.oidcs or []:
            if oidc.issuer:
                return oidc.issuer
    raise ValueError("the EKS cluster reports no OIDC issuer")


def _asg_name(resources: Sequence[eks.outputs.NodeGroupResource]) -> str:
    for resource in resources:
        for group in resource.autoscaling_groups or []:
            if group.name:
                return group.name
    raise ValueError("the node group reports no Auto Scaling group")


def _kubeconfig(args: list[Any], region: str) -> str:
    """A kubeconfig (JSON is YAML) that authenticates with ``aws eks get-token``: no long-lived credentials."""
    name, endpoint, ca = args
    exec_ = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "aws",
        "args": ["eks", "get-token", "--cluster-name", name, "--region", region, "--output", "json"],
        "interactiveMode": "Never",
    }
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca}}],
            "users": [{"name": name, "user": {"exec": exec_}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
        }
    )


def _autoscaler_policy(args: list[Any]) -> str:
    """Describe anything; change only Auto Scaling groups tagged as owned by this cluster."""
    cluster, cluster_arn = args
    describe = {
        "Effect": "Allow",
        "Action": [
            "autoscaling:DescribeAutoScalingGroups",
            "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeLaunchConfigurations",
            "autoscaling:DescribeScalingActivities",
            "autoscaling:DescribeTags",
            "ec2:DescribeImages",
            "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplateVersions",
            "ec2:GetInstanceTypesFromInstanceRequirements",
        ],
        "Resource": "*",
    }
    # Labels and taints of a managed node group at zero nodes (scale from zero), this cluster's groups only.
    nodegroups = {
        "Effect": "Allow",
        "Action": "eks:DescribeNodegroup",
        "Resource": cluster_arn.replace(":cluster/", ":nodegroup/", 1) + "/*/*",
    }
    scale = {
        "Effect": "Allow",
        "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
        "Resource": "*",
        "Condition": {"StringEquals": {f"aws:ResourceTag/{_CA_TAG}/{cluster}": "owned"}},
    }
    return policy_document(describe, nodegroups, scale)


class GpuCluster(pulumi.ComponentResource):
    """EKS with encrypted secrets, full control-plane logs, IRSA, a system pool, GPU pools, pinned add-ons,
    the NVIDIA device plugin and the cluster autoscaler."""

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    kubernetes: k8s.Provider
    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: GpuClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(GPU_CLUSTER_TYPE, name, None, opts)
        _validate(args)
        cluster_name = args["cluster_name"]
        tags = args["tags"]
        child = pulumi.ResourceOptions(parent=self)

        # Envelope encryption of Kubernetes secrets in etcd with a customer-managed, rotated key.
        key = kms.Key(
            f"{name}-secrets",
            description=f"EKS secrets envelope encryption for {cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=child,
        )
        kms.Alias(f"{name}-secrets", name=f"alias/eks/{cluster_name}", target_key_id=key.key_id, opts=child)
        # EKS would create this group itself, without retention; creating it first keeps it ours.
        log_group = cloudwatch.LogGroup(
            f"{name}-control-plane",
            name=f"/aws/eks/{cluster_name}/cluster",
            retention_in_days=CLUSTER_LOG_RETENTION_DAYS,
            tags=tags,
            opts=child,
        )

        cluster_role = iam.Role(
            f"{name}-cluster",
            assume_role_policy=service_trust("eks.amazonaws.com", "sts:AssumeRole", "sts:TagSession"),
            tags=tags,
            opts=child,
        )
        cluster_policy = iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=cluster_role.name,
            policy_arn=f"{_POLICY}AmazonEKSClusterPolicy",
            opts=child,
        )
        key_policy = iam.RolePolicy(
            f"{name}-cluster-kms",
            role=cluster_role.id,
            policy=key.arn.apply(
                lambda arn: policy_document(
                    {
                        "Effect": "Allow",
                        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
                        "Resource": arn,
                    }
                )
            ),
            opts=child,
        )

        public = args["endpoint_public_access"]
        cluster = eks.Cluster(
            f"{name}-eks",
            name=cluster_name,
            version=args.get("kubernetes_version") or KUBERNETES_VERSION,
            role_arn=cluster_role.arn,
            vpc_config=eks.ClusterVpcConfigArgs(
                subnet_ids=args["private_subnet_ids"],
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=args["public_access_cidrs"] if public else None,
            ),
            enabled_cluster_log_types=list(CLUSTER_LOG_TYPES),
            encryption_config=eks.ClusterEncryptionConfigArgs(
                resources=["secrets"], provider=eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn)
            ),
            # Access entries only (no aws-auth ConfigMap); the deploying identity gets admin to install charts.
            access_config=eks.ClusterAccessConfigArgs(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=True
            ),
            # vpc-cni, kube-proxy and coredns come as pinned managed add-ons below, not as unmanaged defaults.
            bootstrap_self_managed_addons=False,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, cluster_policy, key_policy]),
        )

        issuer_url = cluster.identities.apply(_issuer)
        oidc = iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer_url,
            client_id_lists=["sts.amazonaws.com"],
            tags=tags,
            opts=child,
        )
        self.oidc_provider_arn = oidc.arn
        self.oidc_issuer = issuer_url.apply(lambda url: url.removeprefix("https://"))

        node_role = iam.Role(
            f"{name}-node", assume_role_policy=service_trust("ec2.amazonaws.com"), tags=tags, opts=child
        )
        node_policies = [
            iam.RolePolicyAttachment(
                f"{name}-node-{policy}", role=node_role.name, policy_arn=f"{_POLICY}{policy}", opts=child
            )
            for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy")
        ]

        ebs_role = irsa_role(
            f"{name}-ebs-csi",
            oidc_provider_arn=self.oidc_provider_arn,
            oidc_issuer=self.oidc_issuer,
            subject=_EBS_CSI_SUBJECT,
            managed_policy_arns=(f"{_POLICY}service-role/AmazonEBSCSIDriverPolicy",),
            opts=child,
        )

        def addon(addon_name: str, depends_on: list[pulumi.Resource]) -> eks.Addon:
            return eks.Addon(
                f"{name}-{addon_name}",
                cluster_name=cluster.name,
                addon_name=addon_name,
                addon_version=ADDONS[addon_name],
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                service_account_role_arn=ebs_role.arn if addon_name == "aws-ebs-csi-driver" else None,
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
            )

        node_addons = [addon(a, []) for a in ADDONS if a in _BEFORE_NODES]
        node_opts = pulumi.ResourceOptions(
            parent=self, depends_on=[*node_policies, *node_addons], ignore_changes=["scalingConfig.desiredSize"]
        )

        system = eks.NodeGroup(
            f"{name}-system",
            cluster_name=cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=args["private_subnet_ids"],
            ami_type="AL2023_x86_64_STANDARD",
            instance_types=args["system_instance_types"],
            scaling_config=eks.NodeGroupScalingConfigArgs(min_size=2, desired_size=2, max_size=4),
            update_config=eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            labels={NODE_CLASS: "system"},
            tags=tags,
            opts=node_opts,
        )
        gpu_groups = [self._gpu_pool(name, pool, cluster, node_role, args, node_opts) for pool in args["gpu_pools"]]
        pod_addons = [addon(a, [system]) for a in ADDONS if a not in _BEFORE_NODES]

        region = args["region"]
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority.data).apply(
                lambda values: _kubeconfig(values, region)
            )
        )
        self.kubernetes = k8s.Provider(args["provider_name"], kubeconfig=self.kubeconfig, opts=child)
        on_cluster = pulumi.ResourceOptions(parent=self, provider=self.kubernetes)

        gpu_node = {NODE_CLASS: "gpu"}
        device_plugin = helm_release(
            f"{name}-nvidia-device-plugin",
            "nvidia-device-plugin",
            values={
                "nodeSelector": gpu_node,
                # Replaces the chart's default affinity, which wants node-feature-discovery labels EKS nodes lack.
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {"matchExpressions": [{"key": NODE_CLASS, "operator": "In", "values": ["gpu"]}]}
                            ]
                        }
                    }
                },
                "tolerations": [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
            },
            opts=on_cluster,
        )

        autoscaler_role = irsa_role(
            f"{name}-cluster-autoscaler",
            oidc_provider_arn=self.oidc_provider_arn,
            oidc_issuer=self.oidc_issuer,
            subject=f"system:serviceaccount:kube-system:{_AUTOSCALER_SA}",
            policy=pulumi.Output.all(cluster.name, cluster.arn).apply(_autoscaler_policy),
            opts=child,
        )
        autoscaler = helm_release(
            f"{name}-cluster-autoscaler",
            "cluster-autoscaler",
            values={
                "autoDiscovery": {"clusterName": cluster.name},
                "awsRegion": region,
                "fullnameOverride": _AUTOSCALER_SA,
                "rbac": {
                    "serviceAccount": {
                        "create": True,
                        "name": _AUTOSCALER_SA,
                        "annotations": {"eks.amazonaws.com/role-arn": autoscaler_role.arn},
                    }
                },
                "nodeSelector": {NODE_CLASS: "system"},
                "extraArgs": {"balance-similar-node-groups": True, "expander": "least-waste"},
            },
            create_namespace=False,  # kube-system
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[system, *pod_addons])),
        )

        self.ready = [system, *gpu_groups, *node_addons, *pod_addons, device_plugin, autoscaler]
        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "endpoint": self.endpoint,
                "kubeconfig": self.kubeconfig,
                "oidcProviderArn": self.oidc_provider_arn,
                "oidcIssuer": self.oidc_issuer,
            }
        )

    def _gpu_pool(
        self,
        name: str,
        pool: GpuPoolArgs,
        cluster: eks.Cluster,
        node_role: iam.Role,
        args: GpuClusterArgs,
        opts: pulumi.ResourceOptions,
    ) -> eks.NodeGroup:
        """A tainted GPU node group the autoscaler can scale from zero: it needs the nodes' labels, taint and
        GPU count as node-template tags on the Auto Scaling group, since no node exists to read them from."""
        pool_name, min_size = pool["name"], int(pool["min_size"])
        labels = {NODE_CLASS: "gpu", GPU_POOL: pool_name}
        template = {  # resource-name suffix -> (tag key, value)
            "label-node-class": (f"{_CA_TAG}/node-template/label/{NODE_CLASS}", "gpu"),
            "label-gpu-pool": (f"{_CA_TAG}/node-template/label/{GPU_POOL}", pool_name),
            "taint-gpu": (f"{_CA_TAG}/node-template/taint/{GPU_TAINT_KEY}", "true:NoSchedule"),
        }
        counts = [gpus_per_node(t) for t in pool["instance_types"]]
        if all(c is not None for c in counts):
            # The smallest type of the pool: a template must never promise more GPUs than a node has.
            gpus = min(c for c in counts if c is not None)
            template["resources-gpu"] = (f"{_CA_TAG}/node-template/resources/{GPU_TAINT_KEY}", str(gpus))
        group = eks.NodeGroup(
            f"{name}-gpu-{pool_name}",
            cluster_name=cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=args["private_subnet_ids"],
            ami_type="AL2023_x86_64_NVIDIA",
            instance_types=pool["instance_types"],
            disk_size=100,  # CUDA images do not fit the 20 GiB default
            scaling_config=eks.NodeGroupScalingConfigArgs(
                min_size=min_size, desired_size=min_size, max_size=int(pool["max_size"])
            ),
            update_config=eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            labels=labels,
            taints=[eks.NodeGroupTaintArgs(key=GPU_TAINT_KEY, value="true", effect="NO_SCHEDULE")],
            tags={
                **args["tags"],
                f"{_CA_TAG}/enabled": "true",
                f"{_CA_TAG}/{args['cluster_name']}": "owned",
                **dict(template.values()),
            },
            opts=opts,
        )
        # EKS copies only its own auto-discovery tags to the node group's Auto Scaling group.
        asg = group.resources.apply(_asg_name)
        for suffix, (key, value) in template.items():
            autoscaling.Tag(
                f"{name}-gpu-{pool_name}-{suffix}",
                autoscaling_group_name=asg,
                tag=autoscaling.TagTagArgs(key=key, value=value, propagate_at_launch=False),
                opts=pulumi.ResourceOptions(parent=self),
            )
        return group
