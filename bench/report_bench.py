"""Benchmark of ``mlgate report``: the PDF of a 1,000-model run (goal: <= 15 s and <= 10 MB).

    python bench/report_bench.py --models 1000 [--repeat 3]

Judges the example catalog once (prod, embedded engine) and makes a fleet-sized ledger record from it: model i
takes the gate input document, decisions and evidence pins of example model i mod 4 under the name
``model-00001`` …, so each section has the example's real fairness evidence (two sensitive features, seven
groups), lineage, data handling and decisions. Times the unsigned render, the signing, and the
re-render that ``mlgate verify`` does, and prints the size and page count. With ``--repeat N`` the render is
timed N times and the median judged (the machine may be busy).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def example_record() -> dict[str, Any]:
    from compliance.gate.check import prepare
    from compliance.ledger import record_of_run
    from compliance.plan.capture import capture_plan

    gate = prepare(REPO, "prod", cache=False)
    now = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    run = gate.run(capture_plan(REPO, "prod"), now)
    record = record_of_run(run, run_id="bench", repo={"commit": "0" * 40, "dirty": False})
    record.update(seq=1, prev=None, hash="sha256:" + "0" * 64)
    thresholds = gate.bundle.data["mlgate"]["thresholds"]["environments"]["prod"]
    record["thresholds"] = thresholds
    return record


def fleet_record(base: dict[str, Any], models: int) -> dict[str, Any]:
    deployments = [s for s in base["subjects"] if s["kind"] == "deployment"]
    platform = [s for s in base["subjects"] if s["kind"] != "deployment"]
    record = {k: v for k, v in base.items() if k not in ("subjects", "decisions", "evidence")}
    subjects, decisions, evidence = [], [], []
    for index in range(models):
        source = deployments[index % len(deployments)]
        old = source["name"]
        model = f"model-{index + 1:05d}"
        name = f"{model}@prod"
        text = json.dumps(source["document"]).replace(old.split("@")[0], model)
        subjects.append({**source, "name": name, "document": json.loads(text)})
        decisions += [{**copy.deepcopy(d), "subject": name} for d in base["decisions"] if d["subject"] == old]
        evidence += [
            {**p, "subject": name, "file": p["file"].replace(old.split("@")[0], model)}
            for p in base["evidence"]
            if p["subject"] == old
        ]
    record["subjects"] = subjects + platform
    record["decisions"] = decisions + [d for d in base["decisions"] if d["subject"].startswith("platform@")]
    record["evidence"] = evidence
    denied = sum(1 for s in subjects if s["verdict"] == "denied")
    record["result"] = {
        "exitCode": 1 if denied else 0,
        "summary": {"subjects": models, "passed": models - denied, "warned": 0, "denied": denied, "waived": 0},
    }
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--out", default="/tmp/mlgate-report-bench.pdf")
    parser.add_argument("--repeat", type=int, default=1, help="time the render N times, judge the median")
    args = parser.parse_args()

    started = time.perf_counter()
    record = fleet_record(example_record(), args.models)
    size = len(json.dumps(record)) / 1e6
    print(f"record: {args.models} models, {len(record['decisions'])} decisions, {len(record['evidence'])} evidence "
          f"pins, {size:.1f} MB JSON ({time.perf_counter() - started:.1f} s to make)")  # fmt: skip

    import pypdf
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from compliance.report.pdf import render_pdf
    from compliance.report.sign import sign_report

    render_pdf(fleet_record(record, 4))  # warm up: imports, font metrics
    times = []
    for _ in range(max(1, args.repeat)):
        started = time.perf_counter()
        pdf = render_pdf(record)
        times.append(time.perf_counter() - started)
    render_s = statistics.median(times)
    if len(times) > 1:
        print("renders: " + ", ".join(f"{t:.2f} s" for t in times) + f" (median {render_s:.2f} s)")
    started = time.perf_counter()
    signed, _ = sign_report(pdf, Ed25519PrivateKey.generate(), file="r.pdf", run_id="bench", ledger_hash=record["hash"])
    sign_s = time.perf_counter() - started
    started = time.perf_counter()
    again = render_pdf(record)
    verify_s = time.perf_counter() - started
    assert again == pdf, "not reproducible"
    Path(args.out).write_bytes(signed)
    pages = len(pypdf.PdfReader(args.out).pages)
    print(f"render {render_s:.2f} s, sign {sign_s * 1000:.1f} ms, re-render (verify) {verify_s:.2f} s; "
          f"{len(signed) / 1e6:.2f} MB, {pages} pages → {args.out}")  # fmt: skip
    goal = render_s <= 15 and len(signed) <= 10e6
    print(f"goal (<= 15 s, <= 10 MB): {'met' if goal else 'NOT met'}")


if __name__ == "__main__":
    main()
