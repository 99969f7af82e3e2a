"""The cover: the run's identity, the overall verdict in colour and what the report is."""

from __future__ import annotations

from reportlab.lib import colors

from compliance.report.charts import AMBER, INK, MUTED, RED
from compliance.report.model import overall_verdict
from compliance.report.sections.common import Document, dash, kv
from compliance.report.text import BODY, BOLD, fmt

__all__ = ["VERDICT_INK", "cover"]

VERDICT_INK = {"PASSED": colors.HexColor("#2e7d32"), "PASSED with warnings": AMBER, "DENIED": RED}


def cover(doc: Document) -> None:
    w, data = doc.w, doc.data
    w.y -= 70
    w.paragraph("ML deployment compliance report", BOLD, 22, INK, after=4)
    w.paragraph(f"Environment {data.environment} — gate run of {data.time}", BOLD, 10, MUTED, after=24)
    verdict = overall_verdict(data)
    w.paragraph("Overall verdict", BODY, 8, MUTED, after=0)
    w.paragraph(verdict, BOLD, 22, VERDICT_INK.get(verdict, INK), after=12)
    summary, counts = data.summary, data.level_counts()
    platform = "; ".join(f"{p.name} {p.verdict}" for p in data.platforms) or "—"
    kv(
        w,
        [
            ("Environment", data.environment),
            ("Gate run", data.run_id),
            ("Run time (UTC)", data.time),
            ("Repository commit", data.commit),
            ("Policy bundle", data.bundle_digest),
            ("Ledger record", f"#{dash(data.seq)}  {data.record_hash}"),
            ("Previous record", dash(data.record.get("prev")) if data.record.get("prev") else "— (first record)"),
            ("Tool / engine", f"{dash(data.record.get('tool'))} / {dash(data.record.get('engine'))}"),
            ("Exit code", fmt(data.exit_code)),
            (
                "Deployments",
                f"{summary.get('subjects', len(data.deployments))} model deployments: {summary.get('passed', 0)} "
                f"passed, {summary.get('warned', 0)} warned, {summary.get('denied', 0)} denied",
            ),
            ("Platform", platform),
            ("Findings", f"{counts['deny']} deny, {counts['warn']} warn, {counts['waived']} waived"),
        ],
        110,
        mono=("Policy bundle", "Ledger record", "Previous record"),
    )
    w.y -= 16
    w.paragraph(
        "This report is rendered from one record of the mlgate ledger and shows exactly what the gate decided "
        "in that run: its decisions, the gate input of every deployment and the sha256 of every evidence file. "
        "mlgate verify checks the signature, that the report matches its ledger record, that the ledger chain "
        "holds and that the evidence files are unchanged (see the appendix).",
        BODY, 7.5, MUTED,
    )  # fmt: skip
    w.new_page()
