"""The decision cache and the process pool, on the real embedded engine.

Fakes appear only to inject faults (an engine that raises, a worker that dies); every clean decision
comes from regorus.
"""

from __future__ import annotations

import copy
import datetime as dt
import multiprocessing
import os
import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import FaultyEngine

from compliance import outputs
from compliance.errors import EngineError
from compliance.gate import parallel
from compliance.gate.bundle import PolicyBundle
from compliance.gate.cache import CachedEngine, DecisionStore
from compliance.gate.check import embedded_engine
from compliance.gate.decisions import GateResult, Subject, Waiver
from compliance.gate.engine import UNDEFINED, Engine, RegorusEngine
from compliance.gate.inputs import GateInput, build_inputs
from compliance.gate.parallel import PER_JOB, ParallelEngine
from compliance.gate.run import evaluate
from compliance.plan.model import Plan
from compliance.spec.load import load_catalog, load_stack_config

ROOT = Path(__file__).resolve().parents[1]
TODAY = dt.date(2026, 11, 25)
NOW = "2026-11-25T12:00:00Z"

RULE = """package mlgate.fairness

# METADATA
# title: Parity within threshold
# description: The demographic-parity difference stays within the limit.
# custom:
#   id: FAIR-002
#   severity: high
deny contains v if {
\tinput.dpd > data.mlgate.thresholds.dpd
\tv := {"id": "FAIR-002", "msg": sprintf("dpd %v above %v", [input.dpd, data.mlgate.thresholds.dpd])}
}
"""
DATA = '{"mlgate": {"thresholds": {"dpd": 0.1}}}'


def bundle_with(tmp_path: Path, rule: str = RULE, data: str = DATA) -> PolicyBundle:
    (tmp_path / "policies").mkdir(exist_ok=True)
    (tmp_path / "policies" / "fairness.rego").write_text(rule, encoding="utf-8")
    (tmp_path / "policies" / "data.json").write_text(data, encoding="utf-8")
    return PolicyBundle.load(tmp_path / "policies")


def doc(name: str = "credit-scoring", **values: Any) -> GateInput:
    return GateInput(Subject(f"{name}@prod", "deployment"), {"kind": "deployment", "now": NOW, **values})


def judge(bundle: PolicyBundle, inputs: Sequence[GateInput], engine: Engine, waivers: Sequence[Waiver] = ()) -> Any:
    return evaluate(inputs, engine, bundle, environment="prod", waivers=waivers, today=TODAY)


