"""The run ledger: one hash-chained record per gate run, in an append-only SQLite file (docs/ledger.md).

    from compliance.ledger import Ledger, ledger_path, record_of_run
    with Ledger.open(ledger_path(root)) as ledger:
        stored = ledger.append(record_of_run(gate.run(plan)))
    report = Ledger.open(path, create=False).verify()

Light to import (sqlite3, json, hashlib): the deploy-time gate and the report use it without the engine.
"""

from __future__ import annotations

import os
from pathlib import Path

from compliance.ledger.record import build_record, canonical, digest, git_state, record_of_run
from compliance.ledger.store import Ledger, LedgerRun, VerifyReport

__all__ = [
    "DEFAULT_LEDGER",
    "LEDGER_ENV",
    "Ledger",
    "LedgerRun",
    "VerifyReport",
    "build_record",
    "canonical",
    "digest",
    "git_state",
    "ledger_path",
    "record_of_run",
]

DEFAULT_LEDGER = Path(".mlgate") / "ledger.db"  # under the project root
LEDGER_ENV = "MLGATE_LEDGER"


def ledger_path(root: Path, given: str | Path | None = None) -> Path:
    """The ledger to use: ``given`` (``--ledger``), else ``$MLGATE_LEDGER``, else ``<root>/.mlgate/ledger.db``."""
    if given:
        return Path(given)
    from_env = os.environ.get(LEDGER_ENV)
    if from_env:
        return Path(from_env)
    return root / DEFAULT_LEDGER
