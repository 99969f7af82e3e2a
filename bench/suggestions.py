"""Run ``mlgate`` with experimental patches, to measure a speed-up before changing mlgate itself.

    MLGATE_SUGGESTIONS=name,... .venv/bin/python bench/suggestions.py plan --env prod --root DIR
    .venv/bin/python bench/plan_bench.py --suggestions name,...

The patches are applied when this module is imported, so they also reach the spawned capture workers
(multiprocessing re-imports the main script as ``__mp_main__``).

The first three suggestions measured here (raised GC thresholds, no per-resource stack traces, no echoed
mock state) are now part of ``compliance.plan.capture`` itself (commit 1ed0b4a), so no patch is left to
try: add one to ``PATCHES`` to measure the next idea.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PATCHES: dict[str, Callable[[], None]] = {}


def apply(names: set[str]) -> None:
    if unknown := names - set(PATCHES):
        raise SystemExit(
            f"unknown suggestions {sorted(unknown)}; known: {', '.join(PATCHES) or 'none'} "
            "(gc, nostack and nostate are built into mlgate now)"
        )
    for name in sorted(names):
        PATCHES[name]()


sys.path.insert(0, str(REPO))
apply({name for name in os.environ.get("MLGATE_SUGGESTIONS", "").split(",") if name})

if __name__ == "__main__":
    from compliance.cli import main

    sys.exit(main())