class Counting:
    """The real engine, counting the documents it is asked to judge."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.name, self.calls = engine, engine.name, 0

    def evaluate(self, document: Mapping[str, Any], packages: Sequence[str]) -> dict[str, Any]:
        self.calls += 1
        return self.engine.evaluate(document, packages)


def cached(bundle: PolicyBundle, store: Path, engine: Engine | None = None) -> CachedEngine:
    return CachedEngine(engine or Counting(RegorusEngine(bundle)), bundle, DecisionStore(store))


def rows(store: Path) -> int:
    with sqlite3.connect(store) as db:
        count: int = db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    return count


# ------------------------------------------------------------------------------------------------ cache


def test_a_hit_gives_the_decisions_of_a_fresh_evaluation(tmp_path: Path) -> None:
    bundle, store = bundle_with(tmp_path), tmp_path / "cache.sqlite3"
    inputs = [doc("a", dpd=0.2), doc("b", dpd=0.05), doc("c", dpd=0.3)]
    fresh = judge(bundle, inputs, RegorusEngine(bundle))
    cold, warm = cached(bundle, store), cached(bundle, store)
    assert judge(bundle, inputs, cold) == fresh
    assert (cold.stats.hits, cold.stats.misses, cold.stats.stored) == (0, 3, 3)
    assert judge(bundle, inputs, warm) == fresh
    assert (warm.stats.hits, warm.stats.misses) == (3, 0)
    assert warm.engine.calls == 0  # type: ignore[attr-defined]
    assert [d.id for d in fresh.decisions] == ["FAIR-002", "FAIR-002"]


def test_one_document_at_a_time_uses_the_cache_too(tmp_path: Path) -> None:
    bundle, store = bundle_with(tmp_path), tmp_path / "cache.sqlite3"
    first, second = cached(bundle, store), cached(bundle, store)
    document = doc(dpd=0.2).document
    assert first.evaluate(document, bundle.packages) == second.evaluate(document, bundle.packages)
    assert (second.stats.hits, second.engine.calls) == (1, 0)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "change",
    ["policy", "data", "document", "now", "packages"],
)
def test_any_change_to_policies_data_or_document_misses(tmp_path: Path, change: str) -> None:
    store = tmp_path / "cache.sqlite3"
    inputs = [doc(dpd=0.2)]
    bundle = bundle_with(tmp_path)
    judge(bundle, inputs, cached(bundle, store))
    packages = None
    if change == "policy":
        bundle = bundle_with(tmp_path, RULE + "\n# a comment is a change too\n")
    elif change == "data":
        bundle = bundle_with(tmp_path, data=DATA.replace("0.1", "0.25"))
    elif change == "document":
        inputs = [doc(dpd=0.21)]
    elif change == "now":
        inputs = [replace(inputs[0], document={**inputs[0].document, "now": "2026-11-25T12:00:01Z"})]
    else:
        packages = [*bundle.packages, "mlgate.other"]
    again = cached(bundle, store)
    if packages is None:
        result = judge(bundle, inputs, again)
        assert result == judge(bundle, inputs, RegorusEngine(bundle))
    else:
        again.evaluate_all([inputs[0].document], packages)
    assert (again.stats.hits, again.stats.misses) == (0, 1)
    if change == "data":
        assert result.decisions == ()  # 0.2 is within the new limit: the old deny was not reused


def test_waivers_and_their_expiry_apply_after_the_cache(tmp_path: Path) -> None:
    bundle, store = bundle_with(tmp_path), tmp_path / "cache.sqlite3"
    waiver = Waiver("FAIR-002", "credit-scoring@prod", "accepted", "o@example.com", "a@example.com", TODAY)
    judge(bundle, [doc(dpd=0.2)], cached(bundle, store))
    active = judge(bundle, [doc(dpd=0.2)], cached(bundle, store), [waiver])
    assert [d.waived for d in active.decisions] == [True]
    lapsed = judge(bundle, [doc(dpd=0.2)], cached(bundle, store), [replace(waiver, expires=TODAY - dt.timedelta(1))])
    assert sorted((d.id, d.waived) for d in lapsed.decisions) == [("FAIR-002", False), ("GATE-WAIVER-EXPIRED", False)]


@pytest.mark.parametrize(
    "outcome",
    [EngineError("down"), RuntimeError("boom"), UNDEFINED, {"deny": "FAIR-002"}, {"deny": [{"id": "FAIR-002"}]}],
)
def test_errors_and_unclean_values_are_never_cached(tmp_path: Path, outcome: Any) -> None:
    bundle, store = bundle_with(tmp_path), tmp_path / "cache.sqlite3"
    for _ in range(2):
        engine = cached(bundle, store, FaultyEngine(outcome, name="embedded"))
        (error,) = judge(bundle, [doc(dpd=0.0)], engine).decisions
        assert error.id == "GATE-ERROR"
        assert (engine.stats.hits, engine.stats.stored) == (0, 0)
    assert rows(store) == 0
    # Once the engine works again, the document is judged, not answered from a stored failure.
    assert judge(bundle, [doc(dpd=0.0)], cached(bundle, store)).decisions == ()


def test_a_corrupt_cache_file_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    bundle, store = bundle_with(tmp_path), tmp_path / "cache.sqlite3"
    store.write_bytes(b"this is not a database" * 100)
    engine = cached(bundle, store)
    assert [d.id for d in judge(bundle, [doc(dpd=0.2)], engine).decisions] == ["FAIR-002"]
    assert (engine.stats.misses, engine.stats.stored) == (1, 1)
    again = cached(bundle, store)
    assert [d.id for d in judge(bundle, [doc(dpd=0.2)], again).decisions] == ["FAIR-002"]
    assert again.stats.hits == 1


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE decisions SET value = '{\"mlgate.fairness\":{}}'",  # a pass, without a matching checksum
        "UPDATE decisions SET value = 'not json', checksum = 'x'",
        "UPDATE decisions SET used = 'yesterday'",
    ],
)
def test_a_damaged_entry_is_a_miss(tmp_path: Path, tamper: str) -> None:
    bundle, store = bundle_with(tmp_path), tmp_path / "cache.sqlite3"
    judge(bundle, [doc(dpd=0.2)], cached(bundle, store))
    with sqlite3.connect(store) as db:
        db.execute(tamper)
    engine = cached(bundle, store)
    assert [d.id for d in judge(bundle, [doc(dpd=0.2)], engine).decisions] == ["FAIR-002"]
    if "used" not in tamper:
        assert (engine.stats.hits, engine.stats.misses, engine.stats.stored) == (0, 1, 1)


def test_an_unusable_cache_location_only_costs_the_cache(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path)
    (tmp_path / "file").write_text("a file where the cache directory should be")
    engine = cached(bundle, tmp_path / "file" / "cache.sqlite3")
    assert [d.id for d in judge(bundle, [doc(dpd=0.2)], engine).decisions] == ["FAIR-002"]
    assert (engine.stats.misses, engine.stats.stored) == (1, 0)


def test_the_store_keeps_the_most_recent_entries(tmp_path: Path) -> None:
    bundle, path = bundle_with(tmp_path), tmp_path / "cache.sqlite3"
    engine = CachedEngine(RegorusEngine(bundle), bundle, DecisionStore(path, max_entries=3))
    judge(bundle, [doc(str(i), dpd=i / 10) for i in range(5)], engine)
    assert rows(path) == 3


def test_documents_json_cannot_encode_are_judged_not_cached(tmp_path: Path) -> None:
    bundle, store = bundle_with(tmp_path), tmp_path / "cache.sqlite3"
    engine = cached(bundle, store)
    judge(bundle, [doc(dpd=0.2, odd=float("nan"))], engine)
    assert (engine.stats.uncacheable, engine.stats.stored) == (1, 0)


def test_mlgate_no_cache_and_the_cache_flag_turn_it_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = bundle_with(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    on = embedded_engine(bundle)
    assert isinstance(on, CachedEngine)
    assert on.store.path == tmp_path / "xdg" / "mlgate" / "decisions" / "decisions.sqlite3"
    assert isinstance(embedded_engine(bundle, cache=False), ParallelEngine)
    monkeypatch.setenv("MLGATE_NO_CACHE", "1")
    assert isinstance(embedded_engine(bundle), ParallelEngine)


# ------------------------------------------------------------------------------------------ parallel


@pytest.fixture(scope="module")
def many(prod_plan: Plan) -> list[GateInput]:
    """200 distinct documents of the example catalog's shapes: renamed models, varied values; some deny."""
    stack = load_stack_config(ROOT / "stacks" / "Pulumi.prod.yaml", "prod")
    base = build_inputs(load_catalog(ROOT / "models"), stack, prod_plan, ROOT, NOW)
    result: list[GateInput] = []
    for n in range(200):
        source = base[n % len(base)]
        document = copy.deepcopy(source.document)
        name = f"{source.subject.name}-{n:03d}"
        document["subject"] = name
        if document["kind"] == "deployment":
            document["model"]["autoscaling"]["minReplicas"] = 1 + n % 3
            document["model"]["riskTier"] = ("high", "limited", "minimal")[n % 3]
        result.append(GateInput(replace(source.subject, name=name), document))
    return result


