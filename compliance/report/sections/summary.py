"""The executive summary: findings per concern, and one row per subject with its verdict and concern cells."""

from __future__ import annotations

from reportlab.lib import colors

from compliance.report.layout import BODY_W, Col, Row
from compliance.report.model import concern_of
from compliance.report.sections.common import STATUS_FILL, Document, level_of

__all__ = ["summary"]


def summary(doc: Document) -> None:
    w, data = doc.w, doc.data
    concerns = data.concerns
    doc.heading("Executive summary", 15.0, "summary", 0)
    summary, counts = data.summary, data.level_counts()
    w.paragraph(
        f"{summary.get('subjects', len(data.deployments))} model deployments in {data.environment}: "
        f"{summary.get('passed', 0)} passed, {summary.get('warned', 0)} warned, {summary.get('denied', 0)} denied; "
        f"{counts['deny']} deny, {counts['warn']} warn and {counts['waived']} waived findings in all. A cell shows "
        "the strongest unwaived finding of that concern (deny over warn), waived when every finding of it is "
        "waived, and — where the concern does not apply to the subject.",
        after=6,
    )
    totals = {c: {"deny": 0, "warn": 0, "waived": 0} for c in concerns}
    for d in data.decisions:
        totals.setdefault(concern_of(d), {"deny": 0, "warn": 0, "waived": 0})[level_of(d)] += 1
    rows: list[Row] = []
    for c in concerns:
        applicable = [s for s in data.subjects if s.cells.get(c) != "n/a"]
        passing = sum(1 for s in applicable if s.cells.get(c) in ("pass", "waived"))
        t = totals[c]
        rows.append(Row([c, str(t["deny"]), str(t["warn"]), str(t["waived"]), f"{passing} of {len(applicable)}"]))
    rows.append(
        Row(
            ["all", str(counts["deny"]), str(counts["warn"]), str(counts["waived"]), ""],
            fill=colors.HexColor("#f6f8fa"),
        )
    )
    w.table(
        (Col(90), Col(50, align="right"), Col(50, align="right"), Col(50, align="right"), Col(90, align="right")),
        rows,
        ["Concern", "deny", "warn", "waived", "subjects passing"],
    )
    status_w, count_w = 37.0, 31.0
    name_w = BODY_W - 44 - 42 - status_w * len(concerns) - 3 * count_w
    cols = [Col(name_w), Col(44), Col(42)] + [Col(status_w, size=6.5)] * len(concerns)
    cols += [Col(count_w, align="right")] * 3
    table: list[Row] = []
    verdict_cell = {"passed": "pass", "warned": "warn", "denied": "deny"}
    for subject in data.subjects:
        levels = [level_of(d) for d in subject.decisions]
        cells = [subject.cells.get(c, "n/a") for c in concerns]
        fills = {3 + i: STATUS_FILL[c] for i, c in enumerate(cells) if c in STATUS_FILL}
        if subject.verdict in verdict_cell:
            fills[2] = STATUS_FILL[verdict_cell[subject.verdict]]
        risk = subject.model.get("riskTier") or ("platform" if subject.kind != "deployment" else "—")
        table.append(
            Row(
                [
                    subject.name,
                    str(risk),
                    subject.verdict,
                    *["—" if c == "n/a" else c for c in cells],
                    str(levels.count("deny")),
                    str(levels.count("warn")),
                    str(levels.count("waived")),
                ],
                fills=fills,
            )
        )
    w.table(cols, table, ["Model deployment", "Risk", "Verdict", *concerns, "deny", "warn", "waived"])
    w.new_page()
