"""Tests of compliance.crds against the upstream KServe v0.20.0 and Istio 1.30.3 CRDs in ../shared/crds."""

from __future__ import annotations

import copy
import json
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from compliance import crds
from compliance.crds import CrdCatalog, CrdViolation
from compliance.errors import CrdError

CRDS = Path(__file__).resolve().parents[1].parent / "shared" / "crds"
if not CRDS.is_dir():
    pytest.skip(
        "../shared/crds not found: CRD tests need the shared folder beside the checkout", allow_module_level=True
    )

INFERENCE_GRAPHS = CRDS / "kserve-v0.20.0_serving.kserve.io_inferencegraphs.yaml"


@pytest.fixture(scope="module")
def catalog() -> Iterator[CrdCatalog]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLGATE_NO_CACHE", "1")  # never touch the user's ~/.cache from tests
        yield CrdCatalog.load(CRDS)


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLGATE_NO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "mlgate" / "crds"


def load_yaml(text: str) -> dict[str, Any]:
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    return doc


ISVC = """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: credit-scoring
  namespace: models
  annotations: {serving.kserve.io/deploymentMode: Standard}
spec:
  predictor:
    minReplicas: 2
    maxReplicas: 8
    scaleMetric: concurrency
    scaleTarget: 8
    nodeSelector: {nvidia.com/gpu.present: "true"}
    tolerations:
      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
    batcher: {maxBatchSize: 32, maxLatency: 50}
    logger: {mode: all, url: "http://payload-logger.monitoring.svc.cluster.local"}
    model:
      modelFormat: {name: sklearn}
      protocolVersion: v2
      storageUri: s3://mlgate-models/credit-scoring/v7/
      resources:
        limits: {cpu: "2", memory: 8Gi, nvidia.com/gpu: "1"}
        requests: {cpu: "1", memory: 4Gi}
"""

VS = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: credit-scoring, namespace: models}
spec:
  hosts: [credit-scoring.models.svc.cluster.local]
  gateways: [mesh]
  http:
    - name: ab-test
      match:
        - headers:
            x-mlgate-variant: {exact: b}
      route:
        - destination: {host: credit-scoring-v7-predictor.models.svc.cluster.local, port: {number: 80}}
    - name: default
      route:
        - destination: {host: credit-scoring-v6-predictor.models.svc.cluster.local}
          weight: 90
        - destination: {host: credit-scoring-v7-predictor.models.svc.cluster.local}
          weight: 10
      mirror: {host: credit-scoring-v7-predictor.models.svc.cluster.local}
      mirrorPercentage: {value: 100.0}
      timeout: 30s
"""

DR = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: credit-scoring, namespace: models}
spec:
  host: credit-scoring-v7-predictor.models.svc.cluster.local
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
    outlierDetection:
      consecutive5xxErrors: 5
      interval: 10s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
"""


# --- catalog ----------------------------------------------------------------------------------------------


def test_kinds_lists_every_served_version(catalog: CrdCatalog) -> None:
    kinds = catalog.kinds()
    assert kinds == sorted(kinds)
    for expected in (
        "serving.kserve.io/v1beta1 InferenceService",
        "serving.kserve.io/v1alpha1 ServingRuntime",
        "serving.kserve.io/v1alpha1 ClusterServingRuntime",
        "serving.kserve.io/v1alpha1 InferenceGraph",
        "networking.istio.io/v1 VirtualService",
        "networking.istio.io/v1beta1 VirtualService",
        "networking.istio.io/v1alpha3 VirtualService",
        "networking.istio.io/v1 DestinationRule",
        "security.istio.io/v1 PeerAuthentication",
        "security.istio.io/v1beta1 AuthorizationPolicy",
    ):
        assert expected in kinds
    assert "serving.kserve.io/v1alpha2 InferenceService" not in kinds
    assert len(kinds) == 37  # 4 KServe + 33 served versions of the 15 Istio CRDs


def test_has(catalog: CrdCatalog) -> None:
    assert catalog.has("serving.kserve.io/v1beta1", "InferenceService")
    assert catalog.has("networking.istio.io/v1alpha3", "DestinationRule")
    assert not catalog.has("serving.kserve.io/v1alpha2", "InferenceService")
    assert not catalog.has("serving.kserve.io/v1beta1", "VirtualService")
    assert not catalog.has("apps/v1", "Deployment")


