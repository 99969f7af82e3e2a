"""The gate core on small, purpose-built bundles: METADATA parsing, fail-closed evaluation, waivers.

The example policies themselves are tested in Rego (``mlgate policy test``) and end to end in
test_check.py; here the engine is the real embedded regorus, fed policies written for each case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import FaultyEngine

from compliance.errors import EngineError, PolicyError
from compliance.gate.bundle import PolicyBundle
from compliance.gate.decisions import Subject, Waiver
from compliance.gate.engine import UNDEFINED, RegorusEngine
from compliance.gate.inputs import GateInput
from compliance.gate.run import WAIVER_EXPIRED, evaluate
from compliance.gate.waivers import load_waivers

TODAY = dt.date(2026, 11, 25)

RULE = """package mlgate.fairness

# METADATA
# title: Parity within threshold
# description: The demographic-parity difference stays within the limit.
# custom:
#   id: FAIR-002
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 10(2)(f)"]
#     nist-ai-rmf: ["MEASURE 2.11"]
deny contains v if {
\tinput.dpd > data.mlgate.thresholds.dpd
\tv := {"id": "FAIR-002", "msg": sprintf("dpd %v above %v", [input.dpd, data.mlgate.thresholds.dpd]), "version": "v7"}
}

# METADATA
# title: Small group
# description: A group is too small to judge.
# custom:
#   id: FAIR-005
#   severity: low
warn contains v if {
\tinput.n < 30
\tv := {"id": "FAIR-005", "msg": "small group"}
}
"""


def bundle_with(
    tmp_path: Path, files: Mapping[str, str], data: str = '{"mlgate": {"thresholds": {"dpd": 0.1}}}'
) -> PolicyBundle:
    for name, text in files.items():
        path = tmp_path / "policies" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (tmp_path / "policies" / "data.json").write_text(data, encoding="utf-8")
    return PolicyBundle.load(tmp_path / "policies")


def doc(subject: str = "credit-scoring@prod", **values: Any) -> GateInput:
    return GateInput(Subject(subject, "deployment", "models/credit-scoring.yaml", 31), {"kind": "deployment", **values})


def run(bundle: PolicyBundle, inputs: Sequence[GateInput], waivers: Sequence[Waiver] = (), engine: Any = None) -> Any:
    return evaluate(inputs, engine or RegorusEngine(bundle), bundle, environment="prod", waivers=waivers, today=TODAY)


# --------------------------------------------------------------------------------------------- bundle


def test_metadata_becomes_the_rule_catalogue(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, {"fairness/fairness.rego": RULE})
    fair2, fair5 = bundle.rules
    assert (fair2.id, fair2.level, fair2.severity, fair2.package) == ("FAIR-002", "deny", "high", "mlgate.fairness")
    assert fair2.control_refs == ("EU AI Act Art. 10(2)(f)", "NIST AI RMF MEASURE 2.11")
    assert fair2.line == 3 and fair2.file and fair2.file.endswith("fairness.rego")
    assert (fair5.id, fair5.level) == ("FAIR-005", "warn")
    assert bundle.packages == ("mlgate.fairness",)


def test_digest_changes_with_any_policy_byte_and_with_data(tmp_path: Path) -> None:
    first = bundle_with(tmp_path, {"fairness/fairness.rego": RULE}).digest()
    assert first.startswith("sha256:") and len(first) == 71
    assert bundle_with(tmp_path, {"fairness/fairness.rego": RULE}).digest() == first
    changed = bundle_with(tmp_path, {"fairness/fairness.rego": RULE + "\n"}).digest()
    assert changed != first
    assert bundle_with(tmp_path, {"fairness/fairness.rego": RULE + "\n"}, data='{"x": 1}').digest() != changed


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("#   id: FAIR-002", "#   id: FAIRNESS-2"), ":3: METADATA.custom.id: must look like FAIR-001"),
        (("#   severity: high", "#   severity: urgent"), ":3: METADATA.custom.severity: must be one of critical"),
        (("# title: Parity within threshold\n", ""), ":3: METADATA.title: must be a non-empty string"),
        (("#   controls:", "#   controls: [a, b]\n#   x:"), ":3: METADATA.custom.controls: must map a framework"),
        (
            ("# description: The", "# description: [The"),
            ":6: METADATA is not valid YAML: did not find expected ',' or ']'",
        ),
    ],
)
def test_bad_metadata_names_file_line_and_field(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    with pytest.raises(PolicyError) as caught:
        bundle_with(tmp_path, {"fairness/fairness.rego": RULE.replace(*edit, 1)})
    assert str(caught.value).startswith(str(tmp_path / "policies" / "fairness" / "fairness.rego") + expected)


def test_one_id_for_two_kinds_of_rule_is_refused(tmp_path: Path) -> None:
    clash = RULE.replace("#   id: FAIR-005", "#   id: FAIR-002")
    with pytest.raises(PolicyError, match=r"id FAIR-002 is already used by a deny rule of mlgate\.fairness"):
        bundle_with(tmp_path, {"fairness/fairness.rego": clash})


def test_rego_syntax_error_is_a_policy_error_with_file_and_line(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, {"fairness/fairness.rego": RULE.replace("input.dpd >", "input.dpd > >")})
    with pytest.raises(PolicyError) as caught:
        RegorusEngine(bundle)
    assert str(caught.value).startswith(
        f"{tmp_path / 'policies' / 'fairness' / 'fairness.rego'}:13: Rego does not compile"
    )
    assert "Stack backtrace" not in str(caught.value)


def test_a_package_outside_mlgate_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"package 'other' must be mlgate\.<concern>"):
        bundle_with(tmp_path, {"x.rego": "package other\n"})


def test_an_empty_policy_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    with pytest.raises(PolicyError, match="no Rego policies"):
        PolicyBundle.load(tmp_path / "policies")


# ----------------------------------------------------------------------------------------- evaluation


def test_decisions_carry_subject_policy_controls_and_location(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, {"fairness/fairness.rego": RULE})
    result = run(bundle, [doc(dpd=0.2, n=10), doc("product-recs@prod", dpd=0.01, n=100)])
    deny, warn = result.of("credit-scoring@prod")
    assert (deny.id, deny.level, deny.msg, deny.version) == ("FAIR-002", "deny", "dpd 0.2 above 0.1", "v7")
    assert deny.controls == ("EU AI Act Art. 10(2)(f)", "NIST AI RMF MEASURE 2.11")
    assert (deny.policy, deny.file, deny.line) == ("mlgate.fairness", "models/credit-scoring.yaml", 31)
    assert (warn.id, warn.level) == ("FAIR-005", "warn")
    assert result.of("product-recs@prod") == []
    assert result.summary() == "2 deployments, 1 passed, 0 warned, 1 denied, 0 waived"
    assert result.exit_code() == 1


def test_warnings_fail_only_with_fail_on_warn(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, {"fairness/fairness.rego": RULE})
    result = run(bundle, [doc(dpd=0.01, n=10)])
    assert result.exit_code() == 0
    assert result.exit_code(fail_on_warn=True) == 1


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        (EngineError("connection refused"), "fake engine: connection refused"),
        (RuntimeError("boom"), "fake engine failed: RuntimeError: boom"),
        (UNDEFINED, "package mlgate.fairness is undefined"),
        ([1, 2], "package mlgate.fairness returned list, not an object"),
        ({"deny": {"id": "FAIR-002"}}, "mlgate.fairness.deny is dict, not a set"),
        ({"deny": ["FAIR-002"]}, "mlgate.fairness.deny holds a malformed decision: 'FAIR-002'"),
        ({"deny": [{"id": "FAIR-002"}]}, "mlgate.fairness.deny holds a malformed decision"),
        ({"warn": [{"id": 7, "msg": "x"}]}, "mlgate.fairness.warn holds a malformed decision"),
    ],
)
def test_the_gate_fails_closed_on_any_unclean_result(tmp_path: Path, outcome: Any, message: str) -> None:
    bundle = bundle_with(tmp_path, {"fairness/fairness.rego": RULE})
    result = run(bundle, [doc(dpd=0.0, n=100)], engine=FaultyEngine(outcome))
    (error,) = result.decisions
    assert (error.id, error.level, error.subject) == ("GATE-ERROR", "deny", "credit-scoring@prod")
    assert message in error.msg
    assert result.exit_code() == 2


def test_a_builtin_type_error_inside_a_rule_is_a_gate_error(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, {"fairness/fairness.rego": RULE})
    result = run(bundle, [doc(dpd="high", n=100)])  # `"high" > 0.1` compares types in Rego: no raise
    assert result.exit_code() in (0, 1)
    typed = RULE.replace("input.dpd > data", "abs(input.dpd) > data")
    result = run(bundle_with(tmp_path, {"fairness/fairness.rego": typed}), [doc(dpd="high", n=100)])
    (error,) = [d for d in result.decisions if d.id == "GATE-ERROR"]
    assert "embedded engine" in error.msg and "abs" in error.msg
    assert result.exit_code() == 2


# -------------------------------------------------------------------------------------------- waivers


def waiver(
    subject: str = "credit-scoring@prod", expires: dt.date = dt.date(2026, 12, 31), policy: str = "FAIR-002"
) -> Waiver:
    return Waiver(policy, subject, "retraining, RISK-881", "risk-ml@example.com", "cro@example.com", expires)


@pytest.mark.parametrize(
    ("subject", "covers"),
    [
        ("credit-scoring", True),
        ("credit-scoring@prod", True),
        ("credit-scoring@prod:v7", True),
        ("credit-scoring@prod:v6", False),
        ("credit-scoring@staging", False),
        ("fraud-detector@prod", False),
    ],
)
def test_waiver_subjects_narrow_by_env_and_version(subject: str, covers: bool) -> None:
    assert waiver(subject).covers("FAIR-002", "credit-scoring@prod", "v7") is covers
    assert waiver(subject).covers("FAIR-003", "credit-scoring@prod", "v7") is False


def test_an_active_waiver_waives_and_is_kept_on_the_decision(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, {"fairness/fairness.rego": RULE})
    result = run(bundle, [doc(dpd=0.2, n=100)], [waiver()])
    (deny,) = result.decisions
    assert deny.waived and deny.waiver == waiver()
    assert result.exit_code() == 0
    assert result.summary() == "1 deployments, 1 passed, 0 warned, 0 denied, 1 waived"
    assert deny.to_json()["waiver"]["expires"] == "2026-12-31"


def test_an_expired_waiver_waives_nothing_and_is_reported(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, {"fairness/fairness.rego": RULE})
    result = run(bundle, [doc(dpd=0.2, n=100)], [waiver(expires=dt.date(2026, 10, 1))])
    deny, expired = result.decisions
    assert (deny.id, deny.waived) == ("FAIR-002", False)
    assert (expired.id, expired.level) == (WAIVER_EXPIRED, "warn")
    assert "waiver of FAIR-002 for credit-scoring@prod expired on 2026-10-01" in expired.msg
    assert result.exit_code() == 1


def test_a_gate_error_cannot_be_waived(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, {"fairness/fairness.rego": RULE})
    result = run(bundle, [doc()], [waiver(policy="FAIR-002")], engine=FaultyEngine(EngineError("down")))
    assert [(d.id, d.waived) for d in result.decisions] == [("GATE-ERROR", False)]


WAIVERS = """\
- policy: FAIR-002
  subject: credit-scoring@prod
  reason: Mitigation retraining scheduled, ticket RISK-881
  owner: risk-ml@example.com
  approvedBy: cro@example.com
  expires: 2026-12-31
