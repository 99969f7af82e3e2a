"""Benchmark ``mlgate evidence fairness --endpoint``: rows/s against the live example server, by batch size.

Trains the example v7 model (examples/adult/train.py) into a temporary directory unless ``--build DIR`` already
holds one, serves it with examples/adult/serve.py (KServe ModelServer, one worker, loopback) and sends all rows of
the cleaned UCI Adult data set (both halves of the split, about 30,000 rows, 13 feature tensors) through
:func:`compliance.evidence.endpoint.predict` for each batch size and number of requests in flight, printing rows/s
(best of ``--repeat`` runs; the fairness metrics themselves are not included: see fairness_bench.py).

    .venv/bin/python bench/endpoint_bench.py [--batch-sizes 100,1000,5000] [--concurrency 1,2,4] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd

from compliance.evidence.endpoint import Endpoint, predict

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "adult"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "adult.csv")
    parser.add_argument("--build", type=Path, help="directory written by train.py (default: train into a temp dir)")
    parser.add_argument("--batch-sizes", default="100,1000,5000")
    parser.add_argument("--concurrency", default="1,2,4")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        build = args.build or Path(tmp)
        if not (build / "v7" / "model.joblib").is_file():
            command = [sys.executable, str(EXAMPLE / "train.py"), "--data", str(args.data), "--out", str(build)]
            subprocess.run([*command, "--versions", "v7"], check=True)
        sys.path.insert(0, str(EXAMPLE))
        from train import FEATURES, split

        train, evaluation = split(args.data)
        table = pd.concat([train, evaluation], ignore_index=True)
        port = free_port()
        log = (Path(tmp) / "serve.log").open("wb")
        command = [sys.executable, str(EXAMPLE / "serve.py"), "--model", str(build / "v7" / "model.joblib")]
        server = subprocess.Popen(
            [*command, "--http-port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("serve.py did not become ready")
                time.sleep(0.2)
            predict(Endpoint(url, "credit-scoring", FEATURES, batch_size=1000), table.head(2000), "probability")
            print(f"{len(table)} rows x {len(FEATURES)} features, {os.cpu_count()} CPUs, best of {args.repeat}")
            print(f"{'batch':>6} {'in flight':>9} {'seconds':>8} {'rows/s':>8}")
            for size in [int(s) for s in args.batch_sizes.split(",")]:
                for concurrency in [int(c) for c in args.concurrency.split(",")]:
                    endpoint = Endpoint(url, "credit-scoring", FEATURES, batch_size=size, concurrency=concurrency)
                    best = float("inf")
                    for _ in range(args.repeat):
                        started = time.perf_counter()
                        values = predict(endpoint, table, "probability")
                        best = min(best, time.perf_counter() - started)
                        assert len(values) == len(table)
                    print(f"{size:>6} {concurrency:>9} {best:>8.2f} {len(table) / best:>8,.0f}")
        finally:
            server.terminate()
            server.wait(timeout=10)
            log.close()


if __name__ == "__main__":
    main()
