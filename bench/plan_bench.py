"""Benchmark ``mlgate plan`` on synthetic fleets and ``mlgate --help`` start-up.

    .venv/bin/python bench/plan_bench.py                       # 10, 100, 1000 models x 3 regions
    .venv/bin/python bench/plan_bench.py --sizes 10,200 --regions 2 --workers 1
    .venv/bin/python bench/plan_bench.py --record              # also append the results to docs/benchmarks.md
    .venv/bin/python bench/plan_bench.py --suggestions gc,nostack,nostate   # mlgate with bench/suggestions.py

For each size a fleet is generated with ``bench/fleet.py`` (not timed), then
``mlgate plan --env prod --root DIR --out DIR/plan.json`` runs as a subprocess under ``/usr/bin/time -v``
(``os.wait4`` when that is missing). Measured per run:

* wall: ``time.perf_counter`` around the subprocess (interpreter start, imports, capture, JSON write);
* max proc RSS: ``ru_maxrss`` of the waited-for child (``/usr/bin/time -v``'s "Maximum resident set size"):
  Linux reports the largest peak of any *single* process of the tree, not a sum;
* tree RSS / tree PSS: the process tree (mlgate and its ``ProcessPoolExecutor`` workers) is sampled from
  ``/proc/<pid>/smaps_rollup`` every 0.1 s; the peak of the per-sample sum. RSS counts shared pages (libraries,
  fork-inherited memory) once per process (an upper bound), PSS splits them among the sharers (the honest
  total); peaks shorter than a sample can be missed;
* sum HWM: the sum of every process's own peak (``VmHWM``), an upper bound of the tree's peak RSS;
* CPU: user + sys of the whole tree (``wait4`` folds in the reaped workers);
* resources: the plan's resource count; res/s = resources / wall.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from fleet import generate  # bench/ is sys.path[0] when run as a script

REPO = Path(__file__).resolve().parent.parent
MLGATE = REPO / ".venv" / "bin" / "mlgate"
PYTHON = REPO / ".venv" / "bin" / "python"
SUGGESTIONS = REPO / "bench" / "suggestions.py"
DOC = REPO / "docs" / "benchmarks.md"
GOAL_SECONDS, GOAL_MIB, GOAL_HELP = 20.0, 1024.0, 0.3


@dataclass
class Run:
    models: int
    regions: int
    resources: int
    wall: float
    cpu: float  # user + sys of the whole tree (wait4 counts reaped descendants)
    max_rss_mib: float  # largest single process (ru_maxrss)
    tree_rss_mib: float  # peak of the sampled sum of RSS
    tree_pss_mib: float  # peak of the sampled sum of PSS
    sum_hwm_mib: float  # sum of each process's VmHWM


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [root], [root]
    while todo:
        kids = parents.get(todo.pop(), [])
        tree += kids
        todo += kids
    return tree


def _kib(path: str, *keys: str) -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        for line in Path(path).read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in keys:
                values[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return values


class TreeSampler(threading.Thread):
    """Polls the process tree under ``root`` until :meth:`stop`."""

    def __init__(self, root: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_rss = self.peak_pss = 0
        self.hwm: dict[int, int] = {}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            rss = pss = 0
            for pid in _descendants(self.root):
                mem = _kib(f"/proc/{pid}/smaps_rollup", "Rss", "Pss")
                rss, pss = rss + mem.get("Rss", 0), pss + mem.get("Pss", 0)
                hwm = _kib(f"/proc/{pid}/status", "VmHWM").get("VmHWM")
                if hwm:
                    self.hwm[pid] = max(hwm, self.hwm.get(pid, 0))
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


def run_plan(root: Path, workers: int | None, suggestions: str) -> tuple[float, float, float, TreeSampler]:
    """Run ``mlgate plan`` once; returns (wall s, CPU s of the tree, max single-process RSS MiB, sampler)."""
    mlgate = [str(PYTHON), str(SUGGESTIONS)] if suggestions else [str(MLGATE)]
    command = [*mlgate, "plan", "--env", "prod", "--root", str(root), "--out", str(root / "plan.json")]
    if workers:
        command += ["--workers", str(workers)]
    gnu_time = shutil.which("time", path="/usr/bin")
    report = root / "time-v.txt"
    if gnu_time:
        command = [gnu_time, "-v", "-o", str(report), *command]
    started = time.perf_counter()
    env = {**os.environ, "MLGATE_SUGGESTIONS": suggestions}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode:
        raise SystemExit(f"mlgate plan failed ({proc.returncode}) on {root}:\n{stderr}")
    max_rss_kib = usage.ru_maxrss  # /usr/bin/time's own children folded in: the same max
    if gnu_time and (found := re.search(r"Maximum resident set size \(kbytes\): (\d+)", report.read_text())):
        max_rss_kib = int(found[1])
    return wall, usage.ru_utime + usage.ru_stime, max_rss_kib / 1024, sampler


def bench_plan(models: int, regions: int, workdir: Path, workers: int | None, suggestions: str) -> Run:
    root = generate(models, regions, workdir / f"fleet-{models}x{regions}")
    wall, cpu, max_rss, sampler = run_plan(root, workers, suggestions)
    resources = len(json.loads((root / "plan.json").read_text())["resources"])
    mib = 1024.0
    return Run(
        models, regions, resources, wall, cpu, max_rss,
        sampler.peak_rss / mib, sampler.peak_pss / mib, sum(sampler.hwm.values()) / mib,
    )  # fmt: skip


def bench_help(runs: int) -> list[float]:
    subprocess.run([str(MLGATE), "--help"], check=True, capture_output=True)  # warm the page cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(MLGATE), "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = _kib("/proc/meminfo", "MemTotal").get("MemTotal", 0) / 1024**2
    return (
        f"{platform.machine()}, {cpu}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, Python {platform.python_version()}"
    )


def render(runs: list[Run], help_times: list[float], workers: int | None, suggestions: str) -> str:
    lines = [
        "| models x regions | resources | wall (s) | CPU (s) | resources/s | ms/model | max proc RSS (MiB) "
        "| tree RSS (MiB) | tree PSS (MiB) | Σ proc peaks (MiB) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in runs:
        lines.append(
            f"| {r.models:,} x {r.regions} | {r.resources:,} | {r.wall:.1f} | {r.cpu:.1f} "
            f"| {r.resources / r.wall:,.0f} | {1000 * r.wall / r.models:.1f} | {r.max_rss_mib:,.0f} "
            f"| {r.tree_rss_mib:,.0f} | {r.tree_pss_mib:,.0f} | {r.sum_hwm_mib:,.0f} |"
        )
    median = statistics.median(help_times)
    lines += [
        "",
        f"`mlgate --help`: median {median:.3f} s of {len(help_times)} runs "
        f"(min {min(help_times):.3f}, max {max(help_times):.3f}); goal < {GOAL_HELP} s: "
        f"{'met' if median < GOAL_HELP else 'MISSED'}.",
    ]
    if workers:
        lines.append(f"`mlgate plan` ran with `--workers {workers}`.")
    if suggestions:
        lines.append(f"`mlgate plan` ran through `bench/suggestions.py` with `{suggestions}` applied.")
    lines += ["", *growth(runs)]
    return "\n".join(lines)


def growth(runs: list[Run]) -> list[str]:
    """Goal checks and the growth between sizes: whole-run and marginal time per model."""
    notes: list[str] = []
    for r in runs:
        if r.models == 1000 and r.regions == 3:
            ok_t, ok_m = r.wall <= GOAL_SECONDS, r.tree_pss_mib <= GOAL_MIB
            notes.append(
                f"- Goal at 1,000 x 3: ≤ {GOAL_SECONDS:.0f} s — {r.wall:.1f} s, {'met' if ok_t else 'MISSED'}; "
                f"≤ 1 GB — tree PSS {r.tree_pss_mib:,.0f} MiB, {'met' if ok_m else 'MISSED'}."
            )
    ordered = sorted({r.models: r for r in runs}.values(), key=lambda r: r.models)
    for a, b in itertools.pairwise(ordered):
        whole = (b.wall / b.models) / (a.wall / a.models)
        marginal = 1000 * (b.wall - a.wall) / (b.models - a.models)
        notes.append(
            f"- {a.models:,} → {b.models:,} models: time per model x {whole:.2f} "
            f"({1000 * a.wall / a.models:.1f} → {1000 * b.wall / b.models:.1f} ms; below 1 = fixed start-up "
            f"amortised); marginal {marginal:.1f} ms per extra model; "
            f"resources/s {a.resources / a.wall:,.0f} → {b.resources / b.wall:,.0f}."
        )
    return notes


def fingerprint() -> str:
    """sha256 (12 hex) of mlgate's sources: other people edit them, numbers belong to one version."""
    digest = hashlib.sha256()
    for file in sorted([*REPO.glob("compliance/**/*.py"), *REPO.glob("components/**/*.py")]):
        digest.update(file.relative_to(REPO).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:12]


