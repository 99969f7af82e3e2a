"""Pure functions that render a model's Kubernetes manifests (KServe + Istio) from its arguments.

Kept free of Pulumi so the shapes can be unit-tested and validated against the CRDs directly; the
``ModelDeployment`` component only registers what these return.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, NotRequired, TypedDict

if TYPE_CHECKING:  # annotations only: rendering stays free of Pulumi at run time
    import pulumi

__all__ = [
    "DEPLOYMENT_MODE",
    "ERROR_RATE_THRESHOLD",
    "GATEWAY",
    "GATEWAY_NAME",
    "GATEWAY_NAMESPACE",
    "GPU_NODE_LABEL",
    "GPU_RESOURCE",
    "GPU_SATURATION_PERCENT",
    "INGRESS_GATEWAY_PRINCIPAL",
    "INGRESS_NAMESPACE",
    "INGRESS_SERVICE_ACCOUNT",
    "LATENCY_P99_MS",
    "MODEL_READER_SERVICE_ACCOUNT",
    "AbTestArgs",
    "BatchingArgs",
    "KubernetesObject",
    "ModelDeploymentArgs",
    "PayloadLoggingArgs",
    "ShadowArgs",
    "VersionArgs",
    "authorization_policy",
    "destination_rule",
    "inference_service",
    "isvc_name",
    "labels",
    "namespace",
    "namespace_name",
    "objects",
    "pod_monitor",
    "predictor_host",
    "prometheus_rule",
    "service_account",
    "type_token",
    "virtual_service",
]

DEPLOYMENT_MODE = "Standard"  # KServe v0.20 name of raw Deployment mode ("RawDeployment" is deprecated)
GPU_RESOURCE = "nvidia.com/gpu"
GPU_NODE_LABEL = "mlgate.io/node-class"  # set to "gpu" on the GPU node pools of the platform
PREDICTOR_PORT = 80  # KServe's predictor Service port in Standard mode
# The predictors' service account; the model store's reader role trusts it in every `<model>-<environment>` namespace.
MODEL_READER_SERVICE_ACCOUNT = "mlgate-model-reader"
# The Istio Gateway every model VirtualService binds to and KServe is configured with (ServingPlatform creates it).
GATEWAY_NAMESPACE = "istio-system"
GATEWAY_NAME = "mlgate-gateway"
GATEWAY = f"{GATEWAY_NAMESPACE}/{GATEWAY_NAME}"
# The ingress gateway's workload identity (the istio "gateway" chart names its service account after the release).
INGRESS_NAMESPACE = "istio-ingress"
INGRESS_SERVICE_ACCOUNT = "istio-ingress"
INGRESS_GATEWAY_PRINCIPAL = f"cluster.local/ns/{INGRESS_NAMESPACE}/sa/{INGRESS_SERVICE_ACCOUNT}"
# Alert thresholds of every model (PrometheusRule); Istio's request metrics make them runtime-independent.
LATENCY_P99_MS = 1000
ERROR_RATE_THRESHOLD = 0.05  # share of 5xx answers
GPU_SATURATION_PERCENT = 90  # DCGM_FI_DEV_GPU_UTIL averaged over a model's GPUs


class VersionArgs(TypedDict):
    """A deployed version; ``weight`` 0 keeps it running as a rollback target."""

    name: str
    storage_uri: str
    digest: str
    weight: int


class BatchingArgs(TypedDict):
    max_batch_size: int
    max_latency_ms: int


class PayloadLoggingArgs(TypedDict):
    mode: str  # all | request | response
    url: str
    redact: list[str]
    retention_days: int | None


class AbTestArgs(TypedDict):
    header: str
    routes: dict[str, str]  # header value -> version


class ShadowArgs(TypedDict):
    version: str
    percent: float


class ModelDeploymentArgs(TypedDict):
    """Everything one model needs in one region of one environment.

    Plain values rather than ``pulumi.Input``s: the manifests are computed from them (weights,
    routes, names), and all of them come from the catalog, known before any resource exists.
    The one exception, ``reader_role_arn`` (the region's model store reader role), is only copied
    into an annotation. ``monitoring`` adds a PodMonitor and a PrometheusRule: set it only where the
    Prometheus operator's CRDs are installed (the ``Monitoring`` component).
    """

    model: str
    environment: str
    region: str
    owner: str
    risk_tier: str
    framework: str
    protocol: str  # v1 | v2
    cpu: str
    memory: str
    gpu: int
    min_replicas: int
    max_replicas: int
    scale_metric: str
    scale_target: int
    versions: list[VersionArgs]  # newest first
    host: str  # external host name routed by the ingress gateway
    gateway: str  # namespace/name of the Istio ingress Gateway
    batching: NotRequired[BatchingArgs | None]
    payload_logging: NotRequired[PayloadLoggingArgs | None]
    ab_test: NotRequired[AbTestArgs | None]
    shadow: NotRequired[ShadowArgs | None]
    reader_role_arn: NotRequired[pulumi.Input[str] | None]
    monitoring: NotRequired[bool]


def namespace_name(args: ModelDeploymentArgs) -> str:
    return f"{args['model']}-{args['environment']}"


def isvc_name(args: ModelDeploymentArgs, version: str) -> str:
    return f"{args['model']}-{version}"


def predictor_host(args: ModelDeploymentArgs, version: str) -> str:
    return f"{isvc_name(args, version)}-predictor.{namespace_name(args)}.svc.cluster.local"


def labels(args: ModelDeploymentArgs, version: str | None = None) -> dict[str, str]:
    """Labels on every resource: policies and dashboards select on them."""
    result = {
        "app.kubernetes.io/name": args["model"],
        "app.kubernetes.io/part-of": "mlgate",
        "app.kubernetes.io/managed-by": "pulumi",
        "mlgate.io/model": args["model"],
        "mlgate.io/environment": args["environment"],
        "mlgate.io/region": args["region"],
        "mlgate.io/risk-tier": args["risk_tier"],
    }
    if version is not None:
        result["app.kubernetes.io/version"] = version
        result["mlgate.io/version"] = version
    return result


def _metadata(args: ModelDeploymentArgs, name: str, version: str | None = None) -> dict[str, Any]:
    return {"name": name, "namespace": namespace_name(args), "labels": labels(args, version)}


def namespace(args: ModelDeploymentArgs) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace_name(args),
            "labels": {**labels(args), "istio-injection": "enabled"},
            "annotations": {"mlgate.io/owner": args["owner"]},
        },
    }


def inference_service(args: ModelDeploymentArgs, version: VersionArgs) -> dict[str, Any]:
    """One KServe InferenceService (v1beta1, Standard mode) for one model version."""
    gpu = args["gpu"]
    limits: dict[str, str] = {"cpu": args["cpu"], "memory": args["memory"]}
    if gpu:
        limits[GPU_RESOURCE] = str(gpu)
    predictor: dict[str, Any] = {
        "serviceAccountName": MODEL_READER_SERVICE_ACCOUNT,
        "minReplicas": args["min_replicas"],
        "maxReplicas": args["max_replicas"],
        "scaleMetric": args["scale_metric"],
        "scaleTarget": args["scale_target"],
        "labels": labels(args, version["name"]),
        "model": {
            "modelFormat": {"name": args["framework"]},
            "protocolVersion": args["protocol"],
            "storageUri": version["storage_uri"],
            "resources": {"requests": {"cpu": args["cpu"], "memory": args["memory"]}, "limits": limits},
        },
    }
    if gpu:
        predictor["tolerations"] = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
        predictor["nodeSelector"] = {GPU_NODE_LABEL: "gpu"}
    batching = args.get("batching")
    if batching:
        predictor["batcher"] = {"maxBatchSize": batching["max_batch_size"], "maxLatency": batching["max_latency_ms"]}
    annotations = {
        "serving.kserve.io/deploymentMode": DEPLOYMENT_MODE,
        # HPA scales on cpu/memory; request-driven metrics need KEDA in Standard mode.
        "serving.kserve.io/autoscalerClass": "hpa" if args["scale_metric"] in {"cpu", "memory"} else "keda",
        "mlgate.io/artifact-digest": version["digest"],
        "mlgate.io/owner": args["owner"],
    }
    logging = args.get("payload_logging")
    if logging:
        predictor["logger"] = {"mode": logging["mode"], "url": logging["url"]}
        # KServe has no redaction of its own: the payload logger service reads these.
        annotations["mlgate.io/payload-redact"] = ",".join(logging["redact"])
        if logging["retention_days"] is not None:
            annotations["mlgate.io/payload-retention-days"] = str(logging["retention_days"])
    metadata = _metadata(args, isvc_name(args, version["name"]), version["name"])
    metadata["annotations"] = annotations
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": metadata,
        "spec": {"predictor": predictor},
    }


def _destination(args: ModelDeploymentArgs, version: str) -> dict[str, Any]:
    return {"host": predictor_host(args, version), "port": {"number": PREDICTOR_PORT}}


def virtual_service(args: ModelDeploymentArgs) -> dict[str, Any]:
    """Header A/B routes first, then the weighted split (with the shadow mirror) over every version."""
    http: list[dict[str, Any]] = []
    ab_test = args.get("ab_test")
    if ab_test:
        for value, version in sorted(ab_test["routes"].items()):
            http.append(
                {
                    "name": f"ab-{value}"[:60],
                    "match": [{"headers": {ab_test["header"]: {"exact": value}}}],
                    "route": [{"destination": _destination(args, version), "weight": 100}],
                }
            )
    weighted: dict[str, Any] = {
        "name": "weighted",
        "route": [{"destination": _destination(args, v["name"]), "weight": v["weight"]} for v in args["versions"]],
        "timeout": "30s",
        "retries": {"attempts": 2, "perTryTimeout": "10s", "retryOn": "connect-failure,refused-stream,unavailable"},
    }
    shadow = args.get("shadow")
    if shadow:
        weighted["mirror"] = _destination(args, shadow["version"])
        weighted["mirrorPercentage"] = {"value": float(shadow["percent"])}
    http.append(weighted)
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": _metadata(args, args["model"]),
        "spec": {"hosts": [args["host"]], "gateways": [args["gateway"], "mesh"], "http": http},
    }


def destination_rule(args: ModelDeploymentArgs) -> dict[str, Any]:
    """mTLS and outlier detection for every predictor Service of the model (its namespace)."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": _metadata(args, args["model"]),
        "spec": {
            "host": f"*.{namespace_name(args)}.svc.cluster.local",
            "trafficPolicy": {
                "tls": {"mode": "ISTIO_MUTUAL"},
                "outlierDetection": {
                    "consecutive5xxErrors": 5,
                    "interval": "10s",
                    "baseEjectionTime": "30s",
                    "maxEjectionPercent": 50,
                },
                "connectionPool": {"http": {"http2MaxRequests": 1000, "maxRetries": 3}},
            },
        },
    }


