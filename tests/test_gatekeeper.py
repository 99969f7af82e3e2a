"""``mlgate export gatekeeper``: the written ConstraintTemplates and Constraints, and their Rego evaluated with the
embedded engine on the objects the prod stack plans (no Gatekeeper CRD in ../shared: the structure is checked
against Gatekeeper's documented ConstraintTemplate shape)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import regorus
import yaml
from conftest import ROOT

from compliance.cli import main
from compliance.gate.bundle import PolicyBundle
from compliance.gate.engine import RegorusEngine
from compliance.gate.gatekeeper import LIB, TEMPLATES, Template, render
from compliance.gate.inputs import build_inputs
from compliance.plan.model import Plan
from compliance.spec.load import load_catalog, load_stack_config

POLICIES = ROOT / "policies"
DATA = json.loads((POLICIES / "data.json").read_text(encoding="utf-8"))


def violations(template: Template, obj: dict[str, Any], parameters: dict[str, Any]) -> list[str]:
    engine = regorus.Engine()
    engine.add_policy(LIB, (POLICIES / LIB).read_text(encoding="utf-8"))
    engine.add_policy(template.source, (POLICIES / template.source).read_text(encoding="utf-8"))
    review = {"object": obj, "kind": {"kind": obj["kind"]}}
    engine.set_input_json(json.dumps({"review": review, "parameters": parameters}))
    found = json.loads(engine.eval_rule_as_json(f"data.{template.name}.violation"))
    return sorted(v["msg"] for v in found)


def matches(template: Template, obj: dict[str, Any]) -> bool:
    group = obj["apiVersion"].rpartition("/")[0]
    kinds = any(group in m["apiGroups"] and obj["kind"] in m["kinds"] for m in template.match)
    return kinds and obj.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/part-of") == "mlgate"


@pytest.fixture(scope="module")
def objects(prod_plan: Plan) -> list[dict[str, Any]]:
    return [copy.deepcopy(r.inputs) for r in prod_plan.kubernetes_objects()]


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(o for o in objects if o["kind"] == kind))


def template(kind: str) -> Template:
    return next(t for t in TEMPLATES if t.kind == kind)


def params(t: Template) -> dict[str, Any]:
    return render(t, POLICIES, DATA, "prod")[1]["spec"]["parameters"]


def test_export_writes_templates_and_constraints_of_gatekeepers_shape(tmp_path: Path) -> None:
    out = tmp_path / "gk"
    assert main(["export", "gatekeeper", "--out", str(out), "--policies", str(POLICIES), "--env", "prod"]) == 0
    for t in TEMPLATES:
        ct = yaml.safe_load((out / "templates" / f"{t.name}.yaml").read_text(encoding="utf-8"))
        constraint = yaml.safe_load((out / "constraints" / f"{t.name}.yaml").read_text(encoding="utf-8"))
        assert ct["apiVersion"] == "templates.gatekeeper.sh/v1" and ct["kind"] == "ConstraintTemplate"
        assert ct["metadata"]["name"] == t.name == t.kind.lower()
        assert ct["spec"]["crd"]["spec"]["names"]["kind"] == t.kind
        (target,) = ct["spec"]["targets"]
        assert target["target"] == "admission.k8s.gatekeeper.sh"
        assert f"package {t.name}\n" in target["rego"] and "violation contains" in target["rego"]
        assert [lib.split("package ")[1].split("\n")[0] for lib in target["libs"]] == ["lib.mlgate"]
        assert constraint["apiVersion"] == "constraints.gatekeeper.sh/v1beta1" and constraint["kind"] == t.kind
        assert constraint["spec"]["enforcementAction"] == "deny" and constraint["spec"]["match"]["kinds"]
        schema = ct["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"]
        jsonschema.validate(constraint["spec"]["parameters"], schema)
        # the written Rego (tabs expanded) still compiles and agrees with the source
        engine = regorus.Engine()
        engine.add_policy("lib.rego", target["libs"][0])
        engine.add_policy("t.rego", target["rego"])
    assert params(template("MlgateMinReplicas")) == {"environment": "prod", "minReplicas": 2}


def test_the_planned_objects_pass_admission(objects: list[dict[str, Any]]) -> None:
    checked = 0
    for t in TEMPLATES:
        for obj in objects:
            if matches(t, obj):
                assert violations(t, obj, params(t)) == [], (t.kind, obj["metadata"]["name"])
                checked += 1
    assert checked > 50


def test_mutated_objects_are_denied(objects: list[dict[str, Any]]) -> None:
    vs = by_kind(objects, "VirtualService")
    vs["spec"]["http"][0]["route"][0]["weight"] += 5
    (msg,) = violations(template("MlgateTrafficSplit"), vs, {})
    assert msg == f"SERV-005: VirtualService {vs['metadata']['name']} route weights sum to 105, not 100"

    rule = by_kind(objects, "DestinationRule")
    rule["spec"]["trafficPolicy"]["tls"]["mode"] = "DISABLE"
    assert violations(template("MlgateMutualTls"), rule, {})[0].startswith("SERV-006: DestinationRule")
    peer = by_kind(objects, "PeerAuthentication")
    peer["spec"]["mtls"]["mode"] = "PERMISSIVE"
    assert violations(template("MlgateMutualTls"), peer, {}) == [
        "PLAT-018: PeerAuthentication default in namespace istio-system sets spec.mtls.mode to PERMISSIVE; "
        "only STRICT (or UNSET, inheriting) is allowed"
    ]

    isvc = by_kind(objects, "InferenceService")
    isvc["spec"]["predictor"]["model"].setdefault("resources", {})["requests"] = {"nvidia.com/gpu": "1"}
    isvc["spec"]["predictor"]["model"]["resources"]["limits"] = {"nvidia.com/gpu": "16"}
    gpu = violations(template("MlgateGpuLimits"), isvc, params(template("MlgateGpuLimits")))
    assert [m.split(":")[0] for m in gpu] == ["SERV-004", "SERV-004"]
    del isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"]
    isvc["spec"]["predictor"]["minReplicas"] = 1
    del isvc["metadata"]["labels"]["mlgate.io/model"]
    name = isvc["metadata"]["name"]
    assert violations(template("MlgateDeploymentMode"), isvc, {}) == [
        f"SERV-007: InferenceService {name} has deploymentMode null, expected Standard"
    ]
    assert violations(template("MlgateMinReplicas"), isvc, params(template("MlgateMinReplicas"))) == [
        f"SERV-003: InferenceService {name} runs at least 1 replicas, prod needs at least 2"
    ]
    assert violations(template("MlgateRequiredLabels"), isvc, params(template("MlgateRequiredLabels"))) == [
        f"LABELS: InferenceService {name} has no label mlgate.io/model"
    ]


def test_admission_and_the_gate_name_the_same_rule(prod_plan: Plan) -> None:
    """The same change to a planned object: the gate's serving package and the admission template agree."""
    stack = load_stack_config(ROOT / "stacks" / "Pulumi.prod.yaml", "prod")
    inputs = build_inputs(load_catalog(ROOT / stack.catalog), stack, prod_plan, ROOT, "2026-11-25T12:00:00Z")
    document = copy.deepcopy(next(i.document for i in inputs if i.subject.kind == "deployment"))
    bundle = PolicyBundle.load(POLICIES)
    gate = RegorusEngine(bundle)
    isvc = next(r for r in document["resources"] if r["kind"] == "InferenceService")
    isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] = "Serverless"
    isvc["spec"]["predictor"]["minReplicas"] = 1
    rule = next(r for r in document["resources"] if r["kind"] == "DestinationRule")
    rule["spec"]["trafficPolicy"]["tls"]["mode"] = "DISABLE"
    denied = {d["id"]: d["msg"] for d in gate.evaluate(document, ["mlgate.serving"])["mlgate.serving"]["deny"]}
    admitted = violations(template("MlgateDeploymentMode"), isvc, {}) + violations(
        template("MlgateMinReplicas"), isvc, params(template("MlgateMinReplicas"))
    )
    admitted += violations(template("MlgateMutualTls"), rule, {})
    assert {m.split(":")[0] for m in admitted} == {"SERV-003", "SERV-006", "SERV-007"} <= set(denied)
    # the same wording after the object's name (the gate names the Pulumi resource, admission the object)
    tail = "has deploymentMode Serverless, expected Standard"
    assert denied["SERV-007"].endswith(tail) and any(m.endswith(tail) for m in admitted)


def test_the_gate_bundle_leaves_the_admission_modules_out() -> None:
    bundle = PolicyBundle.load(POLICIES)
    assert not any(f.path.startswith("gatekeeper/") for f in bundle.files)
    assert all(p.startswith("mlgate.") for p in bundle.packages)
