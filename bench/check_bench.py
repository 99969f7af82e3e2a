"""Benchmark a whole ``mlgate check`` process on a 50-model fleet, next to checkov on the same manifests.

    .venv/bin/python bench/check_bench.py                          # 50 models x 3 regions, 5 runs each
    .venv/bin/python bench/check_bench.py --models 200 --runs 3 --record
    MLGATE_BENCH_CHECKOV=/path/to/checkov .venv/bin/python bench/check_bench.py

Setup (not timed): ``bench/fleet.py`` writes the fleet, ``gate_bench.write_evidence`` its passing evidence,
the repo's ``policies/`` is copied into it (a project holds its own policies) and
``mlgate plan --env prod --root DIR --out DIR/plan.json`` captures the plan once. The plan's Kubernetes objects
are written as YAML files (one per object, ``DIR/manifests/<region>/<name>.yaml``) for checkov.

Timed, each after one warm-up run, median of ``--runs`` (default 5) wall times of the whole process:

* ``mlgate check --env prod --plan DIR/plan.json --root DIR --now 2026-11-25T10:00:00Z`` (text report to
  /dev/null; exit 1 is expected: the fleet's single-version models have no rollback target in prod);
* ``mlgate --version``: interpreter and CLI start-up, the floor of any mlgate command;
* ``checkov -d DIR/manifests --framework kubernetes --quiet --compact --skip-download`` (output to /dev/null;
  one more, untimed run with ``-o json`` counts what checkov evaluated).

Then one ``mlgate check`` under ``python -m cProfile`` shows where the process spends its time.

checkov is not a dependency of mlgate: install it into its own virtualenv (never into ``.venv`` and never
inside the repository), e.g.::

    python3.11 -m venv ~/.cache/mlgate-bench/checkov-venv
    ~/.cache/mlgate-bench/checkov-venv/bin/pip install checkov

The script looks for checkov in ``--checkov PATH``, then ``$MLGATE_BENCH_CHECKOV``, then
``~/.cache/mlgate-bench/checkov-venv/bin/checkov``, ``/tmp/checkov-venv/bin/checkov`` and ``PATH``; without it
the checkov rows are skipped with a message.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from fleet import generate  # bench/ is sys.path[0] when run as a script
from gate_bench import DOC, NOW, machine, write_evidence

from compliance.plan.model import Plan

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
GOAL_SECONDS = 1.0
CHECKOV_PLACES = (
    Path.home() / ".cache" / "mlgate-bench" / "checkov-venv" / "bin" / "checkov",
    Path("/tmp/checkov-venv/bin/checkov"),
)
# What the profile shows: (file suffix, function, label).
STAGES = (
    ("<frozen importlib._bootstrap>", "_find_and_load", "imports (all modules, lazy ones included)"),
    ("compliance/plan/model.py", "load", "read plan.json (`Plan.load`)"),
    ("compliance/spec/load.py", "load_catalog", "load + validate the catalog"),
    ("compliance/gate/bundle.py", "load", "load the policy bundle (`PolicyBundle.load`)"),
    ("compliance/gate/inputs.py", "build_inputs", "build the input documents (`build_inputs`)"),
    ("compliance/evidence/__init__.py", "read_evidence", "of which: read + validate evidence"),
    ("compliance/gate/engine.py", "__init__", "compile the policies (`RegorusEngine`)"),
    ("compliance/gate/run.py", "evaluate", "evaluate (`run.evaluate`)"),
    ("compliance/outputs/text.py", "render", "render the text report"),
)


@dataclass
class Timing:
    label: str
    command: str
    walls: list[float]
    cpu: float  # user + sys of the median-wall run
    exit_code: int

    @property
    def median(self) -> float:
        return statistics.median(self.walls)


def run(argv: list[str], runs: int, label: str, ok: tuple[int, ...] = (0, 1)) -> Timing:
    """One warm-up, then ``runs`` timed runs of the whole process (output discarded)."""
    walls: list[tuple[float, float]] = []
    code = 0
    for attempt in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        code = done.returncode
        if code not in ok:
            raise SystemExit(f"{' '.join(argv)} exited {code}:\n{done.stderr[-2000:]}")
        if attempt:
            walls.append((wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime))
    middle = sorted(walls)[len(walls) // 2]
    shown = " ".join(Path(a).name if a.startswith("/") and a.endswith(("mlgate", "checkov")) else a for a in argv)
    return Timing(label, shown, [w for w, _ in walls], middle[1], code)


def find_checkov(option: str | None) -> Path | None:
    for candidate in (option, os.environ.get("MLGATE_BENCH_CHECKOV"), *CHECKOV_PLACES, shutil.which("checkov")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def checkov_summary(checkov: Path, directory: Path) -> str:
    """Version and what checkov evaluated, from one untimed ``--output json`` run."""
    argv = [str(checkov), "-d", str(directory), "--framework", "kubernetes", "--skip-download", "-o", "json"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        return "(its JSON report could not be read)"
    reports = report if isinstance(report, list) else [report]
    summaries = [r.get("summary", r) for r in reports]
    count = {k: sum(int(s.get(k, 0)) for s in summaries) for k in ("resource_count", "passed", "failed")}
    version = summaries[0].get("checkov_version", "?") if summaries else "?"
    return (
        f"{version}: {count['resource_count']} resources evaluated, {count['passed']} checks passed, "
        f"{count['failed']} failed"
    )


def write_manifests(plan: Plan, directory: Path) -> int:
    """Every Kubernetes object of the plan as ``<region>/<name>.yaml``; returns how many."""
    if directory.exists():
        shutil.rmtree(directory)
    objects = plan.kubernetes_objects()
    for resource_ in objects:
        target = directory / (resource_.region or "global") / f"{resource_.name}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(resource_.inputs, sort_keys=False))
    return len(objects)


def prepare(models: int, regions: int, root: Path) -> Plan:
    generate(models, regions, root)
    write_evidence(root)
    if (root / "policies").exists():
        shutil.rmtree(root / "policies")
    shutil.copytree(REPO / "policies", root / "policies", ignore=shutil.ignore_patterns("pack", "__pycache__"))
    plan_file = root / "plan.json"
    subprocess.run(
        [str(BIN / "mlgate"), "plan", "--env", "prod", "--root", str(root), "--out", str(plan_file)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Plan.load(plan_file)


def profile(check: list[str], out: Path) -> list[tuple[str, float]]:
    """Cumulative seconds of the STAGES in one profiled ``mlgate check`` process."""
    argv = [str(BIN / "python"), "-m", "cProfile", "-o", str(out), *check]
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    stats = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]
    total = max(ct for (*_, ct, _) in stats.values())
    rows = [("whole process (profiled)", total)]
    for suffix, function, label in STAGES:
        spent = [ct for (file, _, name), (*_, ct, _) in stats.items() if file.endswith(suffix) and name == function]
        if spent:
            rows.append((label, max(spent)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--regions", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (median; default 5)")
    parser.add_argument("--checkov", help="checkov executable (default: $MLGATE_BENCH_CHECKOV or the usual places)")
    parser.add_argument("--workdir", type=Path, help="fleet directory (default: a temp dir)")
    parser.add_argument("--record", action="store_true", help=f"append the results to {DOC.relative_to(REPO)}")
    args = parser.parse_args()

    load = os.getloadavg()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="mlgate-check-bench-")) / "fleet"
    plan = prepare(args.models, args.regions, root)
    manifests = write_manifests(plan, root / "manifests")
    check = [str(BIN / "mlgate"), "check", "--env", "prod", "--plan", str(root / "plan.json"), "--root", str(root)]
    check += ["--now", NOW]
    timings = [run(check, args.runs, "mlgate check"), run([str(BIN / "mlgate"), "--version"], args.runs, "start-up")]
    checkov = find_checkov(args.checkov)
    if checkov is None:
        note = "checkov not found (see the docstring: install it into ~/.cache/mlgate-bench/checkov-venv): skipped"
        print(f"check_bench: {note}", file=sys.stderr)
    else:
        argv = [str(checkov), "-d", str(root / "manifests"), "--framework", "kubernetes", "--quiet", "--compact"]
        argv.append("--skip-download")  # no network: the machine may have none, and a gate run must not need it
        timings.append(run(argv, args.runs, "checkov"))
        note = f"checkov {checkov_summary(checkov, root / 'manifests')} ({checkov})"
    stages = profile(check, root / "check.prof")

    mlgate = timings[0]
    rows = [
        [
            t.label,
            f"`{t.command.replace(str(root), 'DIR')}`",
            f"{t.median:.2f}",
            f"{min(t.walls):.2f} - {max(t.walls):.2f}",
            f"{t.cpu:.2f}",
            t.exit_code,
            f"{t.median / mlgate.median:.2f}x",
        ]
        for t in timings
    ]
    out = [
        f"\n## Check run {dt.date.today().isoformat()} (`bench/check_bench.py`)\n",
        f"Machine: {machine()}; load average before the run {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}.  ",
        f"Command: `.venv/bin/python bench/check_bench.py {' '.join(sys.argv[1:])}`.  ",
        f"Fleet: {args.models} models x {args.regions} regions, {len(plan)} plan resources, "
        f"{manifests} Kubernetes objects written as YAML for checkov; {note}.\n",
        "| process | command | median wall s | range | CPU s | exit | vs mlgate check |",
        "|---|---|---:|---:|---:|---:|---:|",
        *("| " + " | ".join(str(c) for c in row) + " |" for row in rows),
        f"\nGoal: `mlgate check` ≤ {GOAL_SECONDS:.0f} s: **{mlgate.median:.2f} s** median of {args.runs} "
        f"({'met' if mlgate.median <= GOAL_SECONDS else 'missed'}).",
        "\n### Where one `mlgate check` process goes (cProfile, cumulative; the profiler slows Python code)\n",
        "| stage | s |",
        "|---|---:|",
        *(f"| {label} | {seconds:.2f} |" for label, seconds in stages),
    ]
    text = "\n".join(out) + "\n"
    print(text)
    if args.record:
        with DOC.open("a", encoding="utf-8") as handle:
            handle.write(text)
        print(f"appended to {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
