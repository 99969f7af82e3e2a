"""The run ledger: records of real ``mlgate check`` runs, the hash chain, tampering, and concurrent writers.

The checks run in-process through ``compliance.cli.main`` on a copy of the project with the prod plan written
to a file (no capture per test); tampering goes through sqlite3 directly, as an attacker with the file would.
The concurrency test runs 8 writer processes (``tests/ledger_writer.py``) of 500 appends each on one ledger
and SIGKILLs 3 of them at random moments.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from compliance.cli import main
from compliance.errors import LedgerError
from compliance.gate.bundle import PolicyBundle
from compliance.gate.check import prepare
from compliance.gate.waivers import load_waivers
from compliance.ledger import Ledger, build_record, canonical, digest, git_state, ledger_path, record_of_run
from compliance.plan.model import Plan

NOW = "2026-11-25T12:00:00Z"
WRITER = Path(__file__).with_name("ledger_writer.py")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT seq, run_id, prev, hash, record FROM runs ORDER BY seq").fetchall()


def sql(path: Path, statement: str, *parameters: Any) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute(statement, parameters)
    finally:
        db.close()


def verify(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str]:
    code, out, err = cli(capsys, "ledger", "verify", "--ledger", str(path))
    return code, out + err


# ----------------------------------------------------------------------------- records of real checks


@pytest.fixture(scope="module")
def checked(
    tmp_path_factory: pytest.TempPathFactory, prod_plan_path: Path
) -> tuple[Path, Path, list[dict[str, Any]], list[str]]:
    """Three prod checks of one project copy into one ledger: (project, ledger, JSON outputs, stderr)."""
    from conftest import copy_project

    project = copy_project(tmp_path_factory.mktemp("ledger-project") / "project")
    ledger = project / "ci" / "ledger.db"  # a directory that does not exist yet: created
    outputs: list[dict[str, Any]] = []
    errors: list[str] = []
    for _ in range(3):
        out = _run_check(project, prod_plan_path, "--format", "json", "--ledger", str(ledger))
        outputs.append(json.loads(out[1]))
        errors.append(out[2])
        assert out[0] == 1
    return project, ledger, outputs, errors


def _run_check(project: Path, plan: Path, *args: str) -> tuple[int, str, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", "--now", NOW, "--env", "prod", "--plan", str(plan), "--root", str(project), *args])
    return code, out.getvalue(), err.getvalue()


def test_check_appends_a_record_with_the_contract_fields(
    checked: tuple[Path, Path, list[dict[str, Any]], list[str]], prod_plan: Plan
) -> None:
    project, ledger, outputs, errors = checked
    with Ledger.open(ledger, create=False) as opened:
        assert len(opened) == 3
        first = opened.runs()[0]
        record = opened.get(first.run_id)
    assert record is not None
    result = outputs[0]
    assert f"recorded run {record['runId']} (#1) in {ledger}" in errors[0]
    assert record["apiVersion"] == "mlgate.io/v1" and record["kind"] == "LedgerRecord"
    assert (record["seq"], record["prev"]) == (1, None)
    assert record["time"] == NOW and record["environment"] == "prod" and record["engine"] == "embedded"
    assert record["tool"].startswith("mlgate ")
    assert record["repo"] == {"commit": None, "dirty": None}  # the copy is not in a git repository
    assert record["policyBundle"]["digest"] == PolicyBundle.load(project / "policies").digest()
    assert record["decisions"] == result["decisions"]
    assert record["evidence"] == result["evidence"] and record["evidence"]
    assert {p["sha256"] for p in record["evidence"]} != {None}
    assert record["result"]["exitCode"] == 1 == result["exitCode"]
    assert record["result"]["summary"] == result["summary"]
    waivers = load_waivers(project / "policies" / "waivers.yaml")
    assert record["waivers"] == [w.to_json() for w in waivers]
    bundle = PolicyBundle.load(project / "policies")
    assert [r["id"] for r in record["rules"]] == [r.id for r in bundle.rules]
    assert set(record["rules"][0]) == {"id", "title", "description", "severity", "level", "package", "controls"}
    assert [(s["name"], s["kind"], s["verdict"]) for s in record["subjects"]] == [
        (s["name"], s["kind"], s["verdict"]) for s in result["subjects"]
    ]
    # Each subject's digest is that of the full input document the gate judged.
    run = prepare(project, "prod").run(prod_plan, dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC))
    assert [s["digest"] for s in record["subjects"]] == [digest(i.document) for i in run.inputs]
    for subject, gate_input in zip(record["subjects"], run.inputs, strict=True):
        document = subject["document"]
        assert "resources" not in document
        assert document["resourceCount"] == len(gate_input.document["resources"])
        if subject["kind"] == "deployment":
            assert document["versions"] == gate_input.document["versions"]
            assert document["model"]["name"] == subject["name"].partition("@")[0]
        else:
            assert set(document) == {"kind", "subject", "environment", "deployments", "resourceCount"}


def test_records_chain_and_the_hash_is_over_the_canonical_json(
    checked: tuple[Path, Path, list[dict[str, Any]], list[str]],
) -> None:
    _, ledger, _, _ = checked
    stored = rows(ledger)
    assert [r[0] for r in stored] == [1, 2, 3]
    assert len({r[1] for r in stored}) == 3  # a fresh run id per run
    previous = None
    for seq, run_id, prev, digest_column, text in stored:
        record = json.loads(text)
        assert canonical(record).decode() == text  # stored canonical, hash included
        body = {k: v for k, v in record.items() if k != "hash"}
        assert record["hash"] == digest_column == "sha256:" + hashlib.sha256(canonical(body)).hexdigest()
        assert record["prev"] == prev == previous and record["seq"] == seq and record["runId"] == run_id
        previous = digest_column


def test_the_hash_can_be_checked_by_hand_with_sqlite(
    checked: tuple[Path, Path, list[dict[str, Any]], list[str]],
) -> None:
    """docs/ledger.md: ``SELECT json_remove(record, '$.hash')`` is the hashed text, byte for byte."""
    _, ledger, _, _ = checked
    with sqlite3.connect(ledger) as db:
        for body, digest_column in db.execute("SELECT json_remove(record, '$.hash'), hash FROM runs"):
            assert "sha256:" + hashlib.sha256(body.encode()).hexdigest() == digest_column
    sqlite_cli = shutil.which("sqlite3")
    if sqlite_cli:  # the recipe of docs/ledger.md, with the sqlite3 shell
        body = subprocess.run(
            [sqlite_cli, str(ledger), "SELECT json_remove(record, '$.hash') FROM runs WHERE seq = 2"],
            capture_output=True,
            check=True,
        ).stdout.rstrip(b"\n")
        assert "sha256:" + hashlib.sha256(body).hexdigest() == rows(ledger)[1][3]


def test_ledger_verify_and_show(
    capsys: pytest.CaptureFixture[str], checked: tuple[Path, Path, list[dict[str, Any]], list[str]]
) -> None:
    _, ledger, _, _ = checked
    code, out = verify(capsys, ledger)
    assert code == 0 and "intact, 3 records" in out and rows(ledger)[-1][3] in out
    code, out, _ = cli(capsys, "ledger", "show", "--ledger", str(ledger))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["seq", "run", "id"]
    assert len(lines) == 5 and lines[-1] == f"3 runs in {ledger}"
    assert "4: 1 passed, 0 warned, 3 denied, 0 waived" in lines[1] and " prod " in lines[1]
    code, out, _ = cli(capsys, "ledger", "show", "--ledger", str(ledger), "--format", "json", "--limit", "2")
    shown = json.loads(out)["runs"]
    assert [r["seq"] for r in shown] == [2, 3]
    assert shown[-1]["hash"] == rows(ledger)[-1][3] and shown[-1]["exitCode"] == 1 and shown[-1]["commit"] is None
    code, out, _ = cli(capsys, "ledger", "show", "--ledger", str(ledger), "--env", "dev")
    assert code == 0 and out.splitlines()[-1] == f"0 runs of dev in {ledger} (none recorded)"


def test_default_ledger_is_under_the_project_root_and_no_ledger_skips_it(
    project: Path, prod_plan_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLGATE_LEDGER")
    code, _, err = _run_check(project, prod_plan_path)
    default = project / ".mlgate" / "ledger.db"
    assert code == 1 and f"(#1) in {default}" in err
    assert ledger_path(project) == default
    code, _, err = _run_check(project, prod_plan_path, "--no-ledger")
    assert code == 1 and "recorded" not in err
    assert len(rows(default)) == 1
    elsewhere = project / "elsewhere.db"
    monkeypatch.setenv("MLGATE_LEDGER", str(elsewhere))
    code, _, err = _run_check(project, prod_plan_path, "--format", "json")
    assert code == 1 and f"(#1) in {elsewhere}" in err and len(rows(default)) == 1


def test_a_ledger_that_cannot_be_written_fails_the_run_without_a_report(
    project: Path, prod_plan_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = project / "report.json"
    not_a_ledger = project / "models" / "credit-scoring.yaml"
    code, out, err = _run_check(project, prod_plan_path, "--ledger", str(not_a_ledger), "--output", str(report))
    assert code == 2 and out == "" and not report.exists()
    assert err.strip() == f"mlgate: error: {not_a_ledger}: unreadable ledger: file is not a database"

    def failing(self: Ledger, record: Any) -> dict[str, Any]:
        raise LedgerError("disk full", file=self.path)

    monkeypatch.setattr(Ledger, "append", failing)
    ledger = project / "ledger.db"
    code, out, err = _run_check(project, prod_plan_path, "--ledger", str(ledger), "--output", str(report))
    assert code == 2 and out == "" and not report.exists() and "disk full" in err
    code, out, err = _run_check(project, prod_plan_path, "--ledger", str(ledger), "--format", "json")
    assert code == 2 and out == ""


def test_unreadable_ledgers_are_a_one_line_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not sqlite" * 100)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("PRAGMA application_id = 42")
    empty = tmp_path / "empty.db"
    empty.touch()
    for path, message in (
        (missing, "no ledger here"),
        (garbage, "file is not a database"),
        (other, "not an mlgate ledger (an SQLite file with other tables)"),
        (foreign, "not an mlgate ledger (another application's SQLite file)"),
        (empty, "not an mlgate ledger (an empty file)"),
        (tmp_path, "is a directory"),
    ):
        for command in ("verify", "show"):
            code, out, err = cli(capsys, "ledger", command, "--ledger", str(path))
            assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1, err
    assert not missing.exists()  # reading never creates a ledger
    before = other.read_bytes()
    with pytest.raises(LedgerError, match="other tables"):
        Ledger.open(other)  # not even put in WAL mode
    assert other.read_bytes() == before and not Path(f"{other}-wal").exists()
    with Ledger.open(empty) as opened:  # an empty file becomes a ledger when writing
        assert len(opened) == 0


def test_git_state(tmp_path: Path) -> None:
    assert git_state(tmp_path) == {"commit": None, "dirty": None}
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True)
    assert git_state(tmp_path) == {"commit": None, "dirty": False}  # no commit yet
    (tmp_path / "a.txt").write_text("a")
    subprocess.run([*git, "add", "a.txt"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "a"], cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert git_state(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "a.txt").write_text("b")
    assert git_state(tmp_path) == {"commit": head, "dirty": True}


def test_judge_is_run_without_the_inputs(project: Path, prod_plan: Plan) -> None:
    gate = prepare(project, "prod", cache=False)
    now = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
    run = gate.run(prod_plan, now)
    assert gate.judge(prod_plan, now) == run.result
    assert run.now == now and [i.subject for i in run.inputs] == list(run.result.subjects)
    record = record_of_run(run, run_id="r1", recorded_at=now, repo={"commit": None, "dirty": None})
    again = build_record(
        run.result,
        run.inputs,
        bundle=gate.bundle,
        waivers=gate.waivers,
        root=project,
        now=now,
        run_id="r1",
        recorded_at=now,
        repo={"commit": None, "dirty": None},
    )
    assert canonical(record) == canonical(again)  # deterministic given the run id and clocks
    assert {"seq", "prev", "hash"}.isdisjoint(record)


# ----------------------------------------------------------------------------- tampering


def small(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "mlgate.io/v1",
        "kind": "LedgerRecord",
        "runId": f"run-{n:03d}",
        "time": NOW,
        "environment": "prod",
        "decisions": [{"id": "FAIR-001", "level": "deny", "msg": f"run {n}: parité → écart", "subject": "m@prod"}],
        "result": {"exitCode": 1, "summary": {"subjects": 1, "denied": 1}},
        **extra,
    }


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    with Ledger.open(path) as opened:
        for n in range(1, 11):
            opened.append(small(n))
    return path


@pytest.mark.parametrize("where", ["msg", "runId", "number", "key", "hash", "prev", "last byte"])
def test_a_flipped_byte_names_its_record(capsys: pytest.CaptureFixture[str], ledger: Path, where: str) -> None:
    seq = 6
    text = rows(ledger)[seq - 1][4].encode()
    needle = {
        "msg": b"run 6:",
        "runId": b"run-006",
        "number": b'"exitCode":1',
        "key": b'"subject"',
        "hash": b'"hash":"sha256:',
        "prev": b'"prev":"sha256:',
        "last byte": b"}",
    }[where]
    offset = text.rindex(needle) if where == "last byte" else text.index(needle)
    offset += {"hash": len(needle) + 3, "prev": len(needle) + 3, "number": len(needle) - 1, "last byte": 0}.get(
        where, 2
    )
    flipped = bytearray(text)
    flipped[offset] ^= 0x01
    sql(ledger, "UPDATE runs SET record = ? WHERE seq = ?", bytes(flipped).decode(), seq)
    code, out = verify(capsys, ledger)
    assert code == 1, out
    assert f"BROKEN at record {seq}: record {seq} (run run-006): " in out, out
    with Ledger.open(ledger, create=False) as opened:
        report = opened.verify()
    assert (report.broken, report.run_id, report.records) == (seq, "run-006", seq - 1)


def test_a_flipped_byte_that_breaks_utf8_or_json_names_its_record(
    capsys: pytest.CaptureFixture[str], ledger: Path
) -> None:
    text = rows(ledger)[2][4].encode()
    sql(ledger, "UPDATE runs SET record = ? WHERE seq = 3", text.replace("é".encode(), b"\xff\xe9", 1))
    code, out = verify(capsys, ledger)
    assert code == 1 and "record 3 (run run-003): stored record is not UTF-8 text" in out
    sql(ledger, "UPDATE runs SET record = ? WHERE seq = 3", text.decode().replace("{", "[", 1))
    code, out = verify(capsys, ledger)
    assert code == 1 and "record 3 (run run-003): stored record is not valid JSON" in out


def test_a_deleted_middle_record_is_named(capsys: pytest.CaptureFixture[str], ledger: Path) -> None:
    sql(ledger, "DELETE FROM runs WHERE seq = 4")
    code, out = verify(capsys, ledger)
    assert code == 1
    assert "BROKEN at record 4: record 4 is missing: record 5's prev does not match record 3's hash" in out
    sql(ledger, "DELETE FROM runs WHERE seq IN (5, 6)")
    code, out = verify(capsys, ledger)
    assert "BROKEN at record 4: records 4-6 are missing: record 7's prev does not match record 3's hash" in out
    sql(ledger, "DELETE FROM runs WHERE seq = 1")
    code, out = verify(capsys, ledger)
    assert code == 1 and "BROKEN at record 1: record 1 is missing: the ledger starts at record 2 (run run-002)" in out


def test_a_rewritten_record_with_a_recomputed_hash_breaks_the_next_link(
    capsys: pytest.CaptureFixture[str], ledger: Path
) -> None:
    record = json.loads(rows(ledger)[4][4])  # seq 5
    record["result"]["exitCode"] = 0
    record["decisions"] = []
    body = {k: v for k, v in record.items() if k != "hash"}
    record["hash"] = "sha256:" + hashlib.sha256(canonical(body)).hexdigest()
    sql(ledger, "UPDATE runs SET record = ?, hash = ? WHERE seq = 5", canonical(record).decode(), record["hash"])
    code, out = verify(capsys, ledger)
    assert code == 1
    assert "BROKEN at record 6: record 6 (run run-006): prev does not match the hash of record 5 (run run-005)" in out


def test_columns_and_form_are_checked_too(capsys: pytest.CaptureFixture[str], ledger: Path) -> None:
    sql(ledger, "UPDATE runs SET environment = 'dev' WHERE seq = 2")
    code, out = verify(capsys, ledger)
    assert code == 1 and "record 2 (run run-002): column environment ('dev') does not match" in out
    sql(ledger, "UPDATE runs SET environment = 'prod' WHERE seq = 2")
    assert verify(capsys, ledger)[0] == 0
    pretty = json.dumps(json.loads(rows(ledger)[7][4]), indent=1, sort_keys=True, ensure_ascii=False)
    sql(ledger, "UPDATE runs SET record = ? WHERE seq = 8", pretty)
    code, out = verify(capsys, ledger)
    assert code == 1 and "record 8 (run run-008): stored JSON is not in canonical form" in out


def test_the_store_assigns_seq_prev_and_hash(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.db") as opened:
        first = opened.append({**small(1), "seq": 99, "prev": "sha256:x", "hash": "sha256:y"})
        second = opened.append(small(2))
        assert (first["seq"], first["prev"], second["seq"], second["prev"]) == (1, None, 2, first["hash"])
        assert opened.get("run-002") == second and opened.latest() == second and opened.latest("dev") is None
        with pytest.raises(LedgerError, match="already recorded"):
            opened.append(small(2))
        with pytest.raises(LedgerError, match="needs a non-empty environment"):
            opened.append({**small(3), "environment": ""})
        with pytest.raises(LedgerError, match="not JSON"):
            opened.append({**small(3), "x": {1, 2}})
        assert len(opened) == 2 and opened.verify().ok


# ----------------------------------------------------------------------------- concurrency


def test_eight_writers_with_three_killed_lose_nothing_committed(tmp_path: Path) -> None:
    """8 processes x 500 appends on one ledger; 3 are SIGKILLed at random moments mid-run. Every record a writer
    saw committed is there, and the chain is whole and contiguous."""
    path = tmp_path / "ledger.db"
    Ledger.open(path).close()  # created once, so that all writers start on an existing file
    rng = random.Random(os.getpid())
    victims = dict(zip(rng.sample(range(8), 3), (rng.randint(1, 450) for _ in range(3)), strict=True))
    reports = [tmp_path / f"writer-{w}.txt" for w in range(8)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    writers = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(path), str(w), "500", str(reports[w])],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for w in range(8)
    ]
    killed: set[int] = set()
    try:
        while len(killed) < len(victims) and time.monotonic() - started < 120:
            for w, after in victims.items():
                if w in killed:
                    continue
                done = reports[w].read_bytes().count(b"\n") if reports[w].exists() else 0
                if done >= after or writers[w].poll() is not None:
                    time.sleep(rng.random() * 0.005)  # somewhere inside the next append
                    writers[w].send_signal(signal.SIGKILL)
                    killed.add(w)
            time.sleep(0.002)
        for w, writer in enumerate(writers):
            _, err = writer.communicate(timeout=max(1.0, 150 - (time.monotonic() - started)))
            if w not in victims:
                assert writer.returncode == 0, err.decode()
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
    assert {w for w in victims if writers[w].returncode == -signal.SIGKILL} == set(victims)

    with Ledger.open(path, create=False) as opened:
        report = opened.verify()
        assert report.ok, str(report)
        stored = {row[1] for row in rows(path)}
        assert report.records == len(stored) == len(rows(path))
        for w in range(8):
            committed = reports[w].read_text().split() if reports[w].exists() else []
            assert len(committed) == len(set(committed))
            assert set(committed) <= stored, f"writer {w} lost committed records"
            mine = {run for run in stored if run.startswith(f"w{w}-")}
            if w in victims:  # at most the one record committed between commit and report
                assert len(committed) <= len(mine) <= len(committed) + 1
            else:
                assert len(mine) == 500 == len(committed)
    assert len(stored) >= 5 * 500


def test_schema_is_created_once_by_racing_writers(tmp_path: Path) -> None:
    path = tmp_path / "new" / "ledger.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(path), str(w), "5", str(tmp_path / f"r{w}")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for w in range(6)
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err.decode()
    with Ledger.open(path, create=False) as opened:
        assert opened.verify().ok and len(opened) == 30