# --- KServe InferenceService ------------------------------------------------------------------------------


def test_valid_inference_service(catalog: CrdCatalog) -> None:
    assert catalog.validate(load_yaml(ISVC)) == []


def test_typo_is_an_unknown_field(catalog: CrdCatalog) -> None:
    isvc = load_yaml(ISVC)
    isvc["spec"]["predictor"]["modle"] = isvc["spec"]["predictor"].pop("model")
    assert catalog.validate(isvc) == [CrdViolation("spec.predictor.modle", "unknown field")]


def test_several_unknown_fields_one_violation_each_sorted(catalog: CrdCatalog) -> None:
    isvc = load_yaml(ISVC)
    isvc["spec"]["predictor"]["model"]["storageURI"] = "s3://x/"
    isvc["spec"]["predictor"]["model"]["runtimee"] = "kserve-sklearnserver"
    isvc["spec"]["predictor"]["tolerations"][0]["efect"] = "NoSchedule"
    isvc["extra"] = True
    assert catalog.validate(isvc) == [
        CrdViolation("extra", "unknown field"),
        CrdViolation("spec.predictor.model.runtimee", "unknown field"),
        CrdViolation("spec.predictor.model.storageURI", "unknown field"),
        CrdViolation("spec.predictor.tolerations[0].efect", "unknown field"),
    ]


def test_wrong_type(catalog: CrdCatalog) -> None:
    isvc = load_yaml(ISVC)
    isvc["spec"]["predictor"]["minReplicas"] = "two"
    assert catalog.validate(isvc) == [
        CrdViolation("spec.predictor.minReplicas", "'two' is not of type 'integer'"),
    ]


def test_enum_and_quantity(catalog: CrdCatalog) -> None:
    isvc = load_yaml(ISVC)
    isvc["spec"]["predictor"]["scaleMetric"] = "gpu"
    isvc["spec"]["predictor"]["model"]["resources"]["limits"]["cpu"] = 0.5  # a YAML float is not a quantity
    isvc["spec"]["predictor"]["model"]["resources"]["limits"]["nvidia.com/gpu"] = "one"
    violations = catalog.validate(isvc)
    assert [v.path for v in violations] == [
        "spec.predictor.model.resources.limits.cpu",
        "spec.predictor.model.resources.limits[nvidia.com/gpu]",
        "spec.predictor.scaleMetric",
    ]
    assert violations[0].message == "0.5 is not of type 'integer' or 'string'"
    assert violations[1].message.startswith("'one' does not match the pattern ^(\\+|-)?")
    assert violations[2].message == "'gpu' is not one of ['cpu', 'memory', 'concurrency', 'rps']"


def test_integer_quantity_and_string_quantities_are_fine(catalog: CrdCatalog) -> None:
    isvc = load_yaml(ISVC)
    isvc["spec"]["predictor"]["model"]["resources"]["limits"] = {"cpu": 2, "memory": "512Mi", "nvidia.com/gpu": 1}
    assert catalog.validate(isvc) == []


def test_non_nullable_null_is_pruned_like_the_apiserver(catalog: CrdCatalog) -> None:
    isvc = load_yaml(ISVC)
    isvc["spec"]["predictor"]["model"]["runtime"] = None
    isvc["spec"]["predictor"]["maxReplicas"] = None
    before = copy.deepcopy(isvc)
    assert catalog.validate(isvc) == []
    assert isvc == before  # the caller's manifest is not changed


def test_null_in_a_list_is_still_an_error(catalog: CrdCatalog) -> None:
    isvc = load_yaml(ISVC)
    isvc["spec"]["predictor"]["tolerations"].append(None)
    assert catalog.validate(isvc) == [
        CrdViolation("spec.predictor.tolerations[1]", "None is not of type 'object'"),
    ]


