"""compliance.outputs: every CI format of ``mlgate check`` against one hand-built GateResult.

Each formatter's output is pinned by a golden file, ``tests/golden/check.<format>``. After an intended change,
regenerate them and review the diff::

    MLGATE_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_outputs.py

Beyond the goldens: SARIF validates against the SARIF 2.1.0 JSON schema in ``../shared/schemas/sarif`` (skipped
when ../shared is absent), JUnit parses with junitparser (or xml.etree when junitparser is not installed) with
its counts asserted, GitHub workflow commands escape per the Actions toolkit, and an unknown format is a
UsageError naming the known ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from compliance import outputs
from compliance.errors import UsageError
from compliance.evidence.pins import EvidencePin
from compliance.gate.decisions import GATE_ERROR, Decision, GateResult, RuleInfo, Subject, Waiver
from compliance.outputs.github import GithubFormatter, escape_data, escape_property
from compliance.outputs.sarif import SarifFormatter, fingerprint
from compliance.outputs.text import TextFormatter, short_control

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
SARIF_SCHEMA = ROOT.parent / "shared" / "schemas" / "sarif" / "sarif-schema-2.1.0.json"
UPDATE = os.environ.get("MLGATE_UPDATE_GOLDEN") == "1"

PACKAGES = ("mlgate.fairness", "mlgate.lineage", "mlgate.data", "mlgate.serving", "mlgate.platform")
FAIR_CONTROLS = ("EU AI Act Art. 10(2)(f)", "NIST AI RMF MEASURE 2.11")

RULES = (
    RuleInfo(
        id="FAIR-001",
        title="Demographic parity within threshold",
        description="The demographic parity difference of every sensitive feature stays within the threshold.",
        severity="high",
        level="deny",
        package="mlgate.fairness",
        controls={"eu-ai-act": ("Art. 10(2)(f)",), "nist-ai-rmf": ("MEASURE 2.11",)},
        file="policies/fairness/fairness.rego",
        line=14,
    ),
    RuleInfo(
        id="FAIR-002",
        title="Fairness confidence interval reported",
        description="Fairness evidence carries a confidence interval for each metric.",
        severity="medium",
        level="warn",
        package="mlgate.fairness",
        controls={"iso-42001": ("A.6.2.4",)},
    ),
    RuleInfo(
        id="LIN-003",
        title="Training run approved by model risk",
        description="Lineage evidence records an approval by the model-risk role.",
        severity="medium",
        level="warn",
        package="mlgate.lineage",
        controls={"eu-ai-act": ("Art. 17(1)(d)",), "iso-42001": ("A.6.2.3",)},
    ),
    RuleInfo(
        id="PLAT-002",
        title="Node pools scale to zero",
        description="GPU node pools allow zero nodes when idle.",
        severity="low",
        level="warn",
        package="mlgate.platform",
    ),
)

WAIVER = Waiver(
    policy="FAIR-002",
    subject="credit-scoring@prod",
    reason="Intervals land with the next evaluation run, ticket RISK-881",
    owner="risk-ml@example.com",
    approvedBy="cro@example.com",
    expires=dt.date(2026, 12, 31),
    file="policies/waivers.yaml",
    line=3,
)


def make_result(*, gate_error: bool = True) -> GateResult:
    """A passing deployment, a denied one (a deny, a waived warn, a warn whose waiver expired), a GATE-ERROR one,
    and the platform with a warn that has no file."""
    subjects = [
        Subject("fraud-detection@prod", "deployment", file="models/fraud-detection.yaml", line=1),
        Subject("credit-scoring@prod", "deployment", file="models/credit-scoring.yaml", line=1),
    ]
    decisions = [
        Decision(
            id="FAIR-001",
            level="deny",
            msg="sex: demographic parity difference 0.12 exceeds 0.10 [prod threshold]",
            subject="credit-scoring@prod",
            policy="mlgate.fairness",
            controls=FAIR_CONTROLS,
            version="v7",
            file="models/credit-scoring.yaml",
            line=12,
        ),
        Decision(
            id="FAIR-002",
            level="warn",
            msg="race: no confidence interval for demographicParityDifference",
            subject="credit-scoring@prod",
            policy="mlgate.fairness",
            controls=("ISO/IEC 42001 A.6.2.4",),
            waiver=WAIVER,
            version="v7",
            file="models/credit-scoring.yaml",
            line=12,
        ),
        Decision(  # its waiver (LIN-003, expired 2026-10-01) waives nothing: an unwaived warn
            id="LIN-003",
            level="warn",
            msg="v7: no approval by role model-risk (waiver for LIN-003 expired 2026-10-01)",
            subject="credit-scoring@prod",
            policy="mlgate.lineage",
            version="v7",
            region="eu-west-1",
            file="models/credit-scoring.yaml",
        ),
    ]
    if gate_error:
        subjects.append(Subject("churn-model@prod", "deployment", file="models/churn-model.yaml"))
        decisions.append(
            Decision(
                id=GATE_ERROR,
                level="deny",
                msg="evidence/churn-model/v3/lineage.json: cannot read: No such file or directory",
                subject="churn-model@prod",
                policy="mlgate.lineage",
                version="v3",
                file="models/churn-model.yaml",
                line=18,
            )
        )
    subjects.append(Subject("platform@prod", "platform"))
    decisions.append(
        Decision(
            id="PLAT-002",
            level="warn",
            msg="node pool a10g in eu-west-1 has minSize 1, 50% idle cost",
            subject="platform@prod",
            policy="mlgate.platform",
            region="eu-west-1",
        )
    )
    evidence = (
        EvidencePin("credit-scoring@prod", "v7", "fairness", "evidence/credit-scoring/v7/fairness.json", "ab" * 32),
        EvidencePin("credit-scoring@prod", "v7", "lineage", "evidence/credit-scoring/v7/lineage.json", None),
    )
    return GateResult(
        environment="prod",
        subjects=tuple(subjects),
        decisions=tuple(decisions),
        rules=RULES,
        packages=PACKAGES,
        evidence=evidence,
    )


def formatter(name: str) -> outputs.Formatter:
    """The registry's formatter, but SARIF with a fixed tool version and URI so the golden survives releases."""
    if name == "sarif":
        return SarifFormatter(tool_version="0.0.0-test", information_uri="https://mlgate.example/docs")
    return outputs.get(name)


