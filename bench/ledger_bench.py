"""Benchmark the run ledger: how many gate-run records per second it appends (goal: 200 runs/s).

    .venv/bin/python bench/ledger_bench.py                       # 500 runs per pass, 8 processes
    .venv/bin/python bench/ledger_bench.py --runs 1000 --processes 8 --models 50

Setup (not timed): two realistic records, each of a real gate run (``Gate.run`` + ``record_of_run``):

* the example catalog (``models/``, prod: its deployments and the platform), on a plan captured from the repo;
* a fleet of ``--models`` (default 50) models x 3 regions (``bench/fleet.py``, passing evidence from
  ``gate_bench.write_evidence``, the repo's policies), on its captured plan.

Timed, for each record, on a fresh ledger in a temporary directory (same file system as ``--dir``, default the
system temp dir):

* building the record from the run (``record_of_run``: input digests, git state, rules, …), median of 20;
* one process appending ``--runs`` records (the record with a fresh run id each time) through
  ``Ledger.append``: ``synchronous=FULL`` (what mlgate uses) and ``synchronous=NORMAL``, for the durability
  trade-off; the rate is runs / wall time of the loop;
* ``--processes`` processes (``tests/ledger_writer.py``) each appending ``--runs`` records to one ledger at
  the same time (FULL); the rate is all runs / wall time from the first start to the last exit (Python start-up
  included);
* ``Ledger.verify`` over the resulting ledger (records/s).

The machine is shared: the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from compliance.gate.check import GateRun, prepare
from compliance.ledger import Ledger, canonical, record_of_run
from compliance.plan.capture import capture_plan

REPO = Path(__file__).resolve().parent.parent
WRITER = REPO / "tests" / "ledger_writer.py"
NOW = dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC)
GOAL = 200.0  # runs/s (issue 6)


def example_run() -> GateRun:
    plan = capture_plan(REPO, "prod")
    return prepare(REPO, "prod", cache=False).run(plan, NOW)


def fleet_run(models: int, workdir: Path) -> GateRun:
    from fleet import generate  # bench/ is sys.path[0] when run as a script
    from gate_bench import write_evidence

    root = workdir / f"fleet-{models}"
    generate(models, 3, root)
    write_evidence(root)
    plan = capture_plan(root, "prod", workers=2)
    return prepare(root, "prod", policies=REPO / "policies", cache=False).run(plan, NOW)


def fresh(path: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def single(record: dict[str, Any], path: Path, runs: int, synchronous: Any) -> float:
    with Ledger.open(fresh(path), synchronous=synchronous) as ledger:
        started = time.perf_counter()
        for n in range(runs):
            ledger.append({**record, "runId": f"bench-{n:05d}"})
        return runs / (time.perf_counter() - started)


def parallel(record: dict[str, Any], path: Path, runs: int, processes: int) -> tuple[float, float]:
    """(runs/s over the wall time, verify records/s)."""
    template = path.with_suffix(".record.json")
    template.write_text(json.dumps(record))
    Ledger.open(fresh(path)).close()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    writers = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(path), str(w), str(runs), f"{path}.{w}.txt", str(template)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for w in range(processes)
    ]
    for writer in writers:
        if writer.wait() != 0:
            raise SystemExit(f"writer failed: exit {writer.returncode}")
    wall = time.perf_counter() - started
    with Ledger.open(path, create=False) as ledger:
        began = time.perf_counter()
        report = ledger.verify()
        checked = time.perf_counter() - began
    if not report.ok or report.records != runs * processes:
        raise SystemExit(f"ledger after the parallel pass: {report}")
    return runs * processes / wall, report.records / checked


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "?",
    )
    return f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=500, help="appends per pass and per process (default 500)")
    parser.add_argument("--processes", type=int, default=8, help="writers of the parallel pass (default 8)")
    parser.add_argument("--models", type=int, default=50, help="models of the fleet record (default 50)")
    parser.add_argument("--dir", type=Path, help="where the ledgers are written (default: a temp dir)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlgate-ledger-bench-", dir=args.dir) as scratch:
        work = Path(scratch)
        print("setup: capturing the example and fleet plans, judging them ...", file=sys.stderr)
        runs = {
            "example catalog (prod)": example_run(),
            f"{args.models}-model fleet (prod)": fleet_run(args.models, work),
        }
        load = os.getloadavg()
        rows = []
        for name, run in runs.items():
            timings = []
            for _ in range(20):
                began = time.perf_counter()
                record = record_of_run(run)
                timings.append(time.perf_counter() - began)
            size = len(canonical(record))
            deployments = sum(1 for i in run.inputs if i.subject.kind == "deployment")
            path = work / "ledger.db"
            print(f"{name}: {deployments} deployments, {size / 1024:.0f} KiB; appending ...", file=sys.stderr)
            full = single(record, path, args.runs, "FULL")
            normal = single(record, path, args.runs, "NORMAL")
            many, verified = parallel(record, path, args.runs, args.processes)
            rows.append((name, deployments, size, statistics.median(timings), full, normal, many, verified))
        print(f"\nledger append, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}")
        print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; after: {os.getloadavg()[0]:.2f}")
        print(
            f"{args.runs} runs per pass; parallel: {args.processes} processes x {args.runs} runs; "
            f"goal {GOAL:.0f} runs/s\n"
        )
        print(
            "| record | deployments | size | build record | 1 process FULL | 1 process NORMAL | "
            f"{args.processes} processes FULL | verify |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, deployments, size, build, full, normal, many, verified in rows:
            print(
                f"| {name} | {deployments} | {size / 1024:.0f} KiB | {build * 1000:.1f} ms | {full:.0f} runs/s | "
                f"{normal:.0f} runs/s | {many:.0f} runs/s | {verified:.0f} records/s |"
            )


if __name__ == "__main__":
    main()
