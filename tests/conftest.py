"""Shared fixtures: the repository root, the ../shared folder (CRDs), copies of the project, captured plans.

Captured plans come from the real Pulumi program under Pulumi's mock engine
(:func:`compliance.plan.capture.capture_plan`, about a second per stack), once per test session.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from compliance.crds import CrdCatalog
from compliance.plan.capture import capture_plan
from compliance.plan.model import Plan

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ENVIRONMENTS = ("dev", "staging", "prod")


@pytest.fixture(scope="session", autouse=True)
def _private_crd_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """compliance.crds caches parsed CRDs under $XDG_CACHE_HOME: keep the tests away from the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


@pytest.fixture(scope="session", autouse=True)
def _private_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """mlgate check records each run in <root>/.mlgate/ledger.db unless MLGATE_LEDGER names another ledger:
    keep the tests' runs out of the repository (tests that look at a ledger pass --ledger or set it)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLGATE_LEDGER", str(tmp_path_factory.mktemp("ledger") / "ledger.db"))
        yield


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root (holds Pulumi.yaml, stacks/, models/)."""
    return ROOT


@pytest.fixture(scope="session")
def shared() -> Path:
    return SHARED


@pytest.fixture(scope="session")
def crds_dir() -> Path:
    crds = SHARED / "crds"
    if not crds.is_dir():
        pytest.skip(f"../shared not found: {crds} is missing; these tests need the shared folder beside the checkout")
    return crds


@pytest.fixture(scope="session")
def crds(crds_dir: Path) -> CrdCatalog:
    return CrdCatalog.load(crds_dir)


def copy_project(destination: Path) -> Path:
    """Copy what the program and the gate read (Pulumi.yaml, stacks/, models/, evidence/, policies/)."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "Pulumi.yaml", destination / "Pulumi.yaml")
    shutil.copytree(ROOT / "stacks", destination / "stacks", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "models", destination / "models")
    shutil.copytree(ROOT / "evidence", destination / "evidence")
    shutil.copytree(ROOT / "policies", destination / "policies", ignore=shutil.ignore_patterns("pack"))
    return destination


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A private copy of the project that a test may mutate (``project / "models" / "x.yaml"``)."""
    return copy_project(tmp_path / "project")


@pytest.fixture
def edit() -> Callable[[Path, str, str], Path]:
    """``edit(file, old, new)``: replace one exact occurrence of ``old`` (which must be there) in ``file``."""

    def _edit(file: Path, old: str, new: str) -> Path:
        text = file.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {file}"
        file.write_text(text.replace(old, new), encoding="utf-8")
        return file

    return _edit


@pytest.fixture(scope="session")
def plans() -> dict[str, Plan]:
    """The captured plans of the three example stacks."""
    return {env: capture_plan(ROOT, env) for env in ENVIRONMENTS}


@pytest.fixture(scope="session")
def dev_plan(plans: dict[str, Plan]) -> Plan:
    return plans["dev"]


@pytest.fixture(scope="session")
def staging_plan(plans: dict[str, Plan]) -> Plan:
    return plans["staging"]


@pytest.fixture(scope="session")
def prod_plan(plans: dict[str, Plan]) -> Plan:
    return plans["prod"]


@pytest.fixture(scope="session")
def prod_plan_path(tmp_path_factory: pytest.TempPathFactory, prod_plan: Plan) -> Path:
    """The prod plan as a file, for ``mlgate check --plan`` (no capture per test)."""
    path = tmp_path_factory.mktemp("plans") / "plan.prod.json"
    path.write_text(prod_plan.dumps(), encoding="utf-8")
    return path


class FaultyEngine:
    """Fault injection for the gate: an engine whose every evaluation raises ``outcome`` (an exception) or
    returns it for every package (what a broken engine might answer)."""

    def __init__(self, outcome: Any, name: str = "fake") -> None:
        self.outcome = outcome
        self.name = name

    def evaluate(self, document: Mapping[str, Any], packages: Sequence[str]) -> dict[str, Any]:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return {package: self.outcome for package in packages}