def test_old_inference_service_version_is_not_served(catalog: CrdCatalog) -> None:
    isvc = load_yaml(ISVC)
    isvc["apiVersion"] = "serving.kserve.io/v1alpha2"
    assert catalog.validate(isvc) == [
        CrdViolation("apiVersion", f"no served CRD version for serving.kserve.io/v1alpha2 InferenceService in {CRDS}"),
    ]


def test_missing_kind(catalog: CrdCatalog) -> None:
    isvc = load_yaml(ISVC)
    del isvc["kind"]
    assert catalog.validate(isvc) == [CrdViolation("kind", "required field missing")]


# --- Istio ------------------------------------------------------------------------------------------------


def test_valid_virtual_service(catalog: CrdCatalog) -> None:
    assert catalog.validate(load_yaml(VS)) == []


@pytest.mark.parametrize("version", ["v1beta1", "v1alpha3"])
def test_older_served_istio_versions_validate_too(catalog: CrdCatalog, version: str) -> None:
    vs = load_yaml(VS)
    vs["apiVersion"] = f"networking.istio.io/{version}"
    assert catalog.validate(vs) == []
    vs["spec"]["htp"] = vs["spec"].pop("http")
    assert catalog.validate(vs) == [CrdViolation("spec.htp", "unknown field")]


def test_virtual_service_weight_not_an_integer(catalog: CrdCatalog) -> None:
    vs = load_yaml(VS)
    vs["spec"]["http"][1]["route"][1]["weight"] = "ninety"
    assert catalog.validate(vs) == [
        CrdViolation("spec.http[1].route[1].weight", "'ninety' is not of type 'integer'"),
    ]


def test_virtual_service_list_indexes_sort_numerically(catalog: CrdCatalog) -> None:
    vs = load_yaml(VS)
    routes = vs["spec"]["http"][1]["route"]
    routes.extend(copy.deepcopy(routes[0]) for _ in range(10))
    routes[2]["weight"] = "a"
    routes[10]["weight"] = "b"
    assert [v.path for v in catalog.validate(vs)] == [
        "spec.http[1].route[2].weight",
        "spec.http[1].route[10].weight",
    ]


def test_virtual_service_missing_required_host(catalog: CrdCatalog) -> None:
    vs = load_yaml(VS)
    del vs["spec"]["http"][0]["route"][0]["destination"]["host"]
    assert catalog.validate(vs) == [
        CrdViolation("spec.http[0].route[0].destination.host", "required field missing"),
    ]


def test_virtual_service_header_match_is_one_of(catalog: CrdCatalog) -> None:
    vs = load_yaml(VS)
    vs["spec"]["http"][0]["match"][0]["headers"]["x-mlgate-variant"] = {"exact": "b", "prefix": "b"}
    assert catalog.validate(vs) == [
        CrdViolation(
            "spec.http[0].match[0].headers.x-mlgate-variant",
            "only one of exact, prefix, regex may be set (found exact, prefix)",
        ),
    ]


