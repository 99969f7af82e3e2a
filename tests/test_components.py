"""components: the pure manifest renderers, and the real program's captured plans (Pulumi mock engine).

Per feature (canary, A/B, shadow, GPU, batching, payload logging, rollback target, mTLS, model store
identity, authorization, monitoring) both the render function in components/manifests.py and the
resources of the captured example stacks are checked; then invariants that must hold over every
example stack.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliance.crds import CrdCatalog
from compliance.errors import SpecError
from compliance.plan.capture import capture_plan
from compliance.plan.model import SECRET, Plan, PlannedResource
from compliance.program import deployment_args
from compliance.spec.load import Deployment, load_catalog, load_stack_config
from compliance.validate import is_builtin_kind, validate_plan
from components import manifests
from components.manifests import ModelDeploymentArgs

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENTS = ("dev", "staging", "prod")

ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
VS = "kubernetes:networking.istio.io/v1:VirtualService"
DR = "kubernetes:networking.istio.io/v1:DestinationRule"
NS = "kubernetes:core/v1:Namespace"
SA = "kubernetes:core/v1:ServiceAccount"
AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
RULES = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
MODEL_DEPLOYMENT = "mlgate:serving:ModelDeployment"
# What every ModelDeployment registers; MONITORING_TYPES only where the region runs the Monitoring component.
MODEL_TYPES = {NS, SA, ISVC, VS, DR, AUTHZ}
MONITORING_TYPES = {POD_MONITOR, RULES}
GATEWAY_PRINCIPAL = "cluster.local/ns/istio-ingress/sa/istio-ingress"
K8S_PROVIDER = "pulumi:providers:kubernetes"
LOGGER_URL = "http://mlgate-payload-logger.mlgate-system.svc.cluster.local"
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
RISK_TIERS = {
    "credit-scoring": "high",
    "doc-vision": "limited",
    "fraud-detector": "high",
    "product-recs": "minimal",
    "support-llm": "limited",
}


def host(model: str, version: str, env: str = "prod") -> str:
    return f"{model}-{version}-predictor.{model}-{env}.svc.cluster.local"


def dest(model: str, version: str, env: str = "prod") -> dict[str, Any]:
    return {"host": host(model, version, env), "port": {"number": 80}}


@pytest.fixture(scope="module")
def args_for() -> Callable[[str, str, str], ModelDeploymentArgs]:
    """The component arguments the program computes for (model, env, region) from the example catalog."""
    catalog = {loaded.model.name: loaded for loaded in load_catalog(ROOT / "models")}

    def _args(model: str, env: str, region: str) -> ModelDeploymentArgs:
        stack = load_stack_config(ROOT / "stacks" / f"Pulumi.{env}.yaml")
        return deployment_args(Deployment(catalog[model], env), region, stack)

    return _args


ArgsFor = Callable[[str, str, str], ModelDeploymentArgs]
Edit = Callable[[Path, str, str], Path]


def render_isvc(args: ModelDeploymentArgs, version: str) -> dict[str, Any]:
    (chosen,) = [v for v in args["versions"] if v["name"] == version]
    return manifests.inference_service(args, chosen)


def find(plan: Plan, type_: str, name: str) -> PlannedResource:
    found = [r for r in plan if r.type == type_ and r.name == name]
    assert len(found) == 1, f"{len(found)} resources of type {type_} named {name} in the {plan.environment} plan"
    return found[0]


def isvc(plan: Plan, model: str, region: str, version: str) -> dict[str, Any]:
    return find(plan, ISVC, f"{model}-{region}-{version}").inputs


def vs(plan: Plan, model: str, region: str) -> dict[str, Any]:
    return find(plan, VS, f"{model}-{region}-vs").inputs


def weighted(virtual_service: dict[str, Any]) -> dict[str, Any]:
    routes = [h for h in virtual_service["spec"]["http"] if h.get("name") == "weighted"]
    assert len(routes) == 1
    return routes[0]


def weights(virtual_service: dict[str, Any]) -> dict[str, int]:
    return {r["destination"]["host"]: r["weight"] for r in weighted(virtual_service)["route"]}


def predictor(inputs: dict[str, Any]) -> dict[str, Any]:
    return inputs["spec"]["predictor"]


def model_objects(plan: Plan) -> list[PlannedResource]:
    """The Kubernetes objects of model deployments (not the platform's own: gateway, mTLS, dashboards)."""
    return [r for r in plan.kubernetes_objects() if f"{MODEL_DEPLOYMENT}$" in r.urn]


def regions_with(plan: Plan, component: str) -> set[str]:
    """Regions where the plan has a platform component of that type (only provisioned regions do)."""
    return {r.region for r in plan.of_type(f"mlgate:platform:{component}") if r.region}


# ---------------------------------------------------------------------------------------- program → args


def test_deployment_args_of_credit_scoring_prod(args_for: ArgsFor) -> None:
    args = args_for("credit-scoring", "prod", "eu-central-1")
    assert [(v["name"], v["weight"]) for v in args["versions"]] == [("v7", 10), ("v6", 90)]
    assert args["host"] == "credit-scoring.prod.models.example.com"
    assert args["gateway"] == "istio-system/mlgate-gateway"
    assert (args["model"], args["environment"], args["region"], args["risk_tier"]) == (
        "credit-scoring",
        "prod",
        "eu-central-1",
        "high",
    )
    assert args.get("ab_test") is None
    assert args.get("shadow") is None


def test_only_versions_with_traffic_are_deployed(args_for: ArgsFor) -> None:
    # staging names v7 only: v6 (in spec.versions) must not be deployed there.
    assert [v["name"] for v in args_for("credit-scoring", "staging", "eu-west-1")["versions"]] == ["v7"]


def test_names_and_hosts(args_for: ArgsFor) -> None:
    args = args_for("credit-scoring", "prod", "eu-west-1")
    assert manifests.namespace_name(args) == "credit-scoring-prod"
    assert manifests.isvc_name(args, "v7") == "credit-scoring-v7"
    assert manifests.predictor_host(args, "v6") == "credit-scoring-v6-predictor.credit-scoring-prod.svc.cluster.local"


# ------------------------------------------------------------------------------------------------ canary


def test_canary_render(args_for: ArgsFor) -> None:
    vs_ = manifests.virtual_service(args_for("credit-scoring", "prod", "eu-west-1"))
    assert vs_["apiVersion"] == "networking.istio.io/v1"
    assert vs_["spec"]["hosts"] == ["credit-scoring.prod.models.example.com"]
    assert vs_["spec"]["gateways"] == ["istio-system/mlgate-gateway", "mesh"]
    assert len(vs_["spec"]["http"]) == 1
    route = vs_["spec"]["http"][0]
    assert route["name"] == "weighted"
    assert route["route"] == [
        {"destination": dest("credit-scoring", "v7"), "weight": 10},
        {"destination": dest("credit-scoring", "v6"), "weight": 90},
    ]
    assert "mirror" not in route
    assert "match" not in route


@pytest.mark.parametrize("region", ["eu-west-1", "eu-central-1"])
def test_canary_in_prod_plan(prod_plan: Plan, region: str) -> None:
    inputs = vs(prod_plan, "credit-scoring", region)
    assert weights(inputs) == {
        "credit-scoring-v6-predictor.credit-scoring-prod.svc.cluster.local": 90,
        "credit-scoring-v7-predictor.credit-scoring-prod.svc.cluster.local": 10,
    }
    assert [h["name"] for h in inputs["spec"]["http"]] == ["weighted"]
    assert {isvc(prod_plan, "credit-scoring", region, v)["metadata"]["name"] for v in ("v6", "v7")} == {
        "credit-scoring-v6",
        "credit-scoring-v7",
    }


def test_canary_not_in_us(prod_plan: Plan) -> None:
    assert [r for r in prod_plan if r.name.startswith("credit-scoring-us-east-1")] == []


# -------------------------------------------------------------------------------------------------- A/B


AB_ROUTE = {
    "name": "ab-b",
    "match": [{"headers": {"x-mlgate-variant": {"exact": "b"}}}],
    "route": [{"destination": dest("support-llm", "v3"), "weight": 100}],
}


def test_ab_render_puts_header_routes_first(args_for: ArgsFor) -> None:
    http = manifests.virtual_service(args_for("support-llm", "prod", "eu-west-1"))["spec"]["http"]
    assert [h["name"] for h in http] == ["ab-b", "weighted"]
    assert http[0] == AB_ROUTE
    assert http[1]["route"] == [
        {"destination": dest("support-llm", "v3"), "weight": 0},
        {"destination": dest("support-llm", "v2"), "weight": 100},
    ]


def test_ab_render_orders_several_routes_by_header_value(args_for: ArgsFor) -> None:
    args = args_for("support-llm", "prod", "eu-west-1")
    args["ab_test"] = {"header": "x-cohort", "routes": {"z": "v2", "a": "v3"}}
    http = manifests.virtual_service(args)["spec"]["http"]
    pairs = [(h["name"], h["match"][0]["headers"]["x-cohort"]["exact"]) for h in http[:2]]
    assert pairs == [("ab-a", "a"), ("ab-z", "z")]
    assert http[0]["route"][0]["destination"] == dest("support-llm", "v3")
    assert http[1]["route"][0]["destination"] == dest("support-llm", "v2")
    assert http[2]["name"] == "weighted"


@pytest.mark.parametrize("region", ["eu-west-1", "us-east-1"])
def test_ab_in_prod_plan(prod_plan: Plan, region: str) -> None:
    http = vs(prod_plan, "support-llm", region)["spec"]["http"]
    assert http[0] == AB_ROUTE
    assert http[1]["name"] == "weighted"
    assert weights(vs(prod_plan, "support-llm", region)) == {
        host("support-llm", "v2"): 100,
        host("support-llm", "v3"): 0,
    }


# ----------------------------------------------------------------------------------------------- shadow


def test_shadow_render(args_for: ArgsFor) -> None:
    route = weighted(manifests.virtual_service(args_for("fraud-detector", "prod", "us-east-1")))
    assert route["mirror"] == dest("fraud-detector", "v5")
    assert route["mirrorPercentage"] == {"value": 100.0}
    assert route["route"] == [
        {"destination": dest("fraud-detector", "v5"), "weight": 0},
        {"destination": dest("fraud-detector", "v4"), "weight": 100},
    ]


def test_shadow_percent_is_a_float(args_for: ArgsFor) -> None:
    args = args_for("fraud-detector", "prod", "us-east-1")
    args["shadow"] = {"version": "v5", "percent": 12.5}
    assert weighted(manifests.virtual_service(args))["mirrorPercentage"] == {"value": 12.5}


@pytest.mark.parametrize("region", ["eu-west-1", "eu-central-1", "us-east-1"])
def test_shadow_in_prod_plan(prod_plan: Plan, region: str) -> None:
    route = weighted(vs(prod_plan, "fraud-detector", region))
    assert route["mirror"] == dest("fraud-detector", "v5")
    assert route["mirrorPercentage"] == {"value": 100}
    assert weights(vs(prod_plan, "fraud-detector", region)) == {
        host("fraud-detector", "v4"): 100,
        host("fraud-detector", "v5"): 0,
    }
    shadow = isvc(prod_plan, "fraud-detector", region, "v5")
    assert shadow["metadata"]["name"] == "fraud-detector-v5"
    assert predictor(shadow)["model"]["storageUri"] == "s3://mlgate-models/fraud-detector/v5/"


# -------------------------------------------------------------------------------------------------- GPU


def test_gpu_render(args_for: ArgsFor) -> None:
    pred = predictor(render_isvc(args_for("support-llm", "prod", "us-east-1"), "v3"))
    assert pred["model"]["resources"] == {
        "requests": {"cpu": "8", "memory": "48Gi"},
        "limits": {"cpu": "8", "memory": "48Gi", "nvidia.com/gpu": "1"},
    }
    assert pred["tolerations"] == [GPU_TOLERATION]
    assert pred["nodeSelector"] == {"mlgate.io/node-class": "gpu"}


def test_gpu_count_is_a_string_quantity(args_for: ArgsFor) -> None:
    args = args_for("support-llm", "prod", "us-east-1")
    args["gpu"] = 4
    assert predictor(render_isvc(args, "v2"))["model"]["resources"]["limits"]["nvidia.com/gpu"] == "4"


def test_cpu_only_render(args_for: ArgsFor) -> None:
    pred = predictor(render_isvc(args_for("product-recs", "prod", "us-east-1"), "v12"))
    assert pred["model"]["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "500m", "memory": "1Gi"},
    }
    assert "tolerations" not in pred
    assert "nodeSelector" not in pred


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_gpu_only_on_gpu_models_in_plans(plans: dict[str, Plan], env: str) -> None:
    gpu_models = {"support-llm", "doc-vision"}
    services = plans[env].of_type(ISVC)
    assert services
    for resource in services:
        model = resource.inputs["metadata"]["labels"]["mlgate.io/model"]
        pred = predictor(resource.inputs)
        limits = pred["model"]["resources"]["limits"]
        if model in gpu_models:
            assert limits["nvidia.com/gpu"] == "1", resource.name
            assert pred["tolerations"] == [GPU_TOLERATION], resource.name
            assert pred["nodeSelector"] == {"mlgate.io/node-class": "gpu"}, resource.name
        else:
            assert "nvidia.com/gpu" not in limits, resource.name
            assert "tolerations" not in pred, resource.name
            assert "nodeSelector" not in pred, resource.name


# ---------------------------------------------------------------------------------------------- batcher


def test_batcher_render(args_for: ArgsFor) -> None:
    assert predictor(render_isvc(args_for("credit-scoring", "prod", "eu-west-1"), "v7"))["batcher"] == {
        "maxBatchSize": 32,
        "maxLatency": 50,
    }
    assert "batcher" not in predictor(render_isvc(args_for("product-recs", "prod", "eu-west-1"), "v12"))


@pytest.mark.parametrize("region", ["eu-west-1", "eu-central-1", "us-east-1"])
def test_batcher_in_prod_plan(prod_plan: Plan, region: str) -> None:
    for version in ("v4", "v5"):
        assert predictor(isvc(prod_plan, "fraud-detector", region, version))["batcher"] == {
            "maxBatchSize": 64,
            "maxLatency": 20,
        }
    assert "batcher" not in predictor(isvc(prod_plan, "product-recs", region, "v12"))


# --------------------------------------------------------------------------------------- payload logger


def test_payload_logger_render(args_for: ArgsFor) -> None:
    rendered = render_isvc(args_for("credit-scoring", "prod", "eu-west-1"), "v6")
    assert predictor(rendered)["logger"] == {"mode": "all", "url": LOGGER_URL}
    annotations = rendered["metadata"]["annotations"]
    assert annotations["mlgate.io/payload-redact"] == "ssn,name"
    assert annotations["mlgate.io/payload-retention-days"] == "30"


def test_no_payload_logger_render(args_for: ArgsFor) -> None:
    rendered = render_isvc(args_for("product-recs", "prod", "eu-west-1"), "v12")
    assert "logger" not in predictor(rendered)
    assert not any(key.startswith("mlgate.io/payload-") for key in rendered["metadata"]["annotations"])


def test_payload_logger_without_retention(args_for: ArgsFor) -> None:
    args = args_for("credit-scoring", "prod", "eu-west-1")
    args["payload_logging"] = {"mode": "response", "url": "http://logger", "redact": [], "retention_days": None}
    rendered = render_isvc(args, "v7")
    assert predictor(rendered)["logger"] == {"mode": "response", "url": "http://logger"}
    assert rendered["metadata"]["annotations"]["mlgate.io/payload-redact"] == ""
    assert "mlgate.io/payload-retention-days" not in rendered["metadata"]["annotations"]


@pytest.mark.parametrize("region", ["eu-west-1", "us-east-1"])
def test_payload_logger_in_prod_plan(prod_plan: Plan, region: str) -> None:
    for version in ("v2", "v3"):
        inputs = isvc(prod_plan, "support-llm", region, version)
        assert predictor(inputs)["logger"] == {"mode": "request", "url": LOGGER_URL}
        assert inputs["metadata"]["annotations"]["mlgate.io/payload-redact"] == "email,phone,name"
        assert inputs["metadata"]["annotations"]["mlgate.io/payload-retention-days"] == "14"


def test_doc_vision_in_staging_has_no_logger(staging_plan: Plan) -> None:
    inputs = isvc(staging_plan, "doc-vision", "eu-west-1", "v1")
    assert "logger" not in predictor(inputs)
    assert "mlgate.io/payload-redact" not in inputs["metadata"]["annotations"]
    assert "mlgate.io/payload-retention-days" not in inputs["metadata"]["annotations"]
    doc_vision = [r.name for r in staging_plan.of_type(ISVC) if r.name.startswith("doc-vision")]
    assert doc_vision == ["doc-vision-eu-west-1-v1"]


# -------------------------------------------------------------------------------------- rollback target


def test_rollback_target_render(args_for: ArgsFor) -> None:
    args = args_for("product-recs", "prod", "eu-central-1")
    assert [(v["name"], v["weight"]) for v in args["versions"]] == [("v12", 100), ("v11", 0)]
    assert render_isvc(args, "v11")["metadata"]["name"] == "product-recs-v11"
    assert weighted(manifests.virtual_service(args))["route"] == [
        {"destination": dest("product-recs", "v12"), "weight": 100},
        {"destination": dest("product-recs", "v11"), "weight": 0},
    ]


@pytest.mark.parametrize("region", ["eu-west-1", "eu-central-1", "us-east-1"])
def test_rollback_target_in_prod_plan(prod_plan: Plan, region: str) -> None:
    rollback = isvc(prod_plan, "product-recs", region, "v11")
    assert rollback["metadata"]["namespace"] == "product-recs-prod"
    assert predictor(rollback)["model"]["storageUri"] == "s3://mlgate-models/product-recs/v11/"
    assert rollback["metadata"]["annotations"]["mlgate.io/artifact-digest"] == (
        "sha256:d378e75fb57aa2e779cfdf3264e945e3bd1ead71a0995d8751ccf0bce6b21207"
    )
    assert weights(vs(prod_plan, "product-recs", region)) == {
        host("product-recs", "v12"): 100,
        host("product-recs", "v11"): 0,
    }


# ------------------------------------------------------------------------------------ annotations, labels


def test_isvc_render_annotations(args_for: ArgsFor) -> None:
    rendered = render_isvc(args_for("credit-scoring", "prod", "eu-west-1"), "v7")
    assert rendered["apiVersion"] == "serving.kserve.io/v1beta1"
    assert rendered["metadata"]["annotations"] == {
        "serving.kserve.io/deploymentMode": "Standard",
        "serving.kserve.io/autoscalerClass": "keda",
        "mlgate.io/artifact-digest": "sha256:03a8cfebde867a647dc4723b645b1ba905a7fb9fcc23ee939dad8dc97e34658f",
        "mlgate.io/owner": "risk-ml@example.com",
        "mlgate.io/payload-redact": "ssn,name",
        "mlgate.io/payload-retention-days": "30",
    }
    pred = predictor(rendered)
    assert (pred["minReplicas"], pred["maxReplicas"], pred["scaleMetric"], pred["scaleTarget"]) == (
        2,
        8,
        "concurrency",
        8,
    )
    assert pred["model"]["modelFormat"] == {"name": "sklearn"}
    assert pred["model"]["protocolVersion"] == "v2"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_isvc_is_standard_mode_with_its_autoscaler(plans: dict[str, Plan], env: str) -> None:
    for resource in plans[env].of_type(ISVC):
        annotations = resource.inputs["metadata"]["annotations"]
        assert annotations["serving.kserve.io/deploymentMode"] == "Standard", resource.name
        metric = predictor(resource.inputs)["scaleMetric"]
        expected = "hpa" if metric in {"cpu", "memory"} else "keda"
        assert annotations["serving.kserve.io/autoscalerClass"] == expected, resource.name
    assert (
        isvc(plans[env], "product-recs", "eu-west-1", "v12")["metadata"]["annotations"][
            "serving.kserve.io/autoscalerClass"
        ]
        == "hpa"
    )


def test_labels_render(args_for: ArgsFor) -> None:
    args = args_for("fraud-detector", "prod", "us-east-1")
    expected = {
        "app.kubernetes.io/name": "fraud-detector",
        "app.kubernetes.io/part-of": "mlgate",
        "app.kubernetes.io/managed-by": "pulumi",
        "mlgate.io/model": "fraud-detector",
        "mlgate.io/environment": "prod",
        "mlgate.io/region": "us-east-1",
        "mlgate.io/risk-tier": "high",
    }
    with_version = {**expected, "app.kubernetes.io/version": "v5", "mlgate.io/version": "v5"}
    assert manifests.virtual_service(args)["metadata"]["labels"] == expected
    assert manifests.destination_rule(args)["metadata"]["labels"] == expected
    assert manifests.namespace(args)["metadata"]["labels"] == {**expected, "istio-injection": "enabled"}
    rendered = render_isvc(args, "v5")
    assert rendered["metadata"]["labels"] == with_version
    assert predictor(rendered)["labels"] == with_version


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_kubernetes_object_carries_the_environment(plans: dict[str, Plan], env: str) -> None:
    # The platform's own objects (gateway, mTLS, dashboards) too: PLAT-002 checks every object.
    for resource in plans[env].kubernetes_objects():
        assert resource.inputs["metadata"]["labels"]["mlgate.io/environment"] == env, resource.name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_model_object_carries_the_labels(plans: dict[str, Plan], env: str) -> None:
    objects = model_objects(plans[env])
    assert MODEL_TYPES <= {r.type for r in objects} <= MODEL_TYPES | MONITORING_TYPES
    for resource in objects:
        labels = resource.inputs["metadata"]["labels"]
        model = labels["mlgate.io/model"]
        assert resource.name.startswith(f"{model}-{resource.region}-"), resource.name
        assert labels["mlgate.io/environment"] == env, resource.name
        assert labels["mlgate.io/region"] == resource.region, resource.name
        assert labels["mlgate.io/risk-tier"] == RISK_TIERS[model], resource.name
        assert labels["app.kubernetes.io/part-of"] == "mlgate", resource.name
        if resource.type == ISVC:
            version = resource.name.rsplit("-", 1)[1]
            assert labels["mlgate.io/version"] == version, resource.name
            assert predictor(resource.inputs)["labels"] == labels, resource.name
        if resource.type == NS:
            assert labels["istio-injection"] == "enabled"
            assert resource.inputs["metadata"]["name"] == f"{model}-{env}"
        else:
            assert resource.inputs["metadata"]["namespace"] == f"{model}-{env}", resource.name


# ------------------------------------------------------------- model store identity, authorization, monitoring


def test_service_account_render(args_for: ArgsFor) -> None:
    args = args_for("credit-scoring", "prod", "eu-west-1")
    plain = manifests.service_account(args)
    assert plain["metadata"]["name"] == "mlgate-model-reader"
    assert plain["metadata"]["namespace"] == "credit-scoring-prod"
    assert "annotations" not in plain["metadata"]  # no reader role: an existing cluster's own arrangement
    args["reader_role_arn"] = "arn:aws:iam::123456789012:role/reader"
    annotated = manifests.service_account(args)["metadata"]["annotations"]
    assert annotated == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/reader"}
    for version in ("v6", "v7"):
        assert predictor(render_isvc(args, version))["serviceAccountName"] == "mlgate-model-reader"


def test_authorization_policy_render(args_for: ArgsFor, crds: CrdCatalog) -> None:
    policy = manifests.authorization_policy(args_for("fraud-detector", "staging", "eu-west-1"))
    assert policy["apiVersion"] == "security.istio.io/v1"
    assert policy["metadata"]["namespace"] == "fraud-detector-staging"
    assert policy["spec"] == {
        "action": "ALLOW",
        "rules": [
            {"from": [{"source": {"principals": [GATEWAY_PRINCIPAL]}}]},
            {"from": [{"source": {"namespaces": ["*-staging"]}}]},
        ],
    }
    assert crds.validate(policy) == []


def test_pod_monitor_render(args_for: ArgsFor) -> None:
    args = args_for("credit-scoring", "prod", "eu-west-1")
    monitor = manifests.pod_monitor(args)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector == {"mlgate.io/model": "credit-scoring", "component": "predictor"}
    # The model label is on every predictor pod (KServe adds component=predictor itself).
    assert predictor(render_isvc(args, "v7"))["labels"]["mlgate.io/model"] == "credit-scoring"
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http-envoy-prom", "/stats/prometheus")


def test_prometheus_rule_render(args_for: ArgsFor) -> None:
    def alerts(args: ModelDeploymentArgs) -> dict[str, dict[str, Any]]:
        rule = manifests.prometheus_rule(args)
        return {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}

    cpu = alerts(args_for("credit-scoring", "prod", "eu-west-1"))
    gpu = alerts(args_for("support-llm", "prod", "us-east-1"))
    assert set(cpu) == {"MlgateModelLatencyP99High", "MlgateModelErrorRateHigh"}
    assert set(gpu) == set(cpu) | {"MlgateModelGpuSaturated"}
    assert gpu["MlgateModelGpuSaturated"]["expr"] == 'avg(DCGM_FI_DEV_GPU_UTIL{namespace="support-llm-prod"}) > 90'
    latency = cpu["MlgateModelLatencyP99High"]
    assert latency["expr"].startswith("histogram_quantile(0.99, sum by (version, le) (rate(")
    assert 'namespace="credit-scoring-prod"' in latency["expr"]
    assert latency["labels"] == {
        "model": "credit-scoring",
        "environment": "prod",
        "region": "eu-west-1",
        "severity": "critical",  # a high-risk model
    }
    assert (
        alerts(args_for("product-recs", "prod", "eu-west-1"))["MlgateModelErrorRateHigh"]["labels"]["severity"]
        == "warning"
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_predictor_reads_models_as_its_namespaces_reader(plans: dict[str, Plan], env: str) -> None:
    plan = plans[env]
    stores = regions_with(plan, "ModelStore")
    accounts = {(r.region, r.inputs["metadata"]["namespace"]): r for r in plan.of_type(SA)}
    assert len(accounts) == len(plan.of_type(SA)) == len(plan.of_type(MODEL_DEPLOYMENT))
    for resource in plan.of_type(ISVC):
        account = accounts[(resource.region, resource.inputs["metadata"]["namespace"])]
        assert predictor(resource.inputs)["serviceAccountName"] == account.inputs["metadata"]["name"]
        assert account.urn in resource.dependencies, resource.name
    for (region, _), account in accounts.items():
        annotations = account.inputs["metadata"].get("annotations", {})
        # Provisioned regions have a model store whose reader role the account assumes; existing ones do not.
        assert ("eks.amazonaws.com/role-arn" in annotations) == (region in stores), account.name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_model_admits_only_the_gateway_and_its_environment(plans: dict[str, Plan], env: str) -> None:
    plan = plans[env]
    policies = plan.of_type(AUTHZ)
    assert len(policies) == len(plan.of_type(MODEL_DEPLOYMENT))
    for policy in policies:
        assert policy.inputs["spec"]["action"] == "ALLOW", policy.name
        sources = [s["source"] for rule in policy.inputs["spec"]["rules"] for s in rule["from"]]
        assert sources == [{"principals": [GATEWAY_PRINCIPAL]}, {"namespaces": [f"*-{env}"]}], policy.name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_models_are_monitored_exactly_where_monitoring_runs(plans: dict[str, Plan], env: str) -> None:
    """A PodMonitor needs the Prometheus operator's CRDs: only regions with the Monitoring component have them."""
    plan = plans[env]
    monitored = regions_with(plan, "Monitoring")
    expected = {(r.region, r.name) for r in plan.of_type(MODEL_DEPLOYMENT) if r.region in monitored}
    for type_, suffix in ((POD_MONITOR, "-podmonitor"), (RULES, "-alerts")):
        assert {(r.region, r.name.removesuffix(suffix)) for r in plan.of_type(type_)} == expected, type_
    gpu_models = {"support-llm", "doc-vision"}
    for rule in plan.of_type(RULES):
        model = rule.inputs["metadata"]["labels"]["mlgate.io/model"]
        names = {r["alert"] for group in rule.inputs["spec"]["groups"] for r in group["rules"]}
        assert ("MlgateModelGpuSaturated" in names) == (model in gpu_models), rule.name


# ---------------------------------------------------------------------------------------- DestinationRule


def test_destination_rule_render(args_for: ArgsFor) -> None:
    rule = manifests.destination_rule(args_for("credit-scoring", "prod", "eu-west-1"))
    assert rule["spec"]["host"] == "*.credit-scoring-prod.svc.cluster.local"
    assert rule["spec"]["trafficPolicy"]["tls"] == {"mode": "ISTIO_MUTUAL"}
    assert rule["spec"]["trafficPolicy"]["outlierDetection"] == {
        "consecutive5xxErrors": 5,
        "interval": "10s",
        "baseEjectionTime": "30s",
        "maxEjectionPercent": 50,
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_destination_rule_is_mutual_tls(plans: dict[str, Plan], env: str) -> None:
    rules = plans[env].of_type(DR)
    assert len(rules) == len(plans[env].of_type(VS)) > 0
    for rule in rules:
        policy = rule.inputs["spec"]["trafficPolicy"]
        assert policy["tls"] == {"mode": "ISTIO_MUTUAL"}, rule.name
        assert policy["outlierDetection"]["consecutive5xxErrors"] == 5, rule.name
        model = rule.inputs["metadata"]["labels"]["mlgate.io/model"]
        assert rule.inputs["spec"]["host"] == f"*.{model}-{env}.svc.cluster.local"


# ------------------------------------------------------------------------------------------- plan shape


def test_prod_plan_model_resource_counts(prod_plan: Plan) -> None:
    """Per model and region: 6 objects plus one per version (+2 where monitored). Kept small on purpose:
    a stack of 1,000 models in 3 regions registers each of them 3,000 times."""
    counts: dict[str, int] = {}
    for resource in prod_plan:
        counts[resource.type] = counts.get(resource.type, 0) + 1
    model_counts = {t: counts.get(t, 0) for t in (MODEL_DEPLOYMENT, *sorted(MODEL_TYPES | MONITORING_TYPES))}
    monitored = len(
        [r for r in prod_plan.of_type(MODEL_DEPLOYMENT) if r.region in regions_with(prod_plan, "Monitoring")]
    )
    assert monitored == 7  # eu-west-1 (4 models) and us-east-1 (3) are provisioned, eu-central-1 is not
    assert model_counts == {
        MODEL_DEPLOYMENT: 10,
        NS: 10,
        SA: 10,
        ISVC: 20,
        VS: 10,
        DR: 10,
        AUTHZ: 10,
        POD_MONITOR: monitored,
        RULES: monitored,
    }
    assert counts["mlgate:platform:Region"] == counts[K8S_PROVIDER] == 3
    for component in ("ModelStore", "ServingPlatform", "Monitoring"):
        assert counts[f"mlgate:platform:{component}"] == 2, component  # one per provisioned region
    assert (prod_plan.project, prod_plan.environment, prod_plan.source) == ("mlgate", "prod", "mock")


def test_virtual_service_waits_for_its_inference_services(prod_plan: Plan) -> None:
    routed = find(prod_plan, VS, "credit-scoring-eu-west-1-vs")
    expected = {
        find(prod_plan, ISVC, "credit-scoring-eu-west-1-v6").urn,
        find(prod_plan, ISVC, "credit-scoring-eu-west-1-v7").urn,
        find(prod_plan, NS, "credit-scoring-eu-west-1-ns").urn,
    }
    assert set(routed.dependencies) == expected


def test_plan_round_trips_through_json(prod_plan: Plan) -> None:
    again = Plan.from_json(json.loads(prod_plan.dumps()))
    assert again == prod_plan


def test_urns_are_pulumi_urns(prod_plan: Plan) -> None:
    """As the engine builds them (and `pulumi preview --json` shows them): whole parent type chain, no Stack."""
    assert find(prod_plan, "mlgate:platform:Region", "eu-west-1").urn == (
        "urn:pulumi:prod::mlgate::mlgate:platform:Region::eu-west-1"
    )
    assert find(prod_plan, ISVC, "credit-scoring-eu-west-1-v7").urn == (
        "urn:pulumi:prod::mlgate::mlgate:platform:Region$mlgate:serving:ModelDeployment$"
        "kubernetes:serving.kserve.io/v1beta1:InferenceService::credit-scoring-eu-west-1-v7"
    )


def test_namespace_names_fit_a_dns_label(project: Path, edit: Edit) -> None:
    env = "staging-eu-sovereign-frankfurt"
    name = "d" * 40
    (project / "stacks" / f"Pulumi.{env}.yaml").write_text(
        (project / "stacks" / "Pulumi.staging.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    model = project / "models" / "doc-vision.yaml"
    edit(model, "  name: doc-vision", f"  name: {name}")
    edit(model, "    staging: {regions: [eu-west-1]", f"    {env}: {{regions: [eu-west-1]")
    # `<model>-<env>` would be 71 characters: the stack name is refused up front, naming the file.
    with pytest.raises(SpecError) as caught:
        capture_plan(project, env)
    assert str(caught.value).startswith(f"{project / 'stacks' / f'Pulumi.{env}.yaml'}: stack name {env!r} must be")
    # The longest allowed names fit a DNS label.
    assert len(f"{name}-{'e' * 22}") == 63


# ------------------------------------------------------------------------- invariants over every example


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_weighted_route_sums_to_100(plans: dict[str, Plan], env: str) -> None:
    services = plans[env].of_type(VS)
    assert services
    for resource in services:
        assert sum(weights(resource.inputs).values()) == 100, resource.name
        for route in resource.inputs["spec"]["http"]:
            assert sum(r["weight"] for r in route["route"]) == 100, (resource.name, route["name"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_version_with_traffic_has_an_isvc_in_every_region(plans: dict[str, Plan], env: str) -> None:
    stack = load_stack_config(ROOT / "stacks" / f"Pulumi.{env}.yaml")
    expected = {
        (region, f"{d.model.name}-{env}", f"{d.model.name}-{version}")
        for d in load_catalog(ROOT / "models").deployments(stack)
        for region in d.env.regions
        for version in d.env.traffic
    }
    actual = {
        (r.region, r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]) for r in plans[env].of_type(ISVC)
    }
    assert actual == expected
    assert len(plans[env].of_type(ISVC)) == len(expected)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_route_points_at_an_isvc_of_its_region(plans: dict[str, Plan], env: str) -> None:
    plan = plans[env]
    for resource in plan.of_type(VS):
        in_region = {
            f"{r.inputs['metadata']['name']}-predictor.{r.inputs['metadata']['namespace']}.svc.cluster.local"
            for r in plan.of_type(ISVC)
            if r.region == resource.region
        }
        for route in resource.inputs["spec"]["http"]:
            for target in route["route"]:
                assert target["destination"]["host"] in in_region, (resource.name, target)
            if "mirror" in route:
                assert route["mirror"]["host"] in in_region, resource.name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_kubernetes_object_uses_its_own_regions_provider(plans: dict[str, Plan], env: str) -> None:
    plan = plans[env]
    by_urn = {r.urn: r for r in plan}
    providers = plan.of_type(K8S_PROVIDER)
    stack = load_stack_config(ROOT / "stacks" / f"Pulumi.{env}.yaml")
    assert sorted(p.name for p in providers) == sorted(f"{region}-k8s" for region in stack.region_names)
    objects = plan.kubernetes_objects()
    assert objects
    for resource in objects:
        assert resource.region in stack.region_names, resource.name
        assert resource.provider is not None, resource.name
        provider = by_urn[resource.provider.rsplit("::", 1)[0]]
        assert provider.type == K8S_PROVIDER
        assert provider.name == f"{resource.region}-k8s", resource.name
        assert provider.region == resource.region, resource.name


def test_kubeconfig_is_secret_in_every_plan(plans: dict[str, Plan]) -> None:
    # dev: a plain path (~/.kube/config); prod eu-central-1: a {secure: ...} value; provisioned regions: the
    # kubeconfig built from the new EKS cluster (its endpoint and CA), secret as well.
    assert find(plans["dev"], K8S_PROVIDER, "eu-west-1-k8s").inputs == {"kubeconfig": SECRET}
    assert find(plans["prod"], K8S_PROVIDER, "eu-central-1-k8s").inputs == {"kubeconfig": SECRET}
    assert find(plans["prod"], K8S_PROVIDER, "eu-west-1-k8s").inputs == {"kubeconfig": SECRET}
    assert ".kube/config" not in plans["dev"].dumps()
    assert "v1:c3RhbmQtaW46" not in plans["prod"].dumps()


def test_no_secret_value_reaches_the_plan(project: Path, edit: Edit) -> None:
    sentinel = "SENTINEL-4c1e0d1a-do-not-leak"
    edit(
        project / "stacks" / "Pulumi.prod.yaml",
        "secure: v1:c3RhbmQtaW46cmVwbGFjZS13aXRoLXlvdXItb3duLWt1YmVjb25maWc=",
        f"secure: v1:{sentinel}",
    )
    edit(project / "stacks" / "Pulumi.dev.yaml", "kubeconfig: ~/.kube/config", f"kubeconfig: /etc/{sentinel}-plain")
    for env, region in (("prod", "eu-central-1"), ("dev", "eu-west-1")):
        plan = capture_plan(project, env)
        text = plan.dumps()
        assert sentinel not in text, env
        assert f'"kubeconfig": "{SECRET}"' in text, env
        assert find(plan, K8S_PROVIDER, f"{region}-k8s").inputs == {"kubeconfig": SECRET}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_custom_resource_validates_against_the_crds(plans: dict[str, Plan], crds: CrdCatalog, env: str) -> None:
    plan = plans[env]
    report = validate_plan(plan, crds)
    # ../shared/crds holds Istio's and KServe's CRDs only: the Prometheus operator's kinds are reported as
    # not checked, every other custom resource is checked and valid.
    assert [p.render() for p in report.problems] == []
    monitored = len(plan.of_type(POD_MONITOR)) + len(plan.of_type(RULES))
    assert report.unchecked_groups == ({"monitoring.coreos.com": monitored} if monitored else {})
    custom = [r for r in plan.kubernetes_objects() if not is_builtin_kind(r.inputs["apiVersion"])]
    assert report.checked == len(custom) - monitored
    assert {r.inputs["kind"] for r in custom} >= {"InferenceService", "VirtualService", "DestinationRule"}
    assert {r.inputs["kind"] for r in custom if crds.has(r.inputs["apiVersion"], r.inputs["kind"])} >= {
        "AuthorizationPolicy"
    }
    assert report.skipped_builtin == len(plan.kubernetes_objects()) - len(custom)


def test_crd_validation_catches_a_broken_resource(prod_plan: Plan, crds: CrdCatalog) -> None:
    """The validation above is not vacuous: a wrong weight type in a captured VS is reported."""
    data = json.loads(prod_plan.dumps())
    (target,) = [r for r in data["resources"] if r["name"] == "credit-scoring-eu-west-1-vs"]
    target["inputs"]["spec"]["http"][0]["route"][0]["weight"] = "ninety"
    report = validate_plan(Plan.from_json(data), crds)
    assert [(p.resource, p.region, p.path) for p in report.problems if p.path != "apiVersion"] == [
        ("credit-scoring-eu-west-1-vs", "eu-west-1", "spec.http[0].route[0].weight")
    ]


def test_capturing_twice_gives_identical_plans(prod_plan: Plan, dev_plan: Plan) -> None:
    # The session fixture captured dev, staging, prod in this process already: the engine is reset per stack.
    again = capture_plan(ROOT, "prod")
    assert again.dumps() == prod_plan.dumps()
    assert len(again) == len(prod_plan)
    assert capture_plan(ROOT, "dev").dumps() == dev_plan.dumps()


def test_sharded_capture_equals_one_process(prod_plan: Plan, monkeypatch: pytest.MonkeyPatch) -> None:
    # Big catalogs are captured in shards of models, each in a fresh process; the merged plan must be the
    # one-process plan byte for byte (shared resources such as the platform appear in every shard once).
    import compliance.plan.capture as capture

    monkeypatch.setattr(capture, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(capture, "SHARD_PLACEMENTS", 4)  # 10 placements in prod: 3 shards over 2 processes
    messages: list[str] = []
    sharded = capture.capture_plan(ROOT, "prod", workers=2, progress=messages.append)
    assert messages == ["running the program for prod (4 model deployments, 3 shards over 2 processes)"]
    assert sharded.dumps() == prod_plan.dumps()
