"""Every version the platform installs, pinned in one place (upgrades are one reviewed diff).

The platform policy PLAT-017 refuses a Helm release without an exact chart version, so nothing here
may be a range.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ADDONS", "CHARTS", "KUBERNETES_VERSION", "Chart"]

KUBERNETES_VERSION = "1.34"

# EKS managed add-ons, pinned to builds published for KUBERNETES_VERSION.
ADDONS: dict[str, str] = {
    "vpc-cni": "v1.20.4-eksbuild.1",
    "coredns": "v1.12.4-eksbuild.1",
    "kube-proxy": "v1.34.0-eksbuild.2",
    "aws-ebs-csi-driver": "v1.48.0-eksbuild.1",
}


@dataclass(frozen=True)
class Chart:
    """A Helm chart: ``repo`` is a chart repository URL, or None when ``chart`` is an ``oci://`` reference."""

    chart: str
    version: str
    namespace: str
    repo: str | None = None


_ISTIO = "https://istio-release.storage.googleapis.com/charts"
_ISTIO_VERSION = "1.30.3"  # the Istio CRDs in ../shared/crds are this release's
_KSERVE_VERSION = "v0.20.0"  # the KServe CRDs in ../shared/crds are this release's

CHARTS: dict[str, Chart] = {
    "cert-manager": Chart("cert-manager", "v1.19.1", "cert-manager", "https://charts.jetstack.io"),
    "istio-base": Chart("base", _ISTIO_VERSION, "istio-system", _ISTIO),
    "istiod": Chart("istiod", _ISTIO_VERSION, "istio-system", _ISTIO),
    "istio-ingress": Chart("gateway", _ISTIO_VERSION, "istio-ingress", _ISTIO),
    "kserve-crd": Chart("oci://ghcr.io/kserve/charts/kserve-crd", _KSERVE_VERSION, "kserve"),
    "kserve": Chart("oci://ghcr.io/kserve/charts/kserve", _KSERVE_VERSION, "kserve"),
    "nvidia-device-plugin": Chart(
        "nvidia-device-plugin", "0.18.0", "nvidia-device-plugin", "https://nvidia.github.io/k8s-device-plugin"
    ),
    "cluster-autoscaler": Chart(
        "cluster-autoscaler", "9.50.1", "kube-system", "https://kubernetes.github.io/autoscaler"
    ),
    "kube-prometheus-stack": Chart(
        "kube-prometheus-stack", "79.5.0", "monitoring", "https://prometheus-community.github.io/helm-charts"
    ),
    "dcgm-exporter": Chart(
        "dcgm-exporter", "4.6.0", "monitoring", "https://nvidia.github.io/dcgm-exporter/helm-charts"
    ),
}
