"""What every ``mlgate`` command module shares: exit codes, stderr messages, the project root and the ledger path."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

from compliance.errors import UsageError

__all__ = ["EXIT_ERROR", "EXIT_FINDINGS", "EXIT_OK", "err", "existing", "ledger_path", "project_root"]

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def err(message: str, stream: TextIO | None = None) -> None:
    print(message, file=stream or sys.stderr)


def project_root(args: argparse.Namespace) -> Path:
    from compliance._internal.project import find_project_root

    return Path(args.root).resolve() if getattr(args, "root", None) else find_project_root()


def existing(path: str | None, what: str) -> Path | None:
    if path is None:
        return None
    candidate = Path(path)
    if not candidate.exists():
        raise UsageError(f"{what} not found", file=candidate)
    return candidate.resolve()


def ledger_path(args: argparse.Namespace, root: Path | None = None) -> Path:
    """``--ledger``, else ``$MLGATE_LEDGER``, else ``<project root>/.mlgate/ledger.db``."""
    from compliance.ledger import LEDGER_ENV
    from compliance.ledger import ledger_path as resolve

    if getattr(args, "ledger", None) or os.environ.get(LEDGER_ENV):
        return resolve(Path(), args.ledger)
    return resolve(root or project_root(args))