"""


def test_waivers_file_loads(tmp_path: Path) -> None:
    (tmp_path / "waivers.yaml").write_text(WAIVERS, encoding="utf-8")
    (loaded,) = load_waivers(tmp_path / "waivers.yaml")
    assert loaded.expires == dt.date(2026, 12, 31) and loaded.line == 1
    assert load_waivers(tmp_path / "missing.yaml") == ()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("policy: FAIR-002", "policy: FAIR-2"), ":1: [0].policy: String should match pattern"),
        (("  approvedBy: cro@example.com\n", ""), ":1: [0].approvedBy: required field is missing"),
        (("expires: 2026-12-31", "expires: soon"), ":6: [0].expires: Input should be a valid date"),
        (("  reason:", "  reasn: x\n  reason:"), ":3: [0].reasn: unknown field"),
        (("- policy", "policy"), ":2: invalid YAML"),
    ],
)
def test_malformed_waivers_name_file_line_and_field(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    file = tmp_path / "waivers.yaml"
    file.write_text(WAIVERS.replace(*edit, 1), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_waivers(file)
    assert str(caught.value).startswith(str(file) + expected)


@pytest.mark.parametrize("head", ["deny if {", "deny[v] {", "warn := {"])
def test_decisions_must_be_multi_value_rules(tmp_path: Path, head: str) -> None:
    # As conftest does: a `deny` that is not a set of decision objects cannot be judged.
    with pytest.raises(PolicyError) as caught:
        bundle_with(tmp_path, {"serving/serving.rego": f"package mlgate.serving\n\n{head}\n\tinput.x\n}}\n"})
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'policies' / 'serving' / 'serving.rego'}:3: ")
    assert "must be a multi-value rule" in message


def test_the_embedded_engine_evaluates_only_deny_and_warn(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, {"fairness/fairness.rego": RULE + "\nhelper := 1 / 0 if input.boom\n"})
    assert bundle.decision_rules("mlgate.fairness") == ("deny", "warn")
    values = RegorusEngine(bundle).evaluate({"dpd": 0.5, "n": 100, "boom": True}, ["mlgate.fairness", "mlgate.nope"])
    assert values["mlgate.fairness"]["warn"] == []
    assert [d["id"] for d in values["mlgate.fairness"]["deny"]] == ["FAIR-002"]
    assert values["mlgate.nope"] is UNDEFINED
