"""``mlgate:serving:ModelDeployment``: one model in one region of one environment.

A namespace, the predictors' ServiceAccount (IRSA reader of the model store), one KServe
InferenceService per deployed version (weight 0 included: rollback targets stay warm), an Istio
VirtualService that splits, A/B-routes and mirrors traffic between the versions' predictor Services,
a DestinationRule that enforces mTLS with outlier detection, and an AuthorizationPolicy admitting only
the ingress gateway and same-environment mesh peers. With ``monitoring``, a PodMonitor and a
PrometheusRule too. Resources per model matter (thousands of models per stack): add with care.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import manifests
from components.manifests import ModelDeploymentArgs

__all__ = ["ModelDeployment", "ModelDeploymentArgs"]


def _custom(name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        name,
        api_version=str(manifest["apiVersion"]),
        kind=str(manifest["kind"]),
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        opts=opts,
    )


class ModelDeployment(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    inference_services: pulumi.Output[list[str]]
    host: pulumi.Output[str]

    def __init__(self, name: str, args: ModelDeploymentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlgate:serving:ModelDeployment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns_manifest = manifests.namespace(args)
        ns = k8s.core.v1.Namespace(f"{name}-ns", metadata=ns_manifest["metadata"], opts=child)
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        sa_manifest = manifests.service_account(args)
        account = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=sa_manifest["metadata"], opts=in_ns)
        # Pods of an InferenceService cannot start before their service account exists.
        with_account = pulumi.ResourceOptions(parent=self, depends_on=[ns, account])
        services = [
            _custom(f"{name}-{version['name']}", manifests.inference_service(args, version), with_account)
            for version in args["versions"]
        ]
        # Routes point at the predictor Services, so they wait for the InferenceServices.
        routed = pulumi.ResourceOptions(parent=self, depends_on=[ns, *services])
        _custom(f"{name}-vs", manifests.virtual_service(args), routed)
        _custom(f"{name}-dr", manifests.destination_rule(args), in_ns)
        _custom(f"{name}-authz", manifests.authorization_policy(args), in_ns)
        if args.get("monitoring", False):
            _custom(f"{name}-podmonitor", manifests.pod_monitor(args), in_ns)
            _custom(f"{name}-alerts", manifests.prometheus_rule(args), in_ns)

        self.namespace = pulumi.Output.from_input(manifests.namespace_name(args))
        self.inference_services = pulumi.Output.from_input(
            [manifests.isvc_name(args, v["name"]) for v in args["versions"]]
        )
        self.host = pulumi.Output.from_input(args["host"])
        self.register_outputs(
            {"namespace": self.namespace, "inferenceServices": self.inference_services, "host": self.host}
        )
