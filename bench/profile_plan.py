"""Profile ``compliance.plan.capture.capture_plan`` (one process, ``workers=1``) on a synthetic fleet.

    .venv/bin/python bench/profile_plan.py --models 200 --regions 3 [--top 25] [--out /tmp/plan.prof]
    .venv/bin/python bench/profile_plan.py --suggestions gc,nostack,nostate   # with bench/suggestions.py

The Pulumi SDK sends each registration to the (mock) monitor from a thread pool
(``loop.run_in_executor``), so every thread gets its own profiler and the stats are merged. Times are
per-thread CPU time (``time.thread_time``): wall-clock profiles of threads count GIL waits as own time.
Prints the own time (tottime) split by where the code lives (mlgate, Pulumi SDK, pulumi_kubernetes,
protobuf/grpc, asyncio, other stdlib, other) and the top functions by own and cumulative time.
Open the saved profile with ``python -m pstats FILE`` or snakeviz.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import suggestions
from fleet import generate  # bench/ is sys.path[0] when run as a script

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from compliance.plan.capture import capture_plan  # noqa: E402 - needs the repo on sys.path

ORIGINS = (  # (label, path fragment), first match wins
    ("mlgate", "/compliance/"),
    ("mlgate", "/components/"),
    ("pulumi_kubernetes", "/pulumi_kubernetes/"),
    ("pulumi SDK", "/pulumi/"),
    ("protobuf/grpc", "/google/protobuf/"),
    ("protobuf/grpc", "/grpc/"),
    ("pydantic/yaml", "/pydantic"),
    ("pydantic/yaml", "/yaml/"),
    ("asyncio", "/asyncio/"),
    ("stdlib", "/lib/python3"),
)


def origin(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C)"
    return next((label for label, fragment in ORIGINS if fragment in filename), "other")


def _thread_profiler(profiles: list[cProfile.Profile]) -> Callable[..., None]:
    """A ``threading.setprofile`` hook that swaps itself for a fresh cProfile in each new thread."""

    def start(*_: object) -> None:
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        profile.enable()  # replaces this hook for the thread

    return start


def main() -> None:
    parser = argparse.ArgumentParser(description="cProfile one single-process mlgate plan capture.")
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--regions", type=int, default=3)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--suggestions", default="", metavar="LIST", help="apply bench/suggestions.py patches")
    parser.add_argument("--out", type=Path, help="save the profile here (pstats format)")
    args = parser.parse_args()
    suggestions.apply({name for name in args.suggestions.split(",") if name})
    with tempfile.TemporaryDirectory(prefix="mlgate-prof-") as tmp:
        root = generate(args.models, args.regions, Path(tmp) / "fleet")
        profile = cProfile.Profile(time.thread_time)
        threads: list[cProfile.Profile] = []
        threading.setprofile(_thread_profiler(threads))
        started = time.perf_counter()
        try:
            plan = profile.runcall(capture_plan, root, "prod", workers=1)
        finally:
            threading.setprofile(None)
        # Let the executor's threads finish: a call still open in a thread when its stats are taken is
        # closed with the main thread's clock, which would bill hours of idle queue waits.
        loop = asyncio.get_event_loop()
        loop.run_until_complete(loop.shutdown_default_executor())
        wall = time.perf_counter() - started
    print(f"{len(plan)} resources in {wall:.1f} s under cProfile ({len(plan) / wall:.0f} resources/s)\n")
    main_own = sum(t for (_, _, t, _, _) in pstats.Stats(profile).stats.values())  # type: ignore[attr-defined]
    stats = pstats.Stats(profile, *threads)
    if args.out:
        stats.dump_stats(args.out)
    own: dict[str, float] = defaultdict(float)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]] = stats.stats  # type: ignore[attr-defined]
    for (filename, _, _), (_, _, tottime, _, _) in raw.items():
        own[origin(filename)] += tottime
    total = sum(own.values())
    others = total - main_own
    print(f"own CPU time: {main_own:.2f} s in the main thread, {others:.2f} s in {len(threads)} other threads")
    print("own time by origin (all threads):")
    for label, seconds in sorted(own.items(), key=lambda item: -item[1]):
        print(f"  {label:20} {seconds:7.2f} s  {100 * seconds / total:5.1f} %")
    print()
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
