"""Benchmark the gate (stage 4): 10,000 deployment documents through the full policy set.

    .venv/bin/python bench/gate_bench.py                    # 100-model fleet -> 10,000 documents, investigation
    .venv/bin/python bench/gate_bench.py --docs 2000 --no-investigate      # quicker, headline numbers only
    .venv/bin/python bench/gate_bench.py --workdir /tmp/gate-fleet --record # keep the fleet; append to the docs

Setup (not timed): ``bench/fleet.py`` writes a fleet (``--models`` x ``--regions``), :func:`write_evidence`
gives every model version passing fairness and lineage evidence (adapted from ``evidence/credit-scoring/v7``),
``capture_plan`` captures its prod plan once and ``build_inputs`` builds the deployment documents. They are
replicated up to ``--docs`` (renamed models, varied canary weights, fairness values and replica counts) so
every document is distinct and a few of them deny.

Timed in one run, each a whole pass over the same documents (raw and mlgate alternate ``--repeat`` times,
default 2, and the fastest pass of each counts):

* raw regorus: ``regorus.Engine`` with the same modules and data, ``set_input_json`` once per document and
  ``eval_query_as_json("data.mlgate.<pkg>")`` per package, the JSON text prepared beforehand;
* mlgate: ``compliance.gate.run.evaluate`` with ``RegorusEngine`` (whatever it does to hand over the document and
  read the results, decision mapping, waivers, sorting), the engine built beforehand;
* the same ``evaluate`` split over 2 forked processes (each builds its own engine);
* ``evaluate`` through the decision cache (``CachedEngine`` over a fresh store in a temporary directory): the
  cold pass judges and stores every document, the warm pass answers every one from the store;
* ``evaluate`` with ``ParallelEngine(jobs=--processes)``, the code path of ``mlgate check --jobs N``: spawned
  workers (each imports, loads and compiles; run as a script, a worker also imports this file's modules), this
  process taking its share;
* ``json.dumps`` of every document (raw gets the JSON ready-made);
* one ``evaluate`` of ``--sample`` documents under cProfile: own time by regorus call, json and mlgate module.

Investigation (``--sample`` documents; ``--no-investigate`` skips it): per-package cost of querying the package
vs its ``deny``/``warn`` rules (``eval_query_as_json`` and ``eval_rule_as_json``) vs its helper rules alone, cost by
document shape and size (as built, projected to the fields policies read, without resources, without evidence
documents, empty), ways of handing a document to regorus, and the exclusive cost of each ``deny``/``warn`` body
(the package timed with that body removed, interleaved with the whole package; a noise floor is printed).
Times are CPU seconds of this process (``time.process_time``) unless marked wall; the machine is shared,
so the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import atexit
import copy
import cProfile
import datetime as dt
import functools
import hashlib
import json
import multiprocessing
import os
import platform
import pstats
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import yaml

from compliance.gate.bundle import PolicyBundle
from compliance.gate.cache import CachedEngine, DecisionStore
from compliance.gate.decisions import Decision, GateResult, sort_decisions
from compliance.gate.engine import RegorusEngine
from compliance.gate.inputs import GateInput, build_inputs
from compliance.gate.parallel import ParallelEngine
from compliance.gate.run import evaluate
from compliance.gate.waivers import load_waivers
from compliance.plan.model import Plan
from compliance.spec.load import load_catalog, load_stack_config

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
POLICIES = REPO / "policies"
EXAMPLE = REPO / "evidence" / "credit-scoring" / "v7"
NOW = "2026-11-25T10:00:00Z"  # the gate's clock; evidence is generated five days before
GENERATED_AT = "2026-11-20T10:00:00Z"
TODAY = dt.date(2026, 11, 25)
GOAL_RATIO, GOAL_SECONDS = 2.0, 3.0


# Setup -----------------------------------------------------------------------------------------------------


def _hex(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def write_evidence(root: Path, generated_at: str = GENERATED_AT) -> int:
    """Passing fairness and lineage evidence for every version of ``root/models/*.yaml``; returns files written."""
    fairness = json.loads((EXAMPLE / "fairness.json").read_text())
    lineage = json.loads((EXAMPLE / "lineage.json").read_text())
    written = 0
    for path in sorted((root / "models").glob("*.yaml")):
        model = yaml.safe_load(path.read_text())
        name, spec = model["metadata"]["name"], model["spec"]
        environments = spec["environments"]
        region = (environments.get("prod") or next(iter(environments.values())))["regions"][0]
        versions = spec["versions"]
        for position, version in enumerate(versions):
            fair = copy.deepcopy(fairness)
            fair.update(model=name, version=version["name"], generatedAt=generated_at)
            for feature in fair["features"].values():
                feature.update(
                    demographicParityDifference=0.04, demographicParityRatio=0.9, equalizedOddsDifference=0.03
                )
            lin = copy.deepcopy(lineage)
            lin.update(model=name, version=version["name"])
            lin["artifact"] = {"uri": version["storageUri"], "digest": version["digest"]}
            lin["training"].update(runId=_hex(name, version["name"])[:32], codeCommit=_hex(version["digest"])[:40])
            for dataset in lin["datasets"]:
                dataset.update(residency=region, categories=list(spec["data"]["categories"]))
            if position + 1 < len(versions):
                lin["parent"] = {"model": name, "version": versions[position + 1]["name"]}
            else:
                del lin["parent"]
            for kind, document in (("fairness", fair), ("lineage", lin)):
                target = (path.parent / version["evidence"][kind]).resolve()
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(document, indent=2) + "\n")
                written += 1
    return written


def prepare_fleet(models: int, regions: int, root: Path, workers: int = 2) -> Plan:
    """Fleet + evidence + ``root/plan.json`` (captured once; reused when ``root`` already holds this fleet)."""
    from fleet import generate  # bench/ is sys.path[0] when run as a script

    from compliance.plan.capture import capture_plan

    marker, plan_file = root / ".gate-bench-fleet", root / "plan.json"
    wanted = f"{models}x{regions}"
    if plan_file.is_file() and marker.is_file() and marker.read_text() == wanted:
        return Plan.load(plan_file)
    generate(models, regions, root)
    write_evidence(root)
    plan = capture_plan(root, "prod", workers=workers)
    plan_file.write_text(plan.dumps())
    marker.write_text(wanted)
    return plan


def fleet_inputs(root: Path, plan: Plan) -> list[GateInput]:
    stack = load_stack_config(root / "stacks" / "Pulumi.prod.yaml", "prod")
    return [
        i for i in build_inputs(load_catalog(root / "models"), stack, plan, root, NOW) if i.subject.kind == "deployment"
    ]


def _vary(document: dict[str, Any], rng: random.Random) -> None:
    """Change values the policies judge, consistently between the spec part and the manifests."""
    name = document["model"]["name"]
    weighted = [v for v in document["versions"] if isinstance(v["weight"], int) and v["weight"] > 0]
    if len(weighted) == 2:  # a canary: the newest takes a (sometimes too large) slice
        canary = rng.choice((5, 10, 10, 15, 20, 25))
        weights = {weighted[0]["name"]: canary, weighted[1]["name"]: 100 - canary}
        document["deployment"]["traffic"].update(weights)
        for version in weighted:
            version["weight"] = weights[version["name"]]
        for manifest in document["resources"]:
            for route in manifest["spec"].get("http", []) if manifest["kind"] == "VirtualService" else []:
                for destination in route.get("route", []):
                    for version_name, weight in weights.items():
                        if destination["destination"]["host"].startswith(f"{name}-{version_name}-predictor."):
                            destination["weight"] = weight
    replicas = rng.choice((1, 2, 2, 3))
    document["model"]["autoscaling"]["minReplicas"] = replicas
    for manifest in document["resources"]:
        if manifest["kind"] == "InferenceService":
            manifest["spec"]["predictor"]["minReplicas"] = replicas
    for version in document["versions"]:
        fair = (version["evidence"].get("fairness") or {}).get("document")
        for feature in (fair or {}).get("features", {}).values():
            feature["demographicParityDifference"] = round(rng.uniform(0.0, 0.12), 3)
            feature["equalizedOddsDifference"] = round(rng.uniform(0.0, 0.08), 3)


def replicate(base: Sequence[GateInput], count: int, seed: int = 20261125) -> list[GateInput]:
    """``count`` distinct documents: the base ones, then renamed copies (``model-00001-r001``) with varied values."""
    rng = random.Random(seed)
    texts = [json.dumps(i.document) for i in base]
    result: list[GateInput] = []
    for n in range(count):
        source, copy_no = base[n % len(base)], n // len(base)
        if copy_no == 0:
            result.append(source)
            continue
        name = source.document["model"]["name"]
        new = f"{name}-r{copy_no:03d}"
        document = json.loads(texts[n % len(base)].replace(name, new))
        _vary(document, rng)
        subject = replace(source.subject, name=source.subject.name.replace(name, new))
        result.append(GateInput(subject, document))
    return result


# Timing ----------------------------------------------------------------------------------------------------


@dataclass
class Pass:
    wall: float = 0.0
    cpu: float = 0.0
    parts: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # CPU per step
    per_doc: list[float] = field(default_factory=list)  # CPU per document


def new_engine(bundle: PolicyBundle, texts: dict[str, str] | None = None) -> Any:
    """A bare ``regorus.Engine`` with the bundle's modules (``texts`` replaces some by path) and data."""
    import regorus

    engine = regorus.Engine()
    for module in bundle.modules:
        engine.add_policy(module.path, (texts or {}).get(module.path, module.text))
    engine.add_data_json(bundle.data_text)
    return engine


def raw_pass(
    engine: Any, texts: Sequence[str], queries: Sequence[str], *, rule: bool = False
) -> tuple[Pass, list[str]]:
    """``set_input_json`` per document, then each query; nothing else. Returns the timings and the results."""
    result, outputs = Pass(), list[str]()
    evaluate_one: Callable[[str], str] = engine.eval_rule_as_json if rule else engine.eval_query_as_json
    clock = time.process_time
    wall, cpu = time.perf_counter(), clock()
    for text in texts:
        start = clock()
        engine.set_input_json(text)
        mark = clock()
        result.parts["set_input_json"] += mark - start
        for query in queries:
            outputs.append(evaluate_one(query))
            now = clock()
            result.parts[query] += now - mark
            mark = now
        result.per_doc.append(mark - start)
    result.wall, result.cpu = time.perf_counter() - wall, clock() - cpu
    return result, outputs


def timed(function: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = function()
    return time.perf_counter() - wall, time.process_time() - cpu, value


def gate(inputs: Sequence[GateInput], bundle: PolicyBundle, engine: Any = None) -> GateResult:
    waivers = load_waivers(POLICIES / "waivers.yaml")
    return evaluate(inputs, engine or RegorusEngine(bundle), bundle, environment="prod", waivers=waivers, today=TODAY)


_SHARED: list[GateInput] = []


def _gate_slice(bounds: tuple[int, int]) -> tuple[Decision, ...]:
    bundle = PolicyBundle.load(POLICIES)
    decisions: tuple[Decision, ...] = gate(_SHARED[bounds[0] : bounds[1]], bundle).decisions
    return decisions


def parallel_gate(inputs: Sequence[GateInput], processes: int) -> tuple[float, float, int]:
    """``evaluate`` over ``processes`` forked workers, documents inherited by fork; merged and sorted."""
    _SHARED[:] = inputs
    size = -(-len(inputs) // processes)
    bounds = [(i, min(i + size, len(inputs))) for i in range(0, len(inputs), size)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, cpu = time.perf_counter(), time.process_time()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        parts = pool.map(_gate_slice, bounds)
    decisions = sort_decisions(d for part in parts for d in part)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    _SHARED.clear()
    return wall, cpu + after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, len(decisions)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cache_passes(inputs: Sequence[GateInput], bundle: PolicyBundle, expected: GateResult) -> list[Pass]:
    """Cold (judge and store) and warm (all hits) passes through ``CachedEngine`` on a fresh store."""
    passes = []
    with tempfile.TemporaryDirectory(prefix="mlgate-gate-bench-cache-") as scratch:
        inner = RegorusEngine(bundle)
        for label in ("cold", "warm"):
            engine = CachedEngine(inner, bundle, DecisionStore(Path(scratch) / "decisions.sqlite3"))
            wall, cpu, result = timed(lambda engine=engine: gate(inputs, bundle, engine))
            assert result == expected, f"{label} cache pass differs from the plain pass"
            wanted = (0, len(inputs)) if label == "cold" else (len(inputs), 0)
            assert (engine.stats.hits, engine.stats.misses) == wanted, f"{label}: {engine.stats}"
            passes.append(Pass(wall, cpu))
    return passes


def jobs_pass(inputs: Sequence[GateInput], bundle: PolicyBundle, jobs: int, expected: GateResult) -> Pass:
    """``evaluate`` on ``ParallelEngine(jobs=jobs)``: workers spawned, started and joined inside the timing."""
    engine = ParallelEngine(bundle, jobs=jobs)
    before = children_cpu()
    wall, cpu, result = timed(lambda: gate(inputs, bundle, engine))
    assert result == expected, "the parallel pass differs from the serial one"
    return Pass(wall, cpu + children_cpu() - before)


def where_mlgate_spends(sample: Sequence[GateInput], bundle: PolicyBundle) -> tuple[int, list[list[str]]]:
    """Own CPU time of one profiled ``evaluate`` over ``sample``, grouped: regorus calls, json, mlgate's modules."""
    engine = RegorusEngine(bundle)
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(gate, sample, bundle, engine)
    groups: Counter[str] = Counter()
    for (file, _, name), (_, _, own, _, _) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        if name.startswith("<method") and "builtins.Engine" in name:
            key = f"regorus `{name.split(chr(39))[1]}`"
        elif "/json/" in file:
            key = "`json` (encoding, decoding)"
        elif "/compliance/" in file:
            key = f"mlgate `{file.split('/compliance/')[1]}`"
        else:
            key = "other Python (builtins, dataclasses, …)"
        groups[key] += own
    total = sum(groups.values())
    rows = [[k, _us(v, len(sample)), f"{v / total:.0%}"] for k, v in groups.most_common()]
    return len(sample), [*rows, ["**all**", _us(total, len(sample)), "100%"]]


# Investigation helpers -------------------------------------------------------------------------------------

_BODY = re.compile(r"^(deny|warn) contains\b.*\{\s*$")


def rule_bodies(text: str) -> list[tuple[str, int, int]]:
    """``(label, first line, last line)`` of every top-level deny/warn body; label ``deny FAIR-001#2``."""
    lines, bodies, seen = text.splitlines(), [], Counter[str]()
    for i, line in enumerate(lines):
        if not _BODY.match(line):
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j] == "}")
        found = re.search(r'"((?:FAIR|LIN|DATA|SERV|PLAT)-\d{3})"', "\n".join(lines[i : end + 1]))
        label = f"{line.split()[0]} {found.group(1) if found else '?'}"
        seen[label] += 1
        bodies.append((f"{label}#{seen[label]}" if seen[label] > 1 else label, i, end))
    return bodies


def without_lines(text: str, spans: Sequence[tuple[int, int]]) -> str:
    drop = {n for first, last in spans for n in range(first, last + 1)}
    return "\n".join(line for n, line in enumerate(text.splitlines()) if n not in drop) + "\n"


def _fields(value: Any, keep: dict[str, Any]) -> Any:
    """``value`` restricted to ``keep`` (key -> nested keep, True = whole value, "*" = every key)."""
    if not isinstance(value, dict):
        return value
    if "*" in keep:
        return {k: _fields(v, keep["*"]) for k, v in value.items()}
    return {k: v if keep[k] is True else _fields(v, keep[k]) for k, v in value.items() if k in keep}


_FAIRNESS = {
    "kind": True,
    "model": True,
    "version": True,
    "generatedAt": True,
    "features": {
        "*": {
            "demographicParityDifference": True,
            "demographicParityRatio": True,
            "equalizedOddsDifference": True,
            "groups": {"*": {"n": True}},
        }
    },
}
_LINEAGE = {
    "kind": True,
    "model": True,
    "version": True,
    "artifact": True,
    "training": {"runId": True, "codeCommit": True},
    "datasets": True,
    "approvals": True,
}
_MANIFEST = {
    "type": True,
    "name": True,
    "region": True,
    "kind": True,
    "metadata": {"annotations": True},
    "spec": {
        "predictor": {"minReplicas": True, "model": {"resources": True}},
        "http": True,
        "host": True,
        "trafficPolicy": {"tls": True},
    },
}


def project(document: dict[str, Any]) -> dict[str, Any]:
    """The document cut down to the fields the deployment policies read (an input-projection experiment)."""
    slim = dict(document, resources=[_fields(r, _MANIFEST) for r in document["resources"]])
    slim["versions"] = []
    for version in document["versions"]:
        evidence = {}
        for kind, keep in (("fairness", _FAIRNESS), ("lineage", _LINEAGE)):
            ref = version["evidence"].get(kind)
            evidence[kind] = ref and dict(ref, document=_fields(ref["document"], keep))
        slim["versions"].append(dict(version, evidence=evidence))
    return slim


def _strip_evidence(document: dict[str, Any]) -> dict[str, Any]:
    versions = [
        dict(v, evidence={k: r and dict(r, document=None) for k, r in v["evidence"].items()})
        for v in document["versions"]
    ]
    return dict(document, versions=versions)


def _us(seconds: float, count: int) -> str:
    return f"{seconds / count * 1e6:,.0f}"


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|",
    ]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def _best(runs: int, engine: Any, texts: Sequence[str], queries: Sequence[str], *, rule: bool = False) -> Pass:
    """The fastest (CPU) of ``runs`` raw passes: the least disturbed by the other work of the machine."""
    return min((raw_pass(engine, texts, queries, rule=rule)[0] for _ in range(runs)), key=lambda p: p.cpu)


def investigate(bundle: PolicyBundle, sample: Sequence[GateInput], ablation_docs: int, out: list[str]) -> None:
    docs = [i.document for i in sample]
    packages = bundle.packages
    levels = {p: sorted({r.level for r in bundle.rules if r.package == p}) for p in packages}
    texts = [json.dumps(d) for d in docs]
    n = len(texts)
    engine = new_engine(bundle)
    whole = _best(2, engine, texts, [f"data.{p}" for p in packages])
    split_q = [f"data.{p}.{lvl}" for p in packages for lvl in levels[p]]
    by_query = _best(2, engine, texts, split_q)
    by_rule = _best(2, engine, texts, split_q, rule=True)
    trivial = _best(2, engine, texts, ["1"]).parts["1"]
    helpers = {}
    for module in bundle.modules:
        text = without_lines(module.text, [(a, b) for _, a, b in rule_bodies(module.text)])
        bare = new_engine(bundle, {module.path: text})
        helpers[module.package] = _best(2, bare, texts, [f"data.{module.package}"])
    rows = []
    for p in packages:
        split = [f"data.{p}.{lvl}" for lvl in levels[p]]
        rows.append(
            [
                p,
                _us(whole.parts[f"data.{p}"], n),
                " + ".join(_us(by_query.parts[q], n) for q in split),
                " + ".join(_us(by_rule.parts[q], n) for q in split),
                _us(helpers[p].parts[f"data.{p}"], n),
            ]
        )
    rows.append(["`set_input_json`", _us(whole.parts["set_input_json"], n), "", "", ""])
    rows.append(["query `1` (fixed cost of one query)", _us(trivial, n), "", "", ""])
    total_rule = sum(v for k, v in by_rule.parts.items() if k != "set_input_json")
    rows.append(
        [
            "**all packages**",
            _us(whole.cpu - whole.parts["set_input_json"], n),
            _us(sum(v for k, v in by_query.parts.items() if k != "set_input_json"), n),
            _us(total_rule, n),
            _us(sum(h.cpu - h.parts["set_input_json"] for h in helpers.values()), n),
        ]
    )
    out += [
        f"\n### Per package, µs per document (CPU, {n:,} documents)\n",
        _table(
            [
                "package",
                "`eval_query` package",
                "`eval_query` deny + warn",
                "`eval_rule` deny + warn",
                "helpers only (package without its deny/warn bodies)",
            ],
            rows,
        ),
    ]

    # Document shape: the same documents, changed.
    variants: list[tuple[str, list[dict[str, Any]]]] = [
        ("as built", list(docs)),
        ("projected to the fields policies read", [project(d) for d in docs]),
        ("without `resources`", [dict(d, resources=[]) for d in docs]),
        ("without evidence documents", [_strip_evidence(d) for d in docs]),
        ('`{"kind": "deployment"}` only', [{"kind": "deployment"} for _ in docs]),
    ]
    rows, reference = [], None
    for label, variant in variants:
        vtexts = [json.dumps(d) for d in variant]
        dumps = min(timed(functools.partial(list, map(json.dumps, variant)))[1] for _ in range(2))
        queries = [f"data.{p}" for p in packages]
        timing, results = raw_pass(engine, vtexts, queries)
        timing = min(timing, _best(2, engine, vtexts, queries), key=lambda t: t.cpu)
        if reference is None:
            reference = results
        same = "yes" if results == reference else "no"
        kb = statistics.mean(len(t) for t in vtexts) / 1024
        rows.append(
            [
                label,
                f"{kb:.1f}",
                _us(dumps, n),
                _us(timing.parts["set_input_json"], n),
                *(_us(timing.parts[f"data.{p}"], n) for p in packages),
                _us(timing.cpu, n),
                same if label.startswith("projected") else "",
            ]
        )
    out += [
        f"\n### By document shape, µs per document (CPU, {n:,} documents)\n",
        _table(
            [
                "documents",
                "KiB",
                "json.dumps",
                "set_input_json",
                *(p.removeprefix("mlgate.") for p in packages),
                "regorus total",
                "same results",
            ],
            rows,
        ),
    ]

    # Handing the document to regorus.
    queries = [f"data.{p}" for p in packages]
    plain = []
    for document in docs:
        engine.set_input(document)
        plain += [engine.eval_query_as_json(q) for q in queries]
    slim = [project(d) for d in docs]
    ways = [
        (
            "`json.dumps` + `set_input_json`",
            lambda: [engine.set_input_json(json.dumps(d)) for d in docs],
        ),
        ("`set_input(dict)`: regorus converts the Python objects", lambda: [engine.set_input(d) for d in docs]),
        (
            "projected document, `json.dumps` + `set_input_json`",
            lambda: [engine.set_input_json(json.dumps(d)) for d in slim],
        ),
        ("projected document, `set_input(dict)`", lambda: [engine.set_input(d) for d in slim]),
    ]
    rows = [[label, _us(min(timed(way)[1] for _ in range(3)), n)] for label, way in ways]
    out += [
        f"\n### Handing a document to regorus, µs per document (CPU, {n:,} documents)\n",
        _table(["how", "µs / document"], rows),
        f"\n`set_input(dict)` gives the same package values as `set_input_json`: {plain == reference}.",
    ]

    # Exclusive cost of each rule body: the package with that body removed, against the whole package.
    few = texts[:ablation_docs]
    m = len(few)
    ablation: list[tuple[float, str, str, str, float]] = []
    for module in bundle.modules:
        query = [f"data.{module.package}"]
        for label, first, last in [("(nothing removed: the noise floor)", -1, -1), *rule_bodies(module.text)]:
            cut = new_engine(bundle, {module.path: without_lines(module.text, [(first, last)])})
            full, rest = float("inf"), float("inf")
            for _ in range(3):  # interleaved, the fastest of each: drifting load cancels out
                full = min(full, raw_pass(engine, few, query)[0].parts[query[0]])
                rest = min(rest, raw_pass(cut, few, query)[0].parts[query[0]])
            where = f"{module.path}:{first + 1}" if first >= 0 else module.path
            ablation.append((full - rest, module.package, label, where, full))
    floor = max(abs(cost) for cost, _, label, _, _ in ablation if label.startswith("(nothing"))
    ablation.sort(reverse=True)
    out += [
        f"\n### Exclusive cost of each deny/warn body (package time minus the time without it; {m} documents)\n",
        _table(
            ["body", "package", "line", "µs / document", "of the package"],
            [[label, p, line, _us(cost, m), f"{cost / full:.0%}"] for cost, p, label, line, full in ablation[:15]],
        ),
        f"\nNoise floor (largest |difference| with nothing removed): {_us(floor, m)} µs per document.",
    ]


# Main ------------------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor() or "?",
    )
    return (
        f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, Python {platform.python_version()}, "
        f"regorus (gordon-to-regorus) {dist_version('gordon-to-regorus')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=100, help="fleet size (default 100)")
    parser.add_argument("--regions", type=int, default=3)
    parser.add_argument("--docs", type=int, default=10_000, help="deployment documents to gate (default 10,000)")
    parser.add_argument("--sample", type=int, default=1000, help="documents of the investigation (default 1,000)")
    parser.add_argument("--ablation-docs", type=int, default=300, help="documents of the per-body timing")
    parser.add_argument("--processes", type=int, default=2, help="workers of the parallel pass (0: skip)")
    parser.add_argument("--repeat", type=int, default=2, help="raw and mlgate passes, alternated; the fastest counts")
    parser.add_argument("--workdir", type=Path, help="fleet directory, kept and reused (default: a temp dir)")
    parser.add_argument("--no-investigate", action="store_true", help="headline numbers only")
    parser.add_argument("--record", action="store_true", help=f"append the results to {DOC.relative_to(REPO)}")
    args = parser.parse_args()

    load = os.getloadavg()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="mlgate-gate-bench-"))
    setup = time.perf_counter()
    plan = prepare_fleet(args.models, args.regions, work / "fleet" if args.workdir is None else work)
    root = work / "fleet" if args.workdir is None else work
    # A snapshot of the policies: every pass, and every worker that loads them again, judges with the same ones
    # even if policies/ is edited during the run.
    global POLICIES
    scratch = tempfile.mkdtemp(prefix="mlgate-gate-bench-policies-")
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    POLICIES = Path(shutil.copytree(POLICIES, Path(scratch) / "policies", ignore=shutil.ignore_patterns("pack")))
    bundle = PolicyBundle.load(POLICIES)
    inputs = replicate(fleet_inputs(root, plan), args.docs)
    texts = [json.dumps(i.document) for i in inputs]
    n, packages = len(inputs), bundle.packages
    print(
        f"setup {time.perf_counter() - setup:.1f} s: {args.models} models x {args.regions} regions, "
        f"{len(plan)} plan resources, {n:,} documents of {statistics.mean(map(len, texts)) / 1024:.1f} KiB "
        f"(JSON) on average",
        file=sys.stderr,
    )

    engine, mlgate_engine = new_engine(bundle), RegorusEngine(bundle)
    raws, mlgates = [], []
    for _ in range(args.repeat):  # raw and mlgate alternate: a drifting machine slows both alike
        raws.append(raw_pass(engine, texts, [f"data.{p}" for p in packages]))
        wall, cpu, result = timed(lambda: gate(inputs, bundle, mlgate_engine))
        mlgates.append(Pass(wall, cpu))
    raw, outputs = min(raws, key=lambda r: r[0].cpu)
    mlgate = min(mlgates, key=lambda m: m.cpu)
    values = [json.loads(o)["result"][0]["expressions"][0]["value"] for o in outputs]
    raw_decisions = sum(len(v.get(level, [])) for v in values for level in ("deny", "warn"))
    dumps_wall, dumps_cpu, _ = timed(lambda: [json.dumps(i.document) for i in inputs])
    counts = Counter(f"{d.level} {d.id}" for d in result.decisions)
    par = parallel_gate(inputs, args.processes) if args.processes > 1 else None
    cold, warm = cache_passes(inputs, bundle, result)
    jobs = jobs_pass(inputs, bundle, args.processes, result) if args.processes > 1 else None
    mix = ", ".join(f"{k} x{v}" for k, v in counts.most_common())
    print(f"decisions: raw {raw_decisions:,}, mlgate {len(result.decisions):,} ({mix})", file=sys.stderr)

    out = [
        f"\n## Gate run {dt.date.today().isoformat()} (`bench/gate_bench.py`)\n",
        f"Machine: {machine()}; load average before the run {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}.  ",
        f"Command: `.venv/bin/python bench/gate_bench.py {' '.join(sys.argv[1:])}`.  ",
        f"Documents: {n:,} deployment documents from a {args.models}-model x {args.regions}-region fleet "
        f"({statistics.mean(map(len, texts)) / 1024:.1f} KiB of JSON each on average, "
        f"{statistics.mean(len(i.document['resources']) for i in inputs):.1f} manifests, "
        f"{statistics.mean(len(i.document['versions']) for i in inputs):.1f} versions); {len(packages)} packages; "
        f"{len(result.decisions):,} decisions ({sum(1 for d in result.decisions if d.level == 'deny'):,} deny). "
        f"Peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB.\n",
    ]
    rows = [
        [
            "raw regorus (`set_input_json` + 5 x `eval_query_as_json`)",
            f"{raw.wall:.2f}",
            f"{raw.cpu:.2f}",
            _us(raw.cpu, n),
            "1.00x",
        ],
        [
            "`json.dumps` of the documents (raw gets them ready-made)",
            f"{dumps_wall:.2f}",
            f"{dumps_cpu:.2f}",
            _us(dumps_cpu, n),
            f"{dumps_cpu / raw.cpu:.2f}x",
        ],
        [
            "mlgate `evaluate` (`RegorusEngine`)",
            f"{mlgate.wall:.2f}",
            f"{mlgate.cpu:.2f}",
            _us(mlgate.cpu, n),
            f"**{mlgate.cpu / raw.cpu:.2f}x** (wall {mlgate.wall / raw.wall:.2f}x)",
        ],
    ]
    if par:
        rows.append(
            [
                f"mlgate `evaluate` over {args.processes} processes (fork)",
                f"{par[0]:.2f}",
                f"{par[1]:.2f} (all)",
                _us(par[0], n) + " (wall)",
                f"{par[0] / raw.wall:.2f}x (wall)",
            ]
        )
    for label, timing in (
        ("mlgate `evaluate`, cold cache (`CachedEngine`: judge all, store all)", cold),
        ("mlgate `evaluate`, warm cache (`CachedEngine`: every document a hit)", warm),
    ):
        rows.append(
            [label, f"{timing.wall:.2f}", f"{timing.cpu:.2f}", _us(timing.cpu, n), f"{timing.cpu / raw.cpu:.2f}x"]
        )
    if jobs:
        rows.append(
            [
                f"mlgate `evaluate`, `ParallelEngine(jobs={args.processes})` (spawn; `mlgate check --jobs`)",
                f"{jobs.wall:.2f}",
                f"{jobs.cpu:.2f} (all)",
                _us(jobs.wall, n) + " (wall)",
                f"{jobs.wall / raw.wall:.2f}x (wall); speed-up over serial {mlgate.wall / jobs.wall:.2f}x (wall)",
            ]
        )
    out += [_table(["pass", "wall s", "CPU s", "µs / document", "vs raw (CPU)"], rows)]
    verdict = "met" if mlgate.wall <= GOAL_SECONDS else "missed"
    out.append(
        f"\nGoals: mlgate ≤ {GOAL_RATIO:.0f}x raw: **{mlgate.cpu / raw.cpu:.2f}x** "
        f"({'met' if mlgate.cpu / raw.cpu <= GOAL_RATIO else 'missed'}); "
        f"≤ {GOAL_SECONDS:.0f} s for {n:,} documents: **{mlgate.wall:.1f} s** wall ({verdict}).\n"
    )
    rows = [
        [p, f"{raw.parts[f'data.{p}']:.2f}", _us(raw.parts[f"data.{p}"], n), f"{raw.parts[f'data.{p}'] / raw.cpu:.0%}"]
        for p in packages
    ]
    rows.append(
        [
            "`set_input_json`",
            f"{raw.parts['set_input_json']:.2f}",
            _us(raw.parts["set_input_json"], n),
            f"{raw.parts['set_input_json'] / raw.cpu:.0%}",
        ]
    )
    out += ["### Raw pass by step (CPU)\n", _table(["step", "s", "µs / document", "share"], rows)]
    step = max(1, n // args.sample)
    profiled, spending = where_mlgate_spends(inputs[::step][: args.sample], bundle)
    out += [
        f"\n### Where mlgate's `evaluate` spends its time (cProfile of {profiled:,} documents, own time; the profiler"
        " slows Python code more than regorus)\n",
        _table(["where", "µs / document", "share"], spending),
    ]
    shapes: dict[tuple[int, int], list[float]] = defaultdict(list)
    for i, spent in zip(inputs, raw.per_doc, strict=True):
        shapes[(len(i.document["resources"]), len(i.document["versions"]))].append(spent)
    out += [
        "\n### Raw pass by document shape (CPU)\n",
        _table(
            ["manifests", "versions", "documents", "µs / document (mean)", "median"],
            [
                [k[0], k[1], len(v), f"{statistics.mean(v) * 1e6:,.0f}", f"{statistics.median(v) * 1e6:,.0f}"]
                for k, v in sorted(shapes.items())
            ],
        ),
    ]
    if not args.no_investigate:
        investigate(bundle, inputs[::step][: args.sample], args.ablation_docs, out)
    text = "\n".join(out) + "\n"
    print(text)
    if args.record:
        with DOC.open("a", encoding="utf-8") as handle:
            handle.write(text)
        print(f"appended to {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
