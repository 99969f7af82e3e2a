"""components: the model store, the serving platform, monitoring and a model's security/monitoring objects,
registered once under Pulumi's mock engine (``run_program``) and asserted on what a preview would show.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi_aws.provider import Provider

from compliance.crds import CrdCatalog
from compliance.plan.capture import run_program
from compliance.plan.model import PlannedResource
from compliance.program import GATEWAY as PROGRAM_GATEWAY
from components import manifests
from components.manifests import ModelDeploymentArgs
from components.model_deployment import ModelDeployment
from components.monitoring import Monitoring
from components.serving_platform import GATEWAY, ServingPlatform
from components.storage import ModelStore, ModelStoreArgs, replicate
from components.versions import CHARTS

ENV = "prod"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/ABC123"
OIDC_ARN = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
ACCOUNT = "123456789012"
READER_SUBJECT = "system:serviceaccount:*-prod:mlgate-model-reader"
RELEASE = "kubernetes:helm.sh/v3:Release"
ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"


def arn(service: str, name: str) -> str:
    """The ARN the mock engine reports for a resource (compliance.plan.capture.mock_state)."""
    return f"arn:aws:{service}::{ACCOUNT}:{name}"


def model_args(model: str, gpu: int) -> ModelDeploymentArgs:
    return ModelDeploymentArgs(
        model=model,
        environment=ENV,
        region="eu-west-1",
        owner="ml@example.com",
        risk_tier="high",
        framework="sklearn",
        protocol="v2",
        cpu="1",
        memory="2Gi",
        gpu=gpu,
        min_replicas=1,
        max_replicas=2,
        scale_metric="cpu",
        scale_target=70,
        versions=[
            {"name": "v2", "storage_uri": f"s3://models/{model}/v2/", "digest": "sha256:" + "a" * 64, "weight": 10},
            {"name": "v1", "storage_uri": f"s3://models/{model}/v1/", "digest": "sha256:" + "b" * 64, "weight": 90},
        ],
        host=f"{model}.{ENV}.models.internal",
        gateway=GATEWAY,
    )


def store_args(bucket: str) -> ModelStoreArgs:
    return ModelStoreArgs(
        bucket_name=bucket, environment=ENV, oidc_provider_arn=OIDC_ARN, oidc_issuer=ISSUER, tags={"team": "ml"}
    )


class Captured:
    def __init__(self, resources: list[PlannedResource], hostname: list[str]) -> None:
        self.resources = resources
        self.hostname = hostname

    def one(self, type_suffix: str, name: str) -> PlannedResource:
        found = [r for r in self.resources if r.type.endswith(type_suffix) and r.name == name]
        assert len(found) == 1, f"{len(found)} resources {type_suffix} {name}"
        return found[0]

    def of_type(self, type_: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_]

    def urn(self, type_suffix: str, name: str) -> str:
        return self.one(type_suffix, name).urn


@pytest.fixture(scope="module")
def captured() -> Iterator[Captured]:
    hostname: list[str] = []

    def program() -> None:
        home_aws = pulumi.ResourceOptions(providers={"aws": Provider("eu-west-1-aws", region="eu-west-1")})
        other_aws = pulumi.ResourceOptions(providers={"aws": Provider("eu-central-1-aws", region="eu-central-1")})
        home = ModelStore("home", store_args("mlgate-prod-models-eu-west-1"), home_aws)
        other = ModelStore("other", store_args("mlgate-prod-models-eu-central-1"), other_aws)
        replicate("replication", home, [other], home_aws)

        on_cluster = pulumi.ResourceOptions(providers={"kubernetes": k8s.Provider("eu-west-1-k8s")})
        platform = ServingPlatform(
            "serving", {"environment": ENV, "region": "eu-west-1", "hosts": ["*.prod.models.internal"]}, on_cluster
        )
        monitoring = Monitoring("monitoring", {"environment": ENV, "region": "eu-west-1"}, on_cluster)
        platform.ingress_hostname.apply(hostname.append)
        placed = pulumi.ResourceOptions.merge(
            on_cluster, pulumi.ResourceOptions(depends_on=[*platform.ready, *monitoring.ready])
        )
        for model, gpu in (("llm", 1), ("scorer", 0)):
            args = model_args(model, gpu)
            args["reader_role_arn"] = home.reader_role_arn
            args["monitoring"] = True
            ModelDeployment(model, args, placed)
        plain = model_args("plain", 0)  # no reader role, no monitoring: the defaults of older callers
        ModelDeployment("plain", plain, on_cluster)

    yield Captured(run_program(program, ENV, {}), hostname)


# ------------------------------------------------------------------------------------------- model store


@pytest.mark.parametrize("store", ["home", "other"])
def test_bucket_is_encrypted_with_its_own_rotating_key(captured: Captured, store: str) -> None:
    key = captured.one("kms/key:Key", f"{store}-key").inputs
    assert key["enableKeyRotation"] is True
    sse = captured.one("BucketServerSideEncryptionConfiguration", f"{store}-sse").inputs
    bucket = captured.one("s3/bucket:Bucket", f"{store}-bucket").inputs["bucket"]
    assert sse["bucket"] == bucket
    assert sse["rules"] == [
        {
            "applyServerSideEncryptionByDefault": {
                "sseAlgorithm": "aws:kms",
                "kmsMasterKeyId": arn("kms", f"{store}-key"),
            },
            "bucketKeyEnabled": True,
        }
    ]
    alias = captured.one("kms/alias:Alias", f"{store}-key-alias").inputs
    assert alias == {"name": f"alias/{bucket}", "targetKeyId": arn("kms", f"{store}-key")}


@pytest.mark.parametrize("store", ["home", "other"])
def test_bucket_is_versioned_private_and_owner_enforced(captured: Captured, store: str) -> None:
    bucket = captured.one("s3/bucket:Bucket", f"{store}-bucket").inputs
    assert bucket["tags"] == {"team": "ml", "mlgate.io/environment": ENV}
    versioning = captured.one("BucketVersioning", f"{store}-versioning").inputs
    assert versioning == {"bucket": bucket["bucket"], "versioningConfiguration": {"status": "Enabled"}}
    block = captured.one("BucketPublicAccessBlock", f"{store}-public-access").inputs
    assert block == {
        "bucket": bucket["bucket"],
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    ownership = captured.one("BucketOwnershipControls", f"{store}-ownership").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_bucket_policy_denies_plain_http(captured: Captured) -> None:
    policy = captured.one("BucketPolicy", "home-policy")
    document = json.loads(policy.inputs["policy"])
    bucket_arn = arn("s3", "home-bucket")
    assert document["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    # Written after the public access block (S3 refuses policy writes while the block changes).
    assert captured.urn("BucketPublicAccessBlock", "home-public-access") in policy.dependencies


def test_reader_role_trusts_only_the_environments_model_reader(captured: Captured) -> None:
    trust = json.loads(captured.one("iam/role:Role", "home-reader").inputs["assumeRolePolicy"])
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Federated": OIDC_ARN},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com"},
                "StringLike": {f"{ISSUER}:sub": READER_SUBJECT},
            },
        }
    ]
    assert READER_SUBJECT.endswith(f":{manifests.MODEL_READER_SERVICE_ACCOUNT}")


def test_reader_role_may_only_read_its_bucket(captured: Captured) -> None:
    document = json.loads(captured.one("iam/rolePolicy:RolePolicy", "home-reader-policy").inputs["policy"])
    bucket_arn = arn("s3", "home-bucket")
    granted = {(s["Effect"], tuple(s["Action"]), s["Resource"]) for s in document["Statement"]}
    assert granted == {
        ("Allow", ("s3:GetObject", "s3:GetObjectVersion"), f"{bucket_arn}/*"),
        ("Allow", ("s3:ListBucket",), bucket_arn),
        ("Allow", ("kms:Decrypt",), arn("kms", "home-key")),
    }


def test_replication_rule_per_replica_with_its_key(captured: Captured) -> None:
    config = captured.one("BucketReplicationConfig", "replication")
    assert config.inputs["bucket"] == "mlgate-prod-models-eu-west-1"
    assert config.inputs["role"] == arn("iam", "replication-role")
    assert config.inputs["rules"] == [
        {
            "id": "to-mlgate-prod-models-eu-central-1",
            "priority": 1,
            "status": "Enabled",
            "filter": {"prefix": ""},
            "deleteMarkerReplication": {"status": "Enabled"},
            "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}},
            "destination": {
                "bucket": arn("s3", "other-bucket"),
                "encryptionConfiguration": {"replicaKmsKeyId": arn("kms", "other-key")},
            },
        }
    ]
    # S3 refuses replication before both ends are versioned.
    for store in ("home", "other"):
        assert captured.urn("BucketVersioning", f"{store}-versioning") in config.dependencies
    assert config.provider is not None and "eu-west-1-aws" in config.provider


def test_replication_role_is_least_privilege(captured: Captured) -> None:
    trust = json.loads(captured.one("iam/role:Role", "replication-role").inputs["assumeRolePolicy"])
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "s3.amazonaws.com"}]
    document = json.loads(captured.one("iam/rolePolicy:RolePolicy", "replication-role-policy").inputs["policy"])
    by_sid = {s["Sid"]: (s["Action"], s["Resource"]) for s in document["Statement"]}
    home, other = arn("s3", "home-bucket"), arn("s3", "other-bucket")
    assert by_sid == {
        "ReadConfiguration": (["s3:GetReplicationConfiguration", "s3:ListBucket"], home),
        "ReadVersions": (
            ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
            f"{home}/*",
        ),
        "Replicate": (["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"], [f"{other}/*"]),
        "DecryptSource": (["kms:Decrypt"], arn("kms", "home-key")),
        "EncryptReplicas": (["kms:Encrypt"], [arn("kms", "other-key")]),
    }
    assert all(s["Effect"] == "Allow" for s in document["Statement"])


def test_replicate_needs_a_replica() -> None:
    with pytest.raises(ValueError, match="at least one replica"):
        replicate("r", object(), [], pulumi.ResourceOptions())  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ Helm charts


RELEASES = {
    "serving-cert-manager": "cert-manager",
    "serving-istio-base": "istio-base",
    "serving-istiod": "istiod",
    "serving-istio-ingress": "istio-ingress",
    "serving-kserve-crd": "kserve-crd",
    "serving-kserve": "kserve",
    "monitoring-kube-prometheus-stack": "kube-prometheus-stack",
    "monitoring-dcgm-exporter": "dcgm-exporter",
}


def test_every_release_is_a_pinned_chart(captured: Captured) -> None:
    releases = captured.of_type(RELEASE)
    assert {r.name for r in releases} == set(RELEASES)
    for release in releases:
        chart = CHARTS[RELEASES[release.name]]
        inputs = release.inputs
        assert (inputs["chart"], inputs["version"], inputs["namespace"]) == (
            chart.chart,
            chart.version,
            chart.namespace,
        ), release.name
        assert inputs.get("repositoryOpts", {}).get("repo") == chart.repo, release.name


def release(captured: Captured, name: str) -> PlannedResource:
    return captured.one(RELEASE, name)


def test_release_order(captured: Captured) -> None:
    def deps(name: str) -> set[str]:
        return {urn.rsplit("::", 1)[1] for urn in release(captured, name).dependencies}

    assert deps("serving-istiod") == {"serving-istio-base"}
    assert deps("serving-istio-ingress") == {"serving-istiod"}
    assert deps("serving-kserve") == {"serving-cert-manager", "serving-istiod", "serving-kserve-crd"}
    assert deps("monitoring-dcgm-exporter") == {"monitoring-kube-prometheus-stack"}


def test_chart_values(captured: Captured) -> None:
    assert release(captured, "serving-cert-manager").inputs["values"] == {"crds": {"enabled": True}}
    kserve = release(captured, "serving-kserve").inputs["values"]["kserve"]["controller"]
    assert kserve["deploymentMode"] == "Standard"
    assert kserve["gateway"]["ingressGateway"]["gateway"] == GATEWAY == PROGRAM_GATEWAY
    gateway_values = release(captured, "serving-istio-ingress").inputs["values"]
    assert gateway_values["service"] == {"type": "ClusterIP"}
    assert gateway_values["labels"]["istio"] == "ingress"


# ---------------------------------------------------------------------------------------- Istio, ingress


def test_gateway_load_balancer(captured: Captured) -> None:
    service = captured.one("core/v1:Service", "serving-ingress-nlb").inputs
    annotations = service["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "nlb"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internet-facing"
    assert service["spec"]["type"] == "LoadBalancer"
    assert {p["port"] for p in service["spec"]["ports"]} == {80, 443, 15021}
    gateway_values = release(captured, "serving-istio-ingress").inputs["values"]
    assert service["spec"]["selector"] == gateway_values["labels"]  # it selects the chart's gateway pods
    assert service["metadata"]["namespace"] == CHARTS["istio-ingress"].namespace
    assert captured.hostname == ["serving-ingress-nlb.elb.mock.invalid"]


def test_gateway_is_https_with_redirect(captured: Captured) -> None:
    gateway = captured.one("Gateway", "serving-gateway").inputs
    assert f"{gateway['metadata']['namespace']}/{gateway['metadata']['name']}" == GATEWAY
    assert gateway["spec"]["selector"] == {"istio": "ingress"}
    https, http = gateway["spec"]["servers"]
    assert https["port"]["protocol"] == "HTTPS"
    assert https["tls"]["credentialName"] == "mlgate-gateway-tls"
    assert https["hosts"] == http["hosts"] == ["*.prod.models.internal"]
    assert http["port"]["protocol"] == "HTTP"
    assert http["tls"] == {"httpsRedirect": True}


def test_mesh_wide_strict_mtls(captured: Captured) -> None:
    peer = captured.one("PeerAuthentication", "serving-mtls")
    assert peer.inputs["metadata"]["namespace"] == CHARTS["istiod"].namespace  # the mesh root namespace
    assert peer.inputs["metadata"]["name"] == "default"
    assert peer.inputs["spec"] == {"mtls": {"mode": "STRICT"}}
    assert release(captured, "serving-istio-base").urn in peer.dependencies


def test_models_wait_for_the_platform(captured: Captured) -> None:
    deployment = captured.one("ModelDeployment", "llm")
    waited = {urn.rsplit("::", 1)[1] for urn in deployment.dependencies}
    assert waited == {
        "serving-istiod",
        "serving-istio-ingress",
        "serving-gateway",
        "serving-kserve",
        "serving-mtls",
        "monitoring-kube-prometheus-stack",
        "monitoring-dcgm-exporter",
    }


# ------------------------------------------------------------------------------------------- per model


def test_authorization_policy_admits_the_gateway_and_the_environment(captured: Captured) -> None:
    policy = captured.one("AuthorizationPolicy", "llm-authz").inputs
    assert policy["metadata"]["namespace"] == "llm-prod"
    assert policy["spec"]["action"] == "ALLOW"
    sources = [source["source"] for rule in policy["spec"]["rules"] for source in rule["from"]]
    assert sources == [{"principals": ["cluster.local/ns/istio-ingress/sa/istio-ingress"]}, {"namespaces": ["*-prod"]}]
    # The principal is the identity the gateway chart gives its pods: <namespace>/<release "name" value>.
    values = release(captured, "serving-istio-ingress").inputs["values"]
    expected = f"cluster.local/ns/{CHARTS['istio-ingress'].namespace}/sa/{values['name']}"
    assert sources[0]["principals"] == [expected]


def test_predictors_run_as_the_reader_service_account(captured: Captured) -> None:
    account = captured.one("core/v1:ServiceAccount", "llm-sa")
    assert account.inputs["metadata"]["name"] == manifests.MODEL_READER_SERVICE_ACCOUNT
    assert account.inputs["metadata"]["namespace"] == "llm-prod"
    assert account.inputs["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": arn("iam", "home-reader")}
    for version in ("v1", "v2"):
        isvc = captured.one("InferenceService", f"llm-{version}")
        assert isvc.inputs["spec"]["predictor"]["serviceAccountName"] == manifests.MODEL_READER_SERVICE_ACCOUNT
        assert account.urn in isvc.dependencies
    plain = captured.one("core/v1:ServiceAccount", "plain-sa").inputs["metadata"]
    assert "annotations" not in plain


def test_pod_monitor_selects_the_predictor_pods(captured: Captured) -> None:
    monitor = captured.one("PodMonitor", "llm-podmonitor").inputs
    selector = monitor["spec"]["selector"]["matchLabels"]
    pod_labels = captured.one("InferenceService", "llm-v2").inputs["spec"]["predictor"]["labels"]
    # KServe adds component=predictor to predictor pods; the rest are the labels the predictor spec carries.
    assert {k: v for k, v in selector.items() if k != "component"}.items() <= pod_labels.items()
    assert selector["component"] == "predictor"
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["path"] == "/stats/prometheus"
    assert {r["targetLabel"] for r in endpoint["relabelings"]} == {"model", "version"}


def test_alerts_gpu_saturation_only_for_gpu_models(captured: Captured) -> None:
    def alerts(model: str) -> dict[str, dict[str, Any]]:
        rule = captured.one("PrometheusRule", f"{model}-alerts").inputs
        return {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}

    llm, scorer = alerts("llm"), alerts("scorer")
    assert set(llm) == {"MlgateModelLatencyP99High", "MlgateModelErrorRateHigh", "MlgateModelGpuSaturated"}
    assert set(scorer) == {"MlgateModelLatencyP99High", "MlgateModelErrorRateHigh"}
    assert "histogram_quantile(0.99," in llm["MlgateModelLatencyP99High"]["expr"]
    assert 'response_code=~"5.."' in llm["MlgateModelErrorRateHigh"]["expr"]
    assert 'DCGM_FI_DEV_GPU_UTIL{namespace="llm-prod"}' in llm["MlgateModelGpuSaturated"]["expr"]
    assert all('namespace="scorer-prod"' in a["expr"] for a in scorer.values())


def test_monitoring_objects_only_when_asked(captured: Captured) -> None:
    names = {r.name for r in captured.resources if r.name.startswith("plain-")}
    assert names == {"plain-ns", "plain-sa", "plain-v1", "plain-v2", "plain-vs", "plain-dr", "plain-authz"}


# ------------------------------------------------------------------------------------------ monitoring


def test_prometheus_selects_every_namespace_monitor_and_rule(captured: Captured) -> None:
    values = release(captured, "monitoring-kube-prometheus-stack").inputs["values"]
    spec = values["prometheus"]["prometheusSpec"]
    for kind in ("podMonitor", "serviceMonitor", "rule"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False, kind
    assert spec["externalLabels"] == {"environment": ENV, "region": "eu-west-1"}
    dashboards = values["grafana"]["sidecar"]["dashboards"]
    assert (dashboards["enabled"], dashboards["label"], dashboards["labelValue"]) == (True, "grafana_dashboard", "1")
    assert values["grafana"]["adminPassword"] == ""  # not the chart's public default


def test_dcgm_exporter_runs_on_gpu_nodes(captured: Captured) -> None:
    values = release(captured, "monitoring-dcgm-exporter").inputs["values"]
    assert values["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert values["nodeSelector"] == {"mlgate.io/node-class": "gpu"}
    assert values["serviceMonitor"]["enabled"] is True


def test_models_dashboard(captured: Captured) -> None:
    config_map = captured.one("core/v1:ConfigMap", "monitoring-dashboard").inputs
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["labels"]["mlgate.io/environment"] == ENV
    assert config_map["metadata"]["namespace"] == CHARTS["kube-prometheus-stack"].namespace
    board = json.loads(config_map["data"]["mlgate-models.json"])
    exprs = {p["title"]: p["targets"][0]["expr"] for p in board["panels"]}
    assert set(exprs) == {"Request rate", "p99 latency", "Error rate (5xx)", "GPU utilisation"}
    for title in ("Request rate", "p99 latency", "Error rate (5xx)"):
        assert "by (model, version" in exprs[title], title
    assert "histogram_quantile(0.99" in exprs["p99 latency"]
    assert "DCGM_FI_DEV_GPU_UTIL" in exprs["GPU utilisation"]


# --------------------------------------------------------------------------------------------- CRDs


def test_custom_resources_validate_against_the_crds(captured: Captured, crds: CrdCatalog) -> None:
    checked = set()
    for resource in captured.resources:
        inputs = resource.inputs
        if not resource.type.startswith("kubernetes:") or "kind" not in inputs:
            continue
        if crds.has(inputs["apiVersion"], inputs["kind"]):
            assert crds.validate(inputs) == [], resource.name
            checked.add(inputs["kind"])
    assert checked == {
        "InferenceService",
        "VirtualService",
        "DestinationRule",
        "AuthorizationPolicy",
        "Gateway",
        "PeerAuthentication",
    }


def test_crd_validation_is_not_vacuous(captured: Captured, crds: CrdCatalog) -> None:
    policy = json.loads(json.dumps(captured.one("AuthorizationPolicy", "llm-authz").inputs))
    policy["spec"]["action"] = "PERMIT"
    assert [v.path for v in crds.validate(policy)] == ["spec.action"]
