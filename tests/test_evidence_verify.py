"""Evidence integrity: the record of a check pins every evidence file; a later gate or ``mlgate evidence verify``
denies any file that changed, vanished or was never pinned, and checks artifact digests against the spec.

Everything runs through ``compliance.cli.main`` on a private copy of the example project, with the prod plan
captured once from the real program under Pulumi's mock engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliance.cli import main
from compliance.evidence.artifacts import artifact_digest
from compliance.evidence.pins import EvidencePin, compare_pins, load_pinned

NOW = "2026-11-25T12:00:00Z"
Edit = Callable[[Path, str, str], Path]
FAIRNESS = "evidence/product-recs/v12/fairness.json"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def check_json(capsys: pytest.CaptureFixture[str], project: Path, plan: Path, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(
        capsys, "check", "--now", NOW, "--env", "prod", "--root", str(project), "--plan", str(plan), "--format", "json",
        *args,
    )  # fmt: skip
    assert out, err
    return code, json.loads(out)


def pin_denials(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in result["decisions"] if d["id"] == "GATE-EVIDENCE-CHANGED"]


@pytest.fixture
def record(capsys: pytest.CaptureFixture[str], project: Path, prod_plan_path: Path) -> tuple[Path, dict[str, Any]]:
    """The JSON record of a check of the untouched project copy."""
    _, result = check_json(capsys, project, prod_plan_path)
    path = project / "record.json"
    path.write_text(json.dumps(result), encoding="utf-8")
    return path, result


# ------------------------------------------------------------------------------------------------ the gate


def test_the_record_pins_every_evidence_file_of_every_judged_version(
    record: tuple[Path, dict[str, Any]], project: Path
) -> None:
    _, result = record
    pins = {(p["subject"], p["version"], p["kind"]): p for p in result["evidence"]}
    assert ("product-recs@prod", "v12", "fairness") in pins
    assert ("credit-scoring@prod", "v6", "lineage") in pins
    pin = pins[("product-recs@prod", "v12", "fairness")]
    assert pin["file"] == FAIRNESS
    assert f"sha256:{pin['sha256']}" == artifact_digest(project / FAIRNESS)
    assert not any(s.startswith("platform@") for s, _, _ in pins)


def test_an_unchanged_project_passes_the_pins(
    capsys: pytest.CaptureFixture[str], record: tuple[Path, dict[str, Any]], project: Path, prod_plan_path: Path
) -> None:
    path, first = record
    code, again = check_json(capsys, project, prod_plan_path, "--pinned", str(path))
    assert pin_denials(again) == []
    assert code == first["exitCode"] == 1  # the example's intended denies, nothing more
    assert again["decisions"] == first["decisions"]


def test_a_changed_byte_is_a_deny(
    capsys: pytest.CaptureFixture[str], record: tuple[Path, dict[str, Any]], project: Path, prod_plan_path: Path
) -> None:
    path, _ = record
    evidence = project / FAIRNESS
    evidence.write_bytes(evidence.read_bytes().replace(b'"tool"', b' "tool"', 1))  # still valid JSON
    code, result = check_json(capsys, project, prod_plan_path, "--pinned", str(path))
    assert code == 1
    (denial,) = pin_denials(result)
    assert denial["subject"] == "product-recs@prod"
    assert denial["version"] == "v12"
    assert denial["waiver"] is None
    assert f"{FAIRNESS} changed since it was pinned" in denial["msg"]
    verdicts = {s["name"]: s["verdict"] for s in result["subjects"]}
    assert verdicts["product-recs@prod"] == "denied"


def test_a_vanished_or_unpinned_file_is_a_deny(
    capsys: pytest.CaptureFixture[str], record: tuple[Path, dict[str, Any]], project: Path, prod_plan_path: Path
) -> None:
    _, result = record
    (project / FAIRNESS).unlink()
    trimmed = dict(
        result, evidence=[p for p in result["evidence"] if p["file"] != "evidence/credit-scoring/v6/lineage.json"]
    )
    partial = project / "partial.json"
    partial.write_text(json.dumps(trimmed), encoding="utf-8")
    _, after = check_json(capsys, project, prod_plan_path, "--pinned", str(partial))
    messages = sorted(d["msg"] for d in pin_denials(after))
    assert len(messages) == 2
    assert f"version v12: fairness evidence {FAIRNESS} was pinned" in messages[0]
    assert messages[0].endswith("is now missing")
    assert (
        messages[1]
        == "version v6: lineage evidence evidence/credit-scoring/v6/lineage.json is not pinned by the record"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "pinned record is not JSON"),
        ('{"kind": "Plan"}', "not a GateResult record"),
        ('{"kind": "GateResult"}', "record has no evidence manifest"),
        ('{"kind": "GateResult", "evidence": [{"file": 3}]}', "malformed pin"),
    ],
)
def test_an_unusable_record_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, project: Path, content: str, message: str
) -> None:
    path = tmp_path / "record.json"
    path.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "check", "--env", "prod", "--root", str(project), "--pinned", str(path))
    assert code == 2
    assert out == ""
    assert err.startswith(f"mlgate: error: {path}") and message in err
    assert err.count("\n") == 1


def test_compare_pins_names_each_way_a_file_can_differ() -> None:
    pins = [
        EvidencePin("m@prod", "v1", "fairness", "a.json", "11"),
        EvidencePin("m@prod", "v1", "lineage", "b.json", None),
        EvidencePin("m@prod", "v1", "data", "c.json", "33"),
        EvidencePin("m@prod", "v2", "fairness", "d.json", "44"),
    ]
    problems = compare_pins(pins, {"a.json": "11", "b.json": "22", "c.json": None})
    assert [(p.pin.file, p.message.split(" ", 3)[3]) for p in problems] == [
        ("b.json", "was pinned (sha256 22…) and is now missing"),
        ("c.json", "was missing when pinned and exists now"),
        ("d.json", "is not pinned by the record"),
    ]


def test_load_pinned_rejects_two_digests_for_one_file(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    pins = [{"file": "a.json", "sha256": "1"}, {"file": "a.json", "sha256": "2"}]
    path.write_text(json.dumps({"kind": "GateResult", "evidence": pins}), encoding="utf-8")
    with pytest.raises(Exception, match="pinned twice"):
        load_pinned(path)


# --------------------------------------------------------------------------------------- evidence verify


def test_verify_finds_the_example_catalogs_one_artifact_mismatch(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "evidence", "verify", "--format", "json")
    report = json.loads(out)
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert code == 1
    # support-llm v3's lineage records another artifact than the spec pins: the example's intended LIN-002
    assert [(c["model"], c["version"], c["check"]) for c in failed] == [("support-llm", "v3", "lineage")]
    assert "records artifact sha256:e4b0" in failed[0]["detail"]
    assert report["failed"] == 1
    assert len(report["checks"]) >= 18


def test_verify_against_the_pinned_record_names_the_changed_file(
    capsys: pytest.CaptureFixture[str], record: tuple[Path, dict[str, Any]], project: Path
) -> None:
    path, _ = record
    args = ("evidence", "verify", "--root", str(project), "--env", "prod", "--pinned", str(path))
    code, out, _ = run(capsys, *args)
    assert code == 1 and out.count("FAIL  ") == 1  # only support-llm's artifact digest, as above
    (project / FAIRNESS).write_text((project / FAIRNESS).read_text(encoding="utf-8") + " ", encoding="utf-8")
    code, out, _ = run(capsys, *args)
    assert code == 1
    assert f"FAIL  product-recs@v12  fairness  fairness evidence {FAIRNESS} changed since it was pinned" in out
    assert "FAILED" in out.splitlines()[-1]


def test_verify_digests_a_local_artifact_and_rejects_evidence_of_another_version(
    capsys: pytest.CaptureFixture[str], project: Path, edit: Edit, tmp_path: Path
) -> None:
    artifact = tmp_path / "model"
    (artifact / "sub").mkdir(parents=True)
    (artifact / "model.joblib").write_bytes(b"\x80\x04weights")
    (artifact / "sub" / "config.json").write_text("{}", encoding="utf-8")
    digest = artifact_digest(artifact)
    spec = project / "models" / "support-llm.yaml"
    lineage = project / "evidence" / "support-llm" / "v3" / "lineage.json"
    old = json.loads(lineage.read_text(encoding="utf-8"))["artifact"]["digest"]
    edit(lineage, old, digest)
    spec_text = spec.read_text(encoding="utf-8")
    v3_digest = spec_text.split("name: v3", 1)[1].split("digest: ", 1)[1].split()[0]
    edit(spec, v3_digest, digest)
    edit(project / "evidence" / "support-llm" / "v2" / "fairness.json", '"version": "v2"', '"version": "v3"')

    base = ("evidence", "verify", "--root", str(project), "--format", "json")
    code, out, _ = run(capsys, *base, "--artifact", f"support-llm@v3={artifact}")
    checks = {(c["model"], c["version"], c["check"]): c for c in json.loads(out)["checks"]}
    assert checks[("support-llm", "v3", "artifact")]["status"] == "ok"
    assert checks[("support-llm", "v3", "lineage")]["status"] == "ok"
    assert checks[("support-llm", "v2", "fairness")]["detail"].endswith(
        "is evidence for support-llm@v3, not support-llm@v2"
    )
    assert code == 1

    (artifact / "sub" / "config.json").write_text('{"x": 1}', encoding="utf-8")
    _, out, _ = run(capsys, *base, "--artifact", f"support-llm@v3={artifact}")
    checks = {(c["model"], c["version"], c["check"]): c for c in json.loads(out)["checks"]}
    assert checks[("support-llm", "v3", "artifact")]["status"] == "fail"
    assert f"the spec pins {digest}" in checks[("support-llm", "v3", "artifact")]["detail"]


def test_verify_rejects_a_malformed_artifact_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["evidence", "verify", "--artifact", "support-llm=/tmp"])
    assert exit_.value.code == 2
    assert "'support-llm=/tmp' is not MODEL@VERSION=PATH" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("support-llm@v9=.", "--artifact names support-llm@v9, not a version of the catalog"),
        ("support-llm@v3=/no/such/dir", "artifact not found"),
    ],
)
def test_verify_rejects_an_unknown_artifact(capsys: pytest.CaptureFixture[str], flag: str, message: str) -> None:
    code, out, err = run(capsys, "evidence", "verify", "--artifact", flag)
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1
