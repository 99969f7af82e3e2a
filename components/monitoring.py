"""``mlgate:platform:Monitoring``: Prometheus, Grafana and GPU metrics for a region's cluster.

kube-prometheus-stack picks up every PodMonitor and PrometheusRule of the model namespaces (a model
deployment brings its own), dcgm-exporter reports the GPUs of the GPU node pools, and one Grafana
dashboard shows every model: request rate, p99 latency, error rate per version, GPU utilisation.
"""

from __future__ import annotations

import json
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components.irsa import helm_release
from components.manifests import GPU_NODE_LABEL, GPU_RESOURCE
from components.serving_platform import platform_labels
from components.versions import CHARTS

__all__ = ["DASHBOARD_LABEL", "Monitoring", "MonitoringArgs", "dashboard", "dashboard_config_map"]

DASHBOARD_LABEL = "grafana_dashboard"  # the Grafana sidecar loads ConfigMaps labelled grafana_dashboard=1
_NAMESPACE = CHARTS["kube-prometheus-stack"].namespace


class MonitoringArgs(TypedDict):
    """``retention``: how long Prometheus keeps samples (Prometheus duration, default 15d)."""

    environment: str
    region: NotRequired[str]
    retention: NotRequired[str]


# Istio's request metrics, as scraped from the predictors' sidecars (the PodMonitor adds model and version).
_REQUESTS = 'istio_requests_total{reporter="destination", model=~"$model"}'
_ERRORS = 'istio_requests_total{reporter="destination", model=~"$model", response_code=~"5.."}'
_BUCKETS = 'istio_request_duration_milliseconds_bucket{reporter="destination", model=~"$model"}'


def _panel(panel_id: int, title: str, expr: str, legend: str, unit: str) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": 12 * ((panel_id - 1) % 2), "y": 8 * ((panel_id - 1) // 2)},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": "A", "expr": expr, "legendFormat": legend}],
    }


def dashboard() -> dict[str, Any]:
    """The models dashboard (Grafana JSON model), filtered by a multi-select ``model`` variable."""
    by = "model, version"
    panels = [
        _panel(1, "Request rate", f"sum by ({by}) (rate({_REQUESTS}[5m]))", "{{model}} {{version}}", "reqps"),
        _panel(
            2,
            "p99 latency",
            f"histogram_quantile(0.99, sum by ({by}, le) (rate({_BUCKETS}[5m])))",
            "{{model}} {{version}}",
            "ms",
        ),
        _panel(
            3,
            "Error rate (5xx)",
            f"sum by ({by}) (rate({_ERRORS}[5m])) / sum by ({by}) (rate({_REQUESTS}[5m]))",
            "{{model}} {{version}}",
            "percentunit",
        ),
        # dcgm-exporter labels GPU series with the pod's namespace: <model>-<environment>.
        _panel(
            4,
            "GPU utilisation",
            'avg by (namespace) (DCGM_FI_DEV_GPU_UTIL{namespace=~"($model)-.+"})',
            "{{namespace}}",
            "percent",
        ),
    ]
    variables = [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus"},
        {
            "name": "model",
            "label": "Model",
            "type": "query",
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "query": 'label_values(istio_requests_total{reporter="destination"}, model)',
            "refresh": 2,
            "multi": True,
            "includeAll": True,
            "allValue": ".+",
        },
    ]
    return {
        "uid": "mlgate-models",
        "title": "mlgate models",
        "tags": ["mlgate"],
        "editable": False,
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": variables},
        "panels": panels,
    }


def dashboard_config_map(args: MonitoringArgs) -> dict[str, Any]:
    labels = {**platform_labels(args["environment"], args.get("region"), "monitoring"), DASHBOARD_LABEL: "1"}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "mlgate-models-dashboard", "namespace": _NAMESPACE, "labels": labels},
        "data": {"mlgate-models.json": json.dumps(dashboard(), sort_keys=True)},
    }


def _prometheus_stack_values(args: MonitoringArgs) -> dict[str, Any]:
    external = {"environment": args["environment"]}
    if "region" in args:
        external["region"] = args["region"]
    return {
        "prometheus": {
            "prometheusSpec": {
                # By default the chart only selects monitors and rules of its own release: take them all.
                "podMonitorSelectorNilUsesHelmValues": False,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "probeSelectorNilUsesHelmValues": False,
                "retention": args.get("retention", "15d"),
                "externalLabels": external,
            }
        },
        "grafana": {
            "adminPassword": "",  # never the chart's well-known default: the grafana chart generates one
            "sidecar": {
                "dashboards": {"enabled": True, "label": DASHBOARD_LABEL, "labelValue": "1", "searchNamespace": "ALL"}
            },
        },
    }


_DCGM_VALUES: dict[str, Any] = {
    "tolerations": [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
    "nodeSelector": {GPU_NODE_LABEL: "gpu"},
    # honorLabels keeps the GPU's pod and namespace labels (the workload's), not the exporter's own.
    "serviceMonitor": {"enabled": True, "interval": "15s", "honorLabels": True},
}


class Monitoring(pulumi.ComponentResource):
    """Create it with the region's Kubernetes provider in ``opts``."""

    #: What PodMonitors and PrometheusRules wait for (the Prometheus operator's CRDs), and the GPU exporter.
    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlgate:platform:Monitoring", name, None, opts)
        stack = helm_release(
            f"{name}-kube-prometheus-stack",
            "kube-prometheus-stack",
            values=_prometheus_stack_values(args),
            opts=pulumi.ResourceOptions(parent=self),
        )
        after_stack = pulumi.ResourceOptions(parent=self, depends_on=[stack])  # its namespace and CRDs
        dcgm = helm_release(f"{name}-dcgm-exporter", "dcgm-exporter", values=_DCGM_VALUES, opts=after_stack)
        board = dashboard_config_map(args)
        k8s.core.v1.ConfigMap(f"{name}-dashboard", metadata=board["metadata"], data=board["data"], opts=after_stack)
        self.ready = [stack, dcgm]
        self.register_outputs({})
