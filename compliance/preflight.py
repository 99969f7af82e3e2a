"""The deploy-time pre-flight: ``pulumi up`` judges the stack's model deployments before it registers anything.

:func:`compliance.program.build` calls :func:`run_preflight` with the Kubernetes objects the model deployments
are about to register (``compliance.program.preflight_plan``: plain data, rendered by the component's own
``components.manifests.objects``), as ``mlgate:policy.mode`` says:

- ``enforce``: an unwaived deny (or a gate that cannot judge) fails the update with a :class:`PreflightError`
  (a ``pulumi.RunError``: Pulumi prints its one-line message, no traceback) naming every denied decision;
- ``advisory``: every deny and warning is logged with ``pulumi.log.warn``, the update goes on;
- ``off``: the gate is not run.

Warnings are always logged. The platform document is not judged here: the platform's resources are Outputs
while the program runs. The policy pack (``policies/pack``) judges the whole stack at preview.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pulumi

from compliance.errors import MlgateError
from compliance.gate.decisions import Decision, GateResult
from compliance.plan.model import Plan
from compliance.spec.stack import PolicyMode, StackConfig

if TYPE_CHECKING:
    from compliance.gate.check import GateRun

__all__ = ["PreflightError", "describe", "preflight_logging", "run_preflight"]

PREFIX = "mlgate pre-flight"


class PreflightError(MlgateError, pulumi.RunError):
    """The pre-flight stops the update. ``denied``: the unwaived denies; ``exit_code`` as ``mlgate check``'s
    (1 denied, 2 the gate could not judge)."""

    def __init__(self, message: str, denied: Sequence[Decision] = (), exit_code: int = 1) -> None:
        super().__init__(message)
        self.denied = tuple(denied)
        self.exit_code = exit_code


def describe(decision: Decision) -> str:
    """``FAIR-002 credit-scoring@prod v7: <message>``: id, subject, version and region when known, message."""
    where = " ".join(part for part in (decision.version, decision.region) if part)
    return f"{decision.id} {decision.subject}{' ' + where if where else ''}: {decision.msg}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def run_preflight(
    root: Path, stack: StackConfig, plan: Plan, *, mode: PolicyMode | None = None, now: dt.datetime | None = None
) -> GateResult | None:
    """Judge ``plan`` (the deployment documents only) as ``mode`` (default: the stack's) says; None when off
    or when an advisory gate could not judge. Raises :class:`PreflightError` in enforce mode."""
    mode = mode or stack.policy_mode
    if mode == "off":
        return None
    from compliance.gate.check import prepare

    try:
        # One process: the program runs inside Pulumi's language host, where spawning workers is no option.
        gate = prepare(root, stack.environment, stack=stack, jobs=1)
        run = gate.run(plan, now, platform=False)
        result = run.result
        recorded = _record(run)
    except MlgateError as exc:
        message = f"{PREFIX}: the gate cannot judge {stack.environment}: {exc.diagnostics()}"
        if mode == "enforce":
            raise PreflightError(message, exit_code=2) from None
        pulumi.log.warn(f"{message} (advisory: the update goes on)")
        return None
    denied = result.unwaived("deny")
    for decision in result.unwaived("warn"):
        pulumi.log.warn(f"{PREFIX}: warn {describe(decision)}")
    if mode == "enforce" and denied:
        detail = "; ".join(describe(decision) for decision in denied)
        raise PreflightError(
            f"{PREFIX}: {_plural(len(denied), 'denied decision')}: {detail}", denied, result.exit_code()
        )
    for decision in denied:
        pulumi.log.warn(f"{PREFIX}: deny {describe(decision)} (advisory: the update goes on)")
    pulumi.log.info(f"{PREFIX} ({mode}): {stack.environment}: {result.summary()}{recorded}")
    return result


def _record(run: GateRun) -> str:
    """Append the run to the ledger when there is one (``$MLGATE_LEDGER``, else ``<root>/.mlgate/ledger.db`` if it
    exists: the pre-flight creates none of its own); what to add to the summary line. LedgerError fails it."""
    from compliance.ledger import LEDGER_ENV, Ledger, ledger_path, record_of_run

    path = ledger_path(run.gate.root)
    if not (os.environ.get(LEDGER_ENV) or path.is_file()):
        return ""
    with Ledger.open(path) as ledger:
        stored = ledger.append(record_of_run(run))
    return f"; recorded run {stored['runId']} (#{stored['seq']}) in {path}"


@contextlib.contextmanager
def preflight_logging(emit: Callable[[str], None]) -> Iterator[None]:
    """Under the mock engine (``mlgate plan --preflight``): hand the program's ``pulumi.log`` warnings to ``emit``."""
    from compliance.plan.capture import PROGRAM_LOGGER

    class _Emit(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            emit(f"mlgate: warning: {record.getMessage()}")

    logger = logging.getLogger(PROGRAM_LOGGER)
    handler = _Emit(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
