"""compliance.cli: ``main([...])`` in-process, its exit codes, stdout/stderr and the files it writes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from compliance.cli import main
from compliance.plan.model import Plan

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(
    r"mlgate: plan prod: 310 resources in 3 regions \(eu-central-1, eu-west-1, us-east-1\): "
    r"20 Release, 20 InferenceService, 13 Role, 12 Tag → (?P<target>.+) \(\d+\.\d s\)"
)

Edit = Callable[[Path, str, str], Path]


@pytest.fixture
def prod_plan_file(tmp_path: Path, prod_plan: Plan) -> Path:
    path = tmp_path / "plan.prod.json"
    path.write_text(prod_plan.dumps(), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ plan


def test_plan_writes_a_json_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str], prod_plan: Plan) -> None:
    out = tmp_path / "plan.json"
    assert main(["plan", "--env", "prod", "--root", str(ROOT), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0] == "mlgate: running the program for prod (4 model deployments) …"
    match = SUMMARY.fullmatch(lines[1])
    assert match, lines[1]
    assert match["target"] == str(out)
    assert len(lines) == 2
    data = json.loads(out.read_text(encoding="utf-8"))
    assert (data["apiVersion"], data["kind"], data["project"], data["environment"], data["source"]) == (
        "mlgate.io/v1",
        "Plan",
        "mlgate",
        "prod",
        "mock",
    )
    assert len(data["resources"]) == 310
    assert out.read_text(encoding="utf-8") == prod_plan.dumps()
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temporary file left behind


def test_plan_to_stdout(capsys: pytest.CaptureFixture[str], prod_plan: Plan) -> None:
    assert main(["plan", "--env", "prod", "--root", str(ROOT), "--out", "-"]) == 0
    captured = capsys.readouterr()
    assert captured.out == prod_plan.dumps()
    assert Plan.from_json(json.loads(captured.out)) == prod_plan
    match = SUMMARY.fullmatch(captured.err.splitlines()[-1])
    assert match
    assert match["target"] == "stdout"


def test_plan_finds_the_project_root_upwards(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, dev_plan: Plan
) -> None:
    monkeypatch.chdir(ROOT / "stacks")  # where `pulumi up` runs the program
    out = tmp_path / "dev.json"
    assert main(["plan", "--env", "dev", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == dev_plan.dumps()
    assert "mlgate: plan dev: " in capsys.readouterr().err


def test_plan_of_an_unknown_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plan.json"
    assert main(["plan", "--env", "nosuch", "--root", str(ROOT), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"mlgate: error: {ROOT / 'stacks' / 'Pulumi.nosuch.yaml'}: no stack config for environment 'nosuch'\n"
    )
    assert captured.out == ""
    assert not out.exists()


def test_plan_into_a_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "no" / "such" / "plan.json"
    assert main(["plan", "--env", "dev", "--root", str(ROOT), "--out", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == f"mlgate: error: {out.parent}: output directory does not exist"
    assert not out.parent.exists()


# ----------------------------------------------------------------------------------- hostile input specs


BILLION_LAUGHS = "lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * 9)}]\n" for i in range(1, 10)
)


def _bad_yaml(project: Path, edit: Edit) -> tuple[Path, str]:
    file = edit(project / "models" / "credit-scoring.yaml", "  riskTier: high", "  riskTier: [high")
    return file, f"{file}:7: invalid YAML: "


def _wrong_type(project: Path, edit: Edit) -> tuple[Path, str]:
    file = edit(project / "models" / "credit-scoring.yaml", "minReplicas: 2,", 'minReplicas: "2",')
    return file, f"{file}:12: spec.autoscaling.minReplicas: Input should be a valid integer (got '2')"


def _unknown_field(project: Path, edit: Edit) -> tuple[Path, str]:
    file = edit(project / "models" / "support-llm.yaml", "    legalBasis: legitimate", "    legalbasis: legitimate")
    return file, f"{file}:30: spec.data.legalbasis: unknown field"


def _duplicate_names(project: Path, edit: Edit) -> tuple[Path, str]:
    first = project / "models" / "product-recs.yaml"
    second = project / "models" / "zz-product-recs-copy.yaml"
    second.write_text(first.read_text(encoding="utf-8"), encoding="utf-8")
    return second, f"{second}:4: metadata.name: model 'product-recs' is already defined in {first}"


def _huge_file(project: Path, edit: Edit) -> tuple[Path, str]:
    file = project / "models" / "huge.yaml"
    with file.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    return file, f"{file}: file is 50.0 MiB, larger than the 4 MiB limit"


def _alias_bomb(project: Path, edit: Edit) -> tuple[Path, str]:
    file = project / "models" / "bomb.yaml"
    file.write_text(BILLION_LAUGHS, encoding="utf-8")
    return file, f"{file}:1: document expands to more than 200,000 nodes (an alias bomb?)"


def _bad_stack(project: Path, edit: Edit) -> tuple[Path, str]:
    file = edit(project / "stacks" / "Pulumi.prod.yaml", "  aws:region: eu-west-1\n", "")
    return file, f"{file}: config: required key aws:region is missing"


def _region_outside_stack(project: Path, edit: Edit) -> tuple[Path, str]:
    file = edit(
        project / "models" / "support-llm.yaml",
        "regions: [eu-west-1, us-east-1]\n      traffic: {v2",
        "regions: [eu-west-1, us-west-2]\n      traffic: {v2",
    )
    return file, (
        f"{file}:34: spec.environments.prod.regions[1]: region 'us-west-2' is not a region of stack prod "
        "(eu-west-1, eu-central-1, us-east-1)"
    )


HOSTILE = {
    "bad-yaml": _bad_yaml,
    "wrong-type": _wrong_type,
    "unknown-field": _unknown_field,
    "duplicate-model-names": _duplicate_names,
    "50-mb-file": _huge_file,
    "alias-bomb": _alias_bomb,
    "stack-without-aws-region": _bad_stack,
    "region-outside-stack": _region_outside_stack,
}


@pytest.mark.parametrize("case", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_spec_is_one_clean_error_line(
    project: Path, edit: Edit, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: Callable[..., tuple[Path, str]]
) -> None:
    file, expected = case(project, edit)
    fresh = tmp_path / "fresh-plan.json"
    kept = tmp_path / "kept-plan.json"
    kept.write_text("previous plan\n", encoding="utf-8")
    for out in (fresh, kept):
        assert main(["plan", "--env", "prod", "--root", str(project), "--out", str(out)]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.splitlines()
        assert len(lines) == 1, captured.err
        assert lines[0].startswith(f"mlgate: error: {expected}"), lines[0]
        assert file.name in lines[0]
        assert "Traceback" not in captured.err
    assert not fresh.exists()
    assert kept.read_text(encoding="utf-8") == "previous plan\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept-plan.json", "project"]


def test_hostile_spec_with_verbose_raises(project: Path, edit: Edit) -> None:
    from compliance.errors import SpecError

    _wrong_type(project, edit)
    with pytest.raises(SpecError):
        main(["--verbose", "plan", "--env", "prod", "--root", str(project), "--out", "-"])


# ------------------------------------------------------------------------------------------- validate


def test_validate_a_missing_crd_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-crds"
    assert main(["validate", "--env", "prod", "--root", str(ROOT), "--crds", str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("mlgate: error: ")
    assert str(missing) in captured.err
    assert len(captured.err.splitlines()) == 1
    assert captured.out == ""


def test_validate_the_example_plan(crds_dir: Path, prod_plan_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--env", "prod", "--crds", str(crds_dir), "--plan", str(prod_plan_file)]) == 0
    assert capsys.readouterr().out == (
        "54 custom resources checked, 0 invalid, 0 errors (24 built-in Kubernetes objects not checked; "
        "14 monitoring.coreos.com objects not checked: no CRD of that group in the directory)\n"
    )


def test_validate_captures_when_no_plan_is_given(crds_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--env", "staging", "--root", str(ROOT), "--crds", str(crds_dir)]) == 0
    captured = capsys.readouterr()
    assert captured.out == (
        "36 custom resources checked, 0 invalid, 0 errors (20 built-in Kubernetes objects not checked; "
        "16 monitoring.coreos.com objects not checked: no CRD of that group in the directory)\n"
    )
    assert captured.err == "mlgate: running the program for staging (5 model deployments) …\n"


@pytest.fixture
def broken_plan_file(prod_plan_file: Path) -> Path:
    data = json.loads(prod_plan_file.read_text(encoding="utf-8"))
    (target,) = [r for r in data["resources"] if r["name"] == "credit-scoring-eu-west-1-v7"]
    target["inputs"]["spec"]["predictor"]["minReplica"] = 1  # a typo of minReplicas
    prod_plan_file.write_text(json.dumps(data), encoding="utf-8")
    return prod_plan_file


def test_validate_reports_an_unknown_field(
    crds_dir: Path, broken_plan_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--env", "prod", "--crds", str(crds_dir), "--plan", str(broken_plan_file)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "credit-scoring-eu-west-1-v7 [eu-west-1] (InferenceService credit-scoring-prod/credit-scoring-v7): "
        "spec.predictor.minReplica: unknown field",
        "54 custom resources checked, 1 invalid, 1 errors (24 built-in Kubernetes objects not checked; "
        "14 monitoring.coreos.com objects not checked: no CRD of that group in the directory)",
    ]


def test_validate_reports_an_unknown_field_as_json(
    crds_dir: Path, broken_plan_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["validate", "--env", "prod", "--crds", str(crds_dir), "--plan", str(broken_plan_file), "--format", "json"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {
        "checked": 54,
        "skippedBuiltin": 24,
        "uncheckedGroups": {"monitoring.coreos.com": 14},
        "problems": [
            {
                "resource": "credit-scoring-eu-west-1-v7",
                "kind": "InferenceService credit-scoring-prod/credit-scoring-v7",
                "region": "eu-west-1",
                "path": "spec.predictor.minReplica",
                "message": "unknown field",
            }
        ],
    }
    assert captured.err == ""


def test_validate_a_plan_of_another_environment(
    crds_dir: Path, prod_plan_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--env", "dev", "--crds", str(crds_dir), "--plan", str(prod_plan_file)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"mlgate: error: {prod_plan_file}: plan is for environment 'prod', not 'dev'\n"
    assert captured.out == ""


def test_validate_a_missing_plan_file(crds_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.json"
    assert main(["validate", "--env", "prod", "--crds", str(crds_dir), "--plan", str(missing)]) == 2
    assert capsys.readouterr().err == f"mlgate: error: {missing}: file not found\n"


def test_validate_a_plan_that_is_not_json(crds_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "Plan",\n  oops}\n', encoding="utf-8")
    assert main(["validate", "--env", "prod", "--crds", str(crds_dir), "--plan", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mlgate: error: {bad}:2: invalid JSON: ")
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------------------- schema


@pytest.fixture(scope="module")
def schema() -> dict[str, object]:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["schema"]) == 0
    return json.loads(buffer.getvalue())


def test_schema_is_draft_2020_12(schema: dict[str, object]) -> None:
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "mlgate ModelDeployment"


@pytest.mark.parametrize("model", sorted(p.name for p in (ROOT / "models").glob("*.yaml")))
def test_schema_accepts_every_example(schema: dict[str, object], model: str) -> None:
    document = yaml.safe_load((ROOT / "models" / model).read_text(encoding="utf-8"))
    assert [e.message for e in Draft202012Validator(schema).iter_errors(document)] == []


def test_schema_rejects_an_unknown_field(schema: dict[str, object]) -> None:
    document = yaml.safe_load((ROOT / "models" / "credit-scoring.yaml").read_text(encoding="utf-8"))
    document["spec"]["autoscaling"]["minReplica"] = 2
    errors = list(Draft202012Validator(schema).iter_errors(document))
    assert [(list(e.absolute_path), e.validator) for e in errors] == [(["spec", "autoscaling"], "additionalProperties")]
    assert "'minReplica' was unexpected" in errors[0].message


def test_schema_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], schema: dict[str, object]) -> None:
    out = tmp_path / "schema.json"
    assert main(["schema", "--out", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == schema
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"mlgate: JSON Schema written to {out}\n"


# ----------------------------------------------------------------------------------------------- usage


@pytest.mark.parametrize("argv", [["--help"], ["plan", "--help"], ["validate", "--help"], ["schema", "--help"]])
def test_help_exits_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: mlgate{' ' + argv[0] if argv[0] != '--help' else ''}")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == "mlgate 0.1.0\n"


@pytest.mark.parametrize(
    "argv",
    [[], ["plan"], ["validate", "--env", "prod"], ["nosuch"], ["plan", "--env", "prod", "--workers", "x"]],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: mlgate")
    assert "error: " in err
