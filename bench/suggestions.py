"""Try the speed-ups suggested in docs/benchmarks.md without editing mlgate: ``mlgate`` with patches.

    MLGATE_SUGGESTIONS=gc,nostack,nostate .venv/bin/python bench/suggestions.py plan --env prod --root DIR
    .venv/bin/python bench/plan_bench.py --suggestions gc,nostack,nostate
    .venv/bin/python bench/profile_plan.py --suggestions gc,nostack,nostate

The patches are applied when this module is imported, so they also reach the spawned capture workers
(multiprocessing re-imports the main script as ``__mp_main__``):

* ``gc``: ``gc.set_threshold(50_000, 50, 100)``: the mock run creates millions of short-lived containers
  and full (gen 2) collections rescan the whole, growing heap;
* ``nostack``: Pulumi's per-resource ``_get_stack_trace`` (``traceback.extract_stack`` + source positions)
  returns an empty trace: a plan never reads it;
* ``nostate``: the mock ``new_resource`` returns no state instead of echoing the inputs, sparing one
  serialise + deserialise of every resource (outputs of a preview are unknown anyway).
"""

from __future__ import annotations

import gc
import os
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAMES = ("gc", "nostack", "nostate")


def apply(names: set[str]) -> None:
    if unknown := names - set(NAMES):
        raise SystemExit(f"unknown suggestions {sorted(unknown)}; known: {', '.join(NAMES)}")
    if "gc" in names:
        gc.set_threshold(50_000, 50, 100)
    if "nostack" in names:
        import pulumi.runtime.resource as resource
        from pulumi.runtime.proto import source_pb2

        resource._get_stack_trace = source_pb2.StackTrace
    if "nostate" in names:
        import compliance.plan.capture as capture

        source = Path(capture.__file__).read_text(encoding="utf-8")
        patched = source.replace('return f"{args.name}-id", args.inputs', 'return f"{args.name}-id", {}')
        if patched == source:
            raise SystemExit("nostate: compliance/plan/capture.py changed, the patch no longer applies")
        module = types.ModuleType("compliance.plan.capture_nostate")
        exec(compile(patched, capture.__file__, "exec"), module.__dict__)
        capture._run = module._run


sys.path.insert(0, str(REPO))
apply({name for name in os.environ.get("MLGATE_SUGGESTIONS", "").split(",") if name})

if __name__ == "__main__":
    from compliance.cli import main

    sys.exit(main())
