"""The deploy-time pre-flight (issue 7.1): ``pulumi up`` judges the model deployments before registering anything.

Run under Pulumi's mock engine, as ``mlgate plan`` runs the program: the example prod catalog has three intended
denies (credit-scoring FAIR-002, fraud-detector DATA-003, support-llm LIN-002), staging two (LIN-002 is waived
there), dev none.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest

from compliance import preflight as preflight_module
from compliance.cli import main
from compliance.gate.check import check
from compliance.plan.capture import PROGRAM_LOGGER, capture_plan, mock_config, run_program
from compliance.plan.model import UNKNOWN, Plan, PlannedResource
from compliance.preflight import PreflightError, describe, run_preflight
from compliance.program import build, preflight_plan
from compliance.spec.load import load_catalog, load_stack_config

# credit-scoring's v6 and v7 are real models (examples/adult): sex and race exceed the prod limits
PROD_DENIES = ["FAIR-002"] * 4 + ["FAIR-003"] * 2 + ["FAIR-004"] * 4 + ["DATA-003", "LIN-002"]
NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
ROLE_ARN = "eks.amazonaws.com/role-arn"


def _config(root: Path, environment: str, mode: str | None) -> dict[str, str]:
    config = mock_config(root / "stacks" / f"Pulumi.{environment}.yaml")
    if mode is not None:
        policy = json.loads(config.get("mlgate:policy", "{}"))
        config["mlgate:policy"] = json.dumps({**policy, "mode": mode})
    return config


def _run(root: Path, environment: str, mode: str | None = None) -> list[PlannedResource]:
    """The program as ``pulumi up`` runs it (pre-flight on), under the mock engine."""
    return run_program(lambda: build(root, preflight=True), environment, _config(root, environment, mode))


def _model_objects(plan: Plan) -> dict[str, PlannedResource]:
    return {r.urn: r for r in plan if "$mlgate:serving:ModelDeployment$" in r.urn}


def _without_role_arn(resource: PlannedResource) -> dict[str, Any]:
    """A ServiceAccount's reader role ARN is a platform Output: known under mocks, unknown to the pre-flight, and
    the ServiceAccount depends on the role only once it is registered."""
    inputs = json.loads(json.dumps(resource.inputs))
    annotations = inputs.get("metadata", {}).get("annotations", {})
    if ROLE_ARN in annotations:
        annotations[ROLE_ARN] = "<role>"
    return {
        "type": resource.type,
        "name": resource.name,
        "parent": resource.parent,
        "region": resource.region,
        "custom": resource.custom,
        "inputs": inputs,
        # Dependencies on platform resources (the reader role, an Output) exist only once the platform does.
        "dependencies": [d for d in resource.dependencies if "$mlgate:serving:ModelDeployment$" in d],
    }


# ------------------------------------------------------------------------------ what the pre-flight judges


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_preflight_plan_is_what_the_components_register(root: Path, plans: dict[str, Plan], environment: str) -> None:
    """One rendering: the pre-flight's objects are the captured model objects, urn for urn and input for input."""
    stack = load_stack_config(root / "stacks" / f"Pulumi.{environment}.yaml")
    deployments = load_catalog(root / stack.catalog).deployments(stack)
    planned = _model_objects(preflight_plan(stack, deployments))
    captured = _model_objects(plans[environment])
    assert planned.keys() == captured.keys()
    assert len(planned) > 0
    for urn, resource in planned.items():
        assert _without_role_arn(resource) == _without_role_arn(captured[urn]), urn
    provisioned = {r.name for r in stack.regions if r.cluster == "provision"}
    for resource in planned.values():
        if resource.inputs["kind"] == "ServiceAccount":
            role = resource.inputs["metadata"].get("annotations", {}).get(ROLE_ARN)
            assert role == (UNKNOWN if resource.region in provisioned else None)


