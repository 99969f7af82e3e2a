"""``mlgate:platform:Region``: the root of everything a stack deploys into one AWS region.

A region either runs on a cluster someone else operates (``existing``: a kubeconfig, nothing else) or
gets the whole serving platform built here (``provision``): network, GPU cluster, model store, mesh and
KServe, monitoring. Either way it owns the region's Kubernetes provider, so every resource below it is
bound to that region's cluster; the plan reads a resource's region from this ancestor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

import pulumi
import pulumi_kubernetes as k8s

if TYPE_CHECKING:
    from components.storage import ModelStore

__all__ = ["REGION_TYPE", "ProvisionArgs", "Region", "RegionArgs"]

REGION_TYPE = "mlgate:platform:Region"


class GpuPool(TypedDict):
    name: str
    instance_types: list[str]
    min_size: int
    max_size: int


class ProvisionArgs(TypedDict):
    """How to build the platform of a ``cluster: provision`` region."""

    environment: str
    cluster_name: str
    kubernetes_version: str | None  # None: the pinned default
    endpoint_public_access: bool
    public_access_cidrs: list[str]
    vpc_cidr: str
    availability_zones: list[str]
    single_nat_gateway: bool
    system_instance_types: list[str]
    gpu_pools: list[GpuPool]
    bucket_name: str
    hosts: list[str]  # the hosts the ingress gateway accepts


class RegionArgs(TypedDict):
    """Exactly one of ``kubeconfig`` (an existing cluster; None uses the ambient one) or ``provision``.
    ``ingress_hostname``: an existing cluster's ingress load balancer, for global DNS."""

    kubeconfig: pulumi.Input[str] | None
    ingress_hostname: str | None
    provision: ProvisionArgs | None
    tags: dict[str, str]


class Region(pulumi.ComponentResource):
    """Name it after the AWS region (``eu-west-1``): the name is the region."""

    kubernetes: k8s.Provider
    #: What model workloads must wait for: KServe, Istio and the GPU node pools (empty for existing clusters).
    ready: list[pulumi.Resource]
    ingress_hostname: pulumi.Output[str] | None
    #: The role KServe's storage initializer assumes to read the region's model store (provisioned only).
    reader_role_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: RegionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(REGION_TYPE, name, None, opts)
        provision = args["provision"]
        self.ready = []
        self.reader_role_arn = None
        #: Whether the Prometheus operator runs here (its CRDs are needed for PodMonitors and rules).
        self.monitoring = False
        self.store: ModelStore | None = None  # annotated here: Pulumi evaluates class annotations
        if provision is None:
            self.kubernetes = k8s.Provider(
                f"{name}-k8s", kubeconfig=args["kubeconfig"], opts=pulumi.ResourceOptions(parent=self)
            )
            hostname = args["ingress_hostname"]
            self.ingress_hostname = pulumi.Output.from_input(hostname) if hostname else None
        else:
            self._provision(name, provision, args["tags"])
        self.register_outputs({"ingress_hostname": self.ingress_hostname})

    def _provision(self, name: str, args: ProvisionArgs, tags: dict[str, str]) -> None:
        # Imported here: a stack of existing clusters never loads the AWS SDK modules.
        from pulumi_aws.provider import Provider, ProviderDefaultTagsArgs

        from components.cluster import GpuCluster
        from components.monitoring import Monitoring
        from components.network import Network
        from components.serving_platform import ServingPlatform
        from components.storage import ModelStore

        aws = Provider(
            f"{name}-aws",
            region=name,
            default_tags=ProviderDefaultTagsArgs(tags=tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        on_aws = pulumi.ResourceOptions(parent=self, providers={"aws": aws})
        network = Network(
            f"{name}-network",
            {
                "cidr": args["vpc_cidr"],
                "availability_zones": args["availability_zones"],
                "cluster_name": args["cluster_name"],
                "single_nat_gateway": args["single_nat_gateway"],
                "tags": tags,
            },
            on_aws,
        )
        cluster = GpuCluster(
            f"{name}-cluster",
            {
                "cluster_name": args["cluster_name"],
                "kubernetes_version": args["kubernetes_version"],
                "endpoint_public_access": args["endpoint_public_access"],
                "public_access_cidrs": args["public_access_cidrs"],
                "vpc_id": network.vpc_id,
                "private_subnet_ids": network.private_subnet_ids,
                "system_instance_types": args["system_instance_types"],
                "gpu_pools": args["gpu_pools"],
                "provider_name": f"{name}-k8s",
                "region": name,
                "tags": tags,
            },
            pulumi.ResourceOptions.merge(on_aws, pulumi.ResourceOptions(depends_on=network.private_subnets)),
        )
        self.kubernetes = cluster.kubernetes
        store = ModelStore(
            f"{name}-models",
            {
                "bucket_name": args["bucket_name"],
                "environment": args["environment"],
                "oidc_provider_arn": cluster.oidc_provider_arn,
                "oidc_issuer": cluster.oidc_issuer,
                "tags": tags,
            },
            on_aws,
        )
        self.store = store
        self.reader_role_arn = store.reader_role_arn
        on_cluster = pulumi.ResourceOptions(
            parent=self, providers={"aws": aws, "kubernetes": cluster.kubernetes}, depends_on=cluster.ready
        )
        serving = ServingPlatform(
            f"{name}-serving",
            {"environment": args["environment"], "region": name, "hosts": args["hosts"]},
            on_cluster,
        )
        monitoring = Monitoring(f"{name}-monitoring", {"environment": args["environment"], "region": name}, on_cluster)
        self.monitoring = True
        self.ingress_hostname = serving.ingress_hostname
        # Serving and monitoring already wait for the cluster's node pools and add-ons: listing only them keeps
        # each model deployment's dependency check (the SDK walks every dependency's graph) short.
        self.ready = [*serving.ready, *monitoring.ready]