def service_account(args: ModelDeploymentArgs) -> dict[str, Any]:
    """The predictors' identity: with IRSA it reads the model store (KServe's storage initializer runs as it)."""
    metadata = _metadata(args, MODEL_READER_SERVICE_ACCOUNT)
    role_arn = args.get("reader_role_arn")
    if role_arn is not None:
        metadata["annotations"] = {"eks.amazonaws.com/role-arn": role_arn}
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata}


def authorization_policy(args: ModelDeploymentArgs) -> dict[str, Any]:
    """ALLOW only the ingress gateway and mTLS peers of the same environment (``*-<environment>`` namespaces).

    Both sources are mTLS identities, so a plaintext caller or a workload of another environment sharing
    the cluster is refused even if it reaches a predictor Service directly.
    """
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": _metadata(args, args["model"]),
        "spec": {
            "action": "ALLOW",
            "rules": [
                {"from": [{"source": {"principals": [INGRESS_GATEWAY_PRINCIPAL]}}]},
                {"from": [{"source": {"namespaces": [f"*-{args['environment']}"]}}]},
            ],
        },
    }


def _predictor_selector(args: ModelDeploymentArgs) -> dict[str, Any]:
    # KServe labels predictor pods component=predictor; the predictor spec copies our labels onto them.
    return {"matchLabels": {"mlgate.io/model": args["model"], "component": "predictor"}}


