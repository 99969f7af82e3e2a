"""Capture a stack's Plan by running the real Pulumi program under Pulumi's mock engine.

No cloud, no CLI: ``pulumi.runtime.set_mocks`` stands in for the engine, and a recording monitor
keeps what ``pulumi preview`` would show: urn, type, parent, provider, inputs and dependencies of
every registered resource. Big catalogs are captured in parallel processes, one shard of models
each (the mock engine is ~400 resources/s in one process); shards are merged by URN.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from compliance.errors import MlgateError, PlanError
from compliance.plan.model import SECRET, Plan, PlannedResource, assign_regions, normalise
from compliance.spec.load import load_catalog, load_stack_config

__all__ = ["PARALLEL_THRESHOLD", "PROGRAM_LOGGER", "capture_plan", "mock_config", "mock_state", "run_program"]

PROJECT = "mlgate"
#: Where the program's ``pulumi.log`` messages go under the mock engine (the pre-flight's warnings).
PROGRAM_LOGGER = "mlgate.program"
# Below this many model deployments one process is faster than starting workers.
PARALLEL_THRESHOLD = 60
# At most this many (model, region) placements per worker process: the SDK keeps every resource of a run in
# memory (~0.25 MiB per placement), so big catalogs take more shards than workers, each in a fresh process.
SHARD_PLACEMENTS = 600


def mock_config(stack_file: Path) -> dict[str, str]:
    """The stack file's config as Pulumi hands it to a program: JSON strings, secrets masked
    (they cannot be decrypted here, and must never reach a plan anyway)."""
    from compliance.spec.yamlsafe import load_yaml

    data, _ = load_yaml(stack_file)

    def unsecure(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"secure"}:
                return SECRET
            return {k: unsecure(v) for k, v in value.items()}
        if isinstance(value, list):
            return [unsecure(v) for v in value]
        return value

    config: dict[str, str] = {}
    for key, value in data["config"].items():
        plain = unsecure(value)
        config[key] = plain if isinstance(plain, str) else json.dumps(plain)
    return config


@contextlib.contextmanager
def _lean_sdk() -> Iterator[None]:
    """Spare the SDK work a plan never reads, for the duration of one capture.

    - Pulumi records a Python stack trace per resource (for source positions in the CLI): ~12 % of a
      capture. The hook is private, so it is patched only where it exists.
    - A capture allocates millions of short-lived containers; full GC passes rescan the growing heap
      (~28 % of a capture), so collections run less often meanwhile.
    """
    import pulumi.runtime.resource as sdk_resource
    from pulumi.runtime.proto import source_pb2

    original = getattr(sdk_resource, "_get_stack_trace", None)
    thresholds = gc.get_threshold()
    if original is not None:
        sdk_resource._get_stack_trace = source_pb2.StackTrace
    gc.set_threshold(50_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if original is not None:
            sdk_resource._get_stack_trace = original


def _run(
    root: Path, environment: str, config: dict[str, str], shard: tuple[int, int] | None, preflight: bool = False
) -> list[PlannedResource]:
    """Run the stack's program once under mocks in this process; returns the recorded resources."""
    from compliance.program import build

    return run_program(lambda: build(root, shard=shard, preflight=preflight), environment, config)


_ACCOUNT = "123456789012"


