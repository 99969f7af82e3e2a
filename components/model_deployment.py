"""``mlgate:serving:ModelDeployment``: one model in one region of one environment.

A namespace, the predictors' ServiceAccount (IRSA reader of the model store), one KServe
InferenceService per deployed version (weight 0 included: rollback targets stay warm), an Istio
VirtualService that splits, A/B-routes and mirrors traffic between the versions' predictor Services,
a DestinationRule that enforces mTLS with outlier detection, and an AuthorizationPolicy admitting only
the ingress gateway and same-environment mesh peers. With ``monitoring``, a PodMonitor and a
PrometheusRule too. Resources per model matter (thousands of models per stack): add with care.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import manifests
from components.manifests import ModelDeploymentArgs

__all__ = ["ModelDeployment", "ModelDeploymentArgs"]


def _register(obj: manifests.KubernetesObject, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    manifest = obj.manifest
    if manifest["kind"] == "Namespace" and manifest["apiVersion"] == "v1":
        return k8s.core.v1.Namespace(obj.name, metadata=manifest["metadata"], opts=opts)
    if manifest["kind"] == "ServiceAccount" and manifest["apiVersion"] == "v1":
        return k8s.core.v1.ServiceAccount(obj.name, metadata=manifest["metadata"], opts=opts)
    return k8s.apiextensions.CustomResource(
        obj.name,
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
        # What it registers is exactly what manifests.objects renders (the deploy-time pre-flight judges that).
        registered: dict[str, pulumi.Resource] = {}
        for obj in manifests.objects(name, args):
            depends_on = [registered[dependency] for dependency in obj.depends_on]
            registered[obj.name] = _register(obj, pulumi.ResourceOptions(parent=self, depends_on=depends_on))

        self.namespace = pulumi.Output.from_input(manifests.namespace_name(args))
        self.inference_services = pulumi.Output.from_input(
            [manifests.isvc_name(args, v["name"]) for v in args["versions"]]
        )
        self.host = pulumi.Output.from_input(args["host"])
        self.register_outputs(
            {"namespace": self.namespace, "inferenceServices": self.inference_services, "host": self.host}
        )
