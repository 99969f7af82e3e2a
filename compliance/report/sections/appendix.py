"""The appendix: policy catalogue with its control mapping, waivers, evidence manifest, how to verify."""

from __future__ import annotations

from collections.abc import Mapping

from compliance.gate.decisions import FRAMEWORKS
from compliance.report.layout import BODY_W, Col, Row, Span
from compliance.report.sections.common import Document, dash
from compliance.report.text import BODY, BOLD, MONO

__all__ = ["catalogue", "how_to_verify", "manifest", "waivers"]


def catalogue(doc: Document) -> None:
    w, data = doc.w, doc.data
    doc.heading("Appendix", 15.0, "appendix", 0)
    doc.heading("Policy catalogue and control mapping", 12.0, "catalogue", 1)
    w.paragraph(
        "Every rule the policy bundle enforced in this run, with its level and severity and the controls it "
        "implements in the EU AI Act, the NIST AI Risk Management Framework and ISO/IEC 42001."
    )
    frameworks = list(FRAMEWORKS)
    others = sorted({k for r in data.rules for k in (r.get("controls") or {})} - set(frameworks))
    fw_w = (BODY_W - 170) / (len(frameworks) + len(others))
    rows: list[Row] = []
    for rule in sorted(data.rules, key=lambda r: str(r.get("id"))):
        controls = rule.get("controls") or {}
        head: list[Span] = [
            (f"{dash(rule.get('id'))} {dash(rule.get('title'))}", BOLD),
            (f"{dash(rule.get('level'))}, severity {dash(rule.get('severity'))}, {dash(rule.get('package'))}", BODY),
        ]
        rows.append(Row([head, *["\n".join(controls.get(f) or ()) or "—" for f in frameworks + others]]))
    w.table(
        [Col(170)] + [Col(fw_w)] * (len(frameworks) + len(others)),
        rows,
        ["Rule", *[FRAMEWORKS[f] for f in frameworks], *others],
    )


def waivers(doc: Document) -> None:
    w, data = doc.w, doc.data
    doc.heading("Waivers", 12.0, "waivers", 1)
    if not data.waivers:
        w.paragraph("No waivers were loaded for this run.")
        return
    used = {
        (str(v.get("policy")), str(v.get("subject")), str(v.get("expires")))
        for d in data.decisions
        if isinstance(v := d.get("waiver"), Mapping)
    }
    rows = [
        Row(
            [
                dash(v.get("policy")),
                dash(v.get("subject")),
                dash(v.get("reason")),
                f"{dash(v.get('owner'))}\n{dash(v.get('approvedBy'))}",
                dash(v.get("expires")),
                "yes" if (str(v.get("policy")), str(v.get("subject")), str(v.get("expires"))) in used else "no",
            ]
        )
        for v in data.waivers
    ]
    w.table(
        (Col(52), Col(95), Col(160), Col(105), Col(50), Col(BODY_W - 462)),
        rows,
        ["Policy", "Subject", "Reason", "Owner / approved by", "Expires", "Applied"],
    )


def manifest(doc: Document) -> None:
    w, data = doc.w, doc.data
    doc.heading("Evidence manifest", 12.0, "manifest", 1)
    w.paragraph(
        "Every evidence file the decisions were made on, pinned by the sha256 of its bytes (as sha256sum prints "
        "it). A file that changed since the run fails mlgate verify."
    )
    rows = [
        Row(
            [
                f"{dash(pin.get('subject'))} {dash(pin.get('version'))}",
                dash(pin.get("kind")),
                [
                    (dash(pin.get("file")), BODY),
                    (dash(pin.get("sha256")) if pin.get("sha256") else "(missing when judged)", MONO),
                ],
            ]
        )
        for pin in data.evidence
    ]
    if rows:
        w.table((Col(130), Col(45), Col(BODY_W - 175, size=6.5)), rows, ["Subject / version", "Kind", "File / sha256"])
    else:
        w.paragraph("No evidence files.")


def how_to_verify(doc: Document) -> None:
    w, data = doc.w, doc.data
    doc.heading("How to verify this report", 12.0, "verify", 1)
    for text in (
        f"This report was rendered from ledger record #{dash(data.seq)} (run {data.run_id}) whose hash is "
        f"{data.record_hash}.",
        "mlgate verify report.pdf --key signer.pub checks, naming whatever fails: (1) the detached signature "
        "report.pdf.sig over the sha256 of the whole file; (2) the signature embedded in the PDF (an incremental "
        "update appended to the unsigned report) over the sha256 of the unsigned report, made with the key whose "
        "fingerprint --key pins; (3) that rendering the ledger run again yields the unsigned report byte for "
        "byte, so the report states exactly what the ledger recorded; (4) that the ledger's hash chain holds and "
        "the record's hash is the one the report names; (5) that every evidence file of the manifest still has "
        "its pinned sha256.",
        "Without mlgate: the signed message is the ASCII text sha256:<hex> of the signed bytes (the whole file "
        "for the .sig; its first MlgateSignedLength bytes for the embedded signature). Check it with any Ed25519 "
        "implementation, e.g. openssl pkeyutl -verify -rawin -pubin -inkey signer.pub. A key's fingerprint is "
        "sha256: and the sha256 of its 32 raw public key bytes. Evidence digests are sha256 of the file bytes.",
        "Reports are reproducible: the same ledger run and the same SOURCE_DATE_EPOCH (by default the run's own "
        "time) give the same bytes.",
    ):
        w.paragraph(text, after=5)
