"""The policy catalogue as Markdown (``mlgate policy doc``), from the rules' METADATA."""

from __future__ import annotations

from compliance.gate.bundle import PolicyBundle
from compliance.gate.decisions import FRAMEWORKS

__all__ = ["policy_markdown"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def policy_markdown(bundle: PolicyBundle) -> str:
    lines = [
        "# mlgate policy catalogue",
        "",
        f"{len(bundle.rules)} rules in {len(bundle.packages)} packages; bundle `{bundle.digest()}`.",
        "",
        "| id | level | severity | title | " + " | ".join(FRAMEWORKS.values()) + " |",
        "|---|---|---|---|" + "---|" * len(FRAMEWORKS),
    ]
    for rule in bundle.rules:
        refs = [", ".join(rule.controls.get(key, ())) or "—" for key in FRAMEWORKS]
        lines.append(
            f"| {rule.id} | {rule.level} | {rule.severity} | {_cell(rule.title)} | "
            + " | ".join(_cell(r) for r in refs)
            + " |"
        )
    lines.append("")
    for package in bundle.packages:
        lines += [f"## {package}", ""]
        for rule in (r for r in bundle.rules if r.package == package):
            lines.append(f"- **{rule.id}** {_cell(rule.title)}: {_cell(rule.description)}")
        lines.append("")
    return "\n".join(lines)