def mock_state(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The outputs a provider would report, for the few resources whose outputs feed other inputs (an EKS
    cluster's OIDC issuer feeds IRSA trust policies, a load balancer's hostname feeds DNS records). Every
    other resource reports nothing, as in a preview: its outputs are unknown."""
    if type_.startswith("aws:"):
        service = type_.split(":")[1].split("/")[0]
        state: dict[str, Any] = {"arn": f"arn:aws:{service}::{_ACCOUNT}:{name}"}
        if type_ == "aws:eks/cluster:Cluster":
            cluster = inputs.get("name", name)
            state |= {
                "name": cluster,
                "endpoint": f"https://{cluster}.eks.mock.invalid",
                "certificateAuthority": {"data": "bW9jay1jYQ=="},
                "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.mock.invalid/id/{cluster}"}]}],
            }
        elif type_ == "aws:iam/role:Role":
            state["name"] = inputs.get("name", name)
        elif type_ == "aws:s3/bucket:Bucket":
            state["bucket"] = inputs.get("bucket", name)
        return state
    if type_ == "kubernetes:core/v1:Service" and inputs.get("spec", {}).get("type") == "LoadBalancer":
        return {"status": {"loadBalancer": {"ingress": [{"hostname": f"{name}.elb.mock.invalid"}]}}}
    return {}


def run_program(program: Callable[[], None], environment: str, config: dict[str, str]) -> list[PlannedResource]:
    """Run a Pulumi program (a function registering resources) under the mock engine in this process and
    return what it registered. ``config`` keys carry the project prefix (``mlgate:regions``)."""
    import pulumi
    from pulumi.runtime import mocks, rpc, settings
    from pulumi.runtime.proto import resource_pb2
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

    recorded: list[PlannedResource] = []
    lock = threading.Lock()

    class _Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
            # Not the inputs echoed back: that cost a serialise + deserialise of every resource.
            return f"{args.name}-id", mock_state(args.typ, args.name, args.inputs)

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
            return {}, None

    class _RecordingMonitor(mocks.MockMonitor):
        def make_urn(self, parent: str, type_: str, name: str) -> str:
            # As the engine builds URNs (the mock keeps only the parent's last type, and the Stack):
            # the parent's whole type chain, the root Stack left out.
            chain = parent.split("::")[2] if parent else ""
            if chain and chain != "pulumi:pulumi:Stack":
                type_ = f"{chain}${type_}"
            return f"urn:pulumi:{environment}::{PROJECT}::{type_}::{name}"

        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            if request.type == "pulumi:pulumi:Stack":
                return super().RegisterResource(request)  # type: ignore[no-untyped-call]
            _ensure_event_loop()  # type: ignore[no-untyped-call]
            inputs = rpc.deserialize_properties(request.object)  # secrets stay wrapped: normalise masks them
            urn = self.make_urn(request.parent, request.type, request.name)
            resource = PlannedResource(
                urn=urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent or None,
                provider=request.provider or None,
                inputs=normalise(inputs),
                dependencies=tuple(sorted(request.dependencies)),  # registration order varies run to run
            )
            with lock:
                recorded.append(resource)
            resource_id, state = self.mocks.new_resource(
                mocks.MockResourceArgs(request.type, request.name, inputs, request.provider, custom=request.custom)
            )
            state_proto = _sync_await(rpc.serialize_properties(state, {}))
            self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, resource_id or "", state)
            return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id or "", object=state_proto)

    settings.ROOT.set(None)  # a fresh root Stack resource per run (several stacks per process)
    engine_mocks = _Mocks()
    monitor = _RecordingMonitor(engine_mocks)
    pulumi.runtime.set_mocks(
        engine_mocks,
        project=PROJECT,
        stack=environment,
        preview=True,
        logger=logging.getLogger(PROGRAM_LOGGER),
        monitor=monitor,
    )
    pulumi.runtime.set_all_config(config, [])
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            program()
        except BaseException as exc:  # surfaced after the engine unwinds
            errors.append(exc)
            raise

    try:
        with _lean_sdk():
            _sync_await(run_pulumi_func(guarded))
    except Exception as exc:  # noqa: BLE001 - any program failure is a plan error (exit 2), never a pass
        failure = errors[0] if errors else exc
        if isinstance(failure, MlgateError):
            raise failure from None
        raise PlanError(f"the Pulumi program failed under the mock engine: {failure}") from failure
    return recorded


def _run_shard(args: tuple[Path, str, dict[str, str], tuple[int, int]]) -> list[PlannedResource]:
    root, environment, config, shard = args
    return _run(root, environment, config, shard)


def capture_plan(
    root: Path,
    environment: str,
    *,
    stack_file: Path | None = None,
    catalog: Path | None = None,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
    preflight: bool = False,
) -> Plan:
    """Run ``stacks/`` for ``environment`` under the mock engine and return its Plan.

    ``preflight``: run the program as ``pulumi up`` does, its pre-flight gate on as ``mlgate:policy.mode``
    says, in one process as ``pulumi up`` (raises ``compliance.preflight.PreflightError`` when it stops the
    update). Off by default: the plan is the gate's input, not yet judged."""
    stack_file = stack_file or root / "stacks" / f"Pulumi.{environment}.yaml"
    if not stack_file.is_file():
        raise PlanError(f"no stack config for environment {environment!r}", file=stack_file)
    # Validate here, in one process, so a bad catalog fails once with a clear error.
    stack = load_stack_config(stack_file, environment)
    deployments = load_catalog(catalog or root / stack.catalog).deployments(stack)
    count = len(deployments)
    placements = sum(len(d.env.regions) for d in deployments)
    config = mock_config(stack_file)
    if catalog is not None:
        config["mlgate:catalog"] = str(catalog.resolve())
    workers = workers or min(os.cpu_count() or 1, 8)
    if count < PARALLEL_THRESHOLD or workers == 1 or preflight:
        if progress:
            gate = ", pre-flight on" if preflight else ""
            progress(f"running the program for {environment} ({count} model deployments{gate})")
        resources = _run(root, environment, config, None, preflight)
    else:
        shards = max(workers, -(-placements // SHARD_PLACEMENTS))
        if progress:
            split = f"{workers} processes" if shards == workers else f"{shards} shards over {workers} processes"
            progress(f"running the program for {environment} ({count} model deployments, {split})")
        jobs = [(root, environment, config, (i, shards)) for i in range(shards)]
        # spawn, not fork: the parent may hold Pulumi's executor threads (tests capture in-process). A fresh
        # process per shard returns each shard's memory before the next one starts.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, max_tasks_per_child=1) as pool:
            results = list(pool.map(_run_shard, jobs))
        merged: dict[str, PlannedResource] = {}
        for shard in results:
            for resource in shard:
                merged.setdefault(resource.urn, resource)
        resources = list(merged.values())
    resources = sorted(assign_regions(resources), key=lambda r: r.urn)
    return Plan(PROJECT, environment, "mock", tuple(resources))
