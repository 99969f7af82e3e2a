"""Tests of compliance.plan.preview: `pulumi preview --json` output read into the same Plan as the mock capture."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from compliance.errors import PlanError
from compliance.plan import preview
from compliance.plan.capture import capture_plan
from compliance.plan.model import SECRET, Plan, PlannedResource
from compliance.plan.preview import UNKNOWN, plan_from_preview

ROOT = Path(__file__).resolve().parents[1]
STACK_URN = "urn:pulumi:prod::mlgate::pulumi:pulumi:Stack::mlgate-prod"
# Pulumi's wire encoding of a secret value (what a state holds before the CLI masks it).
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
KUBECONFIG = "apiVersion: v1\nclusters: [{name: eks, cluster: {server: https://k8s.example}}]\n"
ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"


def _compared(resource: PlannedResource) -> tuple[Any, ...]:
    return (
        resource.urn,
        resource.type,
        resource.name,
        resource.custom,
        resource.parent,
        resource.provider,
        resource.region,
        resource.inputs,
        resource.dependencies,
    )


def _state(resource: PlannedResource) -> dict[str, Any]:
    """A ResourceV3 as `pulumi preview --json` prints it (empty strings are omitted by the CLI)."""
    state: dict[str, Any] = {
        "urn": resource.urn,
        "custom": resource.custom,
        "type": resource.type,
        "inputs": copy.deepcopy(resource.inputs),
        "propertyDependencies": {},
    }
    if resource.parent:
        state["parent"] = resource.parent
    if resource.provider:
        state["provider"] = resource.provider
    if resource.dependencies:
        state["dependencies"] = list(resource.dependencies)
    return state


def _step(op: str, resource: PlannedResource, *, old: bool = False, new: bool = True) -> dict[str, Any]:
    step: dict[str, Any] = {"op": op, "urn": resource.urn, "detailedDiff": None}
    if resource.provider:
        step["provider"] = resource.provider
    if old:
        step["oldState"] = {**_state(resource), "id": f"{resource.name}-id"}
    if new:
        step["newState"] = _state(resource)
    return step


def _document(plan: Plan) -> dict[str, Any]:
    root = {
        "op": "create",
        "urn": STACK_URN,
        "newState": {"urn": STACK_URN, "custom": False, "type": "pulumi:pulumi:Stack"},
        "detailedDiff": None,
    }
    steps = [root, *(_step("create", r) for r in plan)]
    return {
        "config": {"aws:region": "eu-west-1", "mlgate:catalog": "models"},
        "steps": steps,
        "duration": 4648932611,
        "changeSummary": {"create": len(steps)},
    }


def _write(tmp_path: Path, document: Any, name: str = "preview.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document, indent=4), encoding="utf-8")
    return path


def _by_urn(plan: Plan) -> dict[str, PlannedResource]:
    return {r.urn: r for r in plan}


@pytest.fixture(scope="module")
def captured() -> Plan:
    return capture_plan(ROOT, "prod")


@pytest.fixture
def document(captured: Plan) -> dict[str, Any]:
    return _document(captured)


def _providers(captured: Plan) -> list[PlannedResource]:
    return sorted(captured.of_type("pulumi:providers:kubernetes"), key=lambda r: r.urn)


def _index(document: dict[str, Any], urn: str) -> int:
    return next(i for i, s in enumerate(document["steps"]) if s["urn"] == urn)


def test_preview_yields_the_captured_resources(captured: Plan, tmp_path: Path) -> None:
    assert any(r.inputs.get("kubeconfig") == SECRET for r in _providers(captured)), "fixture needs a secret"
    plan = plan_from_preview(_write(tmp_path, _document(captured)))
    assert (plan.project, plan.environment, plan.source) == ("mlgate", "prod", "preview")
    assert len(plan) == len(captured) > 0
    assert [_compared(r) for r in plan] == [_compared(r) for r in captured]
    assert all(r.region for r in plan if r.custom)  # components outside a Region (GlobalRouting) have none
    assert len(plan.kubernetes_objects()) == len(captured.kubernetes_objects())
    assert STACK_URN not in _by_urn(plan)


def test_environment_argument_validates_the_stack(document: dict[str, Any], tmp_path: Path) -> None:
    path = _write(tmp_path, document)
    assert plan_from_preview(path, "prod").environment == "prod"
    with pytest.raises(PlanError) as caught:
        plan_from_preview(str(path), "staging")
    assert str(path) in str(caught.value)
    assert "'prod'" in str(caught.value) and "'staging'" in str(caught.value)


def test_replace_steps_are_deduped(captured: Plan, document: dict[str, Any], tmp_path: Path) -> None:
    target = captured.of_type(ISVC)[0]
    changed = dataclasses.replace(target, inputs={**target.inputs, "spec": {"predictor": {}}})
    at = _index(document, target.urn)
    # --show-replacement-steps: create-replacement, the logical replace, delete-replaced of the old copy.
    document["steps"][at : at + 1] = [
        _step("create-replacement", changed, old=True),
        _step("replace", changed, old=True),
        _step("delete-replaced", target, old=True),
    ]
    plan = plan_from_preview(_write(tmp_path, document))
    assert len(plan) == len(captured)
    assert [r.urn for r in plan].count(target.urn) == 1
    assert _by_urn(plan)[target.urn].inputs["spec"] == {"predictor": {}}
    assert _by_urn(plan)[target.urn].region == target.region


def test_refresh_then_update_keeps_the_program_state(captured: Plan, document: dict[str, Any], tmp_path: Path) -> None:
    """`pulumi preview --refresh --json`: a refresh step (state read from the cloud) precedes the update."""
    target = captured.of_type(ISVC)[0]
    drifted = dataclasses.replace(target, inputs={**target.inputs, "spec": {"drifted": True}})
    at = _index(document, target.urn)
    document["steps"][at : at + 1] = [_step("refresh", drifted, old=True), _step("update", target, old=True)]
    resource = _by_urn(plan_from_preview(_write(tmp_path, document)))[target.urn]
    assert resource.inputs == target.inputs


def test_delete_steps_are_dropped(captured: Plan, document: dict[str, Any], tmp_path: Path) -> None:
    gone = captured.of_type(ISVC)[0]
    doomed = dataclasses.replace(gone, urn=gone.urn + "-old", name=gone.name + "-old")
    document["steps"][_index(document, gone.urn)] = _step("delete", gone, old=True, new=False)
    document["steps"].append(_step("delete", doomed, old=True))  # even with a newState: gone after the update
    document["steps"].append(_step("discard", doomed, old=True))
    plan = plan_from_preview(_write(tmp_path, document))
    assert gone.urn not in _by_urn(plan)
    assert doomed.urn not in _by_urn(plan)
    assert len(plan) == len(captured) - 1


def test_same_update_read_and_import_steps_are_kept(captured: Plan, document: dict[str, Any], tmp_path: Path) -> None:
    ops = ["same", "update", "read", "import", "refresh"]
    targets = captured.of_type(ISVC)[: len(ops)]
    for op, target in zip(ops, targets, strict=True):
        document["steps"][_index(document, target.urn)] = _step(op, target, old=True)
    document["changeSummary"] = {"same": 1, "update": 1, "create": len(document["steps"]) - 2}
    plan = plan_from_preview(_write(tmp_path, document))
    assert [_compared(r) for r in plan] == [_compared(r) for r in captured]


def test_wire_secret_is_masked(captured: Plan, document: dict[str, Any], tmp_path: Path) -> None:
    provider = _providers(captured)[0]
    state = document["steps"][_index(document, provider.urn)]["newState"]
    state["inputs"]["kubeconfig"] = {**SECRET_SIG, "value": KUBECONFIG}
    state["inputs"]["nested"] = [{"token": {**SECRET_SIG, "value": "s3cr3t-token"}}]
    plan = plan_from_preview(_write(tmp_path, document))
    inputs = _by_urn(plan)[provider.urn].inputs
    assert inputs["kubeconfig"] == SECRET
    assert inputs["nested"] == [{"token": SECRET}]
    assert "s3cr3t-token" not in plan.dumps() and "k8s.example" not in plan.dumps()


def test_unknowns_are_kept_and_regions_still_assigned(captured: Plan, document: dict[str, Any], tmp_path: Path) -> None:
    target = captured.of_type(ISVC)[0]
    assert target.provider is not None
    provider_ref = target.provider.rsplit("::", 1)[0] + "::" + UNKNOWN  # a provider not created yet
    step = document["steps"][_index(document, target.urn)]
    step["provider"] = step["newState"]["provider"] = provider_ref
    step["newState"]["inputs"]["metadata"]["uid"] = UNKNOWN
    resource = _by_urn(plan_from_preview(_write(tmp_path, document)))[target.urn]
    assert resource.provider == provider_ref
    assert resource.inputs["metadata"]["uid"] == UNKNOWN
    assert resource.region == target.region


def test_engine_urns_and_bridge_defaults(tmp_path: Path) -> None:
    """URNs as the real engine writes them (a child of the stack has no Stack in its type chain)."""
    region = "urn:pulumi:prod::mlgate::mlgate:platform:Region::eu-west-1"
    aws = "urn:pulumi:prod::mlgate::mlgate:platform:Region$pulumi:providers:aws::eu-west-1-aws"
    vpc = "urn:pulumi:prod::mlgate::mlgate:platform:Region$aws:ec2/vpc:Vpc::main::with-colons"
    steps = [
        {"op": "same", "urn": STACK_URN, "newState": {"urn": STACK_URN, "type": "pulumi:pulumi:Stack"}},
        {"op": "create", "urn": region, "newState": {"type": "mlgate:platform:Region", "parent": STACK_URN}},
        {
            "op": "create",
            "urn": aws,
            "newState": {"type": "pulumi:providers:aws", "custom": True, "inputs": {"region": "eu-west-1"}},
        },
        {
            "op": "create",
            "urn": vpc,
            "provider": f"{aws}::{UNKNOWN}",
            "newState": {
                "urn": vpc,
                "type": "aws:ec2/vpc:Vpc",
                "custom": True,
                "inputs": {"__defaults": ["enableDnsSupport"], "cidrBlock": "10.0.0.0/16", "tags": {"a": "b"}},
            },
        },
    ]
    plan = plan_from_preview(_write(tmp_path, {"steps": steps, "changeSummary": {"same": 1, "create": 3}}), "prod")
    resources = _by_urn(plan)
    assert list(resources) == sorted([region, aws, vpc])
    assert resources[vpc].name == "main::with-colons"  # the name is the URN's rest, as Pulumi reads it
    assert resources[vpc].provider == f"{aws}::{UNKNOWN}"
    assert resources[vpc].inputs == {"cidrBlock": "10.0.0.0/16", "tags": {"a": "b"}}
    assert resources[vpc].region == "eu-west-1"
    assert resources[region].region == "eu-west-1" and resources[region].parent == STACK_URN


def test_utf16_and_bom_are_read(document: dict[str, Any], tmp_path: Path) -> None:
    text = json.dumps(document)
    (tmp_path / "utf16.json").write_text(text, encoding="utf-16")  # PowerShell 5 `>` redirection
    (tmp_path / "bom.json").write_text(text, encoding="utf-8-sig")
    assert len(plan_from_preview(tmp_path / "utf16.json")) == len(plan_from_preview(tmp_path / "bom.json")) > 0


def _set(document: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``steps.3.newState.type`` style paths in the document."""
    *parents, last = dotted.split(".")
    node: Any = document
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[int(last) if isinstance(node, list) else last] = value