def rendered(result: GateResult) -> str:
    return "".join(outputs.get(name).render(result) for name in ("json", "sarif"))


@pytest.mark.parametrize("fork", [True, False], ids=["fork", "spawn"])
def test_parallel_output_is_the_serial_output_byte_for_byte(
    many: list[GateInput], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fork: bool
) -> None:
    # Workers are forked (documents shared by index) when no other thread runs, else spawned (pickled).
    monkeypatch.setattr(parallel, "_can_fork", lambda: fork)
    # A copy: the workers load the policies again, and an edit in between would fail them (rightly).
    shutil.copytree(ROOT / "policies", tmp_path / "policies", ignore=shutil.ignore_patterns("pack"))
    bundle = PolicyBundle.load(tmp_path / "policies")
    serial = ParallelEngine(bundle, jobs=1)
    split = ParallelEngine(bundle, jobs=2)
    expected = judge(bundle, many, serial)
    assert serial.used_jobs == 1
    assert len({d.id for d in expected.decisions}) > 3  # not trivially empty
    assert rendered(judge(bundle, many, split)) == rendered(expected)
    assert split.used_jobs == 2


def _dies_in_a_worker(bundle: PolicyBundle) -> Engine:
    """Fault injection (picklable, for the workers): the real engine here, a crash in any worker process."""
    if multiprocessing.parent_process() is not None:
        os._exit(3)
    return RegorusEngine(bundle)


