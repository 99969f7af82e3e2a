"""``mlgate evidence fairness --endpoint``: the live path gives the offline path's evidence; failures are one line.

End to end: ``examples/adult/train.py`` trains v6 (logistic regression, the faster fit) on ../shared/data/adult.csv
(once per module), ``serve.py`` serves it with the KServe ModelServer in a subprocess on a free loopback port, and
the evidence fetched from it must equal, to 1e-9 and interval for interval, the evidence of the offline command on
the same model's predictions computed in this process. The failure cases (HTTP 500, malformed JSON, a timeout, a
short or missing output, a server that dies mid-way) run against a tiny http.server in a thread, plus one against
the real server killed after a batch.
"""

from __future__ import annotations

import http.server
import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from compliance.cli import main
from compliance.evidence import endpoint as endpoint_module
from compliance.evidence.endpoint import Endpoint, v2_datatype

pd = pytest.importorskip("pandas")
joblib = pytest.importorskip("joblib")
httpx = pytest.importorskip("httpx")

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT.parent / "shared" / "data" / "adult.csv"
EXAMPLE = ROOT / "examples" / "adult"
PINNED = "2026-11-20T10:00:00Z"
TOL = 1e-9
NAME = "credit-scoring"
FEATURES = [
    "age",
    "education-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/adult/train.py, v6 only, into a temporary directory: holds adult-eval.csv and v6/model.joblib."""
    if not ADULT.is_file():
        pytest.skip(f"{ADULT} not found: the endpoint tests train the example model on the UCI adult data set there")
    pytest.importorskip("kserve")
    spec = importlib.util.spec_from_file_location("adult_train", EXAMPLE / "train.py")
    assert spec is not None and spec.loader is not None
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    out = tmp_path_factory.mktemp("adult")
    assert train.main(["--data", str(ADULT), "--out", str(out), "--versions", "v6"]) == 0
    assert train.FEATURES == FEATURES
    return out


class Server:
    """serve.py in a subprocess on a free loopback port; always killed by the fixture that starts it."""

    def __init__(self, model: Path, log: Path) -> None:
        self.model, self.log = model, log
        self.start()

    def start(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with self.log.open("ab") as handle:
            command = [sys.executable, str(EXAMPLE / "serve.py"), "--model", str(self.model), "--name", NAME]
            command += ["--http-port", str(self.port)]
            self.process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)

    def alive(self) -> Server:
        """This server, started again (on a new port) if a test killed it."""
        if self.process.poll() is not None:
            self.start()
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"serve.py exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/v2/models/{NAME}/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"serve.py not ready after {timeout:g} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def server(trained: Path) -> Iterator[Server]:
    """One server for the module; a test that kills it leaves the next user to start it again (``alive``)."""
    started = Server(trained / "v6" / "model.joblib", trained / "serve.log")
    try:
        started.wait_ready()
        yield started
    finally:
        started.stop()


def _argv(out: Path, *source: str, output: tuple[str, str] = ("--score", "probability"), **flags: str) -> list[str]:
    argv = ["evidence", "fairness", "--model", NAME, "--version", "v6", *source, "--label", "income"]
    argv += [*output, "--sensitive", "sex,race", "--favorable", ">50K", "--generated-at", PINNED, "--out", str(out)]
    for flag, value in flags.items():
        argv += [f"--{flag.replace('_', '-')}", value]
    return argv


def _live(url: str, dataset: Path) -> tuple[str, ...]:
    return ("--endpoint", url, "--dataset", str(dataset), "--features", ",".join(FEATURES))


# ------------------------------------------------------------------------------------------- end to end


def test_endpoint_evidence_equals_offline_evidence(trained: Path, server: Server, tmp_path: Path) -> None:
    server = server.alive()
    dataset = trained / "adult-eval.csv"
    live_score, live_label = tmp_path / "live-score.json", tmp_path / "live-label.json"
    assert main(_argv(live_score, *_live(server.url, dataset), bootstrap="100", seed="7", batch_size="2000")) == 0
    label = ("--prediction", "label")
    assert main(_argv(live_label, *_live(server.url, dataset), output=label, bootstrap="50", batch_size="5000")) == 0

    # the same model's predictions, in this process, written beside the labels and sensitive columns
    bundle = joblib.load(trained / "v6" / "model.joblib")
    table = pd.read_csv(dataset)
    model = bundle["pipeline"]
    probabilities = model.predict_proba(table[bundle["features"]])
    predictions = table[["income", "sex", "race"]].assign(
        probability=probabilities[:, list(model.classes_).index(">50K")],
        label=model.classes_[probabilities.argmax(axis=1)],
    )
    offline_file = tmp_path / "predictions.csv"
    predictions.to_csv(offline_file, index=False)
    offline_score, offline_label = tmp_path / "offline-score.json", tmp_path / "offline-label.json"
    assert main(_argv(offline_score, "--predictions", str(offline_file), bootstrap="100", seed="7")) == 0
    assert main(_argv(offline_label, "--predictions", str(offline_file), output=label, bootstrap="50")) == 0

    for live_file, offline_path in ((live_score, offline_score), (live_label, offline_label)):
        live, offline = json.loads(live_file.read_text()), json.loads(offline_path.read_text())
        assert live["dataset"]["rows"] == len(table) == offline["dataset"]["rows"]
        assert live["dataset"]["uri"] == str(dataset)
        assert live["dataset"]["digest"] != offline["dataset"]["digest"]  # the dataset file, not the predictions
        assert set(live["performance"]) == set(offline["performance"])
        for name, value in offline["performance"].items():
            assert live["performance"][name] == pytest.approx(value, abs=TOL)
        assert set(live["features"]) == {"sex", "race"}
        for feature in ("sex", "race"):
            _assert_close(live["features"][feature], offline["features"][feature], feature)
    assert "auc" in json.loads(live_score.read_text())["performance"]


def _assert_close(got: Any, expected: Any, where: str) -> None:
    """Equal structure, numbers equal to TOL: the whole feature block, groups and intervals included."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and set(got) == set(expected), where
        for key in expected:
            _assert_close(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), where
        for index, (a, b) in enumerate(zip(got, expected, strict=True)):
            _assert_close(a, b, f"{where}[{index}]")
    elif isinstance(expected, float):
        assert got == pytest.approx(expected, abs=TOL), where
    else:
        assert got == expected, where


def test_server_killed_mid_way_is_a_one_line_error(
    trained: Path,
    server: Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real server, killed once the first batch is answered: the next batch fails after its retries."""
    victim = server.alive()
    real_infer = endpoint_module._infer
    calls = []

    def infer_then_kill(*args: Any) -> Any:
        result = real_infer(*args)
        calls.append(args[-2:])
        if len(calls) == 1:
            victim.process.kill()
            victim.process.wait()
        return result

    monkeypatch.setattr(endpoint_module, "_infer", infer_then_kill)
    out = tmp_path / "out" / "fairness.json"
    out.parent.mkdir()
    argv = _argv(out, *_live(victim.url, trained / "adult-eval.csv"), batch_size="500", concurrency="1")
    assert main(argv) == 2
    line = _one_line(capsys)
    assert f"{victim.url}/v2/models/{NAME}/infer: batch 2 of 31 (data rows 501..1000): connection failed" in line
    assert list(out.parent.iterdir()) == []
    assert victim.process.poll() is not None  # the fixture starts it again for a later user


# ------------------------------------------------------------------------------------------- failures (fake server)

SMALL = "age,sex,income\n30,Male,>50K\n40,Female,<=50K\n50,Male,<=50K\n60,Female,>50K\n20,Male,<=50K\n"


class Fake(http.server.ThreadingHTTPServer):
    """Answers the first infer request well, then as ``mode`` says."""

    daemon_threads = True

    def __init__(self, mode: str) -> None:
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.mode = mode
        self.requests: list[dict[str, Any]] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a request the client abandoned (dropped or retried connection) must not print a traceback
        into the stderr the tests read (the client's one error line)."""


class FakeHandler(http.server.BaseHTTPRequestHandler):
    server: Fake

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.server.requests.append(body)
        rows = body["inputs"][0]["shape"][0]
        ages = body["inputs"][0]["data"]
        good = {
            "outputs": [{"name": "probability", "shape": [rows], "datatype": "FP64", "data": [a / 100 for a in ages]}]
        }
        mode = self.server.mode if len(self.server.requests) > 1 else "ok"
        if mode == "drop":  # the server dies: the connection closes without an answer
            self.close_connection = True
            return
        if mode == "slow":
            time.sleep(4.0)
        payload: bytes
        status = 200
        if mode == "500":
            status, payload = 500, b'{"error": "model exploded"}'
        elif mode == "malformed":
            payload = b'{"outputs": [{"name": "probability", "data": [0.1, 0.2'
        elif mode == "short":
            good["outputs"][0]["data"] = good["outputs"][0]["data"][:-1]
            payload = json.dumps(good).encode()
        elif mode == "renamed":
            good["outputs"][0]["name"] = "scores"
            payload = json.dumps(good).encode()
        else:
            payload = json.dumps(good).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timeout)
            pass


@pytest.fixture
def fake() -> Iterator[Callable[[str], Fake]]:
    servers: list[Fake] = []

    def start(mode: str) -> Fake:
        server = Fake(mode)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if not line.startswith("mlgate: ") or "error" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("mlgate: error: ")
    return lines[0]


FAILURES = [
    ("500", 'server answered HTTP 500: {"error": "model exploded"}'),
    ("malformed", "answer is not JSON"),
    ("slow", "no answer within the 1 s timeout"),
    ("short", "output tensor 'probability' has 1 values for 2 rows"),
    ("renamed", "no output tensor 'probability' in the answer (outputs: scores)"),
    ("drop", "connection failed (3 attempts)"),
]


@pytest.mark.parametrize(("mode", "expected"), FAILURES, ids=[mode for mode, _ in FAILURES])
def test_failing_endpoint_is_a_one_line_error_and_writes_nothing(
    fake: Callable[[str], Fake], tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: str, expected: str
) -> None:
    server = fake(mode)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    dataset = tmp_path / "small.csv"
    dataset.write_text(SMALL, encoding="utf-8")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    argv = ["evidence", "fairness", "--model", "m", "--version", "v1", "--endpoint", url, "--dataset", str(dataset)]
    argv += ["--features", "age,sex", "--label", "income", "--score", "probability", "--sensitive", "sex"]
    argv += ["--favorable", ">50K", "--out", str(out_dir / "f.json"), "--batch-size", "2"]
    argv += ["--timeout", "1" if mode == "slow" else "10"]  # generous but for the slow case: a busy machine is slow
    argv += ["--concurrency", "1"]
    started = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - started < 20  # bounded: no retry on a timeout
    line = _one_line(capsys)
    assert f"mlgate: error: {url}/v2/models/m/infer: batch 2 of 3 (data rows 3..4): {expected}" in line, line
    assert list(out_dir.iterdir()) == []
    first = server.requests[0]["inputs"]
    assert [(t["name"], t["datatype"], t["shape"]) for t in first] == [("age", "INT64", [2]), ("sex", "BYTES", [2])]
    assert first[1]["data"] == ["Male", "Female"]


def test_fake_server_happy_path_and_model_name(fake: Callable[[str], Fake], tmp_path: Path) -> None:
    server = fake("ok")
    dataset = tmp_path / "small.csv"
    dataset.write_text(SMALL, encoding="utf-8")
    out = tmp_path / "f.json"
    argv = ["evidence", "fairness", "--model", "m", "--version", "v1", "--label", "income", "--score", "probability"]
    argv += ["--endpoint", f"http://127.0.0.1:{server.server_address[1]}/", "--dataset", str(dataset)]
    argv += ["--features", "age", "--sensitive", "sex", "--favorable", ">50K", "--out", str(out), "--threshold", "0.45"]
    argv += ["--batch-size", "2", "--model-name", "adult", "--bootstrap", "0"]
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    assert doc["dataset"]["rows"] == 5
    # scores age/100 >= 0.45: rows 50, 60 favorable; labels: rows 30, 60
    assert doc["features"]["sex"]["groups"]["Male"]["selectionRate"] == pytest.approx(1 / 3)
    assert doc["features"]["sex"]["groups"]["Female"]["selectionRate"] == pytest.approx(1 / 2)
    assert sorted(r["inputs"][0]["shape"][0] for r in server.requests) == [1, 2, 2]  # up to 4 in flight: any order


BAD_FLAGS = [
    (["--endpoint", "http://h:1/v2/models/m/infer"], "give the server's base URL"),
    (["--endpoint", "ftp://h"], "is not an http(s) URL"),
    (["--endpoint", "http://h:1", "--batch-size", "0"], "--batch-size"),
    (["--endpoint", "http://h:1", "--timeout", "0"], "--timeout"),
    (["--predictions", "p.csv", "--features", "age"], "--features applies to --endpoint only"),
]


@pytest.mark.parametrize(("flags", "expected"), BAD_FLAGS, ids=[e.split()[0] for _, e in BAD_FLAGS])
def test_bad_endpoint_flags_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], expected: str
) -> None:
    dataset = tmp_path / "small.csv"
    dataset.write_text(SMALL, encoding="utf-8")
    argv = ["evidence", "fairness", "--model", "m", "--version", "v1", "--label", "income", "--score", "probability"]
    argv += ["--sensitive", "sex", "--favorable", ">50K", "--out", str(tmp_path / "f.json"), *flags]
    if "--endpoint" in flags:
        argv += ["--dataset", str(dataset), "--features", "age"]
    assert main(argv) == 2
    assert expected in _one_line(capsys)
    assert not (tmp_path / "f.json").exists()


def test_v2_datatypes() -> None:
    frame = pd.DataFrame({"i": [1, 2], "f": [0.5, 1.0], "b": [True, False], "s": ["a", "b"]})
    assert [v2_datatype(frame[c]) for c in "ifbs"] == ["INT64", "FP64", "BOOL", "BYTES"]
    assert Endpoint("http://h:1/prefix", "m/x", ["a"]).infer_url == "http://h:1/prefix/v2/models/m%2Fx/infer"
