"""The decisions table of a subject (a model deployment or the platform): level, where, finding and waiver,
controls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from compliance.report.layout import BODY_W, Col, Row, Span
from compliance.report.sections.common import STATUS_FILL, Document, dash, level_of
from compliance.report.text import BODY, BOLD

__all__ = ["decisions"]


def decisions(doc: Document, decisions: Sequence[Mapping[str, Any]], key: str) -> None:
    w = doc.w
    doc.heading("Decisions", 9.5, key, 2, keep=30)
    if not decisions:
        w.paragraph("No findings: every policy passed.", BODY, 8)
        return
    rows: list[Row] = []
    for d in decisions:
        rule = doc.data.rule(str(d.get("id"))) or {}
        finding: list[Span] = []
        if rule.get("title"):
            finding.append((str(rule["title"]), BOLD))
        finding.append((dash(d.get("msg")), BODY))
        waiver = d.get("waiver")
        if isinstance(waiver, Mapping):
            finding.append(
                (
                    f"Waived: {dash(waiver.get('reason'))} — owner {dash(waiver.get('owner'))}, approved by "
                    f"{dash(waiver.get('approvedBy'))}, expires {dash(waiver.get('expires'))}",
                    BOLD,
                )
            )
        where = "\n".join(str(x) for x in (d.get("version"), d.get("region"), d.get("resource")) if x) or "—"
        level = level_of(d)
        rows.append(
            Row(
                [dash(d.get("id")), level, where, finding, "\n".join(str(c) for c in d.get("controls") or ()) or "—"],
                fills={1: STATUS_FILL.get(level, STATUS_FILL["waived"])},
            )
        )
    w.table(
        (Col(62), Col(34), Col(52), Col(BODY_W - 62 - 34 - 52 - 122), Col(122)),
        rows,
        ["Id", "Level", "Where", "Finding", "Controls"],
    )
