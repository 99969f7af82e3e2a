"""``--format sarif``: SARIF 2.1.0 for code scanning (GitHub, GitLab, Azure DevOps).

One run; ``tool.driver.rules`` holds one reporting descriptor per policy id of ``result.rules`` (title,
description, controls, severity, package), plus ``GATE-ERROR`` and a bare descriptor for any id a decision
names that the catalogue lacks. One result per decision, in ``result.decisions`` order, located at the model
file (relative, ``%SRCROOT%``) and line where known. A waived decision keeps its level and carries an
accepted external suppression. ``invocations[0].exitCode`` is :meth:`GateResult.exit_code`.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

from compliance.gate.decisions import GATE_ERROR, Decision, GateResult, Level, RuleInfo
from compliance.outputs._common import controls_of, is_gate_error

__all__ = ["SARIF_SCHEMA", "SarifFormatter", "fingerprint"]

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "mlgateDecision/v1"
SARIF_LEVEL: dict[Level, str] = {"deny": "error", "warn": "warning"}

GATE_ERROR_RULE = RuleInfo(
    id=GATE_ERROR,
    title="The gate could not decide",
    description=(
        "The policy engine failed, a result was undefined, or an input (such as an evidence file) could not be "
        "read. The gate fails closed: the deployment does not pass until the error is fixed."
    ),
    severity="critical",
    level="deny",
    package="mlgate",
)


def _installed_version() -> str | None:
    try:
        return metadata.version("mlgate")
    except metadata.PackageNotFoundError:
        return None


def _installed_url() -> str | None:
    """The distribution's home page (``[project.urls]`` Homepage/Repository/…), if it declares one."""
    try:
        meta = metadata.metadata("mlgate")
    except metadata.PackageNotFoundError:
        return None
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = str(entry).partition(",")
        if label.strip().lower() in {"homepage", "documentation", "repository", "source"} and url.strip():
            return url.strip()
    home = meta.get_all("Home-page") or []
    return str(home[0]) if home else None


def fingerprint(decision: Decision) -> str:
    """Stable across runs and line moves: sha256 of id, subject, version, region and message."""
    parts = (decision.id, decision.subject, decision.version or "", decision.region or "", decision.msg)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _uri(path: str) -> tuple[str, bool]:
    """``(uri, relative)``: a relative path becomes a %-encoded POSIX URI reference, an absolute one a file URI."""
    if PureWindowsPath(path).is_absolute() and not PurePosixPath(path).is_absolute():
        return PureWindowsPath(path).as_uri(), False
    posix = PurePosixPath(path.replace("\\", "/"))
    if posix.is_absolute():
        return posix.as_uri(), False
    return quote(str(posix), safe="/"), True


