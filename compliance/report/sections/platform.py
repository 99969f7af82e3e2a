"""The platform section: the platform subjects' identity and their decisions."""

from __future__ import annotations

from compliance.report.sections.common import Document, dash, kv
from compliance.report.sections.decisions import decisions
from compliance.report.text import fmt

__all__ = ["platform"]


def platform(doc: Document) -> None:
    w, data = doc.w, doc.data
    doc.heading("Platform", 15.0, "platform", 0)
    if not data.platforms:
        w.paragraph("The record holds no platform document.")
    for index, subject in enumerate(data.platforms):
        document = subject.document
        env = document.get("environment") or {}
        kv(
            w,
            [
                ("Subject", subject.name),
                ("Verdict", subject.verdict),
                ("Regions", ", ".join(str(r) for r in env.get("regions") or ()) or "—"),
                ("Deployments", str(len(document.get("deployments") or ()))),
                ("Planned resources", fmt(document.get("resourceCount"))),
                ("Input digest", dash(subject.digest)),
            ],
            mono=("Input digest",),
        )
        decisions(doc, subject.decisions, f"platform-{index}-dec")
    w.new_page()
