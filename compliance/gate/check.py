"""``mlgate check`` below the CLI: load everything one environment needs and evaluate it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from compliance.gate.bundle import PolicyBundle
from compliance.gate.decisions import GateResult
from compliance.gate.engine import Engine, RegorusEngine
from compliance.gate.inputs import build_inputs
from compliance.gate.run import evaluate
from compliance.gate.waivers import load_waivers
from compliance.plan.model import Plan
from compliance.spec.load import load_catalog, load_stack_config

__all__ = ["check"]


def check(
    root: Path,
    environment: str,
    plan: Plan,
    *,
    stack_file: Path | None = None,
    catalog: Path | None = None,
    policies: Path | None = None,
    waivers: Path | None = None,
    now: dt.datetime | None = None,
    engine: Engine | None = None,
) -> GateResult:
    """Judge one environment's plan: the whole of ``mlgate check`` below the CLI."""
    stack = load_stack_config(stack_file or root / "stacks" / f"Pulumi.{environment}.yaml", environment)
    models = load_catalog(catalog or root / stack.catalog)
    bundle = PolicyBundle.load(policies or root / "policies")
    accepted = load_waivers(waivers or bundle.root / "waivers.yaml")
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    inputs = build_inputs(models, stack, plan, root, moment.isoformat().replace("+00:00", "Z"))
    return evaluate(
        inputs,
        engine or RegorusEngine(bundle),
        bundle,
        environment=environment,
        waivers=accepted,
        today=moment.date(),
    )