def record(title: str, details: str, text: str) -> None:
    if not DOC.exists():
        DOC.write_text("# Benchmarks\n\nRerun with `python bench/plan_bench.py --record`.\n", encoding="utf-8")
    section = f"\n## {title}\n\nMachine: {machine()}. {details}\n\n{text}\n"
    with DOC.open("a", encoding="utf-8") as out:
        out.write(section)


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark mlgate plan and mlgate --help.")
    parser.add_argument("--sizes", default="10,100,1000", help="model counts, comma-separated (default: %(default)s)")
    parser.add_argument("--regions", type=int, default=3)
    parser.add_argument("--workers", type=int, help="pass --workers N to mlgate plan (default: its own choice)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; the median-wall run is reported")
    parser.add_argument("--help-runs", type=int, default=10)
    parser.add_argument("--suggestions", default="", metavar="LIST", help="run plan with bench/suggestions.py patches")
    parser.add_argument("--workdir", type=Path, help="where fleets are written (default: a temporary directory)")
    parser.add_argument("--record", action="store_true", help="append the results to docs/benchmarks.md")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    load_before = os.getloadavg()[0]  # the machine may be shared: a busy one slows every number
    started, source = dt.datetime.now(dt.UTC), fingerprint()
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        runs = []
        for models in sizes:
            print(f"plan: {models} models x {args.regions} regions …", file=sys.stderr, flush=True)
            tries = sorted(
                (bench_plan(models, args.regions, workdir, args.workers, args.suggestions) for _ in range(args.repeat)),
                key=lambda r: r.wall,
            )
            runs.append(tries[len(tries) // 2])
    help_times = bench_help(args.help_runs)
    text = render(runs, help_times, args.workers, args.suggestions)
    print(f"Machine: {machine()}\n\n{text}")
    if args.record:
        title = f"Run of {started:%Y-%m-%d %H:%M} UTC"
        if args.suggestions:
            title += f" (with bench/suggestions.py: {args.suggestions})"
        after = fingerprint()
        changed = f", changed to {after} during the run" if after != source else ""
        details = (
            f"Sizes: {', '.join(f'{m:,} x {args.regions}' for m in sizes)}; {args.repeat} run(s) per size, "
            f"median reported; load average before/after: {load_before:.2f}/{os.getloadavg()[0]:.2f}; "
            f"mlgate source fingerprint {source}{changed}."
        )
        record(title, details, text)


if __name__ == "__main__":
    main()