# --------------------------------------------------------------------------------------------- registry


def test_registry_names_and_formatters() -> None:
    assert outputs.names() == ["text", "json", "sarif", "junit", "github"]
    for name, fmt in outputs.FORMATS.items():
        assert fmt.name == name
        assert fmt.description and "\n" not in fmt.description
        assert outputs.get(name) is fmt


def test_unknown_format_is_a_usage_error_naming_the_known_ones() -> None:
    with pytest.raises(UsageError) as info:
        outputs.get("xml")
    message = info.value.diagnostics()
    assert "'xml'" in message
    for name in outputs.names():
        assert name in message
    assert info.value.field == "--format"


def test_importing_the_registry_does_not_import_rich() -> None:
    code = "import sys, compliance.outputs; print('rich' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------------- goldens


@pytest.mark.parametrize("name", ["text", "json", "sarif", "junit", "github"])
def test_golden(name: str) -> None:
    if name == "text":
        pytest.importorskip("rich", reason="the text format needs rich (a dependency of mlgate)")
    rendered = formatter(name).render(make_result())
    assert rendered == formatter(name).render(make_result()), "rendering must be deterministic"
    assert rendered.endswith("\n") and not rendered.endswith("\n\n")
    golden = GOLDEN / f"check.{name}"
    if UPDATE:
        golden.write_text(rendered, encoding="utf-8")
    assert golden.is_file(), f"{golden} is missing: run MLGATE_UPDATE_GOLDEN=1 pytest {Path(__file__).name}"
    assert rendered == golden.read_text(encoding="utf-8"), (
        f"{name} output differs from {golden}; if intended, regenerate with MLGATE_UPDATE_GOLDEN=1"
    )


# ------------------------------------------------------------------------------------------------- text


def test_text_table_marks_waived_lists_passed_and_ends_with_the_summary() -> None:
    pytest.importorskip("rich", reason="the text format needs rich (a dependency of mlgate)")
    result = make_result()
    text = TextFormatter().render(result)
    lines = text.splitlines()
    assert (
        lines[-1]
        == result.summary()
        == ("3 deployments, 1 passed, 0 warned, 2 denied, 1 waived; platform warned; 1 gate errors")
    )
    assert "\x1b[" not in text
    assert all(len(line) <= 120 for line in lines)
    assert any(line.startswith("fraud-detection@prod  passed") for line in lines)
    assert any(line.startswith("credit-scoring@prod  denied") for line in lines)
    at = next(i for i, line in enumerate(lines) if "FAIR-002" in line)
    assert "warn (waived)" in lines[at] and lines[at].endswith("risk-ml@example.com")
    assert lines[at + 1].endswith("expires 2026-12-31")
    assert "[prod threshold]" in text, "messages are not rich markup"
    assert "AIA Art. 10(2)(f)" in text and "RMF MEASURE 2.11" in text


def test_text_color_only_when_asked() -> None:
    pytest.importorskip("rich", reason="the text format needs rich (a dependency of mlgate)")
    colored = outputs.get("text", color=True).render(make_result())
    assert "\x1b[" in colored
    assert colored.splitlines()[-1].endswith("\x1b[0m")