def _unique(items: tuple[str, ...] | list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _text(value: str, fallback: str) -> str:
    return value if value.strip() else fallback


class SarifFormatter:
    name = "sarif"
    description = "SARIF 2.1.0 for code scanning (GitHub, GitLab, Azure DevOps)"

    def __init__(self, *, tool_version: str | None = None, information_uri: str | None = None) -> None:
        """``tool_version`` and ``information_uri`` default to the installed ``mlgate`` distribution's metadata."""
        self.tool_version = tool_version
        self.information_uri = information_uri

    def render(self, result: GateResult) -> str:
        return json.dumps(self.document(result), indent=2) + "\n"

    def document(self, result: GateResult) -> dict[str, Any]:
        rules = self._rules(result)
        index = {r.id: i for i, r in enumerate(rules)}
        gate_errors = [d for d in result.decisions if is_gate_error(d) and not d.waived]
        driver: dict[str, Any] = {"name": "mlgate"}
        information_uri = self.information_uri or _installed_url()
        if information_uri:
            driver["informationUri"] = information_uri
        version = self.tool_version or _installed_version()
        if version:
            driver["version"] = version
        driver["rules"] = [self._descriptor(r) for r in rules]
        invocation: dict[str, Any] = {"executionSuccessful": not gate_errors, "exitCode": result.exit_code()}
        if gate_errors:
            invocation["toolExecutionNotifications"] = [
                {
                    "level": "error",
                    "message": {"text": f"{d.subject}: {_text(d.msg, GATE_ERROR)}"},
                    "descriptor": {"id": GATE_ERROR},
                }
                for d in gate_errors
            ]
        run: dict[str, Any] = {
            "tool": {"driver": driver},
            "automationDetails": {"id": f"mlgate/{result.environment}/"},
            "invocations": [invocation],
            "results": [self._result(result, d, index[d.id]) for d in result.decisions],
            "properties": {
                "environment": result.environment,
                "engine": result.engine,
                "packages": list(result.packages),
                "summary": result.summary(),
            },
        }
        return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}

    @staticmethod
    def _rules(result: GateResult) -> list[RuleInfo]:
        """The catalogue (first entry per id wins), GATE-ERROR, then bare entries for ids the catalogue lacks."""
        rules: dict[str, RuleInfo] = {}
        for r in result.rules:
            rules.setdefault(r.id, r)
        rules.setdefault(GATE_ERROR, GATE_ERROR_RULE)
        for d in result.decisions:
            if d.id not in rules:
                rules[d.id] = RuleInfo(
                    id=d.id, title=d.id, description="", severity="", level=d.level, package=d.policy
                )
        return list(rules.values())

    @staticmethod
    def _descriptor(rule: RuleInfo) -> dict[str, Any]:
        controls = _unique(rule.control_refs)
        title = _text(rule.title, rule.id)
        description = _text(rule.description, title)
        severity = rule.severity or "unspecified"
        text_parts = [f"{title}\n\n{description}"]
        markdown_parts = [f"**{title}**\n\n{description}"]
        if controls:
            text_parts.append("Controls:\n" + "\n".join(f"- {c}" for c in controls))
            markdown_parts.append("**Controls**\n\n" + "\n".join(f"- {c}" for c in controls))
        text_parts.append(f"Severity: {severity}; level: {rule.level}; package: {rule.package}.")
        markdown_parts.append(f"Severity: {severity}; level: `{rule.level}`; package: `{rule.package}`.")
        properties: dict[str, Any] = {"severity": rule.severity, "package": rule.package}
        if controls:
            properties["tags"] = controls
        return {
            "id": rule.id,
            "name": title,
            "shortDescription": {"text": title},
            "fullDescription": {"text": description},
            "help": {"text": "\n\n".join(text_parts), "markdown": "\n\n".join(markdown_parts)},
            "defaultConfiguration": {"level": SARIF_LEVEL[rule.level]},
            "properties": properties,
        }

    @staticmethod
    def _result(result: GateResult, d: Decision, rule_index: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ruleId": d.id,
            "ruleIndex": rule_index,
            "level": SARIF_LEVEL[d.level],
            "message": {"text": _text(d.msg, d.id)},
        }
        if d.file:
            uri, relative = _uri(d.file)
            artifact: dict[str, Any] = {"uri": uri}
            if relative:
                artifact["uriBaseId"] = "%SRCROOT%"
            physical: dict[str, Any] = {"artifactLocation": artifact}
            if d.line is not None and d.line >= 1:
                physical["region"] = {"startLine": d.line}
            out["locations"] = [{"physicalLocation": physical}]
        out["partialFingerprints"] = {FINGERPRINT_KEY: fingerprint(d)}
        out["properties"] = {
            "subject": d.subject,
            "policy": d.policy,
            "controls": list(controls_of(result, d)),
            "version": d.version,
            "region": d.region,
            "resource": d.resource,
        }
        if d.waiver is not None:
            w = d.waiver
            out["suppressions"] = [
                {
                    "kind": "external",
                    "status": "accepted",
                    "justification": w.reason,
                    "properties": {
                        "policy": w.policy,
                        "subject": w.subject,
                        "owner": w.owner,
                        "approvedBy": w.approvedBy,
                        "expires": w.expires.isoformat(),
                        **({"file": w.file, "line": w.line} if w.file else {}),
                    },
                }
            ]
        return out