BAD_DOCUMENTS: list[tuple[str, Any, str]] = [
    # (path to change, new value, text the error names)
    ("steps.3", "not a step", "steps[3]: expected an object, found a string"),
    ("steps.3.op", None, "steps[3].op: expected a string, found null"),
    ("steps.3.urn", 42, "steps[3].urn: expected a string, found a number"),
    ("steps.3.urn", "prod::mlgate::x", "steps[3].urn: not a Pulumi URN"),
    ("steps.3.provider", ["x"], "steps[3].provider: expected a string"),
    ("steps.3.newState", [], "steps[3].newState: expected an object, found a list"),
    ("steps.3.newState.type", 7, "steps[3].newState.type: expected a string, found a number"),
    ("steps.3.newState.type", "kubernetes:core/v1:Secret", "steps[3].newState.type: type"),
    ("steps.3.newState.urn", STACK_URN, "steps[3].newState.urn: differs"),
    ("steps.3.newState.custom", "yes", "steps[3].newState.custom: expected a boolean"),
    ("steps.3.newState.inputs", "[secret]", "steps[3].newState.inputs: expected an object, found a string"),
    ("steps.3.newState.parent", {}, "steps[3].newState.parent: expected a string, found an object"),
    ("steps.3.newState.dependencies", [1], "steps[3].newState.dependencies: expected a list of URNs"),
    ("steps", {"0": {}}, "steps: not `pulumi preview --json` output"),
    ("diagnostics", "oops", "diagnostics: expected a list"),
    ("diagnostics", [None], "diagnostics[0]: expected an object"),
    ("changeSummary", [], "changeSummary: expected an object"),
    ("changeSummary.same", "3", "changeSummary.same: expected an integer"),
]


