"""``mlgate evidence fairness``: metrics equal fairlearn's, intervals are reproducible, errors are one line.

Predictions come from a fixed rule on the first 10,000 rows of ../shared/data/adult.csv (real fairlearn,
real data); the error cases use tiny hand-written tables.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from compliance.cli import main
from compliance.evidence import read_evidence
from compliance.evidence.fairness import FairnessRequest, build_fairness_evidence, disparities_from_counts
from compliance.evidence.formats import FairnessEvidence

pd = pytest.importorskip("pandas")
fairlearn_metrics = pytest.importorskip("fairlearn.metrics")
sklearn_metrics = pytest.importorskip("sklearn.metrics")

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT.parent / "shared" / "data" / "adult.csv"
ROWS = 10_000
PINNED = "2026-11-20T10:00:00Z"
TOL = 1e-9


@pytest.fixture(scope="module")
def predictions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """label, score, prediction and two sensitive columns from a deterministic rule on adult.csv."""
    if not ADULT.is_file():
        pytest.skip(f"{ADULT} not found: the fairness tests need the UCI adult data set there")
    adult = pd.read_csv(ADULT, nrows=ROWS)
    z = (
        0.35 * (adult["education-num"] - 10)
        + 0.04 * (adult["hours-per-week"] - 40)
        + 0.03 * (adult["age"] - 38)
        + 0.0002 * adult["capital-gain"]
        - 1.0
    )
    score = (1 / (1 + np.exp(-z))).round(6)
    table = pd.DataFrame(
        {
            "income": adult["income"],
            "score": score,
            "predicted": np.where(score >= 0.5, ">50K", "<=50K"),
            "sex": adult["sex"],
            "race": adult["race"],
        }
    )
    path = tmp_path_factory.mktemp("fairness") / "predictions.csv"
    table.to_csv(path, index=False)
    return path


def _request(path: Path, **overrides: Any) -> FairnessRequest:
    fields: dict[str, Any] = {
        "model": "credit-scoring",
        "version": "v7",
        "predictions": path,
        "label": "income",
        "score": "score",
        "sensitive": ["sex", "race"],
        "favorable": ">50K",
        "generated_at": PINNED,
    }
    fields.update(overrides)
    return FairnessRequest(**fields)


@pytest.fixture(scope="module")
def document(predictions: Path) -> dict[str, Any]:
    return build_fairness_evidence(_request(predictions))


def _argv(path: Path, out: Path, *extra: str) -> list[str]:
    return [
        "evidence",
        "fairness",
        "--model",
        "credit-scoring",
        "--version",
        "v7",
        "--predictions",
        str(path),
        "--label",
        "income",
        "--sensitive",
        "sex,race",
        "--favorable",
        ">50K",
        "--generated-at",
        PINNED,
        "--out",
        str(out),
        *extra,
    ]


# ------------------------------------------------------------------------------------------- metrics


def test_metrics_equal_fairlearn_on_the_rows(predictions: Path, document: dict[str, Any]) -> None:
    table = pd.read_csv(predictions)
    y = (table["income"] == ">50K").to_numpy().astype(int)
    p = (table["score"] >= 0.5).to_numpy().astype(int)
    assert document["performance"]["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(y, p), abs=TOL)
    assert document["performance"]["auc"] == pytest.approx(sklearn_metrics.roc_auc_score(y, table["score"]), abs=TOL)
    for feature in ("sex", "race"):
        got = document["features"][feature]
        sf = table[feature]
        expected = {
            "demographicParityDifference": fairlearn_metrics.demographic_parity_difference(y, p, sensitive_features=sf),
            "demographicParityRatio": fairlearn_metrics.demographic_parity_ratio(y, p, sensitive_features=sf),
            "equalizedOddsDifference": fairlearn_metrics.equalized_odds_difference(y, p, sensitive_features=sf),
        }
        for name, value in expected.items():
            assert got[name] == pytest.approx(value, abs=TOL), (feature, name)
        frame = fairlearn_metrics.MetricFrame(
            metrics={
                "n": fairlearn_metrics.count,
                "selectionRate": fairlearn_metrics.selection_rate,
                "tpr": fairlearn_metrics.true_positive_rate,
                "fpr": fairlearn_metrics.false_positive_rate,
                "accuracy": sklearn_metrics.accuracy_score,
            },
            y_true=y,
            y_pred=p,
            sensitive_features=sf,
        )
        assert set(got["groups"]) == set(frame.by_group.index)
        for group, row in frame.by_group.iterrows():
            metrics = got["groups"][group]
            assert metrics["n"] == int(row["n"])
            for name in ("selectionRate", "tpr", "fpr", "accuracy"):
                assert metrics[name] == pytest.approx(row[name], abs=TOL), (feature, group, name)


def test_count_based_disparities_equal_fairlearn(predictions: Path, document: dict[str, Any]) -> None:
    """The bootstrap computes the metrics from cell counts: on the observed counts they equal fairlearn's."""
    table = pd.read_csv(predictions)
    y = (table["income"] == ">50K").to_numpy().astype(np.int64)
    p = (table["score"] >= 0.5).to_numpy().astype(np.int64)
    for feature in ("sex", "race"):
        codes, _ = pd.factorize(table[feature], sort=True)
        counts = np.bincount((codes * 2 + y) * 2 + p, minlength=4 * (codes.max() + 1)).reshape(-1, 2, 2)
        dpd, dpr, eod = disparities_from_counts(counts)
        got = document["features"][feature]
        assert float(dpd) == pytest.approx(got["demographicParityDifference"], abs=TOL)
        assert float(dpr) == pytest.approx(got["demographicParityRatio"], abs=TOL)
        assert float(eod) == pytest.approx(got["equalizedOddsDifference"], abs=TOL)


