"""``mlgate:platform:Region``: the root of everything a stack deploys into one AWS region.

It owns the region's Kubernetes provider, so every resource below it is bound to that region's
cluster; the plan reads a resource's region from this ancestor.
"""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_kubernetes as k8s

__all__ = ["REGION_TYPE", "Region", "RegionArgs"]

REGION_TYPE = "mlgate:platform:Region"


class RegionArgs(TypedDict):
    """``kubeconfig``: contents or path of the cluster's kubeconfig; None uses the ambient one."""

    kubeconfig: pulumi.Input[str] | None


class Region(pulumi.ComponentResource):
    """Name it after the AWS region (``eu-west-1``): the name is the region."""

    kubernetes: k8s.Provider

    def __init__(self, name: str, args: RegionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(REGION_TYPE, name, None, opts)
        self.kubernetes = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=args["kubeconfig"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
