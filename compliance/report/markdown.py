"""``mlgate report --format md``: a Markdown summary of one ledger run, for a pull-request comment.

The same record as the PDF, shorter: the verdict, a table of deployments by concerns, every finding with its
waiver, and (folded) the evidence manifest. GitHub-flavoured Markdown; deterministic for a given record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compliance.report.model import overall_verdict, report_data

__all__ = ["render_markdown"]

MAX_FINDINGS = 200  # a PR comment is limited to 65,536 characters: keep the rest for the PDF


def _esc(value: object) -> str:
    text = "—" if value is None or value == "" else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _cell(status: str) -> str:
    return {"deny": "**deny**", "warn": "warn", "waived": "waived", "pass": "pass"}.get(status, "—")


def render_markdown(record: Mapping[str, Any]) -> str:
    data = report_data(record)
    counts = data.level_counts()
    summary = data.summary
    commit = (record.get("repo") or {}).get("commit")
    lines = [
        f"## mlgate compliance: {_esc(data.environment)} — {overall_verdict(data)}",
        "",
        f"Gate run `{_esc(data.run_id)}` at {_esc(data.time)}"
        + (f" · commit `{_esc(str(commit)[:12])}`" if commit else "")
        + f" · policy bundle `{_esc(data.bundle_digest[:19])}…`"
        + f" · ledger record #{_esc(data.seq)} `{_esc(data.record_hash[:19])}…`",
        "",
        f"{summary.get('subjects', len(data.deployments))} model deployments: {summary.get('passed', 0)} passed, "
        f"{summary.get('warned', 0)} warned, {summary.get('denied', 0)} denied · "
        f"{counts['deny']} deny, {counts['warn']} warn, {counts['waived']} waived findings",
        "",
        "| Deployment | Risk | Verdict | " + " | ".join(data.concerns) + " |",
        "|---|---|---|" + "---|" * len(data.concerns),
    ]
    for s in data.subjects:
        risk = s.model.get("riskTier") or ("platform" if s.kind != "deployment" else "—")
        verdict = f"**{s.verdict}**" if s.verdict == "denied" else s.verdict
        cells = " | ".join(_cell(s.cells.get(c, "n/a")) for c in data.concerns)
        lines.append(f"| {_esc(s.name)} | {_esc(risk)} | {verdict} | {cells} |")
    decisions = data.decisions
    lines += ["", f"### Findings ({len(decisions)})", ""]
    if decisions:
        lines += ["| Id | Level | Subject | Finding | Waiver |", "|---|---|---|---|---|"]
        for d in decisions[:MAX_FINDINGS]:
            waiver = d.get("waiver")
            waived = (
                f"{_esc(waiver.get('reason'))} (owner {_esc(waiver.get('owner'))}, "
                f"expires {_esc(waiver.get('expires'))})"
                if isinstance(waiver, Mapping)
                else ""
            )
            subject = _esc(d.get("subject")) + (f":{_esc(d.get('version'))}" if d.get("version") else "")
            level = "waived" if waiver else str(d.get("level"))
            lines.append(f"| `{_esc(d.get('id'))}` | {level} | {subject} | {_esc(d.get('msg'))} | {waived} |")
        if len(decisions) > MAX_FINDINGS:
            lines.append(f"\n… and {len(decisions) - MAX_FINDINGS} more: see the PDF report.")
    else:
        lines.append("No findings: every policy passed.")
    if data.evidence:
        lines += ["", f"<details><summary>Evidence manifest ({len(data.evidence)} files)</summary>", ""]
        lines += ["| File | sha256 |", "|---|---|"]
        lines += [f"| {_esc(p.get('file'))} | `{_esc(p.get('sha256'))}` |" for p in data.evidence]
        lines += ["", "</details>"]
    lines += ["", f"<sub>mlgate report · verify the PDF with `mlgate verify` · run {_esc(data.run_id)}</sub>", ""]
    return "\n".join(lines)