def test_nullable_istio_field_accepts_null(catalog: CrdCatalog) -> None:
    dr = load_yaml(DR)
    dr["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] = None  # nullable: true upstream
    assert catalog.validate(dr) == []
    dr["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] = -1
    assert catalog.validate(dr) == [
        CrdViolation("spec.trafficPolicy.outlierDetection.consecutive5xxErrors", "-1 is less than the minimum of 0"),
    ]


def test_valid_destination_rule(catalog: CrdCatalog) -> None:
    assert catalog.validate(load_yaml(DR)) == []


def test_destination_rule_unknown_tls_mode(catalog: CrdCatalog) -> None:
    dr = load_yaml(DR)
    dr["spec"]["trafficPolicy"]["tls"]["mode"] = "STRICT"
    assert catalog.validate(dr) == [
        CrdViolation(
            "spec.trafficPolicy.tls.mode", "'STRICT' is not one of ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']"
        ),
    ]


def test_destination_rule_unknown_field_in_outlier_detection(catalog: CrdCatalog) -> None:
    dr = load_yaml(DR)
    dr["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErorrs"] = 5
    assert catalog.validate(dr) == [
        CrdViolation("spec.trafficPolicy.outlierDetection.consecutive5xxErorrs", "unknown field"),
    ]


def test_status_stays_open(catalog: CrdCatalog) -> None:
    dr = load_yaml(DR)
    dr["status"] = {"anything": {"goes": [1, 2]}}  # x-kubernetes-preserve-unknown-fields upstream
    assert catalog.validate(dr) == []


# --- load() errors ----------------------------------------------------------------------------------------


def test_load_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-crds"
    with pytest.raises(CrdError) as info:
        CrdCatalog.load(missing)
    assert str(missing) in str(info.value)
    assert "\n" not in str(info.value)


def test_load_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a CRD")
    (tmp_path / "service.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n")
    with pytest.raises(CrdError) as info:
        CrdCatalog.load(tmp_path)
    assert str(info.value) == f"{tmp_path}: no CustomResourceDefinition (apiextensions.k8s.io/v1) with a served version"


def test_load_broken_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_NO_CACHE", "1")
    shutil.copy(INFERENCE_GRAPHS, tmp_path)
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec: [unclosed\n")
    with pytest.raises(CrdError) as info:
        CrdCatalog.load(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{broken}:")
    assert "invalid YAML" in message
    assert "\n" not in message


def test_load_broken_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_NO_CACHE", "1")
    broken = tmp_path / "crds.json"
    broken.write_text('{"apiVersion": "apiextensions.k8s.io/v1",\n "kind": }')
    with pytest.raises(CrdError) as info:
        CrdCatalog.load(tmp_path)
    assert str(info.value).startswith(f"{broken}:2: invalid JSON")


def test_load_json_list_as_kubectl_prints_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_NO_CACHE", "1")
    crd = yaml.safe_load(INFERENCE_GRAPHS.read_text())
    (tmp_path / "crds.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [crd]}))
    assert CrdCatalog.load(tmp_path).kinds() == ["serving.kserve.io/v1alpha1 InferenceGraph"]


def test_load_refuses_a_crd_defined_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_NO_CACHE", "1")
    shutil.copy(INFERENCE_GRAPHS, tmp_path / "a.yaml")
    shutil.copy(INFERENCE_GRAPHS, tmp_path / "b.yml")
    with pytest.raises(CrdError) as info:
        CrdCatalog.load(tmp_path)
    assert str(info.value) == (
        f"{tmp_path / 'b.yml'}: serving.kserve.io/v1alpha1 InferenceGraph is already defined in {tmp_path / 'a.yaml'}"
    )


def test_load_refuses_oversized_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_NO_CACHE", "1")
    monkeypatch.setattr(crds, "MAX_CRD_FILE_BYTES", 1024)
    shutil.copy(INFERENCE_GRAPHS, tmp_path)
    with pytest.raises(CrdError) as info:
        CrdCatalog.load(tmp_path)
    assert str(info.value).startswith(f"{tmp_path / INFERENCE_GRAPHS.name}: CRD file is larger than")


def test_load_refuses_yaml_alias_bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_NO_CACHE", "1")
    levels = ["    a0: &a0 {type: string}"]
    levels += [
        f"    a{i}: &a{i} {{type: object, properties: {{x: *a{i - 1}, y: *a{i - 1}, z: *a{i - 1}}}}}"
        for i in range(1, 30)
    ]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: bombs.example.com}\n"
        "spec:\n  group: example.com\n  names: {kind: Bomb, plural: bombs}\n  scope: Namespaced\n  versions:\n"
        "  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n"
        "        type: object\n        properties:\n" + "\n".join("    " + line for line in levels) + "\n"
    )
    with pytest.raises(CrdError) as info:
        CrdCatalog.load(tmp_path)
    assert str(info.value).startswith(f"{bomb}: refusing CRD schema: schemas expand to more than")


# --- cache ------------------------------------------------------------------------------------------------


def test_second_load_uses_the_cache(tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crd_dir = tmp_path / "crds"
    crd_dir.mkdir()
    shutil.copy(INFERENCE_GRAPHS, crd_dir)
    first = CrdCatalog.load(crd_dir)
    entries = list(cache_home.glob("*.json"))
    assert len(entries) == 1

    def no_parsing(path: Path, data: bytes) -> Any:
        raise AssertionError(f"{path} parsed again despite the cache")

    monkeypatch.setattr(crds, "_extract", no_parsing)
    second = CrdCatalog.load(crd_dir)
    assert second.kinds() == first.kinds() == ["serving.kserve.io/v1alpha1 InferenceGraph"]
    graph = {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": {"name": "g"},
        "spec": {"nodes": {"root": {"routerType": "Sequence", "stepz": []}}},
    }
    assert second.validate(graph) == first.validate(graph) == [CrdViolation("spec.nodes.root.stepz", "unknown field")]


def test_changed_file_misses_the_cache(tmp_path: Path, cache_home: Path) -> None:
    crd_dir = tmp_path / "crds"
    crd_dir.mkdir()
    shutil.copy(INFERENCE_GRAPHS, crd_dir)
    CrdCatalog.load(crd_dir)
    with (crd_dir / INFERENCE_GRAPHS.name).open("a") as fh:
        fh.write("\n# edited\n")
    CrdCatalog.load(crd_dir)
    assert len(list(cache_home.glob("*.json"))) == 2


@pytest.mark.parametrize("garbage", [b"", b"{not json", b'{"version": "other", "crds": []}', b'{"version": 1}', b"[]"])
def test_corrupt_cache_is_ignored_and_rebuilt(tmp_path: Path, cache_home: Path, garbage: bytes) -> None:
    crd_dir = tmp_path / "crds"
    crd_dir.mkdir()
    shutil.copy(INFERENCE_GRAPHS, crd_dir)
    CrdCatalog.load(crd_dir)
    [entry] = cache_home.glob("*.json")
    entry.write_bytes(garbage)
    catalog = CrdCatalog.load(crd_dir)
    assert catalog.kinds() == ["serving.kserve.io/v1alpha1 InferenceGraph"]
    assert json.loads(entry.read_bytes())["version"] == crds.PREPARATION_VERSION  # rewritten
    assert not list(cache_home.glob(".tmp-*"))


def test_no_cache_env_disables_the_cache(tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_NO_CACHE", "1")
    crd_dir = tmp_path / "crds"
    crd_dir.mkdir()
    shutil.copy(INFERENCE_GRAPHS, crd_dir)
    CrdCatalog.load(crd_dir)
    assert not cache_home.exists()


def test_unwritable_cache_is_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    monkeypatch.delenv("MLGATE_NO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    crd_dir = tmp_path / "crds"
    crd_dir.mkdir()
    shutil.copy(INFERENCE_GRAPHS, crd_dir)
    assert CrdCatalog.load(crd_dir).has("serving.kserve.io/v1alpha1", "InferenceGraph")


def test_broken_crd_schema_is_a_crd_error_and_refs_are_never_fetched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLGATE_NO_CACHE", "1")
    crd = tmp_path / "thing.yaml"
    crd.write_text(
        textwrap.dedent(
            """\
            apiVersion: apiextensions.k8s.io/v1
            kind: CustomResourceDefinition
            metadata: {name: things.example.com}
            spec:
              group: example.com
              names: {kind: Thing, plural: things}
              scope: Namespaced
              versions:
              - name: v1
                served: true
                storage: true
                schema:
                  openAPIV3Schema:
                    type: object
                    properties:
                      spec:
                        type: object
                        properties:
                          remote: {$ref: "http://127.0.0.1:9/schema.json"}
                          regex: {type: string, pattern: "([unclosed"}
              - name: v0
                served: false
                storage: false
            """
        )
    )
    catalog = CrdCatalog.load(tmp_path)
    assert catalog.kinds() == ["example.com/v1 Thing"]  # the unserved v0 (without a schema) is skipped
    thing = {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}}
    assert catalog.validate({**thing, "spec": {}}) == []
    with pytest.raises(CrdError, match=r"Unresolvable: http://127\.0\.0\.1:9/schema\.json") as info:
        catalog.validate({**thing, "spec": {"remote": 1}})
    assert str(info.value).startswith(f"{crd}: the schema of example.com/v1 Thing cannot be evaluated")
    with pytest.raises(CrdError, match="unterminated character set"):
        catalog.validate({**thing, "spec": {"regex": "x"}})
