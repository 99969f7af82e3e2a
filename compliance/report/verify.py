"""``mlgate verify report.pdf``: is this report what the ledger recorded, signed by the expected key, unaltered?

Checks, each a line naming what holds or what failed:

1. ``report.pdf.sig``: a report signature as mlgate writes it, whose Ed25519 signature verifies over its own
   sha256, and that sha256 is the file's (else the PDF, or the .sig, was altered — the line says which).
2. the embedded signature: the signed prefix hashes to ``/MlgateSignedDigest``, the signature verifies, and
   the bytes after it are exactly the incremental update mlgate appends.
3. ``--key``: both signatures were made with that key (else the fingerprint is shown, unpinned).
4. the ledger: its hash chain holds, it holds the report's run, and that record's hash is the report's.
5. re-rendering that ledger record yields the unsigned report byte for byte.
6. every evidence file of the record's manifest still has its pinned sha256.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.errors import MlgateError, UsageError
from compliance.report.sign import (
    DetachedSignature,
    EmbeddedSignature,
    expected_signed,
    fingerprint,
    load_public_key,
    read_detached,
    read_embedded,
    sha256,
    verify_signature,
)

__all__ = ["Check", "verify_report"]

MAX_PDF_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Check:
    ok: bool
    what: str  # the thing checked: the PDF, the .sig, the ledger, an evidence file, the key
    message: str

    def render(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.what}: {self.message}"


def _info(unsigned: bytes, key: str) -> str | None:
    match = re.search(rb"/" + key.encode() + rb" \(([^()\\]*)\)", unsigned[-8192:]) or re.search(
        rb"/" + key.encode() + rb" \(([^()\\]*)\)", unsigned
    )
    return match.group(1).decode("latin-1") if match else None


def _unsigned_prefix(pdf: bytes) -> bytes:
    end = pdf.find(b"%%EOF\n")
    return pdf[: end + 6] if end >= 0 else pdf


def _embedded_checks(pdf: bytes, name: str, embedded: EmbeddedSignature) -> tuple[list[Check], bytes]:
    if not embedded.fields or embedded.signed_length > len(pdf):
        return [Check(False, name, "the embedded signature is malformed (the PDF was altered)")], _unsigned_prefix(pdf)
    unsigned = pdf[: embedded.signed_length]
    checks: list[Check] = []
    public = embedded.public_key
    signature = embedded.signature
    actual = sha256(unsigned)
    if actual != embedded.signed_digest:
        checks.append(
            Check(
                False,
                name,
                f"the signed part was altered: sha256 {actual} but the signature is over {embedded.signed_digest}",
            )
        )
    elif public is None or signature is None or not verify_signature(public, signature, embedded.signed_digest):
        checks.append(Check(False, name, "the embedded signature does not verify (the PDF was altered)"))
    elif fingerprint(public) != embedded.fingerprint:
        checks.append(
            Check(False, name, "the embedded key fingerprint does not match its public key (the PDF was altered)")
        )
    else:
        checks.append(Check(True, name, f"embedded Ed25519 signature over the first {len(unsigned)} bytes verifies"))
    if expected_signed(unsigned, embedded) != pdf:
        checks.append(
            Check(
                False, name, "the bytes after the signed report are not mlgate's signature update (the PDF was altered)"
            )
        )
    return checks, unsigned


def _detached_checks(pdf: bytes, name: str, sig_path: Path, sig: DetachedSignature | None, data: bytes) -> list[Check]:
    what = sig_path.name
    if sig is None:
        return [
            Check(False, what, "not a report signature as mlgate writes it (the .sig was altered, or is another file)")
        ]
    if (json.dumps(sig.document, indent=2, sort_keys=True) + "\n").encode("utf-8") != data:
        return [Check(False, what, "not byte for byte as mlgate writes it (the .sig was altered)")]
    public, signature = sig.public_key, sig.signature
    if public is None or signature is None or not verify_signature(public, signature, sig.digest):
        return [Check(False, what, "its signature does not verify over its own digest (the .sig was altered)")]
    if fingerprint(public) != sig.fingerprint:
        return [Check(False, what, "its key fingerprint does not match its public key (the .sig was altered)")]
    actual = sha256(pdf)
    if actual != sig.digest:
        return [
            Check(False, name, f"does not match {what}: sha256 {actual}, signed {sig.digest} (the PDF was altered)")
        ]
    return [Check(True, what, f"detached Ed25519 signature over the whole file ({actual}) verifies")]


def verify_report(
    pdf_path: str | Path,
    *,
    ledger_path: Path,
    root: Path,
    sig_path: str | Path | None = None,
    key_path: str | Path | None = None,
    allow_unsigned: bool = False,
) -> list[Check]:
    """Every check's outcome; UsageError (exit 2) only for input that cannot be checked at all."""
    from compliance.errors import LedgerError
    from compliance.ledger import Ledger
    from compliance.report.pdf import REPORT_FORMAT, render_pdf

    pdf_file = Path(pdf_path)
    try:
        if pdf_file.stat().st_size > MAX_PDF_BYTES:
            raise UsageError("report is larger than 512 MiB", file=pdf_file)
        pdf = pdf_file.read_bytes()
    except FileNotFoundError:
        raise UsageError("report not found", file=pdf_file) from None
    except OSError as exc:
        raise UsageError(f"cannot read the report: {exc.strerror}", file=pdf_file) from None
    if not pdf.startswith(b"%PDF-"):
        raise UsageError("not a PDF", file=pdf_file)
    name = pdf_file.name
    sig_file = Path(sig_path) if sig_path else pdf_file.with_name(pdf_file.name + ".sig")
    checks: list[Check] = []

    # 1-2: signatures
    embedded = read_embedded(pdf)
    if embedded is not None:
        found, unsigned = _embedded_checks(pdf, name, embedded)
        checks += found
    else:
        unsigned = pdf
    detached: DetachedSignature | None = None
    if sig_file.exists():
        data = sig_file.read_bytes()
        detached = read_detached(data)
        checks += _detached_checks(pdf, name, sig_file, detached, data)
    elif embedded is not None:
        checks.append(Check(False, sig_file.name, "missing: a signed report comes with its detached signature"))
    if embedded is None and not sig_file.exists():
        checks.append(
            Check(allow_unsigned, name, "not signed" + (" (allowed by --allow-unsigned)" if allow_unsigned else ""))
        )

    # 3: the key
    keys = {
        k
        for k in (
            embedded.fingerprint if embedded and embedded.fields else None,
            detached.fingerprint if detached else None,
        )
        if k
    }
    if key_path is not None:
        wanted = fingerprint(load_public_key(key_path))
        wrong = sorted(k for k in keys if k != wanted)
        if not keys:
            checks.append(Check(False, "key", f"the report carries no signature by {wanted}"))
        elif wrong:
            checks.append(Check(False, "key", f"signed by {', '.join(wrong)}, not by the given key {wanted}"))
        else:
            checks.append(Check(True, "key", f"signed by the given key {wanted}"))
    elif keys:
        checks.append(
            Check(True, "key", f"signed by {', '.join(sorted(keys))} (unpinned: pass --key to require a key)")
        )

    # 4: the ledger and the run
    run_id = _info(unsigned, "MlgateRunId") or (str(detached.document.get("runId")) if detached else None)
    ledger_hash = _info(unsigned, "MlgateLedgerHash")
    built = _info(unsigned, "MlgateBuilt")
    if not run_id:
        checks.append(Check(False, name, "names no ledger run (not an mlgate report, or altered)"))
        return checks
    try:
        with Ledger.open(ledger_path, create=False) as ledger:
            chain = ledger.verify()
            record = ledger.get(run_id)
    except LedgerError as exc:
        raise UsageError(f"cannot read the ledger: {exc.message}", file=ledger_path) from None
    if chain.ok:
        checks.append(Check(True, "ledger", f"hash chain of {chain.records} records holds ({ledger_path})"))
    else:
        checks.append(Check(False, "ledger", f"hash chain broken at record {chain.broken}: {chain.reason}"))
    if record is None:
        checks.append(Check(False, "ledger", f"holds no run {run_id}"))
        return checks
    if record.get("hash") != ledger_hash:
        checks.append(
            Check(
                False, "ledger", f"record of run {run_id} has hash {record.get('hash')}, the report names {ledger_hash}"
            )
        )
    else:
        checks.append(Check(True, "ledger", f"record #{record.get('seq')} of run {run_id} has the report's hash"))

    # 5: render the run again
    epoch = _epoch(built)
    try:
        fresh = render_pdf(record, built=epoch) if epoch is not None else None
    except MlgateError as exc:
        fresh = None
        checks.append(Check(False, "ledger", f"record of run {run_id} cannot be rendered: {exc}"))
    fmt = _info(unsigned, "MlgateReportFormat")
    if fresh is not None and fresh == unsigned:
        checks.append(Check(True, name, f"is ledger run {run_id} rendered again, byte for byte"))
    elif fresh is not None:
        hint = (
            f" (made by report format {fmt}, this mlgate renders format {REPORT_FORMAT})"
            if fmt != REPORT_FORMAT
            else ""
        )
        checks.append(
            Check(
                False, name, f"differs from ledger run {run_id} rendered again: the PDF or the record was altered{hint}"
            )
        )
    elif epoch is None:
        checks.append(Check(False, name, "has no valid MlgateBuilt time (altered)"))

    # 6: evidence
    checks += _evidence_checks(record, root, run_id)
    return checks


