"""One ledger record per gate run (docs/ledger-record.md): what was judged, with which policies, and the outcome.

:func:`build_record` turns a judged run (the :class:`~compliance.gate.decisions.GateResult`, the gate input
documents, the policy bundle, the waivers and the project root) into the record's dict, without ``seq``,
``prev`` and ``hash``: the store assigns those when it appends the record to its chain
(:class:`compliance.ledger.store.Ledger`). Nothing here fails a run: a project outside git, or no ``git``
at all, is recorded as ``repo: {"commit": null, "dirty": null}``.

The module imports no part of the gate at run time (only for type checking), so the store and the record
can be used from the deploy-time gate and the report without loading the engine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compliance.gate.bundle import PolicyBundle
    from compliance.gate.check import GateRun
    from compliance.gate.decisions import GateResult, RuleInfo, Waiver
    from compliance.gate.inputs import GateInput

__all__ = [
    "API_VERSION",
    "KIND",
    "build_record",
    "canonical",
    "digest",
    "git_state",
    "new_run_id",
    "record_of_run",
    "rfc3339",
    "tool_version",
]

API_VERSION = "mlgate.io/v1"
KIND = "LedgerRecord"
GIT_TIMEOUT = 5.0  # seconds for `git status`; slower than that and the record says null
_OID = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")  # sha1 or sha256 object names
# What the record keeps of the platform document: the resources are only counted (their digest is the subject's).
_PLATFORM_KEYS = ("kind", "subject", "environment", "deployments")


def canonical(value: Any) -> bytes:
    """The canonical JSON of the contract: sorted keys, no spaces, UTF-8 (not ASCII-escaped)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def digest(value: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``value``."""
    return "sha256:" + hashlib.sha256(canonical(value)).hexdigest()


def rfc3339(moment: dt.datetime) -> str:
    """UTC to the second: ``2026-11-25T12:00:00Z`` (a naive time is taken as UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def new_run_id() -> str:
    return uuid.uuid4().hex


def tool_version() -> str:
    """``mlgate <version>`` of the installed distribution."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"mlgate {version('mlgate')}"
    except PackageNotFoundError:
        return "mlgate (not installed)"


def git_state(root: Path) -> dict[str, Any]:
    """``{"commit": <HEAD> | None, "dirty": bool | None}`` of the git work tree holding ``root``.

    One ``git status --porcelain=v2 --branch -- .`` run in ``root``: the branch header names HEAD's commit,
    any other line is a change (tracked or untracked, ignored files excluded) under the project root. Not a
    repository, no commit yet, no git, or slower than :data:`GIT_TIMEOUT`: ``null`` (never an error).
    ``GIT_OPTIONAL_LOCKS=0`` keeps it from taking the index lock another git command may want.
    """
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain=v2", "--branch", "--", "."],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return {"commit": None, "dirty": None}
    if done.returncode != 0:
        return {"commit": None, "dirty": None}
    commit: str | None = None
    dirty = False
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("# branch.oid "):
            oid = line.removeprefix("# branch.oid ").strip()
            commit = oid if _OID.match(oid) else None  # "(initial)": no commit yet
        elif line and not line.startswith("#"):
            dirty = True
    return {"commit": commit, "dirty": dirty}


def _rule(rule: RuleInfo) -> dict[str, Any]:
    return {
        "id": rule.id,
        "title": rule.title,
        "description": rule.description,
        "severity": rule.severity,
        "level": rule.level,
        "package": rule.package,
        "controls": {framework: list(refs) for framework, refs in rule.controls.items()},
    }


def _shown_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """What the record keeps of an input document: all but the resources, which are counted."""
    resources = document.get("resources")
    count = len(resources) if isinstance(resources, list) else 0
    if document.get("kind") == "platform":
        shown = {key: document[key] for key in _PLATFORM_KEYS if key in document}
    else:
        shown = {key: value for key, value in document.items() if key != "resources"}
    shown["resourceCount"] = count
    return shown


def _thresholds(bundle: PolicyBundle, environment: str) -> dict[str, Any] | None:
    environments = bundle.data.get("mlgate", {}).get("thresholds", {}).get("environments", {})
    value = environments.get(environment) if isinstance(environments, dict) else None
    return value if isinstance(value, dict) else None


def build_record(
    result: GateResult,
    inputs: Sequence[GateInput],
    *,
    bundle: PolicyBundle,
    waivers: Sequence[Waiver],
    root: Path,
    now: dt.datetime,
    exit_code: int | None = None,
    fail_on_warn: bool = False,
    run_id: str | None = None,
    repo: Mapping[str, Any] | None = None,
    recorded_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The record of one run, without ``seq``/``prev``/``hash`` (the store sets them).

    ``now``: the time the run was judged (the documents' ``now``); ``exit_code``: the run's exit code
    (default: the result's, with ``fail_on_warn``); ``repo``: the git state (default: :func:`git_state` of
    ``root``); ``recorded_at``: the wall-clock time of recording (default: now), which differs from ``time``
    when ``mlgate check --now`` pinned the judging time.
    """
    subjects = []
    for gate_input in inputs:
        name = gate_input.subject.name
        subjects.append(
            {
                "name": name,
                "kind": gate_input.subject.kind,
                "verdict": result.verdict(name),
                "digest": digest(gate_input.document),
                "document": _shown_document(gate_input.document),
            }
        )
    code = result.exit_code(fail_on_warn=fail_on_warn) if exit_code is None else exit_code
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "runId": run_id or new_run_id(),
        "time": rfc3339(now),
        "recordedAt": rfc3339(recorded_at or dt.datetime.now(dt.UTC)),
        "environment": result.environment,
        "tool": tool_version(),
        "engine": result.engine,
        "repo": dict(repo) if repo is not None else git_state(root),
        "policyBundle": {"digest": bundle.digest()},
        # the limits this environment was judged with (data.json), so a report can draw them as decided
        "thresholds": _thresholds(bundle, result.environment),
        "rules": [_rule(rule) for rule in result.rules],
        "subjects": subjects,
        "evidence": [pin.to_json() for pin in result.evidence],
        "decisions": [decision.to_json() for decision in result.decisions],
        "waivers": [waiver.to_json() for waiver in waivers],
        "result": {"exitCode": code, "failOnWarn": fail_on_warn, "summary": result.counts()},
    }


def record_of_run(run: GateRun, **options: Any) -> dict[str, Any]:
    """:func:`build_record` of a :meth:`Gate.run <compliance.gate.check.Gate.run>` (options pass through)."""
    gate = run.gate
    return build_record(
        run.result, run.inputs, bundle=gate.bundle, waivers=gate.waivers, root=gate.root, now=run.now, **options
    )
