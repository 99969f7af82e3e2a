"""The policy pack (issue 7.2): ``policies/pack`` judges the whole stack at ``pulumi preview`` / ``pulumi up``.

Its logic (:mod:`compliance.pack`) is tested here on resources built from the example stacks' captured plans,
shaped as pulumi-policy's ``PolicyResource`` (pulumi-policy itself is not installed in mlgate's environment: it
pins protobuf 5.29). With a venv of ``policies/pack/requirements.txt`` (``MLGATE_PACK_PYTHON=<venv>/bin/python``)
the pack also runs through pulumi-policy's own analyzer; ``MLGATE_NETWORK=1`` checks that the requirements
resolve in a clean venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from compliance import pack
from compliance.gate.check import check
from compliance.plan.model import SECRET, UNKNOWN, Plan

# credit-scoring's v6 and v7 are real models (examples/adult): sex and race exceed the prod limits
PROD_DENIES = ["FAIR-002"] * 4 + ["FAIR-003"] * 2 + ["FAIR-004"] * 4 + ["DATA-003", "LIN-002"]
PACK = Path(__file__).resolve().parents[1] / "policies" / "pack"


@dataclass
class FakeProvider:
    resource_type: str
    props: dict[str, Any]
    urn: str
    name: str


@dataclass
class FakeOptions:
    parent: str | None
    additional_secret_outputs: list[str] = field(default_factory=list)


@dataclass(eq=False)
class FakeResource:
    """What pulumi_policy.PolicyResource carries (same attribute names)."""

    resource_type: str
    props: Any
    urn: str
    name: str
    opts: FakeOptions
    provider: FakeProvider | None
    parent: FakeResource | None = None
    dependencies: list[FakeResource] = field(default_factory=list)


@dataclass
class FakeArgs:
    resources: list[FakeResource]
    config: dict[str, Any] = field(default_factory=dict)

    def get_config(self) -> dict[str, Any]:
        return self.config


def policy_resources(plan: Plan) -> list[FakeResource]:
    """The plan's resources as a StackValidationPolicy receives them, the root Stack included."""
    by_urn = {r.urn: r for r in plan}
    result: dict[str, FakeResource] = {}
    for r in plan:
        provider = None
        if r.provider:
            p = by_urn[r.provider.rsplit("::", 1)[0]]
            provider = FakeProvider(p.type, p.inputs, p.urn, p.name)
        result[r.urn] = FakeResource(r.type, r.inputs, r.urn, r.name, FakeOptions(r.parent), provider)
    for r in plan:
        result[r.urn].parent = result.get(r.parent) if r.parent else None
        result[r.urn].dependencies = [result[d] for d in r.dependencies if d in result]
    stack = f"urn:pulumi:{plan.environment}::mlgate::pulumi:pulumi:Stack::mlgate-{plan.environment}"
    root = FakeResource("pulumi:pulumi:Stack", {}, stack, f"mlgate-{plan.environment}", FakeOptions(None), None)
    return [root, *result.values()]


def reported(plan: Plan, validate: Any, config: dict[str, Any] | None = None) -> list[tuple[str, str | None]]:
    violations: list[tuple[str, str | None]] = []
    validate(FakeArgs(policy_resources(plan), config or {}), lambda msg, urn=None: violations.append((msg, urn)))
    return violations


# -------------------------------------------------------------------------------------------- the mapping


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_resources_map_back_onto_the_captured_plan(plans: dict[str, Plan], environment: str) -> None:
    captured = plans[environment]
    mapped = pack.resources_to_plan(policy_resources(captured))
    assert (mapped.project, mapped.environment, mapped.source) == ("mlgate", environment, "policy-pack")
    assert [r.urn for r in mapped] == [r.urn for r in captured]  # the root Stack left out
    for ours, theirs in zip(mapped, captured, strict=True):
        assert (ours.type, ours.name, ours.custom, ours.parent, ours.region, ours.dependencies) == (
            theirs.type,
            theirs.name,
            theirs.custom,
            theirs.parent,
            theirs.region,
            theirs.dependencies,
        ), ours.urn
        assert ours.inputs == theirs.inputs, ours.urn
        # The pack does not learn provider ids: the reference keeps the provider's URN.
        assert (ours.provider or "").rsplit("::", 1)[0] == (theirs.provider or "").rsplit("::", 1)[0]