def _epoch(value: str | None) -> int | None:
    import datetime as dt

    if not value:
        return None
    try:
        return int(dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp())
    except ValueError:
        return None


def _evidence_checks(record: dict[str, Any], root: Path, run_id: str) -> list[Check]:
    checks: list[Check] = []
    pins = [p for p in record.get("evidence") or () if isinstance(p, dict) and isinstance(p.get("file"), str)]
    changed = 0
    for pin in pins:
        file = root / pin["file"]
        pinned = pin.get("sha256")
        try:
            actual: str | None = hashlib.sha256(file.read_bytes()).hexdigest()
        except FileNotFoundError:
            actual = None
        except OSError as exc:
            checks.append(Check(False, pin["file"], f"cannot be read: {exc.strerror}"))
            changed += 1
            continue
        if actual == pinned:
            continue
        changed += 1
        if actual is None:
            message = f"pinned by run {run_id} (sha256 {pinned}) and now missing"
        elif pinned is None:
            message = f"was missing when run {run_id} judged it and exists now"
        else:
            message = f"changed since run {run_id}: sha256 {actual}, pinned {pinned}"
        checks.append(Check(False, pin["file"], message))
    if not changed:
        checks.append(Check(True, "evidence", f"all {len(pins)} pinned files unchanged (under {root})"))
    return checks