def test_short_control() -> None:
    assert short_control("EU AI Act Art. 10(2)(f)") == "AIA Art. 10(2)(f)"
    assert short_control("NIST AI RMF MEASURE 2.11") == "RMF MEASURE 2.11"
    assert short_control("ISO/IEC 42001 A.6.2.4") == "ISO 42001 A.6.2.4"
    assert short_control("SOC 2 CC6.1") == "SOC 2 CC6.1"


# ------------------------------------------------------------------------------------------------- json


def test_json_is_the_result_document() -> None:
    result = make_result()
    assert json.loads(outputs.get("json").render(result)) == json.loads(json.dumps(result.to_json()))


# ------------------------------------------------------------------------------------------------ sarif


def sarif(result: GateResult) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(formatter("sarif").render(result))
    return document


def test_sarif_validates_against_the_2_1_0_schema() -> None:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"../shared not found: {SARIF_SCHEMA} is missing; the SARIF schema comes from the shared folder")
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    Draft4Validator.check_schema(schema)
    validator = Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
    for result in (make_result(), make_result(gate_error=False)):
        errors = sorted(validator.iter_errors(sarif(result)), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_sarif_rules_results_and_invocation() -> None:
    result = make_result()
    (run,) = sarif(result)["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "mlgate" and driver["version"] == "0.0.0-test"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert rule_ids == ["FAIR-001", "FAIR-002", "LIN-003", "PLAT-002", GATE_ERROR]
    fair = driver["rules"][0]
    assert fair["name"] == "Demographic parity within threshold"
    assert fair["defaultConfiguration"] == {"level": "error"}
    assert fair["properties"] == {"severity": "high", "package": "mlgate.fairness", "tags": list(FAIR_CONTROLS)}
    assert "EU AI Act Art. 10(2)(f)" in fair["help"]["markdown"]
    assert driver["rules"][1]["defaultConfiguration"] == {"level": "warning"}

    results = run["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("FAIR-001", "error"),
        ("FAIR-002", "warning"),
        ("LIN-003", "warning"),
        (GATE_ERROR, "error"),
        ("PLAT-002", "warning"),
    ]
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in results)
    deny, waived, expired, gate_error, platform = results
    assert deny["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "models/credit-scoring.yaml", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 12},
            }
        }
    ]
    assert deny["properties"]["controls"] == list(FAIR_CONTROLS)
    assert deny["properties"]["subject"] == "credit-scoring@prod" and deny["properties"]["version"] == "v7"
    assert "region" not in expired["locations"][0]["physicalLocation"], "no line: no region"
    assert expired["properties"]["controls"] == ["EU AI Act Art. 17(1)(d)", "ISO/IEC 42001 A.6.2.3"], "from RuleInfo"
    assert "suppressions" not in expired
    assert "locations" not in platform, "no file: no location"
    assert waived["suppressions"][0]["kind"] == "external"
    assert waived["suppressions"][0]["status"] == "accepted"
    assert waived["suppressions"][0]["justification"] == WAIVER.reason
    assert "suppressions" not in deny and "suppressions" not in gate_error
    prints = [r["partialFingerprints"]["mlgateDecision/v1"] for r in results]
    assert len(set(prints)) == len(prints)
    assert prints[0] == fingerprint(result.decisions[0])

    (invocation,) = run["invocations"]
    assert invocation["exitCode"] == result.exit_code() == 2  # a GATE-ERROR: the gate could not decide
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["descriptor"] == {"id": GATE_ERROR}


def test_sarif_fingerprint_ignores_the_line() -> None:
    decision = make_result().decisions[0]
    moved = dataclasses.replace(decision, line=40)
    assert fingerprint(moved) == fingerprint(decision)
    assert fingerprint(dataclasses.replace(decision, version="v8")) != fingerprint(decision)


def test_sarif_execution_successful_without_gate_error() -> None:
    (run,) = sarif(make_result(gate_error=False))["runs"]
    assert run["invocations"] == [{"executionSuccessful": True, "exitCode": 1}]


def test_sarif_unknown_rule_id_still_has_a_descriptor() -> None:
    result = GateResult(
        environment="dev",
        subjects=(Subject("m@dev", "deployment"),),
        decisions=(Decision(id="DATA-009", level="warn", msg="x", subject="m@dev", policy="mlgate.data"),),
    )
    (run,) = sarif(result)["runs"]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [GATE_ERROR, "DATA-009"]
    assert run["results"][0]["ruleIndex"] == 1
    assert run["invocations"][0]["exitCode"] == 0


# ------------------------------------------------------------------------------------------------ junit