class _DictProxy(dict[str, Any]):
    """pulumi_policy.proxy's shape: reading an unknown value raises; ``["__target"]`` is the raw dict."""

    def __getitem__(self, key: str) -> Any:
        if key == "__target":
            return dict(self.items())
        value = dict.__getitem__(self, key)
        if value in pack.UNKNOWN_SENTINELS:
            raise AssertionError(f"read the unknown {key}")
        return value


def test_plain_values() -> None:
    number_unknown = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"
    props = _DictProxy(
        {
            "replicas": 2.0,
            "ratio": 0.5,
            "size": number_unknown,
            "kubeconfig": "apiVersion: v1 ... token: abc",
            "auth": {"Password": "hunter2", "secret_key": "k", "secretName": "tls-cert"},
            "list": [1.0, {"token": "t"}],
        }
    )
    assert pack.plain(props) == {
        "replicas": 2,
        "ratio": 0.5,
        "size": UNKNOWN,
        "kubeconfig": SECRET,
        "auth": {"Password": SECRET, "secret_key": SECRET, "secretName": "tls-cert"},
        "list": [1, {"token": SECRET}],
    }


def test_secrets_by_type_and_options() -> None:
    secret = FakeResource(
        "kubernetes:core/v1:Secret",
        {"apiVersion": "v1", "kind": "Secret", "data": {"ca.crt": "LS0t"}, "metadata": {"name": "x"}},
        "urn:pulumi:prod::mlgate::kubernetes:core/v1:Secret::x",
        "x",
        FakeOptions(None, ["metadata"]),
        FakeProvider("pulumi:providers:kubernetes", {}, "urn:pulumi:prod::mlgate::pulumi:providers:kubernetes::k", "k"),
    )
    (resource,) = pack.resources_to_plan([secret]).resources
    assert resource.inputs == {"apiVersion": "v1", "kind": "Secret", "data": SECRET, "metadata": SECRET}
    assert resource.custom
    assert resource.provider == f"urn:pulumi:prod::mlgate::pulumi:providers:kubernetes::k::{UNKNOWN}"


# ------------------------------------------------------------------------------------------- the verdicts


def test_prod_denies_are_mandatory_violations(prod_plan: Plan) -> None:
    denies = reported(prod_plan, pack.validate_deny)
    assert [message.split()[0] for message, _ in denies] == PROD_DENIES
    assert denies[0][0].startswith("FAIR-002 credit-scoring@prod v6: version v6: demographic-parity difference")
    assert denies[0][0].endswith("[mlgate.fairness]")
    assert all(urn is None for _, urn in denies)  # deployment decisions concern the stack, not one resource


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_pack_reports_what_check_decides(root: Path, plans: dict[str, Plan], environment: str) -> None:
    """Same Rego, same evidence and waivers: one violation per unwaived deny (mandatory) and warn (advisory)."""
    plan = plans[environment]
    result = check(root, environment, plan)
    for level, validate in (("deny", pack.validate_deny), ("warn", pack.validate_warn)):
        ids = [message.split()[0] for message, _ in reported(plan, validate)]
        assert ids == [d.id for d in result.unwaived(level)], level
    staging = ["FAIR-002", "FAIR-002", "FAIR-003", "FAIR-004", "FAIR-004", "DATA-003"]
    expected = {"dev": [], "staging": staging, "prod": PROD_DENIES}[environment]
    assert [m.split()[0] for m, _ in reported(plan, pack.validate_deny)] == expected


def test_platform_decision_points_at_its_resource(staging_plan: Plan) -> None:
    """A platform deny names the resource: the violation carries its URN."""
    resources = policy_resources(staging_plan)
    cluster = next(r for r in resources if r.resource_type == "aws:eks/cluster:Cluster")
    cluster.props = {k: v for k, v in cluster.props.items() if k != "encryptionConfig"}
    violations: list[tuple[str, str | None]] = []
    pack.validate_deny(FakeArgs(resources), lambda msg, urn=None: violations.append((msg, urn)))
    plat = [(m, u) for m, u in violations if m.startswith("PLAT-010 ")]
    assert plat and plat[0][1] == cluster.urn


def test_a_gate_that_cannot_judge_is_a_mandatory_violation(project: Path, prod_plan: Plan) -> None:
    (project / "policies" / "waivers.yaml").write_text("- policy: [unclosed\n", encoding="utf-8")
    config = {"root": str(project)}
    denies = reported(prod_plan, pack.validate_deny, config)
    assert len(denies) == 1
    assert denies[0][0].startswith("GATE-ERROR: the mlgate gate cannot judge this stack: ")
    assert reported(prod_plan, pack.validate_warn, config) == []


