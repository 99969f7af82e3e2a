"""``--format github``: GitHub Actions workflow commands, one annotation per decision, then the summary.

``::error`` for an unwaived deny, ``::warning`` for an unwaived warn, ``::notice`` for a waived decision::

    ::error file=models/credit-scoring.yaml,line=12,title=FAIR-001::credit-scoring@prod: …

Escaping follows the Actions toolkit (``@actions/core`` ``command.ts``): in the message ``%``, ``\\r``, ``\\n``
become ``%25``, ``%0D``, ``%0A``; in property values ``:`` and ``,`` also become ``%3A`` and ``%2C``.
"""

from __future__ import annotations

from compliance.gate.decisions import Decision, GateResult
from compliance.outputs._common import waiver_note

__all__ = ["GithubFormatter", "escape_data", "escape_property"]


def escape_data(text: str) -> str:
    """Escape a workflow command's message (the part after ``::``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value (``file=…``, ``title=…``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, **properties: str | int | None) -> str:
    """``::kind k=v,k=v::message`` with escaped values; properties that are ``None`` are left out."""
    props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items() if v is not None)
    return f"::{kind}{' ' + props if props else ''}::{escape_data(message)}"


class GithubFormatter:
    name = "github"
    description = "GitHub Actions annotations (::error/::warning/::notice) and a summary line"

    def render(self, result: GateResult) -> str:
        lines = [self.annotation(d) for d in result.decisions]
        lines.append(result.summary())
        return "\n".join(lines) + "\n"

    @staticmethod
    def annotation(decision: Decision) -> str:
        message = f"{decision.subject}: {decision.msg}"
        if decision.waiver is not None:
            kind = "notice"
            message += f" (waived {decision.level}: {decision.waiver.reason}; {waiver_note(decision.waiver)})"
        else:
            kind = "error" if decision.level == "deny" else "warning"
        line = decision.line if decision.file is not None else None
        return command(kind, message, file=decision.file, line=line, title=decision.id)