def test_a_dead_worker_fails_its_documents_closed(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path)
    inputs = [doc(f"m{i:02d}", dpd=0.0) for i in range(40)]
    result = judge(bundle, inputs, ParallelEngine(bundle, jobs=2, factory=_dies_in_a_worker))
    failed = {d.subject for d in result.errors()}
    assert failed  # the worker took the first chunks
    assert all("engine worker failed: BrokenProcessPool" in d.msg for d in result.errors())
    assert failed | {d.subject for d in result.decisions if d.id != "GATE-ERROR"} <= {i.subject.name for i in inputs}
    assert result.exit_code() == 2


def test_policies_changed_under_a_worker_fail_closed(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path)
    engine = ParallelEngine(bundle, jobs=2)
    bundle_with(tmp_path, RULE.replace("0.1", "0.5").replace("> data", ">= data"))  # after the load, before the run
    result = judge(bundle, [doc(f"m{i:02d}", dpd=0.0) for i in range(40)], engine)
    assert result.errors() and result.exit_code() == 2
    assert all("policies changed during the run" in d.msg or "BrokenProcessPool" in d.msg for d in result.errors())


def test_without_worker_processes_every_document_is_judged_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_processes(*args: Any, **kwargs: Any) -> Any:
        raise OSError(11, "Resource temporarily unavailable")

    bundle = bundle_with(tmp_path)
    inputs = [doc(f"m{i:02d}", dpd=i / 100) for i in range(20)]
    monkeypatch.setattr("concurrent.futures.ProcessPoolExecutor", no_processes)
    engine = ParallelEngine(bundle, jobs=2)
    assert judge(bundle, inputs, engine) == judge(bundle, inputs, RegorusEngine(bundle))
    assert engine.used_jobs == 1


def test_auto_splits_only_big_inputs_on_more_than_one_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "available_cpus", lambda: 4)
    assert [parallel.plan_jobs(n, None) for n in (5, 2 * PER_JOB - 1, 2 * PER_JOB, 3 * PER_JOB, 10_000)] == [
        1,
        1,
        2,
        3,
        4,
    ]
    assert (parallel.plan_jobs(5, 8), parallel.plan_jobs(10_000, 1), parallel.plan_jobs(0, 2)) == (5, 1, 1)
    monkeypatch.setattr(parallel, "available_cpus", lambda: 1)
    assert parallel.plan_jobs(10_000, None) == 1
