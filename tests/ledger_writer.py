"""Helper of tests/test_ledger.py and bench/ledger_bench.py: one process appending records to a ledger.

    python tests/ledger_writer.py LEDGER WRITER COUNT REPORT [RECORD.json]

appends COUNT records (run ids ``w<WRITER>-<n>``; a small synthetic record, or RECORD.json's with the run id
replaced) and, after each append has returned (committed), writes its run id as one line to REPORT: a line in
REPORT is a record the writer knows to be committed. Prints the elapsed seconds when done.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from compliance.ledger import Ledger


def synthetic(writer: str, n: int) -> dict[str, Any]:
    subject = f"model-{n % 7}@test"
    return {
        "apiVersion": "mlgate.io/v1",
        "kind": "LedgerRecord",
        "runId": f"w{writer}-{n:04d}",
        "time": "2026-11-25T12:00:00Z",
        "environment": "test",
        "tool": "mlgate test",
        "engine": "embedded",
        "repo": {"commit": None, "dirty": None},
        "policyBundle": {"digest": "sha256:" + "0" * 64},
        "subjects": [{"name": subject, "kind": "deployment", "verdict": "denied", "digest": "sha256:" + "1" * 64}],
        "decisions": [{"id": "FAIR-001", "level": "deny", "msg": f"writer {writer} run {n}", "subject": subject}],
        "waivers": [],
        "result": {"exitCode": 1, "summary": {"subjects": 1, "passed": 0, "warned": 0, "denied": 1, "waived": 0}},
    }


def main() -> None:
    path, writer, count, report = sys.argv[1:5]
    template = json.loads(Path(sys.argv[5]).read_text()) if len(sys.argv) > 5 else None
    started = time.perf_counter()
    fd = os.open(report, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    with Ledger.open(path) as ledger:
        for n in range(int(count)):
            record = synthetic(writer, n) if template is None else {**template, "runId": f"w{writer}-{n:04d}"}
            ledger.append(record)
            os.write(fd, f"{record['runId']}\n".encode())
    os.close(fd)
    print(f"{time.perf_counter() - started:.3f}")


if __name__ == "__main__":
    main()
