"""``mlgate evidence lineage``: LineageEvidence from a real MLflow store and from OpenLineage events.

The MLflow store is a real sqlite tracking store, filled once per module through MLflow's own API
(runs, ``mlflow.log_input`` of pandas datasets, tags, a registered model with versions and tags).
The OpenLineage events are the hand-written fixture tests/data/openlineage-training-run.jsonl (2-0-2
RunEvent shape: a START and a COMPLETE event of one Airflow task).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from compliance.cli import main
from compliance.errors import EvidenceError, UsageError
from compliance.evidence import read_evidence
from compliance.evidence.artifacts import artifact_digest, artifact_manifest
from compliance.evidence.formats import LineageEvidence

pytestmark = [
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated"),
    pytest.mark.filterwarnings("ignore::UserWarning:mlflow"),
]

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "tests" / "data" / "openlineage-training-run.jsonl"
COMMIT = "c6df185cffd880eb0063ba0a759416bf122aa3a8"
REPO = "https://git.example.com/risk-ml/credit-scoring"
STARTED = dt.datetime(2026, 11, 18, 8, 0, 0, 250_000, tzinfo=dt.UTC)
TEST_SHA = "sha256:2a493b95d1f12adfa8a7a9422c2911b811e4ed253a6ff5d93e46b7b940d9bc30"
SOURCE = "s3://mlgate-models/credit-scoring/v7/"


# ------------------------------------------------------------------------------------------ artifact_digest


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


FILES = {"MLmodel": b"flavors: {}\n", "model.pkl": b"\x80\x04weights", "code/conda.yaml": b"name: env\n"}


def test_artifact_digest_of_a_file_is_the_sha256_of_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    data = b"\x00onnx" * 1000
    path.write_bytes(data)
    assert artifact_digest(path) == f"sha256:{_sha(data)}"


def test_artifact_digest_of_a_directory_is_the_sha256_of_its_sha256sum_manifest(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "model", FILES)
    lines = sorted(f"{_sha(data)}  {name}\n" for name, data in FILES.items())
    lines.sort(key=lambda line: line.split("  ", 1)[1])
    manifest = "".join(lines)
    assert artifact_manifest(tree) == manifest
    assert manifest.splitlines()[0].endswith("  MLmodel")  # ordered by path bytes: "M" < "c" < "m"
    assert artifact_digest(tree) == f"sha256:{_sha(manifest.encode())}"


def test_artifact_digest_does_not_depend_on_creation_order_or_empty_directories(tmp_path: Path) -> None:
    first = _tree(tmp_path / "a", FILES)
    second = _tree(tmp_path / "b", dict(reversed(FILES.items())))
    (second / "empty" / "dir").mkdir(parents=True)
    assert artifact_digest(first) == artifact_digest(second)


def test_artifact_digest_changes_with_a_byte_or_a_name(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "model", FILES)
    before = artifact_digest(tree)
    data = bytearray(FILES["model.pkl"])
    data[-1] ^= 1
    (tree / "model.pkl").write_bytes(bytes(data))
    changed = artifact_digest(tree)
    assert changed != before
    (tree / "model.pkl").rename(tree / "model2.pkl")
    assert artifact_digest(tree) not in (before, changed)


def test_artifact_digest_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="artifact not found"):
        artifact_digest(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvidenceError, match="holds no files"):
        artifact_digest(tmp_path / "empty")


# ----------------------------------------------------------------------------------------------- the store


@dataclass(frozen=True)
class Store:
    uri: str
    path: Path
    model_dir: Path
    train_csv: Path
    run_id: str  # commit, datasets, params; registered as version 1
    bare_run_id: str  # a dataset MLflow knows by its short digest only; version 3 (source runs:/...)
    no_commit_run_id: str  # no git tags; version 2


def _run(client: Any, experiment: str, tags: dict[str, str]) -> str:
    started = int(STARTED.timestamp() * 1000)
    run = client.create_run(experiment, start_time=started, tags=tags)
    return str(run.info.run_id)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    mlflow = pytest.importorskip("mlflow")
    pd = pytest.importorskip("pandas")
    from mlflow import MlflowClient

    base = tmp_path_factory.mktemp("mlflow")
    db = base / "mlflow.db"
    uri = f"sqlite:///{db}"
    previous = mlflow.get_tracking_uri()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)  # MLflow's default ./mlruns, if anything lands there
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mlflow.set_tracking_uri(uri)
        try:
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            experiment = client.create_experiment("credit", artifact_location=(base / "artifacts").as_uri())
            frame = pd.DataFrame({"age": [39, 50, 38], "sex": ["Male", "Female", "Male"], "income": ["<=50K"] * 3})
            train_csv = base / "adult-train.csv"
            frame.to_csv(train_csv, index=False)

            git = {"mlflow.source.git.commit": COMMIT, "mlflow.source.git.repoURL": REPO}
            run_id = _run(client, experiment, git)
            with mlflow.start_run(run_id=run_id):
                train = mlflow.data.from_pandas(frame, source=str(train_csv), name="adult-train")
                mlflow.log_input(
                    train,
                    context="training",
                    tags={"mlgate.categories": "personal, special,financial", "mlgate.residency": "eu-west-1"},
                )
                test = mlflow.data.from_pandas(
                    frame, source="s3://mlgate-eval/uci-adult/adult.test.csv", name="adult-test"
                )
                mlflow.log_input(
                    test, context="evaluation", tags={"mlgate.sha256": TEST_SHA.upper().replace("SHA256:", "")}
                )
                mlflow.log_params({"learning_rate": 0.1, "max_depth": 6})
                mlflow.set_tag("mlgate.dataset.adult-test.residency", "eu-central-1")

            bare_run_id = _run(client, experiment, git)
            with mlflow.start_run(run_id=bare_run_id):
                holdout = mlflow.data.from_pandas(frame, source="s3://mlgate-eval/holdout.csv", name="holdout")
                mlflow.log_input(holdout)
            no_commit_run_id = _run(client, experiment, {})

            model_dir = _tree(base / "model", FILES)
            client.create_registered_model("credit-scoring")
            client.create_model_version(
                "credit-scoring",
                source=SOURCE,
                run_id=run_id,
                tags={
                    "mlgate.approval.model-risk": "cro@example.com 2026-11-19T12:00:00Z",
                    "mlgate.parent": "credit-scoring@v6",
                    "mlgate.artifact.digest": artifact_digest(model_dir),
                },
            )
            client.create_model_version("credit-scoring", source=SOURCE, run_id=no_commit_run_id)
            client.create_model_version("credit-scoring", source=f"runs:/{bare_run_id}/model", run_id=bare_run_id)
            yield Store(uri, db, model_dir, train_csv, run_id, bare_run_id, no_commit_run_id)
        finally:
            mlflow.set_tracking_uri(previous)


def _lineage(argv: list[str], out: Path) -> int:
    return main(["evidence", "lineage", *argv, "--out", str(out)])


def _read(out: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    LineageEvidence.model_validate(document)
    read = read_evidence(out, "lineage", out.name)
    assert read.present and read.document == document
    return document


def test_lineage_from_a_registered_model_version(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "lineage.json"
    argv = ["--tracking-uri", store.uri, "--registered-model", "credit-scoring", "--model-version", "1"]
    argv += ["--artifact", str(store.model_dir), "--approval", "ml-lead=head-risk-ml@example.com@2026-11-21T09:30:00Z"]
    assert _lineage(argv, out) == 0
    document = _read(out)
    assert document["model"] == "credit-scoring" and document["version"] == "v1"
    assert document["artifact"] == {"uri": SOURCE, "digest": artifact_digest(store.model_dir)}
    assert document["training"] == {
        "runId": store.run_id,
        "tracking": "mlflow",
        "codeRepo": REPO,
        "codeCommit": COMMIT,
        "startedAt": "2026-11-18T08:00:00Z",
    }
    datasets = {d["name"]: d for d in document["datasets"]}
    assert datasets["adult-train"] == {
        "name": "adult-train",
        "uri": str(store.train_csv),
        "digest": artifact_digest(store.train_csv),  # computed: the source is a local file
        "role": "training",
        "categories": ["personal", "special", "financial"],
        "residency": "eu-west-1",
    }
    assert datasets["adult-test"] == {
        "name": "adult-test",
        "uri": "s3://mlgate-eval/uci-adult/adult.test.csv",
        "digest": TEST_SHA,  # the input tag, normalised to sha256:<lowercase hex>
        "role": "evaluation",
        "categories": [],
        "residency": "eu-central-1",  # the run tag mlgate.dataset.adult-test.residency
    }
    assert document["parent"] == {"model": "credit-scoring", "version": "v6"}
    assert document["approvals"] == [
        {"by": "head-risk-ml@example.com", "role": "ml-lead", "at": "2026-11-21T09:30:00Z"},
        {"by": "cro@example.com", "role": "model-risk", "at": "2026-11-19T12:00:00Z"},
    ]
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("mlgate: lineage evidence credit-scoring@v1 from MLflow credit-scoring version 1")
    assert "mlflow" not in [p.name for p in tmp_path.iterdir()] and len(list(tmp_path.iterdir())) == 1


def test_lineage_takes_the_artifact_digest_from_the_tag_and_names_from_flags(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "lineage.json"
    argv = ["--tracking-uri", store.uri, "--registered-model", "credit-scoring", "--model-version", "1"]
    argv += ["--model", "credit-scoring", "--version", "v7", "--parent", "credit-scoring@v5"]
    assert _lineage(argv, out) == 0
    document = _read(out)
    assert (document["model"], document["version"]) == ("credit-scoring", "v7")
    assert document["artifact"] == {"uri": SOURCE, "digest": artifact_digest(store.model_dir)}
    assert document["parent"] == {"model": "credit-scoring", "version": "v5"}  # the flag wins over the tag


def test_lineage_from_the_environment_tracking_uri_and_a_run(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    out = tmp_path / "lineage.json"
    artifact = tmp_path / "model.onnx"
    artifact.write_bytes(b"onnx")
    argv = ["--run-id", store.bare_run_id, "--model", "m", "--version", "v2", "--artifact", str(artifact)]
    argv += ["--artifact-uri", "s3://models/m/v2/model.onnx"]
    assert _lineage(argv, out) == 0
    document = _read(out)
    assert document["artifact"] == {"uri": "s3://models/m/v2/model.onnx", "digest": artifact_digest(artifact)}
    (holdout,) = document["datasets"]
    assert holdout["role"] == "unspecified"
    assert not holdout["digest"].startswith("sha256:") and holdout["digest"]  # MLflow's short digest, as given
    assert document["approvals"] == [] and "parent" not in document
    err = capsys.readouterr().err
    assert "mlgate: note: dataset holdout: no sha256" in err and "LIN-005 will deny it" in err


def test_lineage_resolves_a_runs_source_uri(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "lineage.json"
    argv = ["--tracking-uri", store.uri, "--registered-model", "credit-scoring", "--model-version", "3"]
    assert _lineage([*argv, "--artifact", str(store.model_dir)], out) == 0
    uri = _read(out)["artifact"]["uri"]
    assert uri.startswith("file://") and uri.endswith(f"/{store.bare_run_id}/artifacts/model")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--registered-model", "fraud", "--model-version", "1"],
            "--registered-model: registered model 'fraud' not found",
        ),
        (
            ["--registered-model", "credit-scoring", "--model-version", "9"],
            "registered model 'credit-scoring' has no version 9",
        ),
        (["--registered-model", "credit-scoring"], "--model-version: --registered-model needs --model-version N"),
        (["--run-id", "0" * 32, "--model", "m", "--version", "v1"], f"--run-id: run {'0' * 32} not found"),
        (["--run-id", "RUN"], "with --run-id, name the mlgate model and version"),
        (
            ["--registered-model", "credit-scoring", "--model-version", "2", "--artifact", "MODEL"],
            "mlflow.source.git.commit: run NOCOMMIT has no git commit tag (mlflow.source.git.commit)",
        ),
        (
            ["--registered-model", "credit-scoring", "--model-version", "1", "--artifact", "missing/model"],
            "missing/model: artifact not found",
        ),
        (
            ["--registered-model", "credit-scoring", "--model-version", "3"],
            "--artifact: no artifact digest: give --artifact PATH",
        ),
        (
            ["--registered-model", "credit-scoring", "--model-version", "1", "--artifact", "OTHER"],
            "differs from sha256:",
        ),
        (
            ["--registered-model", "credit-scoring", "--model-version", "1", "--approval", "model-risk=cro"],
            "--approval: 'model-risk=cro' is not ROLE=BY@TIME",
        ),
        (
            ["--registered-model", "credit-scoring", "--model-version", "1", "--parent", "v6"],
            "--parent: 'v6' is not MODEL@VERSION",
        ),
    ],
)
def test_lineage_errors_from_mlflow(
    store: Store,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    other = tmp_path / "other.bin"
    other.write_bytes(b"not the model")
    swap = {"RUN": store.run_id, "MODEL": str(store.model_dir), "OTHER": str(other)}
    argv = [swap.get(a, a).replace("missing/", f"{tmp_path}/missing/") for a in argv]
    out = tmp_path / "lineage.json"
    assert _lineage(["--tracking-uri", store.uri, *argv], out) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mlgate: error: ")
    assert message.replace("NOCOMMIT", store.no_commit_run_id) in err
    assert not out.exists()


def test_lineage_errors_from_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path / "lineage.json"
    run = ["--run-id", "abc", "--model", "m", "--version", "v1"]
    not_mlflow = tmp_path / "other.db"
    import sqlite3

    with sqlite3.connect(not_mlflow) as db:
        db.execute("CREATE TABLE t (x)")
    cases = [
        ([], "--tracking-uri: no tracking store: give --tracking-uri URI or set MLFLOW_TRACKING_URI"),
        (["--tracking-uri", f"sqlite:///{tmp_path}/none.db"], f"{tmp_path}/none.db: tracking store not found"),
        (["--tracking-uri", f"sqlite:///{not_mlflow}"], "not an MLflow tracking database"),
    ]
    for argv, message in cases:
        assert _lineage([*argv, *run], out) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]  # no store created, nothing written


def test_lineage_from_an_unreachable_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    out = tmp_path / "lineage.json"
    argv = ["--tracking-uri", "http://127.0.0.1:9", "--registered-model", "m", "--model-version", "1"]
    assert _lineage(argv, out) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tracking store http://127.0.0.1:9: cannot reach it" in err, err
    assert not out.exists()


# ------------------------------------------------------------------------------------------------ OpenLineage


def _events() -> list[dict[str, Any]]:
    return [json.loads(line) for line in EVENTS.read_text(encoding="utf-8").splitlines()]


def _write_events(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


OL = ["--model", "credit-scoring", "--version", "v7"]


def test_lineage_from_openlineage_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "lineage.json"
    argv = ["--openlineage", str(EVENTS), *OL, "--approval", "model-risk=cro@example.com@2026-11-21T09:30:00Z"]
    assert _lineage([*argv, "--parent", "credit-scoring@v6"], out) == 0
    document = _read(out)
    expected = json.loads((ROOT / "evidence" / "credit-scoring" / "v7" / "lineage.json").read_text(encoding="utf-8"))
    assert document["artifact"] == expected["artifact"]
    assert document["training"] == {
        "runId": "0193d5e2-6f0a-7c3e-9b1a-3f4c5d6e7f80",
        "tracking": "openlineage",
        "codeRepo": "https://git.example.com/risk-ml/credit-scoring.git",
        "codeCommit": COMMIT,
        "startedAt": "2026-11-18T08:00:00Z",  # the START eventTime 09:00+01:00 in UTC
    }
    personal = ["personal", "special", "financial"]
    assert document["datasets"] == [  # one digest from the mlgate facet, one from the version facet
        {"name": "adult-train", "uri": "s3://mlgate-data/uci-adult/adult.csv", "role": "training",
         "digest": "sha256:f2c62076f19504d99a38b22badf445a7f42530ade6b827acf78dd143fbce38bb",
         "categories": personal, "residency": "eu-west-1"},
        {"name": "adult-test", "uri": "s3://mlgate-eval/uci-adult/adult.test.csv", "role": "evaluation",
         "digest": "sha256:2a493b95d1f12adfa8a7a9422c2911b811e4ed253a6ff5d93e46b7b940d9bc30",
         "categories": personal, "residency": "eu-west-1"},
    ]  # fmt: skip
    assert document["parent"] == expected["parent"]
    assert document["approvals"] == expected["approvals"][:1]
    assert "OpenLineage run 0193d5e2-6f0a-7c3e-9b1a-3f4c5d6e7f80 (2 events)" in capsys.readouterr().err


def test_lineage_from_one_pretty_printed_complete_event(tmp_path: Path) -> None:
    start, complete = _events()
    complete["job"] = start["job"]
    complete["run"]["facets"] = {"nominalTime": start["run"]["facets"]["nominalTime"]}
    complete["outputs"] = complete["outputs"][:1]
    del complete["outputs"][0]["facets"]["mlgate"]
    local = tmp_path / "train.csv"
    local.write_text("a,b\n1,2\n", encoding="utf-8")
    complete["inputs"] = [{"namespace": "file", "name": str(local), "facets": {}}]
    event = tmp_path / "event.json"
    event.write_text(json.dumps(complete, indent=2), encoding="utf-8")
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"weights")
    out = tmp_path / "lineage.json"
    assert _lineage(["--openlineage", str(event), *OL, "--artifact", str(artifact)], out) == 0
    document = _read(out)
    assert document["training"]["startedAt"] == "2026-11-18T07:55:00Z"  # nominalStartTime
    assert document["artifact"] == {"uri": "s3://mlgate-models/credit-scoring/v7/", "digest": artifact_digest(artifact)}
    assert document["datasets"] == [
        {
            "name": str(local),
            "uri": local.as_uri(),
            "digest": artifact_digest(local),
            "role": "training",
            "categories": [],
        }
    ]


def _edit_first(events: list[dict[str, Any]], where: str, value: Any) -> list[dict[str, Any]]:
    *parents, last = where.split(".")
    target: Any = events[0]
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return events


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("run.runId", None), "events.jsonl:1: run.runId: not an OpenLineage RunEvent: Field required"),
        (
            ("inputs.0.name", 7),
            "events.jsonl:1: inputs.0.name: not an OpenLineage RunEvent: Input should be a valid string",
        ),
        (("eventTime", "yesterday"), "events.jsonl:1: eventTime: 'yesterday' is not an ISO 8601 time"),
        (("run.runId", "another-run"), "events.jsonl:2: run.runId: events of more than one run"),
        (("job.facets.sourceCodeLocation", None), "job.facets.sourceCodeLocation.version: no git commit"),
        (
            ("inputs.0.facets.mlgate.sha256", "md5:abc"),
            "inputs[uci-adult/adult.csv].facets.mlgate.sha256: 'md5:abc' is not sha256:<64 hex>",
        ),
    ],
)
def test_lineage_errors_from_openlineage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: tuple[str, Any], message: str
) -> None:
    path = _write_events(tmp_path / "events.jsonl", _edit_first(_events(), *edit))
    out = tmp_path / "lineage.json"
    assert _lineage(["--openlineage", str(path), *OL], out) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_lineage_errors_from_openlineage_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"eventType": "START",\n "run": {', encoding="utf-8")
    lines = tmp_path / "lines.jsonl"
    lines.write_text(EVENTS.read_text(encoding="utf-8").splitlines()[0] + "\n{not json}\n", encoding="utf-8")
    two_models = _events()
    two_models[1]["outputs"][1]["facets"] = {"mlgate": {"role": "model"}}
    cases = [
        (["--openlineage", str(tmp_path / "none.jsonl"), *OL], "none.jsonl: OpenLineage file not found"),
        (["--openlineage", str(broken), *OL], "broken.json:2: invalid JSON"),
        (["--openlineage", str(lines), *OL], "lines.jsonl:2: invalid JSON line"),
        (["--openlineage", str(EVENTS)], "with --openlineage, name the mlgate model and version"),
        (
            ["--openlineage", str(_write_events(tmp_path / "two.jsonl", two_models)), *OL],
            "outputs: several outputs have role 'model'",
        ),
    ]
    for argv, message in cases:
        assert _lineage(argv, tmp_path / "lineage.json") == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "lineage.json").exists()


# -------------------------------------------------------------------------------------------------- imports


def test_help_and_check_do_not_import_mlflow(tmp_path: Path) -> None:
    code = (
        "import sys, contextlib, io\n"
        "from compliance.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    for argv in (['--help'], ['evidence', 'lineage', '--help']):\n"
        "        try:\n"
        "            main(argv)\n"
        "        except SystemExit:\n"
        "            pass\n"
        "    import compliance.gate.check, compliance.evidence, compliance.evidence.lineage\n"
        "    import compliance.evidence.openlineage, compliance.evidence.artifacts\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlflow', 'pandas', 'sqlalchemy')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[]"
