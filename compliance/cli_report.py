"""The report commands of ``mlgate``: ``report``, ``verify`` and ``keygen`` (reportlab is imported inside them)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from compliance.cli_common import EXIT_FINDINGS, EXIT_OK, ledger_path, project_root
from compliance.cli_common import err as _err

__all__ = ["add_report_commands", "cmd_keygen", "cmd_report", "cmd_verify"]


def _ledger(args: argparse.Namespace) -> tuple[Path, Path]:
    """(ledger path, project root) as mlgate check uses them."""
    root = project_root(args)
    return ledger_path(args, root), root


def cmd_report(args: argparse.Namespace) -> int:
    from compliance.errors import UsageError
    from compliance.report import load_run, write_markdown, write_report

    started = time.perf_counter()
    ledger, _ = _ledger(args)
    record = load_run(ledger, environment=args.env, run_id=args.run)
    run = f"run {record.get('runId')} (#{record.get('seq')})"
    if args.format == "md":
        if args.sign:
            raise UsageError("--sign applies to --format pdf only", field="--sign")
        text = write_markdown(record, args.out)
        if args.out in (None, "-"):
            sys.stdout.write(text)
        else:
            _err(f"mlgate: Markdown summary of {run} → {args.out}")
        return EXIT_OK
    if not args.out or args.out == "-":
        raise UsageError("--format pdf needs --out FILE", field="--out")
    out, sig = write_report(record, args.out, key=args.sign)
    size = out.stat().st_size
    signed = f", signed → {sig}" if sig else ""
    _err(
        f"mlgate: report of {run} of {args.env} → {out} ({size / 1024:,.0f} KiB{signed}, "
        f"{time.perf_counter() - started:.1f} s)"
    )
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from compliance.report.verify import verify_report

    ledger, root = _ledger(args)
    checks = verify_report(
        args.report,
        ledger_path=ledger,
        root=root,
        sig_path=args.sig,
        key_path=args.key,
        allow_unsigned=args.allow_unsigned,
    )
    for check in checks:
        print(check.render())
    failed = [c for c in checks if not c.ok]
    print(f"{args.report}: " + ("verified" if not failed else f"NOT verified ({len(failed)} failed)"))
    return EXIT_FINDINGS if failed else EXIT_OK


def cmd_keygen(args: argparse.Namespace) -> int:
    from compliance.report.sign import keygen

    private, public, fingerprint = keygen(args.out, args.public)
    print(f"private key {private} (keep it secret, mode 0600)\npublic key  {public}\nfingerprint {fingerprint}")
    return EXIT_OK


def _ledger_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ledger", metavar="PATH", help="ledger file (default: $MLGATE_LEDGER, else <root>/.mlgate/ledger.db)"
    )
    parser.add_argument("--root", metavar="DIR", help="project root holding Pulumi.yaml (default: found upwards)")


def add_report_commands(commands: Any) -> None:
    report = commands.add_parser(
        "report",
        help="the audit report of a ledger run: PDF (signed, reproducible) or a Markdown summary",
        description="Render the report of one recorded gate run — by default the latest run of --env — so that it "
        "states exactly what was decided: cover, executive summary, per model identity, topology, fairness "
        "charts, lineage, data handling and decisions with controls and waivers; appendix with the policy "
        "catalogue, the evidence manifest and how to verify. Byte-identical for the same run and "
        "SOURCE_DATE_EPOCH (default: the run's time). --sign KEY embeds an Ed25519 signature and writes "
        "OUT.sig. See docs/report.md.",
        epilog="examples:\n"
        "  mlgate report --env prod --out report.pdf --sign signer.key\n"
        "  mlgate report --env prod --run 01J... --out report.pdf\n"
        "  mlgate report --env prod --format md > comment.md\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("--env", required=True, metavar="ENV", help="environment of the run")
    report.add_argument("--run", metavar="RUN_ID", help="the run to report (default: the latest run of ENV)")
    report.add_argument("--out", metavar="FILE", help="output file, written atomically (md: default stdout)")
    report.add_argument("--format", choices=("pdf", "md"), default="pdf", help="pdf (default) or md")
    report.add_argument("--sign", metavar="KEY", help="sign with this Ed25519 private key (mlgate keygen)")
    _ledger_flags(report)
    report.set_defaults(handler=cmd_report)

    verify = commands.add_parser(
        "verify",
        help="check a report: signatures, that it matches its ledger run, the ledger chain, the evidence",
        description="Check a PDF report: its detached signature (REPORT.sig) and embedded signature, the signing "
        "key (--key pins it), that rendering its ledger run again gives the same bytes, that the ledger's hash "
        "chain holds, and that every evidence file still has the sha256 the run pinned. One line per check; exit 0 "
        "when all hold, 1 when one fails, 2 when the report or the ledger cannot be read.",
        epilog="example: mlgate verify report.pdf --key signer.key.pub",
    )
    verify.add_argument("report", metavar="REPORT", help="the PDF report")
    verify.add_argument("--key", metavar="PUB", help="the public key the report must be signed with")
    verify.add_argument("--sig", metavar="FILE", help="the detached signature (default: REPORT.sig)")
    verify.add_argument("--allow-unsigned", action="store_true", help="accept a report without signatures")
    _ledger_flags(verify)
    verify.set_defaults(handler=cmd_verify)

    keygen = commands.add_parser(
        "keygen",
        help="make an Ed25519 key pair for signing reports",
        description="Write a new Ed25519 private key (PKCS#8 PEM, mode 0600) and its public key (PEM). Never "
        "overwrites a file. Prints the key's fingerprint (sha256 of the raw public key).",
    )
    keygen.add_argument("--out", default="mlgate-signing.key", metavar="FILE", help="private key file")
    keygen.add_argument("--public", metavar="FILE", help="public key file (default: FILE.pub)")
    keygen.set_defaults(handler=cmd_keygen)