def test_group_without_positives_matches_fairlearn_and_writes_null_tpr(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("y,p,g\n1,1,a\n0,1,a\n1,0,a\n0,0,a\n0,0,b\n0,1,b\n0,0,b\n", encoding="utf-8")
    doc = build_fairness_evidence(
        FairnessRequest(
            model="m", version="v", predictions=path, label="y", prediction="p", sensitive=["g"], favorable="1"
        )
    )
    y, p, g = [1, 0, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 1, 0], list("aaaabbb")
    eod = fairlearn_metrics.equalized_odds_difference(y, p, sensitive_features=g)
    assert doc["features"]["g"]["equalizedOddsDifference"] == pytest.approx(eod, abs=TOL)
    assert doc["features"]["g"]["groups"]["b"]["tpr"] is None
    counts = np.array([[[1, 1], [1, 1]], [[2, 1], [0, 0]]])
    assert float(disparities_from_counts(counts)[2]) == pytest.approx(eod, abs=TOL)
    FairnessEvidence.model_validate(doc)


# ------------------------------------------------------------------------------------------- output


def test_output_validates_and_has_the_design_fields(document: dict[str, Any], predictions: Path) -> None:
    FairnessEvidence.model_validate(document)
    assert document["dataset"]["rows"] == ROWS
    assert document["dataset"]["uri"] == str(predictions)
    assert document["dataset"]["digest"].startswith("sha256:")
    assert document["generatedAt"] == PINNED
    assert document["tool"].startswith("mlgate ")
    for feature in document["features"].values():
        assert set(feature["intervals"]) == {
            "demographicParityDifference",
            "demographicParityRatio",
            "equalizedOddsDifference",
        }
        for low, high in feature["intervals"].values():
            assert 0 <= low <= high <= 1


def test_cli_writes_reproducible_evidence(
    predictions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, other = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    assert main(_argv(predictions, first, "--score", "score", "--bootstrap", "100", "--seed", "3")) == 0
    assert main(_argv(predictions, second, "--score", "score", "--bootstrap", "100", "--seed", "3")) == 0
    assert main(_argv(predictions, other, "--score", "score", "--bootstrap", "100", "--seed", "4")) == 0
    assert "fairness evidence credit-scoring@v7" in capsys.readouterr().err
    assert first.read_bytes() == second.read_bytes()
    a, c = json.loads(first.read_text()), json.loads(other.read_text())
    assert a["features"]["race"]["intervals"] != c["features"]["race"]["intervals"]
    assert a["features"]["race"]["demographicParityDifference"] == c["features"]["race"]["demographicParityDifference"]
    evidence = read_evidence(first, "fairness", "a.json")
    assert evidence.present and evidence.document == a


def test_cli_prediction_column_and_no_bootstrap(predictions: Path, tmp_path: Path, document: dict[str, Any]) -> None:
    out = tmp_path / "f.json"
    argv = _argv(predictions, out, "--prediction", "predicted", "--bootstrap", "0", "--dataset-uri", "s3://eval/x")
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    assert doc["dataset"]["uri"] == "s3://eval/x"
    assert set(doc["performance"]) == {"accuracy"}
    assert all(feature["intervals"] == {} for feature in doc["features"].values())
    for name in ("sex", "race"):  # the same predictions as score >= 0.5
        expected = document["features"][name]["demographicParityDifference"]
        assert doc["features"][name]["demographicParityDifference"] == pytest.approx(expected, abs=TOL)


def test_help_does_not_import_pandas_or_fairlearn() -> None:
    code = (
        "import sys\nfrom compliance.cli import main\n"
        "try:\n    main(['evidence', 'fairness', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('pandas', 'fairlearn', 'sklearn') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip().splitlines()[-1] == "[]"


# ------------------------------------------------------------------------------------------- bad inputs

GOOD = "y,s,p,g\n1,0.9,1,a\n0,0.2,0,b\n1,0.7,1,b\n0,0.6,1,a\n"

BAD: list[tuple[str, str | None, list[str], str]] = [
    # id, file content (None: no file), extra flags, what the one-line error must name
    ("missing-file", None, ["--prediction", "p"], "file not found"),
    ("missing-label", GOOD, ["--prediction", "p", "--label", "nope"], "nope: no such column (given by --label)"),
    ("missing-sensitive", GOOD, ["--prediction", "p", "--sensitive", "g,zz"], "zz: no such column (given by --sen"),
    ("missing-score", GOOD, ["--score", "zz"], "zz: no such column (given by --score)"),
    ("empty-file", "", ["--prediction", "p"], "file is empty"),
    ("header-only", "y,s,p,g\n", ["--prediction", "p"], "table has no rows"),
    ("single-group", "y,p,g\n1,1,a\n0,0,a\n", ["--prediction", "p"], "g: sensitive feature has a single group"),
    ("no-favorable", GOOD, ["--prediction", "p", "--favorable", "yes"], "y: no label equals the favorable value"),
    ("non-numeric-score", "y,s,g\n1,high,a\n0,0.1,b\n", ["--score", "s"], "s: score column is not numeric"),
    ("nan-label", "y,p,g\n1,1,a\n,0,b\n", ["--prediction", "p"], "y: missing value"),
    ("nan-sensitive", "y,p,g\n1,1,a\n0,0,\n", ["--prediction", "p"], "g: missing value"),
    ("threshold-without-score", GOOD, ["--prediction", "p", "--threshold", "0.3"], "--threshold"),
    ("bad-bootstrap", GOOD, ["--prediction", "p", "--bootstrap", "-1"], "--bootstrap"),
    ("repeated-sensitive", GOOD, ["--prediction", "p", "--sensitive", "g,g"], "--sensitive: a sensitive column is"),
    ("empty-sensitive", GOOD, ["--prediction", "p", "--sensitive", "g,"], "--sensitive: give one or more sensitive"),
]


@pytest.mark.parametrize(("content", "extra", "expected"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_inputs_are_one_line_errors_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, extra: list[str], expected: str
) -> None:
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "fairness.json"
    argv = [
        "evidence",
        "fairness",
        "--model",
        "m",
        "--version",
        "v1",
        "--predictions",
        str(path),
        "--label",
        "y",
        "--sensitive",
        "g",
        "--favorable",
        "1",
        "--out",
        str(out),
    ]
    for i in range(0, len(extra), 2):  # a later flag overrides the default above
        argv += extra[i : i + 2]
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mlgate: error: ")
    assert expected in lines[0]
    if "--" not in expected:
        assert str(path) in lines[0]
    assert list(out_dir.iterdir()) == []


def test_parquet_gives_the_csv_evidence_and_garbage_is_a_clear_error(
    predictions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parquet = tmp_path / "predictions.parquet"
    pd.read_csv(predictions, dtype={"income": str, "predicted": str}).to_parquet(parquet)
    base = dict(model="m", version="v7", label="income", sensitive=["sex", "race"], favorable=">50K", score="score")
    from_csv = build_fairness_evidence(FairnessRequest(predictions=predictions, generated_at=PINNED, **base))
    from_parquet = build_fairness_evidence(FairnessRequest(predictions=parquet, generated_at=PINNED, **base))
    assert from_parquet["features"] == from_csv["features"]
    assert from_parquet["dataset"]["rows"] == from_csv["dataset"]["rows"] == ROWS

    garbage = tmp_path / "p.parquet"
    garbage.write_bytes(b"PAR1")
    argv = ["evidence", "fairness", "--model", "m", "--version", "v", "--predictions", str(garbage), "--label", "y"]
    argv += ["--prediction", "p", "--sensitive", "g", "--favorable", "1", "--out", str(tmp_path / "f.json")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mlgate: error: {garbage}: cannot read table") and err.count("\n") == 1
    assert not (tmp_path / "f.json").exists()
