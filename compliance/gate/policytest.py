"""``mlgate policy test``: run every ``test_`` rule of ``policies/**/*_test.rego`` on the embedded engine."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from compliance.errors import EngineError
from compliance.gate.bundle import PolicyBundle
from compliance.gate.engine import RegorusEngine

__all__ = ["TestOutcome", "run_policy_tests"]

_TEST_RULE = re.compile(r"^(test_[A-Za-z0-9_]+)\s*(?:if\b|:=|=|\{)", re.MULTILINE)


@dataclass(frozen=True)
class TestOutcome:
    file: str
    query: str  # data.mlgate.fairness_test.test_dpd_above_limit_denies
    passed: bool
    error: str | None
    seconds: float

    @property
    def status(self) -> str:
        return "PASS" if self.passed else ("ERROR" if self.error else "FAIL")


def run_policy_tests(bundle: PolicyBundle, pattern: str | None = None) -> list[TestOutcome]:
    """Each test rule must evaluate to ``true``; undefined or false fails, an engine error errors."""
    engine = RegorusEngine(bundle, with_tests=True)
    selected = re.compile(pattern) if pattern else None
    outcomes: list[TestOutcome] = []
    for test_file in bundle.tests:
        names = sorted(set(_TEST_RULE.findall(test_file.text)))
        for name in names:
            query = f"data.{test_file.package}.{name}"
            if selected and not selected.search(query):
                continue
            started = time.perf_counter()
            error: str | None = None
            try:
                value = engine.query(query)
            except EngineError as exc:
                value, error = None, exc.message
            outcomes.append(TestOutcome(test_file.path, query, value is True, error, time.perf_counter() - started))
    return outcomes