# ---------------------------------------------------------------------------- the pack's own environment


# Everything mlgate needs beyond the pack's requirements.txt: the pack must never import it.
NOT_IN_THE_PACK = [
    *("kserve", "pandas", "numpy", "sklearn", "fairlearn", "pulumi_kubernetes", "pulumi_aws", "rich"),
    *("jsonschema", "httpx", "mlflow", "opa_client", "reportlab", "pypdf", "cryptography", "sqlalchemy"),
]


def test_pack_logic_needs_only_the_pack_requirements(tmp_path: Path, prod_plan: Plan) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(prod_plan.dumps(), encoding="utf-8")
    script = textwrap.dedent(
        f"""
        import importlib.abc, json, sys
        from pathlib import Path
        BLOCKED = {NOT_IN_THE_PACK!r}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"the policy pack imported {{name}}")
        sys.meta_path.insert(0, Block())
        sys.path.insert(0, {str(PACK.parents[1])!r})
        from compliance.plan.model import Plan
        from compliance import pack
        plan = Plan.load({str(plan_file)!r})
        class R:
            def __init__(self, r):
                self.urn, self.resource_type, self.name, self.props = r.urn, r.type, r.name, r.inputs
                self.provider = type("P", (), {{"urn": r.provider.rsplit("::", 1)[0]}})() if r.provider else None
                self.opts = type("O", (), {{"parent": r.parent}})()
                self.parent, self.dependencies = None, []
        resources = {{r.urn: R(r) for r in plan}}
        for r in plan:
            resources[r.urn].dependencies = [resources[d] for d in r.dependencies if d in resources]
        resources = list(resources.values())
        result = pack.judge_stack(resources, root=Path({str(PACK.parents[1])!r}))
        print(json.dumps([d.id for d in result.unwaived("deny")]))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == PROD_DENIES


def test_pack_files() -> None:
    import yaml

    project = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    assert project["runtime"]["name"] == "python"
    requirements = [
        line.split(">")[0].split("=")[0].split("<")[0].strip().lower()
        for line in (PACK / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert requirements == ["pulumi-policy", "pulumi", "gordon-to-regorus", "pyyaml", "pydantic"]
    main = (PACK / "__main__.py").read_text(encoding="utf-8")
    assert "from compliance.pack import" in main
    assert "validate=validate_deny" in main and "validate=validate_warn" in main


@pytest.mark.skipif(not os.environ.get("MLGATE_PACK_PYTHON"), reason="set MLGATE_PACK_PYTHON to the pack venv's python")
def test_pack_through_pulumi_policys_analyzer(tmp_path: Path, prod_plan: Plan) -> None:
    """The real thing: pulumi-policy's AnalyzeStack over the prod stack, secrets and unknowns as Pulumi sends them."""
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(prod_plan.dumps(), encoding="utf-8")
    driver = Path(__file__).with_name("pack_analyzer.py")
    python = os.environ["MLGATE_PACK_PYTHON"]
    done = subprocess.run(
        [python, str(driver), str(plan_file)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    diagnostics = output["diagnostics"]
    assert [(d["policy"], d["level"]) for d in diagnostics] == [("mlgate-deny", "mandatory")] * 3
    assert [d["message"].splitlines()[1].split()[0] for d in diagnostics] == PROD_DENIES
    assert "do-not-print-me" not in done.stdout  # the decrypted kubeconfig never reaches a message
    assert not {m.split(".")[0] for m in output["modules"]} & set(NOT_IN_THE_PACK)


@pytest.mark.skipif(os.environ.get("MLGATE_NETWORK") != "1", reason="needs the package index: set MLGATE_NETWORK=1")
def test_pack_requirements_resolve_in_a_clean_venv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    report = tmp_path / "report.json"
    requirements = str(PACK / "requirements.txt")
    done = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--dry-run", "--report", str(report), "-r", requirements],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    resolved = {
        i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"]
        for i in json.loads(report.read_text(encoding="utf-8"))["install"]
    }
    assert resolved["protobuf"].startswith("5.29.")
    assert resolved["pulumi-policy"].startswith("1.")
    assert "kserve" not in resolved