def pod_monitor(args: ModelDeploymentArgs) -> dict[str, Any]:
    """Scrape the predictors' Envoy sidecars: Istio's request metrics, labelled with model and version."""
    relabel = [
        {"sourceLabels": ["__meta_kubernetes_pod_label_mlgate_io_model"], "targetLabel": "model"},
        {"sourceLabels": ["__meta_kubernetes_pod_label_mlgate_io_version"], "targetLabel": "version"},
    ]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": _metadata(args, args["model"]),
        "spec": {
            "selector": _predictor_selector(args),
            "podMetricsEndpoints": [
                {"port": "http-envoy-prom", "path": "/stats/prometheus", "interval": "30s", "relabelings": relabel}
            ],
        },
    }


def prometheus_rule(args: ModelDeploymentArgs) -> dict[str, Any]:
    """Alerts per version on p99 latency and error rate; on GPU saturation for GPU models."""
    ns = namespace_name(args)
    requests = f'istio_requests_total{{reporter="destination",namespace="{ns}"}}'
    errors = f'istio_requests_total{{reporter="destination",namespace="{ns}",response_code=~"5.."}}'
    buckets = f'istio_request_duration_milliseconds_bucket{{reporter="destination",namespace="{ns}"}}'
    alert_labels = {"model": args["model"], "environment": args["environment"], "region": args["region"]}

    def alert(name: str, expr: str, wait: str, summary: str) -> dict[str, Any]:
        return {
            "alert": name,
            "expr": expr,
            "for": wait,
            "labels": {**alert_labels, "severity": "critical" if args["risk_tier"] == "high" else "warning"},
            "annotations": {"summary": summary},
        }

    rules = [
        alert(
            "MlgateModelLatencyP99High",
            f"histogram_quantile(0.99, sum by (version, le) (rate({buckets}[5m]))) > {LATENCY_P99_MS}",
            "10m",
            f"{args['model']} {{{{ $labels.version }}}}: p99 latency above {LATENCY_P99_MS} ms",
        ),
        alert(
            "MlgateModelErrorRateHigh",
            f"sum by (version) (rate({errors}[5m])) / sum by (version) (rate({requests}[5m])) > {ERROR_RATE_THRESHOLD}",
            "10m",
            f"{args['model']} {{{{ $labels.version }}}}: more than {ERROR_RATE_THRESHOLD:.0%} of requests fail",
        ),
    ]
    if args["gpu"]:
        rules.append(
            alert(
                "MlgateModelGpuSaturated",
                f'avg(DCGM_FI_DEV_GPU_UTIL{{namespace="{ns}"}}) > {GPU_SATURATION_PERCENT}',
                "15m",
                f"{args['model']}: GPUs above {GPU_SATURATION_PERCENT}% utilisation, scale out or add GPUs",
            )
        )
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": _metadata(args, args["model"]),
        "spec": {"groups": [{"name": f"mlgate-{args['model']}", "rules": rules}]},
    }


