"""``mlgate:platform:ServingPlatform``: what a region's cluster needs before any model is deployed.

cert-manager (KServe's webhook certificates), Istio (base CRDs, istiod, an ingress gateway), KServe in
Standard mode, the internet-facing NLB in front of the gateway, the ``mlgate-gateway`` Gateway every
model's VirtualService binds to, and mesh-wide STRICT mTLS. Charts come pinned from
``components.versions``; the custom resources are rendered by the pure functions below so tests can
validate them against the CRDs.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components.irsa import helm_release
from components.manifests import (
    DEPLOYMENT_MODE,
    GATEWAY,
    GATEWAY_NAME,
    GATEWAY_NAMESPACE,
    INGRESS_NAMESPACE,
    INGRESS_SERVICE_ACCOUNT,
)

__all__ = [
    "GATEWAY",
    "GATEWAY_NAME",
    "GATEWAY_NAMESPACE",
    "GATEWAY_TLS_SECRET",
    "INGRESS_SELECTOR",
    "ServingPlatform",
    "ServingPlatformArgs",
    "gateway",
    "ingress_service",
    "peer_authentication",
    "platform_labels",
]

# Istio reads a Gateway's credentialName from the gateway workload's namespace (istio-ingress).
GATEWAY_TLS_SECRET = "mlgate-gateway-tls"
# The gateway chart labels its pods app=<name> and istio=<name without "istio-">.
INGRESS_SELECTOR = {"app": INGRESS_SERVICE_ACCOUNT, "istio": "ingress"}
STATUS_PORT = 15021  # Envoy readiness (/healthz/ready): the NLB health check


class ServingPlatformArgs(TypedDict):
    """``hosts``: host patterns the gateway serves (``*.<env>.<domain>``); every host when omitted."""

    environment: str
    region: NotRequired[str]
    hosts: NotRequired[list[str]]


def platform_labels(environment: str, region: str | None, component: str) -> dict[str, str]:
    """Labels of the platform's own objects (the platform policy requires the environment on every object)."""
    result = {
        "app.kubernetes.io/part-of": "mlgate",
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/component": component,
        "mlgate.io/environment": environment,
    }
    if region:
        result["mlgate.io/region"] = region
    return result


def _labels(args: ServingPlatformArgs) -> dict[str, str]:
    return platform_labels(args["environment"], args.get("region"), "serving-platform")


def ingress_service(args: ServingPlatformArgs) -> dict[str, Any]:
    """The gateway's internet-facing NLB (AWS cloud provider annotations), health-checked on Envoy's status port."""
    annotations = {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
        "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
        "service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol": "HTTP",
        "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port": str(STATUS_PORT),
        "service.beta.kubernetes.io/aws-load-balancer-healthcheck-path": "/healthz/ready",
    }
    ports = [
        {"name": "status-port", "port": STATUS_PORT, "targetPort": STATUS_PORT, "protocol": "TCP"},
        {"name": "http2", "port": 80, "targetPort": 80, "protocol": "TCP"},
        {"name": "https", "port": 443, "targetPort": 443, "protocol": "TCP"},
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"{INGRESS_SERVICE_ACCOUNT}-nlb",
            "namespace": INGRESS_NAMESPACE,
            "labels": _labels(args),
            "annotations": annotations,
        },
        "spec": {"type": "LoadBalancer", "selector": dict(INGRESS_SELECTOR), "ports": ports},
    }


def gateway(args: ServingPlatformArgs) -> dict[str, Any]:
    """HTTPS (TLS 1.2+, certificate from ``GATEWAY_TLS_SECRET``); plain HTTP only redirects to HTTPS."""
    hosts = list(args.get("hosts") or ["*"])
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": GATEWAY_NAME, "namespace": GATEWAY_NAMESPACE, "labels": _labels(args)},
        "spec": {
            "selector": {"istio": INGRESS_SELECTOR["istio"]},
            "servers": [
                {
                    "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                    "hosts": hosts,
                    "tls": {"mode": "SIMPLE", "credentialName": GATEWAY_TLS_SECRET, "minProtocolVersion": "TLSV1_2"},
                },
                {
                    "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                    "hosts": hosts,
                    "tls": {"httpsRedirect": True},
                },
            ],
        },
    }


def peer_authentication(args: ServingPlatformArgs) -> dict[str, Any]:
    """Mesh-wide (root namespace) STRICT mTLS: no sidecar accepts plaintext."""
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": GATEWAY_NAMESPACE, "labels": _labels(args)},
        "spec": {"mtls": {"mode": "STRICT"}},
    }


def _hostname(status: k8s.core.v1.outputs.ServiceStatus | None) -> str:
    """The load balancer's DNS name once AWS assigned it ("" until then)."""
    balancer = status.load_balancer if status else None
    ingress = (balancer.ingress if balancer else None) or []
    return (ingress[0].hostname or "") if ingress else ""


def _custom(name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        opts=opts,
    )


class ServingPlatform(pulumi.ComponentResource):
    """Create it with the region's Kubernetes provider in ``opts``."""

    #: The gateway NLB's DNS name, for the global DNS records.
    ingress_hostname: pulumi.Output[str]
    #: What model deployments must wait for: istiod, the ingress gateway, KServe and mesh-wide mTLS.
    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: ServingPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlgate:platform:ServingPlatform", name, None, opts)

        def after(*resources: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=list(resources))

        cert_manager = helm_release(
            f"{name}-cert-manager", "cert-manager", values={"crds": {"enabled": True}}, opts=after()
        )
        base = helm_release(f"{name}-istio-base", "istio-base", opts=after())
        # Model metrics are scraped from the sidecars (PodMonitor); keep Istio's metrics merging explicit.
        istiod = helm_release(
            f"{name}-istiod", "istiod", values={"meshConfig": {"enablePrometheusMerge": True}}, opts=after(base)
        )
        ingress = helm_release(
            f"{name}-istio-ingress",
            "istio-ingress",
            values={
                # The release name is generated: pin the workload name, hence its identity and pod labels.
                "name": INGRESS_SERVICE_ACCOUNT,
                "labels": dict(INGRESS_SELECTOR),
                "service": {"type": "ClusterIP"},  # the NLB is the Pulumi-managed Service below
            },
            opts=after(istiod),  # gateway pods are injected by istiod
        )
        kserve_crd = helm_release(f"{name}-kserve-crd", "kserve-crd", opts=after())
        kserve = helm_release(
            f"{name}-kserve",
            "kserve",
            values={
                "kserve": {
                    "controller": {
                        "deploymentMode": DEPLOYMENT_MODE,
                        "gateway": {
                            "ingressGateway": {"gateway": GATEWAY, "className": "istio"},
                            # mlgate's own VirtualServices route (splits, A/B, mirrors): KServe adds no ingress.
                            "disableIngressCreation": True,
                        },
                    }
                }
            },
            opts=after(cert_manager, istiod, kserve_crd),
        )
        service_manifest = ingress_service(args)
        service = k8s.core.v1.Service(
            f"{name}-ingress-nlb",
            metadata=service_manifest["metadata"],
            spec=service_manifest["spec"],
            opts=after(ingress),
        )
        # istio-base brings the CRDs; istiod serves the validating webhook that admits Istio resources.
        gateway_resource = _custom(f"{name}-gateway", gateway(args), after(base, istiod))
        mtls = _custom(f"{name}-mtls", peer_authentication(args), after(base, istiod))

        self.ingress_hostname = service.status.apply(_hostname)
        self.ready = [istiod, ingress, gateway_resource, kserve, mtls]
        self.register_outputs({"ingressHostname": self.ingress_hostname})