@pytest.mark.parametrize(
    ("where", "value", "expected"), BAD_DOCUMENTS, ids=[b[0] + "=" + repr(b[1]) for b in BAD_DOCUMENTS]
)
def test_malformed_documents_name_file_and_field(
    document: dict[str, Any], tmp_path: Path, where: str, value: Any, expected: str
) -> None:
    _set(document, where, value)
    path = _write(tmp_path, document)
    with pytest.raises(PlanError) as caught:
        plan_from_preview(path)
    message = str(caught.value)
    assert caught.value.file == str(path)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_missing_steps_and_empty_steps(tmp_path: Path) -> None:
    for document, expected in [({"config": {}}, '"steps" is missing'), ({"steps": []}, "no steps")]:
        path = _write(tmp_path, document)
        with pytest.raises(PlanError, match=expected) as caught:
            plan_from_preview(path)
        assert str(caught.value).startswith(f"{path}: ")


def test_top_level_not_an_object(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"op": "create"}])
    with pytest.raises(PlanError, match="top level is a list") as caught:
        plan_from_preview(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(PlanError) as caught:
        plan_from_preview(path)
    assert str(caught.value) == f"{path}: file not found"


def test_a_directory_is_not_readable(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read") as caught:
        plan_from_preview(tmp_path)
    assert caught.value.file == str(tmp_path)


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "preview.json"
    path.write_text('{\n  "steps": [\n    {"op": "create",}\n  ]\n}\n', encoding="utf-8")
    with pytest.raises(PlanError) as caught:
        plan_from_preview(path)
    assert str(caught.value).startswith(f"{path}:3: invalid JSON")
    assert caught.value.line == 3


def test_human_preview_output_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "preview.json"
    path.write_text("Previewing update (prod)\n\n     Type  Name  Plan\n", encoding="utf-8")
    with pytest.raises(PlanError, match="pulumi preview --json") as caught:
        plan_from_preview(path)
    assert str(caught.value).startswith(f"{path}:1: invalid JSON")


def test_file_larger_than_the_limit(document: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, document)
    monkeypatch.setattr(preview, "_MAX_PREVIEW_BYTES", path.stat().st_size - 1)
    with pytest.raises(PlanError, match="larger than 512 MiB") as caught:
        plan_from_preview(path)
    assert caught.value.file == str(path)
    monkeypatch.setattr(preview, "_MAX_PREVIEW_BYTES", path.stat().st_size)
    assert len(plan_from_preview(path)) > 0


def test_failed_preview_quotes_its_first_error(document: dict[str, Any], tmp_path: Path) -> None:
    document["diagnostics"] = [
        {"message": "warning: deprecated resource\n", "severity": "warning"},
        {"message": "stderr from the program\n", "severity": "info#err"},
        {
            "urn": STACK_URN,
            "message": "error: Program failed with an unhandled exception:\n  ValueError: bad region\n",
            "severity": "error",
        },
        {"message": "error: a second failure\n", "severity": "error"},
    ]
    path = _write(tmp_path, document)
    with pytest.raises(PlanError) as caught:
        plan_from_preview(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: diagnostics[2]: the pulumi preview failed: ")
    assert '"error: Program failed with an unhandled exception: ValueError: bad region"' in message
    assert "second failure" not in message and "\n" not in message


def test_failed_preview_reported_before_missing_steps(tmp_path: Path) -> None:
    path = _write(tmp_path, {"diagnostics": [{"message": "error: no stack named 'prod' found", "severity": "error"}]})
    with pytest.raises(PlanError, match="the pulumi preview failed: \"error: no stack named 'prod' found\""):
        plan_from_preview(path)


def test_warnings_alone_do_not_fail(document: dict[str, Any], tmp_path: Path) -> None:
    document["diagnostics"] = [{"message": "warning: x", "severity": "warning"}, {"message": "hi", "severity": "info"}]
    assert len(plan_from_preview(_write(tmp_path, document))) > 0


def test_steps_of_another_stack(captured: Plan, document: dict[str, Any], tmp_path: Path) -> None:
    target = captured.of_type(ISVC)[0]
    other = target.urn.replace("urn:pulumi:prod::", "urn:pulumi:dev::", 1)
    step = document["steps"][_index(document, target.urn)]
    step["urn"] = step["newState"]["urn"] = other
    path = _write(tmp_path, document)
    with pytest.raises(PlanError, match="stack 'dev'") as caught:
        plan_from_preview(path)
    assert str(caught.value).startswith(f"{path}: steps[")


def test_preview_without_show_sames_is_refused(captured: Plan, tmp_path: Path) -> None:
    """`pulumi preview --json` without --show-sames lists only changed resources, but counts the rest."""
    changed = captured.of_type(ISVC)[0]
    root = {"op": "same", "urn": STACK_URN, "newState": {"urn": STACK_URN, "type": "pulumi:pulumi:Stack"}}
    document = {"steps": [root, _step("update", changed, old=True)], "changeSummary": {"same": 66, "update": 1}}
    path = _write(tmp_path, document)
    with pytest.raises(PlanError, match="--show-sames") as caught:
        plan_from_preview(path)
    assert "65 unchanged" in str(caught.value) and caught.value.file == str(path)