def test_preflight_judges_as_check_does(root: Path, prod_plan: Plan) -> None:
    """Same decisions on the deployment documents as ``mlgate check`` on the full captured plan."""
    stack = load_stack_config(root / "stacks" / "Pulumi.prod.yaml")
    plan = preflight_plan(stack, load_catalog(root / stack.catalog).deployments(stack))
    result = run_preflight(root, stack, plan, mode="advisory", now=NOW)
    assert result is not None
    full = check(root, "prod", prod_plan, now=NOW)

    def key(decisions: Any) -> list[tuple[Any, ...]]:
        return sorted((d.id, d.level, d.subject, d.version, d.region, d.waived) for d in decisions)

    assert key(result.decisions) == key(d for d in full.decisions if not d.subject.startswith("platform@"))
    assert [s.kind for s in result.subjects] == ["deployment"] * 4  # the platform is the policy pack's


# ------------------------------------------------------------------------------------ modes, mock engine


def test_enforce_fails_the_update_before_anything_is_registered(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_region(*_: Any, **__: Any) -> None:
        raise AssertionError("a resource was registered before the pre-flight decided")

    monkeypatch.setattr("compliance.program.Region", no_region)
    with pytest.raises(PreflightError) as info:
        _run(root, "prod")  # prod's stack config: mode enforce
    error = info.value
    assert isinstance(error, pulumi.RunError)  # Pulumi prints its message alone, no traceback
    assert [d.id for d in error.denied] == PROD_DENIES
    assert error.exit_code == 1
    message = str(error)
    assert message.startswith("mlgate pre-flight: 12 denied decisions: FAIR-002 credit-scoring@prod v6: ")
    for fragment in ("DATA-003 fraud-detector@prod us-east-1: ", "LIN-002 support-llm@prod v3: "):
        assert fragment in message
    assert "\n" not in message


def test_advisory_lets_the_update_through_with_warnings(
    root: Path, prod_plan: Plan, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=PROGRAM_LOGGER):
        resources = _run(root, "prod", "advisory")
    assert sorted(r.urn for r in resources) == [r.urn for r in prod_plan]
    warnings = [r.getMessage() for r in caplog.records if r.name == PROGRAM_LOGGER and r.levelno == logging.WARNING]
    denies = [w for w in warnings if w.startswith("mlgate pre-flight: deny ")]
    assert [w.split()[3] for w in denies] == PROD_DENIES
    assert all(w.endswith("(advisory: the update goes on)") for w in denies)


def test_off_skips_the_gate(root: Path, prod_plan: Plan, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(preflight_module, "run_preflight", lambda *a, **k: calls.append("gate"))
    resources = _run(root, "prod", "off")
    assert calls == []
    assert len(resources) == len(prod_plan)


def test_mlgate_plan_captures_with_the_preflight_off(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("mlgate plan ran the pre-flight")

    monkeypatch.setattr(preflight_module, "run_preflight", refuse)
    assert len(capture_plan(root, "dev")) > 0


def test_warnings_are_logged_in_enforce_mode(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Enforce passes a stack with warnings only, and still logs each with pulumi.log.warn."""
    from compliance.gate.decisions import Decision, GateResult

    warn = Decision("SERV-009", "warn", "no batching", "m@prod", "mlgate.serving", version="v1")
    stack = load_stack_config(root / "stacks" / "Pulumi.prod.yaml")

    class _Gate:
        def run(self, *_: Any, **__: Any) -> Any:
            return type("Run", (), {"result": GateResult("prod", (), (warn,))})()

    logged: list[str] = []
    monkeypatch.setattr("compliance.gate.check.prepare", lambda *a, **k: _Gate())
    monkeypatch.setattr(preflight_module, "_record", lambda run: "")
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: logged.append(message))
    result = run_preflight(root, stack, Plan("mlgate", "prod", "preflight", ()))
    assert result is not None
    assert logged == [f"mlgate pre-flight: warn {describe(warn)}"]
    assert describe(warn) == "SERV-009 m@prod v1: no batching"


@pytest.mark.parametrize(("mode", "fails"), [("enforce", True), ("advisory", False)])
def test_a_gate_that_cannot_judge(project: Path, mode: str, fails: bool, caplog: pytest.LogCaptureFixture) -> None:
    """Fails closed when enforcing (exit 2 for mlgate plan --preflight); advisory says so and goes on."""
    (project / "policies" / "waivers.yaml").write_text("- policy: [unclosed\n", encoding="utf-8")
    if fails:
        with pytest.raises(PreflightError) as info:
            _run(project, "dev", mode)
        assert info.value.exit_code == 2
        assert info.value.denied == ()
        assert str(info.value).startswith("mlgate pre-flight: the gate cannot judge dev: ")
    else:
        with caplog.at_level(logging.WARNING, logger=PROGRAM_LOGGER):
            assert len(_run(project, "dev", mode)) > 0
        assert any("the gate cannot judge dev" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------------------------------- default mode


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ("prod", "enforce"),
        ("staging", "enforce"),
        ("production", "enforce"),
        ("prod-eu", "enforce"),
        ("perf", "enforce"),
        ("dev", "advisory"),
        ("dev-alice", "advisory"),
        ("feature-dev", "advisory"),
        ("sandbox", "advisory"),
    ],
)
def test_default_mode_by_environment(root: Path, environment: str, expected: str) -> None:
    stack = load_stack_config(root / "stacks" / "Pulumi.staging.yaml")  # sets no mode
    assert stack.policy.mode is None
    assert stack.model_copy(update={"environment": environment}).policy_mode == expected


def test_example_stacks_modes(root: Path) -> None:
    modes = {e: load_stack_config(root / "stacks" / f"Pulumi.{e}.yaml").policy_mode for e in ("dev", "staging", "prod")}
    assert modes == {"dev": "advisory", "staging": "enforce", "prod": "enforce"}


# ----------------------------------------------------------------------------------------------------- CLI


def test_cli_plan_preflight_denies_prod(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plan.json"
    assert main(["plan", "--env", "prod", "--preflight", "--root", str(root), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "mlgate: the pre-flight stops the prod update: FAIR-002, FAIR-003, FAIR-004, DATA-003, LIN-002" in err
    assert "  deny FAIR-002 credit-scoring@prod v7: " in err
    assert not out.exists()


def test_cli_plan_without_preflight_is_unchanged(
    root: Path, prod_plan: Plan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan.json"
    assert main(["plan", "--env", "prod", "--root", str(root), "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == prod_plan.dumps()
    assert "pre-flight" not in capsys.readouterr().err


def test_cli_plan_preflight_passes_dev(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    assert main(["plan", "--env", "dev", "--preflight", "--root", str(root), "--out", str(out)]) == 0
    assert Plan.load(out).environment == "dev"


def test_cli_plan_preflight_gate_error_exits_2(project: Path, edit: Callable[..., Path], tmp_path: Path) -> None:
    (project / "policies" / "waivers.yaml").write_text("- policy: [unclosed\n", encoding="utf-8")
    edit(project / "stacks" / "Pulumi.dev.yaml", "mode: advisory", "mode: enforce")
    args = ["plan", "--env", "dev", "--preflight", "--root", str(project), "--out", str(tmp_path / "p.json")]
    assert main(args) == 2


def test_cli_preflight_and_preview_json_exclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--env", "prod", "--preflight", "--preview-json", str(tmp_path / "p.json")]) == 2
    assert "--preflight" in capsys.readouterr().err


# -------------------------------------------------------------------------------------------------- ledger


def test_preflight_records_its_run_in_the_ledger(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from compliance.ledger import Ledger

    ledger = tmp_path / "ledger.db"
    monkeypatch.setenv("MLGATE_LEDGER", str(ledger))
    with pytest.raises(PreflightError):
        _run(root, "prod")
    with Ledger.open(ledger, create=False) as opened:
        (run,) = opened.runs("prod")
        assert opened.verify().ok
    assert (run.environment, run.exit_code) == ("prod", 1)


def test_no_ledger_no_record(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without $MLGATE_LEDGER the pre-flight records only into an existing <root>/.mlgate/ledger.db."""
    monkeypatch.delenv("MLGATE_LEDGER", raising=False)
    _run(project, "dev")
    assert not (project / ".mlgate").exists()
