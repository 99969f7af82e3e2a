"""Judge big inputs in several processes: documents are independent, and regorus holds the GIL.

:class:`ParallelEngine` is the embedded engine plus a process pool. Up to ``jobs`` processes share the
documents, this one included. The others are forked when this process runs no other thread: they inherit the
documents and receive only index ranges. Otherwise (a plan capture's gRPC threads may be alive, and forking
a threaded process can deadlock) they are spawned and the documents are pickled to them, which costs most of
the gain on big documents. Each worker loads the bundle again and builds its own
engine (see :data:`PER_JOB` for the cost). A worker gets the bundle's directory and digest, not the
pickled bundle: a spawn payload larger than a pipe's buffer hangs this process when the worker dies before
reading it. A worker that finds another digest (the policies changed meanwhile) fails.

The documents go out in chunks, in order: each worker holds two at a time, and this process judges the next
one itself whenever the workers are served. Outcomes are placed by position, so the result is the serial one,
byte for byte.

A worker that dies, or cannot build its engine, fails closed: every document of the chunks it held becomes an
EngineFailure (a GATE-ERROR), never a pass; the chunks not yet handed out are judged here. When no worker can
be started at all, this process judges every document itself.

``jobs=None`` (auto) splits only when there are at least :data:`PER_JOB` documents for each of at least two
processes and more than one CPU is available; an explicit ``jobs`` is used as given (capped at the document
count).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compliance.errors import PolicyError
from compliance.gate.bundle import PolicyBundle
from compliance.gate.engine import Engine, EngineFailure, Outcome, RegorusEngine, evaluate_one

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["PER_JOB", "ParallelEngine", "available_cpus", "plan_jobs"]

#: Auto mode: documents each process must get for a split to pay off. Measured on the 2-vCPU bench machine: a
#: worker takes about 0.3 s of wall time before it judges anything (spawn, imports, load, compile) and costs
#: 0.45 s of CPU in all; two processes judge 1.3-1.6x as fast as one (docs/benchmarks.md), and no faster when
#: other work holds a CPU. Estimated from those figures, at 2.7 ms a document: 500 documents run 1.15-1.35x as
#: fast over 2 processes, 300 only 1.1x at best. A busy machine turns such small gains into losses.
PER_JOB = 250
_CHUNKS_PER_JOB = 16  # fine chunks balance a late-starting worker against this process
_MAX_CHUNK = 16  # documents: at the end, this process waits for at most _IN_FLIGHT chunks per worker
_IN_FLIGHT = 2  # chunks handed to each worker at a time: one to judge, one waiting

EngineFactory = Callable[[PolicyBundle], Engine]


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def plan_jobs(documents: int, jobs: int | None) -> int:
    """Processes to use for ``documents``, this one included; 1 means serial."""
    if jobs is not None:
        return max(1, min(jobs, documents))
    return max(1, min(available_cpus(), documents // PER_JOB))


def _chunks(count: int, jobs: int) -> list[tuple[int, int]]:
    size = max(1, min(_MAX_CHUNK, -(-count // (jobs * _CHUNKS_PER_JOB))))
    return [(start, min(start + size, count)) for start in range(0, count, size)]


# The worker side: one engine per worker process, built by the pool's initializer.
_worker_engine: Engine | None = None


def _start_worker(factory: EngineFactory, root: Path, digest: str) -> None:
    global _worker_engine
    bundle = PolicyBundle.load(root)
    if bundle.digest() != digest:
        raise PolicyError("the policies changed during the run", file=root)
    _worker_engine = factory(bundle)


def _judge(documents: Sequence[Mapping[str, Any]], packages: Sequence[str]) -> list[Outcome]:
    if _worker_engine is None:
        raise RuntimeError("the worker has no engine")
    return [evaluate_one(_worker_engine, document, packages) for document in documents]


# Set in the parent just before forking: forked workers read their documents from here by index.
_forked_documents: Sequence[Mapping[str, Any]] = ()


def _judge_range(a: int, b: int, packages: Sequence[str]) -> list[Outcome]:
    return _judge(_forked_documents[a:b], packages)


def _can_fork() -> bool:
    import multiprocessing
    import threading

    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


class ParallelEngine:
    """The engine ``factory(bundle)`` builds (the embedded one by default), over ``jobs`` processes for big inputs.

    ``factory`` must be picklable (a module-level function or class): the workers call it too.
    """

    def __init__(self, bundle: PolicyBundle, *, jobs: int | None = None, factory: EngineFactory = RegorusEngine):
        self.engine = factory(bundle)
        self.name = self.engine.name
        self.version = str(getattr(self.engine, "version", ""))
        self.jobs = jobs
        self.used_jobs = 1  # of the last evaluate_all, for --verbose
        self._bundle = bundle
        self._factory = factory

    def evaluate(self, document: Mapping[str, Any], packages: Sequence[str]) -> dict[str, Any]:
        return self.engine.evaluate(document, packages)

    def evaluate_all(self, documents: Sequence[Mapping[str, Any]], packages: Sequence[str]) -> list[Outcome]:
        self.used_jobs = plan_jobs(len(documents), self.jobs)
        if self.used_jobs > 1:
            try:
                return self._share(documents, packages, self.used_jobs)
            except OSError:  # no process could be started (limits, no /dev/shm): judge them all here
                self.used_jobs = 1
        return [evaluate_one(self.engine, document, packages) for document in documents]

    def _share(self, documents: Sequence[Mapping[str, Any]], packages: Sequence[str], jobs: int) -> list[Outcome]:
        import multiprocessing  # with concurrent.futures, 40 ms of imports: only when splitting
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        global _forked_documents
        outcomes: list[Outcome | None] = [None] * len(documents)
        chunks = deque(_chunks(len(documents), jobs))
        running: dict[Future[list[Outcome]], tuple[int, int]] = {}
        broken = False
        fork = _can_fork()
        _forked_documents = documents if fork else ()
        try:
            with ProcessPoolExecutor(
                jobs - 1,
                mp_context=multiprocessing.get_context("fork" if fork else "spawn"),
                initializer=_start_worker,
                initargs=(self._factory, self._bundle.root, self._bundle.digest()),
            ) as pool:
                while chunks or running:
                    while chunks and not broken and len(running) < _IN_FLIGHT * (jobs - 1):
                        a, b = chunks[0]
                        try:
                            work = (
                                pool.submit(_judge_range, a, b, packages)
                                if fork
                                else pool.submit(_judge, documents[a:b], packages)
                            )
                            running[work] = (a, b)
                        except BrokenProcessPool:
                            broken = True  # a worker died: what was not handed out is judged here
                            break
                        chunks.popleft()
                    for future in [f for f in running if f.done()]:
                        a, b = running.pop(future)
                        outcomes[a:b] = self._collect(future, b - a)
                    if chunks:  # this process's share: the next chunk
                        a, b = chunks.popleft()
                        outcomes[a:b] = [evaluate_one(self.engine, document, packages) for document in documents[a:b]]
                    elif running:
                        wait(running, return_when=FIRST_COMPLETED)
        finally:
            _forked_documents = ()  # the parent does not keep the documents alive
        return [o if o is not None else EngineFailure(f"{self.name} engine: no result") for o in outcomes]

    def _collect(self, future: Future[list[Outcome]], count: int) -> list[Outcome]:
        try:
            part = future.result()
        except Exception as exc:  # noqa: BLE001 - a dead worker (BrokenProcessPool) fails its documents closed
            return [EngineFailure(f"{self.name} engine worker failed: {type(exc).__name__}: {exc}")] * count
        if len(part) != count:
            return [EngineFailure(f"{self.name} engine worker returned {len(part)} results for {count}")] * count
        return part