def junit_counts(xml: str) -> dict[str, Any]:
    """Per suite: (tests, failures, errors) as the XML states them and as its testcases show them."""
    try:
        from junitparser import Error, Failure, JUnitXml
    except ImportError:
        root = ET.fromstring(xml)
        suites = root.findall("testsuite")
        stated = {
            s.get("name"): (int(s.get("tests", -1)), int(s.get("failures", -1)), int(s.get("errors", -1)))
            for s in suites
        }
        counted = {}
        for s in suites:
            cases = s.findall("testcase")
            errs = sum(1 for c in cases if c.find("error") is not None)
            fails = sum(1 for c in cases if c.find("error") is None and c.find("failure") is not None)
            counted[s.get("name")] = (len(cases), fails, errs)
        names = {s.get("name"): [c.get("name") for c in s.findall("testcase")] for s in suites}
        totals = (int(root.get("tests", -1)), int(root.get("failures", -1)), int(root.get("errors", -1)))
        return {"stated": stated, "counted": counted, "cases": names, "totals": totals}
    parsed = JUnitXml.fromstring(xml)
    stated, counted, names = {}, {}, {}
    for suite in parsed:
        cases = list(suite)
        errs = sum(1 for c in cases if any(isinstance(r, Error) for r in c.result))
        fails = sum(
            1
            for c in cases
            if any(isinstance(r, Failure) for r in c.result) and not any(isinstance(r, Error) for r in c.result)
        )
        stated[suite.name] = (suite.tests, suite.failures, suite.errors)
        counted[suite.name] = (len(cases), fails, errs)
        names[suite.name] = [c.name for c in cases]
        assert all(c.classname == suite.name for c in cases)
    return {
        "stated": stated,
        "counted": counted,
        "cases": names,
        "totals": (parsed.tests, parsed.failures, parsed.errors),
    }


def test_junit_parses_with_counts() -> None:
    xml = outputs.get("junit").render(make_result())
    counts = junit_counts(xml)
    expected = {
        "fraud-detection@prod": (5, 0, 0),
        "credit-scoring@prod": (5, 1, 0),
        "churn-model@prod": (5, 0, 1),
        "platform@prod": (5, 0, 0),
    }
    assert counts["stated"] == expected
    assert counts["counted"] == expected
    assert counts["totals"] == (20, 1, 1)
    assert all(cases == list(PACKAGES) for cases in counts["cases"].values()), "every package, even when passing"

    root = ET.fromstring(xml)
    credit = root.find("testsuite[@name='credit-scoring@prod']")
    assert credit is not None
    fairness = credit.find("testcase[@name='mlgate.fairness']")
    assert fairness is not None
    failure = fairness.find("failure")
    assert failure is not None
    assert failure.get("message") == "FAIR-001: sex: demographic parity difference 0.12 exceeds 0.10 [prod threshold]"
    out = fairness.findtext("system-out") or ""
    assert out.startswith("WAIVED warn FAIR-002:") and "risk-ml@example.com" in out
    assert (credit.findtext("testcase[@name='mlgate.lineage']/system-out") or "").startswith("WARN LIN-003:")


def test_junit_escapes_and_drops_invalid_xml_characters() -> None:
    result = GateResult(
        environment="dev",
        subjects=(Subject("m@dev", "deployment"),),
        decisions=(
            Decision(id="DATA-001", level="deny", msg='<b> & "q" \x07bell', subject="m@dev", policy="mlgate.data"),
        ),
        packages=("mlgate.data",),
    )
    root = ET.fromstring(outputs.get("junit").render(result))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == 'DATA-001: <b> & "q" \ufffdbell'


# ----------------------------------------------------------------------------------------------- github


def test_github_escaping() -> None:
    assert escape_data("50% off\r\nline 2: a, b") == "50%25 off%0D%0Aline 2: a, b"
    assert escape_property("dir, with: 50%\n") == "dir%2C with%3A 50%25%0A"
    decision = Decision(
        id="SERV-004",
        level="deny",
        msg="p99 latency 120% of budget:\nregions eu-west-1, eu-central-1",
        subject="credit-scoring@prod",
        policy="mlgate.serving",
        file="models/a,b:c.yaml",
        line=7,
    )
    assert GithubFormatter.annotation(decision) == (
        "::error file=models/a%2Cb%3Ac.yaml,line=7,title=SERV-004::"
        "credit-scoring@prod: p99 latency 120%25 of budget:%0Aregions eu-west-1, eu-central-1"
    )


def test_github_levels_and_summary() -> None:
    result = make_result()
    lines = outputs.get("github").render(result).splitlines()
    assert [line.split(" ", 1)[0].split("::")[1] for line in lines[:-1]] == [
        "error",
        "notice",
        "warning",
        "error",
        "warning",
    ]
    assert lines[0].startswith("::error file=models/credit-scoring.yaml,line=12,title=FAIR-001::")
    assert lines[2].startswith("::warning file=models/credit-scoring.yaml,title=LIN-003::"), "no line: no line="
    assert lines[4].startswith("::warning title=PLAT-002::"), "no file: no file="
    assert "waived warn" in lines[1]
    assert lines[-1] == result.summary()
