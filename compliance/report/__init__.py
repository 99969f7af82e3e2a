"""Reports of ledger runs: the PDF audit report (signed, reproducible), a Markdown summary, and their check.

    from compliance.report import load_run, write_report
    record = load_run(ledger_path, environment="prod")          # or run_id=...
    write_report(record, "report.pdf", key="signer.key")        # report.pdf + report.pdf.sig, atomically

Importing this package is cheap; reportlab and cryptography are imported by the functions that need them
(docs/report.md describes the sections, the reproducibility and the signature scheme).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from compliance.errors import UsageError

__all__ = ["load_run", "write_markdown", "write_report"]


def load_run(ledger: Path, *, environment: str, run_id: str | None = None) -> dict[str, Any]:
    """The record of ``run_id``, or the latest run of ``environment``; UsageError when there is none."""
    from compliance.errors import LedgerError
    from compliance.ledger import Ledger

    try:
        with Ledger.open(ledger, create=False) as opened:
            record = opened.get(run_id) if run_id else opened.latest(environment)
    except LedgerError as exc:
        raise UsageError(exc.message, file=ledger) from None
    if record is None:
        what = f"run {run_id}" if run_id else f"run of environment {environment!r} (run mlgate check first)"
        raise UsageError(f"the ledger holds no {what}", file=ledger)
    if run_id and record.get("environment") != environment:
        raise UsageError(f"run {run_id} is of environment {record.get('environment')!r}, not {environment!r}")
    return record


def write_report(
    record: Mapping[str, Any], out: str | Path, *, key: str | Path | None = None
) -> tuple[Path, Path | None]:
    """Render the PDF (signed with ``key``: plus ``<out>.sig``) and write it atomically. The .sig is written
    first: a reader never sees a signed PDF without its signature."""
    from compliance._internal.files import atomic_write
    from compliance.report.pdf import render_pdf

    target = Path(out)
    unsigned = render_pdf(record)
    if key is None:
        atomic_write(target, unsigned)
        return target, None
    from compliance.report.sign import load_private_key, sign_report

    private = load_private_key(key)
    signed, sig = sign_report(
        unsigned,
        private,
        file=target.name,
        run_id=str(record.get("runId")),
        ledger_hash=str(record.get("hash")),
    )
    sig_path = target.with_name(target.name + ".sig")
    atomic_write(sig_path, sig)
    atomic_write(target, signed)
    return target, sig_path


def write_markdown(record: Mapping[str, Any], out: str | Path | None) -> str:
    from compliance.report.markdown import render_markdown

    text = render_markdown(record)
    if out is not None and str(out) != "-":
        from compliance._internal.files import atomic_write

        atomic_write(out, text)
    return text
