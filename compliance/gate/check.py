"""``mlgate check`` below the CLI: load everything one environment needs and evaluate it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.gate.bundle import PolicyBundle
from compliance.gate.cache import CachedEngine, DecisionStore
from compliance.gate.decisions import GateResult, Waiver
from compliance.gate.engine import Engine
from compliance.gate.inputs import GateInput, build_inputs
from compliance.gate.opa import OpaEngine, OpaSettings
from compliance.gate.parallel import ParallelEngine
from compliance.gate.run import evaluate
from compliance.gate.waivers import load_waivers
from compliance.plan.model import Plan
from compliance.spec.load import Catalog, load_catalog, load_stack_config
from compliance.spec.stack import StackConfig

__all__ = ["Gate", "GateRun", "check", "embedded_engine", "engine_report", "prepare"]


@dataclass(frozen=True)
class Gate:
    """Everything one environment is judged with, loaded and compiled before any plan is captured,
    so a broken policy or waiver fails fast."""

    root: Path
    environment: str
    stack: StackConfig
    catalog: Catalog
    bundle: PolicyBundle
    waivers: tuple[Waiver, ...]
    engine: Engine

    def judge(
        self,
        plan: Plan,
        now: dt.datetime | None = None,
        *,
        pinned: Mapping[str, str | None] | None = None,
        platform: bool = True,
    ) -> GateResult:
        """``pinned``: evidence digests of an earlier record (``load_pinned``); a file that differs is a deny.
        ``platform=False`` judges the deployment documents only (the pre-flight: no platform resources yet)."""
        return self.run(plan, now, pinned=pinned, platform=platform).result

    def run(
        self,
        plan: Plan,
        now: dt.datetime | None = None,
        *,
        pinned: Mapping[str, str | None] | None = None,
        platform: bool = True,
    ) -> GateRun:
        """:meth:`judge`, keeping what was judged: the input documents and the time (for the ledger)."""
        moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
        inputs = build_inputs(self.catalog, self.stack, plan, self.root, moment.isoformat().replace("+00:00", "Z"))
        if not platform:
            inputs = [i for i in inputs if i.subject.kind != "platform"]
        result = evaluate(
            inputs,
            self.engine,
            self.bundle,
            environment=self.environment,
            waivers=self.waivers,
            today=moment.date(),
            pinned=pinned,
        )
        return GateRun(self, result, tuple(inputs), moment)


@dataclass(frozen=True)
class GateRun:
    """One judged run: its result and what it was judged on, as the ledger records it."""

    gate: Gate
    result: GateResult
    inputs: tuple[GateInput, ...]
    now: dt.datetime  # UTC, whole seconds: the documents' ``now``


def embedded_engine(bundle: PolicyBundle, *, cache: bool = True, jobs: int | None = None) -> Engine:
    """The embedded engine over ``jobs`` processes for big inputs (None: auto, see ``compliance.gate.parallel``),
    behind the decision cache unless ``cache`` is false or ``MLGATE_NO_CACHE`` is set."""
    engine = ParallelEngine(bundle, jobs=jobs)
    store = DecisionStore.default() if cache else None
    return CachedEngine(engine, bundle, store) if store is not None else engine


def engine_report(engine: Engine) -> str:
    """What the engine wrappers did in the last run: cache hits and misses, processes (for ``--verbose``)."""
    parts: list[str] = []
    if isinstance(engine, CachedEngine):
        parts.append(f"decision cache {engine.store.path}: {engine.stats}")
        engine = engine.engine
    if isinstance(engine, ParallelEngine):
        parts.append(f"{engine.used_jobs} process{'es' if engine.used_jobs > 1 else ''}")
    return "; ".join(parts) or f"{engine.name} engine"


def prepare(
    root: Path,
    environment: str,
    *,
    stack_file: Path | None = None,
    catalog: Path | None = None,
    policies: Path | None = None,
    waivers: Path | None = None,
    engine: Engine | None = None,
    cache: bool = True,
    jobs: int | None = None,
    stack: StackConfig | None = None,
    engine_name: str | None = None,
    opa: OpaSettings | None = None,
) -> Gate:
    """``engine`` replaces the embedded one (then ``cache`` and ``jobs`` do not apply); ``stack`` one already
    loaded (the pre-flight and the policy pack: the config Pulumi hands the program) replaces ``stack_file``.
    ``engine_name`` (``embedded``/``opa``) and ``opa`` (its settings) override the stack's ``mlgate:policy``."""
    stack = stack or load_stack_config(stack_file or root / "stacks" / f"Pulumi.{environment}.yaml", environment)
    models = load_catalog(catalog or root / stack.catalog)
    bundle = PolicyBundle.load(policies or root / "policies")
    accepted = load_waivers(waivers or bundle.root / "waivers.yaml")
    if engine is None and (engine_name or stack.policy.engine) == "opa":  # a server: no cache, no processes
        engine = OpaEngine(bundle, (opa or OpaSettings.resolve()).or_url(stack.policy.opaUrl))
    engine = engine or embedded_engine(bundle, cache=cache, jobs=jobs)
    return Gate(root, environment, stack, models, bundle, accepted, engine)


def check(root: Path, environment: str, plan: Plan, *, now: dt.datetime | None = None, **options: Any) -> GateResult:
    """Judge one environment's plan: the whole of ``mlgate check`` below the CLI."""
    return prepare(root, environment, **options).judge(plan, now)