class KubernetesObject(NamedTuple):
    """One object of a model deployment as the ``ModelDeployment`` component registers it."""

    name: str  # the Pulumi resource name
    manifest: dict[str, Any]
    depends_on: tuple[str, ...] = ()  # names of objects of the same deployment it waits for

    @property
    def type(self) -> str:
        return type_token(self.manifest)


def type_token(manifest: dict[str, Any]) -> str:
    """The Pulumi type of a manifest: ``kubernetes:core/v1:Namespace``, ``kubernetes:networking.istio.io/v1:…``."""
    api_version = str(manifest["apiVersion"])
    return f"kubernetes:{'core/' + api_version if '/' not in api_version else api_version}:{manifest['kind']}"


def objects(name: str, args: ModelDeploymentArgs) -> list[KubernetesObject]:
    """Every object of one model deployment, in registration order: the one rendering of a deployment, used by
    the component (which registers them) and the deploy-time pre-flight (which judges them before that)."""
    ns = KubernetesObject(f"{name}-ns", namespace(args))
    account = KubernetesObject(f"{name}-sa", service_account(args), (ns.name,))
    # Pods of an InferenceService cannot start before their service account exists.
    services = [
        KubernetesObject(f"{name}-{version['name']}", inference_service(args, version), (ns.name, account.name))
        for version in args["versions"]
    ]
    result = [ns, account, *services]
    # Routes point at the predictor Services, so they wait for the InferenceServices.
    result.append(KubernetesObject(f"{name}-vs", virtual_service(args), (ns.name, *(s.name for s in services))))
    result.append(KubernetesObject(f"{name}-dr", destination_rule(args), (ns.name,)))
    result.append(KubernetesObject(f"{name}-authz", authorization_policy(args), (ns.name,)))
    if args.get("monitoring", False):
        result.append(KubernetesObject(f"{name}-podmonitor", pod_monitor(args), (ns.name,)))
        result.append(KubernetesObject(f"{name}-alerts", prometheus_rule(args), (ns.name,)))
    return result
