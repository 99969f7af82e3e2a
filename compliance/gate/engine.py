"""Policy engines behind one small interface: the embedded regorus (default) and, later, an OPA server.

An engine evaluates whole packages (``data.mlgate.fairness``) for one input document at a time: one
evaluation returns the package's ``deny`` and ``warn`` sets together, so a document costs one call
per package, not one per rule.

Many documents go through :func:`evaluate_all`, which turns every failure into an :class:`EngineFailure`
(a GATE-ERROR later) and lets an engine that judges documents in bulk (:class:`BatchEngine`: the decision
cache, the process pool) do so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol, TypeAlias, runtime_checkable

from compliance.errors import EngineError, PolicyError
from compliance.gate.bundle import PolicyBundle

__all__ = [
    "UNDEFINED",
    "BatchEngine",
    "Engine",
    "EngineFailure",
    "Outcome",
    "RegorusEngine",
    "evaluate_all",
    "evaluate_one",
]


class _Undefined:
    def __repr__(self) -> str:
        return "UNDEFINED"

    def __reduce__(self) -> str:
        return "UNDEFINED"  # unpickles (from a worker process) as the module's one UNDEFINED


UNDEFINED: Any = _Undefined()  # a package (or query) that produced no value


class Engine(Protocol):
    """Evaluate ``data.<package>`` for each package on one input; raise EngineError when it cannot."""

    name: str

    def evaluate(self, document: Mapping[str, Any], packages: Sequence[str]) -> dict[str, Any]:
        """Package -> its value (an object with ``deny``/``warn`` arrays), or UNDEFINED."""
        ...


@dataclass(frozen=True)
class EngineFailure:
    """No value for one document: the engine raised. The message becomes the document's GATE-ERROR."""

    message: str


Outcome: TypeAlias = dict[str, Any] | EngineFailure


@runtime_checkable
class BatchEngine(Engine, Protocol):
    """An engine that judges many documents at once; one outcome per document, in order, never raising."""

    def evaluate_all(self, documents: Sequence[Mapping[str, Any]], packages: Sequence[str]) -> list[Outcome]: ...


def evaluate_one(engine: Engine, document: Mapping[str, Any], packages: Sequence[str]) -> Outcome:
    """``engine.evaluate`` with any exception turned into an EngineFailure: whatever the engine does, the gate
    fails closed."""
    try:
        return engine.evaluate(document, packages)
    except EngineError as exc:
        return EngineFailure(f"{engine.name} engine: {exc.message}")
    except Exception as exc:  # noqa: BLE001
        return EngineFailure(f"{engine.name} engine failed: {type(exc).__name__}: {exc}")


def evaluate_all(engine: Engine, documents: Sequence[Mapping[str, Any]], packages: Sequence[str]) -> list[Outcome]:
    """One outcome per document, in order: in bulk when the engine can, else one document at a time."""
    if not isinstance(engine, BatchEngine):
        return [evaluate_one(engine, document, packages) for document in documents]
    try:
        outcomes = engine.evaluate_all(documents, packages)
    except Exception as exc:  # noqa: BLE001 - a batch engine should not raise; if it does, nothing passes
        failure = EngineFailure(f"{engine.name} engine failed: {type(exc).__name__}: {exc}")
        return [failure] * len(documents)
    if len(outcomes) != len(documents):
        failure = EngineFailure(f"{engine.name} engine returned {len(outcomes)} results for {len(documents)} inputs")
        return [failure] * len(documents)
    return outcomes


@cache
def regorus_version() -> str:
    from importlib.metadata import version as dist_version  # 20 ms of imports: only when an engine is built

    try:
        return f"regorus {dist_version('gordon-to-regorus')}"
    except Exception:  # noqa: BLE001 - not installed as a distribution: name it by the module
        import regorus

        return f"regorus {getattr(regorus, '__version__', '?')}"


_LOCATION = re.compile(r"-->\s*(\S+?):(\d+):(\d+)")


def _clean(exc: BaseException) -> tuple[str, int | None]:
    """regorus' messages carry a source excerpt and a native backtrace: keep ``error: …`` and the line."""
    text = str(exc).split("Stack backtrace:")[0]
    where = _LOCATION.search(text)
    message = text.split("error:", 1)[1] if "error:" in text else text
    return " ".join(message.split()), int(where.group(2)) if where else None


def _value_of(raw: str) -> Any:
    result = json.loads(raw).get("result") or []
    if not result:
        return UNDEFINED
    expressions = result[0].get("expressions") or []
    if not expressions:
        return UNDEFINED
    return expressions[0].get("value", UNDEFINED)


class RegorusEngine:
    """The embedded engine (PyPI ``gordon-to-regorus``). Uses the JSON methods throughout: the plain
    ones turn a set of decision objects into a Python set and fail (dicts are unhashable)."""

    name = "embedded"

    def __init__(self, bundle: PolicyBundle, *, with_tests: bool = False, coverage: bool = False) -> None:
        import regorus

        self.version = regorus_version()  # part of the decision cache's key
        self._engine = regorus.Engine()
        if coverage:
            self._engine.set_enable_coverage(True)
        for policy in bundle.files:
            if policy.is_test and not with_tests:
                continue
            try:
                self._engine.add_policy(str(bundle.root / policy.path), policy.text)
            except Exception as exc:  # noqa: BLE001 - regorus raises plain exceptions for parse errors
                message, line = _clean(exc)
                raise PolicyError(
                    f"Rego does not compile: {message}", file=bundle.root / policy.path, line=line
                ) from None
        # Which of deny/warn each package defines: evaluating those rules alone skips the package's other
        # helper values, which a whole-package query would compute and serialise (~40 % of the time).
        self._rules = {package: bundle.decision_rules(package) for package in bundle.packages}
        try:
            self._engine.add_data_json(bundle.data_text)
        except Exception as exc:  # noqa: BLE001
            raise PolicyError(f"data not accepted: {_clean(exc)[0]}", file=bundle.root / "data.json") from None

    def evaluate(self, document: Mapping[str, Any], packages: Sequence[str]) -> dict[str, Any]:
        try:
            # Input as Python objects (regorus converts them: cheaper than json.dumps + parse); results
            # always through JSON, which keeps sets of objects intact.
            self._engine.set_input(dict(document))
        except Exception as exc:  # noqa: BLE001
            raise EngineError(f"input rejected by the embedded engine: {_clean(exc)[0]}") from None
        values: dict[str, Any] = {}
        for package in packages:
            rules = self._rules.get(package)
            if rules is None:
                values[package] = UNDEFINED  # not a package of this bundle: the gate fails closed
                continue
            values[package] = {rule: self._rule(f"data.{package}.{rule}") for rule in rules}
        return values

    def _rule(self, path: str) -> Any:
        try:
            return json.loads(self._engine.eval_rule_as_json(path))
        except Exception as exc:  # noqa: BLE001 - a builtin type error inside a rule raises here
            message, line = _clean(exc)
            raise EngineError(f"{path}: {message}" + (f" (policy line {line})" if line else "")) from None

    def query(self, query: str) -> Any:
        try:
            return _value_of(self._engine.eval_query_as_json(query))
        except Exception as exc:  # noqa: BLE001 - a builtin type error inside a rule raises here
            message, line = _clean(exc)
            raise EngineError(f"{query}: {message}" + (f" (policy line {line})" if line else "")) from None

    def coverage_report(self) -> Any:
        return json.loads(self._engine.get_coverage_report_as_json())
