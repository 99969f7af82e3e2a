"""compliance.spec: the loader's errors (file, line, field path, message) and the example catalog.

Each error test mutates one example file in a private copy and pins ``str(SpecError)``, which is what
``mlgate`` prints after ``mlgate: error: ``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from compliance.errors import SpecError
from compliance.spec.load import load_catalog, load_model, load_stack_config
from compliance.spec.types import region_in_zone

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
STACKS = ROOT / "stacks"

Edit = Callable[[Path, str, str], Path]


def copy_of(source: Path, directory: Path, name: str | None = None) -> Path:
    target = directory / (name or source.name)
    target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return target


@pytest.fixture
def credit(tmp_path: Path) -> Path:
    return copy_of(MODELS / "credit-scoring.yaml", tmp_path)


@pytest.fixture
def prod_stack(tmp_path: Path) -> Path:
    return copy_of(STACKS / "Pulumi.prod.yaml", tmp_path)


def model_error(path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_model(path)
    return str(info.value)


def stack_error(path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_stack_config(path)
    return str(info.value)


# ---------------------------------------------------------------------------------------------- traffic


def test_weights_must_sum_to_100(credit: Path, edit: Edit) -> None:
    edit(credit, "traffic: {v6: 90, v7: 10}", "traffic: {v6: 80, v7: 10}")
    with pytest.raises(SpecError) as info:
        load_model(credit)
    assert str(info.value) == f"{credit}:37: spec.environments.prod.traffic: weights sum to 90, must be 100"
    assert (info.value.file, info.value.line, info.value.field) == (
        str(credit),
        37,
        "spec.environments.prod.traffic",
    )


def test_traffic_names_an_unknown_version(credit: Path, edit: Edit) -> None:
    edit(credit, "traffic: {v6: 90, v7: 10}", "traffic: {v6: 90, v8: 10}")
    assert model_error(credit) == (
        f"{credit}:37: spec.environments.prod.traffic.v8: version 'v8' is not in spec.versions (v6, v7)"
    )


def test_weight_out_of_range_is_reported_with_the_rest_counted(credit: Path, edit: Edit) -> None:
    edit(credit, "traffic: {v6: 90, v7: 10}", "traffic: {v6: 110, v7: -10}")
    assert model_error(credit) == (
        f"{credit}:37: spec.environments.prod.traffic.v6: weight 110 must be between 0 and 100 (+1 more)"
    )


def test_ab_test_route_to_a_version_without_traffic(tmp_path: Path, edit: Edit) -> None:
    llm = copy_of(MODELS / "support-llm.yaml", tmp_path)
    edit(llm, "traffic: {v2: 100, v3: 0}", "traffic: {v2: 100}")
    assert model_error(llm) == (
        f"{llm}:36: spec.environments.prod.abTest.routes.b: "
        "version 'v3' is not deployed in prod (add it to traffic, weight 0 is fine)"
    )


def test_shadow_version_not_deployed(tmp_path: Path, edit: Edit) -> None:
    fraud = copy_of(MODELS / "fraud-detector.yaml", tmp_path)
    edit(fraud, "traffic: {v4: 100, v5: 0}", "traffic: {v4: 100}")
    assert model_error(fraud) == (
        f"{fraud}:37: spec.environments.prod.shadow.version: "
        "version 'v5' is not deployed in prod (add it to traffic, weight 0 is fine)"
    )


# ------------------------------------------------------------------------------------ fields and types


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    legalBasis: contract", "    legalbasis: contract", "31: spec.data.legalbasis: unknown field"),
        (
            "        fairness: ../evidence/credit-scoring/v6/fairness.json",
            "        fairnes: ../evidence/credit-scoring/v6/fairness.json",
            "25: spec.versions[v6].evidence.fairnes: unknown field",
        ),
        (
            "  batching: {maxBatchSize: 32, maxLatencyMs: 50}",
            "  batching: {maxBatchSize: 32, maxLatencyMs: 50, x: 1}",
            "13: spec.batching.x: unknown field",
        ),
    ],
    ids=["top-level-of-data", "in-a-named-list-item", "in-a-flow-mapping"],
)
def test_unknown_field_is_rejected_with_its_path(credit: Path, edit: Edit, old: str, new: str, expected: str) -> None:
    edit(credit, old, new)
    assert model_error(credit) == f"{credit}:{expected}"


def test_typo_of_a_required_field_is_named_with_a_suggestion(credit: Path, edit: Edit) -> None:
    # The typo is reported before the "missing riskTier" it causes, which is counted in "(+1 more)".
    edit(credit, "  riskTier: high", "  riskTeir: high")
    assert model_error(credit) == (f"{credit}:6: metadata.riskTeir: unknown field (did you mean 'riskTier'?) (+1 more)")


def test_unknown_capitalised_field_keeps_its_name(credit: Path, edit: Edit) -> None:
    edit(credit, "  riskTier: high\n", "  riskTier: high\n  Team: risk\n")
    assert model_error(credit) == f"{credit}:7: metadata.Team: unknown field"


def test_wrong_type_under_a_capitalised_key_keeps_its_name(credit: Path, edit: Edit) -> None:
    edit(credit, "traffic: {v6: 90, v7: 10}", "traffic: {v6: 90, V7: '10'}")
    assert model_error(credit) == (
        f"{credit}:37: spec.environments.prod.traffic.V7: Input should be a valid integer (got '10')"
    )


def test_wrong_type_is_not_coerced(credit: Path, edit: Edit) -> None:
    edit(credit, "minReplicas: 2,", 'minReplicas: "2",')
    assert model_error(credit) == (
        f"{credit}:12: spec.autoscaling.minReplicas: Input should be a valid integer (got '2')"
    )


def test_literal_field_names_the_allowed_values(credit: Path, edit: Edit) -> None:
    edit(credit, "  riskTier: high", "  riskTier: severe")
    assert model_error(credit) == (
        f"{credit}:6: metadata.riskTier: Input should be 'minimal', 'limited' or 'high' (got 'severe')"
    )


def test_name_must_be_a_dns_1035_label(credit: Path, edit: Edit) -> None:
    edit(credit, "  name: credit-scoring", "  name: Credit_Scoring")
    assert model_error(credit) == (
        f"{credit}:4: metadata.name: must be a DNS-1035 label: lowercase letters, digits and '-', "
        "starting with a letter (got 'Credit_Scoring')"
    )


def test_name_longer_than_40_characters(credit: Path, edit: Edit) -> None:
    edit(credit, "  name: credit-scoring", "  name: " + "c" * 41)
    assert model_error(credit) == f"{credit}:4: metadata.name: String should have at most 40 characters"


def test_name_of_exactly_40_characters_loads(credit: Path, edit: Edit) -> None:
    edit(credit, "  name: credit-scoring", "  name: " + "c" * 40)
    assert load_model(credit).model.name == "c" * 40


def test_version_name_longer_than_12_characters(credit: Path, edit: Edit) -> None:
    edit(credit, "    - name: v7\n", "    - name: v7-abcdefghij\n")
    edit(credit, "{v6: 90, v7: 10}", "{v6: 90, v7-abcdefghij: 10}")
    assert model_error(credit) == (
        f"{credit}:15: spec.versions[v7-abcdefghij].name: String should have at most 12 characters"
    )


def test_digest_must_be_lowercase_sha256(credit: Path, edit: Edit) -> None:
    digest = "sha256:03a8cfebde867a647dc4723b645b1ba905a7fb9fcc23ee939dad8dc97e34658f"
    edit(credit, digest, digest.upper().replace("SHA256", "sha256"))
    assert model_error(credit) == (
        f"{credit}:17: spec.versions[v7].digest: must be 'sha256:' followed by 64 lowercase hex digits "
        f"(got {digest.upper().replace('SHA256', 'sha256')!r})"
    )


def test_digest_of_wrong_length(credit: Path, edit: Edit) -> None:
    edit(credit, "sha256:3f264f861f269ec563385b2e486ac00f316c5bb04e0e5e884fbdf71ecac18962", "sha256:3f26")
    assert model_error(credit) == (
        f"{credit}:23: spec.versions[v6].digest: must be 'sha256:' followed by 64 lowercase hex digits "
        "(got 'sha256:3f26')"
    )


def test_storage_uri_scheme_ftp_is_rejected(credit: Path, edit: Edit) -> None:
    edit(
        credit,
        "storageUri: s3://mlgate-models/credit-scoring/v6/",
        "storageUri: ftp://mlgate-models/credit-scoring/v6/",
    )
    assert model_error(credit) == (
        f"{credit}:22: spec.versions[v6].storageUri: 'ftp://mlgate-models/credit-scoring/v6/' must start with one "
        "of s3://, gs://, pvc://, oci://, hf://"
    )


def test_cpu_must_be_a_kubernetes_quantity(credit: Path, edit: Edit) -> None:
    edit(credit, 'cpu: "2"', 'cpu: "2 cores"')
    assert model_error(credit) == (
        f'{credit}:11: spec.resources.cpu: \'2 cores\' is not a Kubernetes quantity (like "2", "500m", "8Gi")'
    )


def test_numeric_cpu_becomes_a_quantity_string(credit: Path, edit: Edit) -> None:
    edit(credit, 'cpu: "2"', "cpu: 2")
    assert load_model(credit).model.spec.resources.cpu == "2"


def test_region_must_be_an_aws_region(credit: Path, edit: Edit) -> None:
    edit(credit, "regions: [eu-west-1, eu-central-1]", "regions: [eu-west-1, europe-1]")
    assert model_error(credit) == (
        f"{credit}:36: spec.environments.prod.regions[1]: 'europe-1' is not an AWS region name (like eu-west-1)"
    )


def test_residency_zone_must_be_known(credit: Path, edit: Edit) -> None:
    edit(credit, "residency: [eu]", "residency: [mars]")
    assert model_error(credit) == (
        f"{credit}:29: spec.data.residency[0]: 'mars' is neither a region group (eu, us, apac, ca, sa, me, af) "
        "nor an AWS region name"
    )


def test_categories_none_with_personal(credit: Path, edit: Edit) -> None:
    edit(credit, "categories: [personal, financial]", "categories: [none, personal]")
    assert model_error(credit) == f"{credit}:28: spec.data.categories: 'none' cannot be combined with other categories"


def test_min_replicas_above_max(credit: Path, edit: Edit) -> None:
    edit(credit, "minReplicas: 2, maxReplicas: 8", "minReplicas: 9, maxReplicas: 8")
    assert model_error(credit) == f"{credit}:12: spec.autoscaling.minReplicas: 9 is above maxReplicas 8"


def test_version_listed_twice(credit: Path, edit: Edit) -> None:
    edit(credit, "    - name: v6\n", "    - name: v7\n")
    edit(credit, "traffic: {v6: 90, v7: 10}", "traffic: {v7: 100}")
    assert model_error(credit) == f"{credit}:21: spec.versions[v7].name: version 'v7' is listed twice"


# ------------------------------------------------------------------------------------------ documents


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("apiVersion: mlgate.io/v1", "apiVersion: mlgate.io/v2", "(got 'mlgate.io/v2', 'ModelDeployment')"),
        ("kind: ModelDeployment", "kind: Deployment", "(got 'mlgate.io/v1', 'Deployment')"),
    ],
    ids=["apiVersion", "kind"],
)
def test_wrong_api_version_or_kind(credit: Path, edit: Edit, old: str, new: str, expected: str) -> None:
    edit(credit, old, new)
    assert model_error(credit) == f"{credit}:2: expected apiVersion mlgate.io/v1 and kind ModelDeployment {expected}"


@pytest.mark.parametrize(
    "text", ["", "# only a comment\n", "- a\n- b\n", "just a string\n"], ids=["empty", "comment", "list", "scalar"]
)
def test_document_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(text, encoding="utf-8")
    assert model_error(path) == f"{path}:1: expected a ModelDeployment mapping (apiVersion, kind, metadata, spec)"


def test_duplicate_yaml_key(credit: Path, edit: Edit) -> None:
    edit(credit, "  riskTier: high\n", "  riskTier: high\n  riskTier: minimal\n")
    assert model_error(credit) == f"{credit}:7: invalid YAML: duplicate key 'riskTier'"


def test_invalid_yaml_syntax_names_the_line(credit: Path, edit: Edit) -> None:
    edit(credit, "  riskTier: high", "  riskTier: [high")
    with pytest.raises(SpecError) as info:
        load_model(credit)
    assert (info.value.file, info.value.line) == (str(credit), 7)
    assert str(info.value).startswith(f"{credit}:7: invalid YAML: ")


def test_two_documents_in_one_file(credit: Path) -> None:
    credit.write_text(credit.read_text(encoding="utf-8") + "---\na: 1\n", encoding="utf-8")
    assert model_error(credit) == f"{credit}: holds 2 YAML documents, expected one"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    assert model_error(path) == f"{path}: not UTF-8 text (byte 9)"


def test_50_mb_file_is_refused_by_size(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:  # sparse: no 50 MB written
        handle.truncate(50 * 1024 * 1024)
    started = time.perf_counter()
    assert model_error(path) == f"{path}: file is 50.0 MiB, larger than the 4 MiB limit"
    assert time.perf_counter() - started < 1


BILLION_LAUGHS = "lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * 9)}]\n" for i in range(1, 10)
)


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    assert path.stat().st_size < 1024
    started = time.perf_counter()
    message = model_error(path)
    assert time.perf_counter() - started < 2
    assert message == f"{path}:1: document expands to more than 200,000 nodes (an alias bomb?)"


def test_deep_nesting_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 20_000 + "]" * 20_000 + "\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_model(path)
    assert info.value.file == str(path)
    assert "invalid YAML" in info.value.message or "nests too deeply" in info.value.message


# -------------------------------------------------------------------------------------------- catalog


def test_example_catalog_loads() -> None:
    catalog = load_catalog(MODELS)
    assert [loaded.model.name for loaded in catalog] == [
        "credit-scoring",
        "doc-vision",
        "fraud-detector",
        "product-recs",
        "support-llm",
    ]
    credit = catalog.models[0]
    assert credit.file == MODELS / "credit-scoring.yaml"
    assert [v.name for v in credit.model.spec.versions] == ["v7", "v6"]
    assert credit.model.spec.environments["prod"].traffic == {"v6": 90, "v7": 10}
    assert credit.line_of(("spec", "environments", "prod", "traffic")) == 37


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ("dev", {"credit-scoring", "product-recs"}),
        ("staging", {"credit-scoring", "doc-vision", "fraud-detector", "product-recs", "support-llm"}),
        ("prod", {"credit-scoring", "fraud-detector", "product-recs", "support-llm"}),
    ],
)
def test_deployments_per_environment(env: str, expected: set[str]) -> None:
    stack = load_stack_config(STACKS / f"Pulumi.{env}.yaml")
    deployments = load_catalog(MODELS).deployments(stack)
    assert {d.model.name for d in deployments} == expected
    assert len(deployments) == len(expected)
    assert {d.environment for d in deployments} == {env}


def test_model_region_not_in_the_stack(project: Path, edit: Edit) -> None:
    credit = edit(
        project / "models" / "credit-scoring.yaml",
        "dev: {regions: [eu-west-1], traffic: {v7: 100}}",
        "dev: {regions: [eu-west-1, us-east-1], traffic: {v7: 100}}",
    )
    stack = load_stack_config(project / "stacks" / "Pulumi.dev.yaml")
    catalog = load_catalog(project / "models")
    with pytest.raises(SpecError) as info:
        catalog.deployments(stack)
    assert str(info.value) == (
        f"{credit}:33: spec.environments.dev.regions[1]: region 'us-east-1' is not a region of stack dev (eu-west-1)"
    )


def test_duplicate_model_names_across_files(project: Path) -> None:
    first = project / "models" / "credit-scoring.yaml"
    second = copy_of(first, project / "models", "zz-credit-copy.yaml")
    with pytest.raises(SpecError) as info:
        load_catalog(project / "models")
    assert str(info.value) == f"{second}:4: metadata.name: model 'credit-scoring' is already defined in {first}"


def test_catalog_directory_missing(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_catalog(tmp_path / "nope")
    assert str(info.value) == f"{tmp_path / 'nope'}: catalog directory not found"


# ------------------------------------------------------------------------------------------ stack config


def test_example_stacks_load() -> None:
    prod = load_stack_config(STACKS / "Pulumi.prod.yaml")
    assert prod.environment == "prod"
    assert prod.awsRegion == "eu-west-1"
    assert prod.region_names == ["eu-west-1", "eu-central-1", "us-east-1"]
    assert [r.cluster for r in prod.regions] == ["provision", "existing", "provision"]
    assert [p.name for p in prod.region("eu-west-1").gpuNodePools] == ["a10g", "l40s"]
    assert prod.policy.mode == "enforce"
    assert load_stack_config(STACKS / "Pulumi.dev.yaml").region_names == ["eu-west-1"]
    assert load_stack_config(STACKS / "Pulumi.staging.yaml").region_names == ["eu-west-1", "us-east-1"]


def test_stack_region_listed_twice(prod_stack: Path, edit: Edit) -> None:
    edit(prod_stack, "    - name: us-east-1", "    - name: eu-west-1")
    assert stack_error(prod_stack) == (
        f"{prod_stack}:21: mlgate:regions[eu-west-1].name: region 'eu-west-1' is listed twice"
    )


def test_existing_cluster_without_kubeconfig(prod_stack: Path, edit: Edit) -> None:
    secret = "v1:c3RhbmQtaW46cmVwbGFjZS13aXRoLXlvdXItb3duLWt1YmVjb25maWc="
    edit(prod_stack, f"      kubeconfig:\n        secure: {secret}\n", "")
    assert stack_error(prod_stack) == (
        f"{prod_stack}:15: mlgate:regions[eu-central-1].kubeconfig: "
        "cluster: existing needs a kubeconfig (pulumi config set --secret)"
    )


def test_gpu_pool_min_size_above_max_size(prod_stack: Path, edit: Edit) -> None:
    edit(prod_stack, "[g6e.xlarge], minSize: 0, maxSize: 4}", "[g6e.xlarge], minSize: 5, maxSize: 4}")
    assert stack_error(prod_stack) == (
        f"{prod_stack}:14: mlgate:regions[eu-west-1].gpuNodePools[l40s].minSize: 5 is above maxSize 4"
    )


def test_instance_type_without_a_size(prod_stack: Path, edit: Edit) -> None:
    edit(prod_stack, "instanceTypes: [g6e.xlarge]", "instanceTypes: [g5]")
    with pytest.raises(SpecError) as info:
        load_stack_config(prod_stack)
    assert (info.value.line, info.value.field) == (14, "mlgate:regions[eu-west-1].gpuNodePools[l40s].instanceTypes[0]")
    assert str(info.value).startswith(
        f"{prod_stack}:14: mlgate:regions[eu-west-1].gpuNodePools[l40s].instanceTypes[0]: "
    )
    assert str(info.value).endswith("(got 'g5')")


def test_gpu_pool_of_a_cpu_instance_type(prod_stack: Path, edit: Edit) -> None:
    edit(prod_stack, "instanceTypes: [g6e.xlarge]", "instanceTypes: [m6i.xlarge]")
    error = stack_error(prod_stack)
    assert error.startswith(
        f"{prod_stack}:14: mlgate:regions[eu-west-1].gpuNodePools[l40s].instanceTypes[0]: "
        "'m6i.xlarge' is not an NVIDIA GPU instance type (families: g4dn, g5, "
    )


def test_gpu_pools_of_an_existing_cluster(prod_stack: Path, edit: Edit) -> None:
    edit(
        prod_stack,
        "      cluster: existing\n",
        "      cluster: existing\n      gpuNodePools: [{name: x, instanceTypes: [g5.xlarge], minSize: 0, maxSize: 1}]"
        "\n",
    )
    assert stack_error(prod_stack) == (
        f"{prod_stack}:17: mlgate:regions[eu-central-1].gpuNodePools: "
        "applies only to cluster: provision (mlgate does not manage it)"
    )


def test_ingress_hostname_of_a_provisioned_cluster(prod_stack: Path, edit: Edit) -> None:
    edit(prod_stack, "    - name: us-east-1\n", "    - name: us-east-1\n      ingressHostname: lb.example.com\n")
    assert stack_error(prod_stack) == (
        f"{prod_stack}:22: mlgate:regions[us-east-1].ingressHostname: "
        "applies only to cluster: existing (a provisioned one is known)"
    )


def test_availability_zone_of_another_region(prod_stack: Path, edit: Edit) -> None:
    edit(
        prod_stack,
        "    - name: us-east-1\n",
        "    - name: us-east-1\n      availabilityZones: [us-east-1a, us-west-2b]\n",
    )
    assert stack_error(prod_stack) == (
        f"{prod_stack}:22: mlgate:regions[us-east-1].availabilityZones[1]: 'us-west-2b' is not a zone of us-east-1"
    )


def test_platform_vpc_cidr_malformed(prod_stack: Path, edit: Edit) -> None:
    edit(prod_stack, "    - name: us-east-1\n", "    - name: us-east-1\n      vpcCidr: 10.0.0.0\n")
    assert stack_error(prod_stack).startswith(f"{prod_stack}:22: mlgate:regions[us-east-1].vpcCidr: ")


def test_platform_unknown_key(prod_stack: Path, edit: Edit) -> None:
    edit(prod_stack, "    singleNatGateway: false\n", "    singleNatGateways: false\n")
    assert stack_error(prod_stack).startswith(f"{prod_stack}:28: mlgate:platform.singleNatGateways: unknown field")


def test_unknown_mlgate_key(prod_stack: Path, edit: Edit) -> None:
    edit(prod_stack, "  mlgate:catalog: models\n", "  mlgate:catalog: models\n  mlgate:regoins: []\n")
    assert stack_error(prod_stack) == f"{prod_stack}:7: mlgate:regoins: unknown field"


def test_unknown_cluster_mode(prod_stack: Path, edit: Edit) -> None:
    edit(prod_stack, "    - name: us-east-1\n      cluster: provision", "    - name: us-east-1\n      cluster: create")
    assert stack_error(prod_stack) == (
        f"{prod_stack}:22: mlgate:regions[us-east-1].cluster: Input should be 'provision' or 'existing' (got 'create')"
    )


def test_missing_aws_region(prod_stack: Path, edit: Edit) -> None:
    edit(prod_stack, "  aws:region: eu-west-1\n", "")
    assert stack_error(prod_stack) == f"{prod_stack}: config: required key aws:region is missing"


def test_aws_region_malformed(prod_stack: Path, edit: Edit) -> None:
    edit(prod_stack, "  aws:region: eu-west-1\n", "  aws:region: europe\n")
    assert stack_error(prod_stack) == f"{prod_stack}:5: aws:region: 'europe' is not an AWS region name (like eu-west-1)"


def test_opa_engine_needs_a_url(prod_stack: Path, edit: Edit) -> None:
    edit(prod_stack, "    engine: embedded", "    engine: opa")
    assert stack_error(prod_stack) == f"{prod_stack}:29: mlgate:policy.opaUrl: engine: opa needs opaUrl"


@pytest.mark.parametrize(
    "name", ["prod.yaml", "Pulumi.yaml", "Pulumi.prod.json", "pulumi.prod.yaml", "Pulumi.a.b.yaml"]
)
def test_stack_file_must_be_named_pulumi_env_yaml(tmp_path: Path, name: str) -> None:
    path = copy_of(STACKS / "Pulumi.prod.yaml", tmp_path, name)
    assert stack_error(path) == f"{path}: stack config files are named Pulumi.<env>.yaml"


def test_stack_file_without_config_section(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text("encryptionsalt: abc\n", encoding="utf-8")
    assert stack_error(path) == f"{path}:1: expected a mapping with a `config:` section"


# ------------------------------------------------------------------------------------------ residency


@pytest.mark.parametrize(
    ("region", "zones", "inside"),
    [
        ("eu-west-1", ["eu"], True),
        ("eu-central-1", ["us", "eu"], True),
        ("us-east-1", ["eu"], False),
        ("ap-southeast-2", ["apac"], True),
        ("il-central-1", ["me"], True),
        ("me-south-1", ["me"], True),
        ("eu-west-1", ["eu-west-1"], True),
        ("eu-west-1", ["eu-west-2"], False),
        ("eu-west-10", ["eu-west-1"], False),
        ("us-east-1", ["useless"], False),
        ("eu-west-1", [], False),
    ],
)
def test_region_in_zone(region: str, zones: list[str], inside: bool) -> None:
    assert region_in_zone(region, zones) is inside


# ------------------------------------------------------------------------------------------ YAML features


def test_yaml_tags_that_construct_objects_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("a: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    assert model_error(path) == (
        f"{path}:1: invalid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'"
    )


STAGING = "    staging: {regions: [eu-west-1], traffic: {v7: 100}}"
ANCHORED_STAGING = "    staging: &staging {regions: [eu-west-1], traffic: {v7: 100}}"


def test_yaml_merge_key_without_override_loads(credit: Path, edit: Edit) -> None:
    edit(credit, STAGING, ANCHORED_STAGING)
    prod = "    prod:\n      regions: [eu-west-1, eu-central-1]\n      traffic: {v6: 90, v7: 10}"
    edit(credit, prod, "    prod: {<<: *staging}")
    environments = load_model(credit).model.spec.environments
    assert environments["prod"].regions == ["eu-west-1"]
    assert environments["prod"].traffic == {"v7": 100}


def test_yaml_merge_key_with_override_loads(credit: Path, edit: Edit) -> None:
    edit(credit, STAGING, ANCHORED_STAGING)
    edit(credit, "    prod:\n      regions:", "    prod:\n      <<: *staging\n      regions:")
    environments = load_model(credit).model.spec.environments
    assert environments["prod"].regions == ["eu-west-1", "eu-central-1"]
    assert environments["prod"].traffic == {"v6": 90, "v7": 10}
