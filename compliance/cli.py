"""``mlgate``: the command line, a thin face over the library.

Each command parses its flags, calls one library function and renders the result; exit codes:
0 success, 1 a finding (invalid resources, denied deployment), 2 usage, input or engine error.
Heavy modules (pulumi, jsonschema) are imported inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from compliance.cli_common import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from compliance.cli_common import err as _err
from compliance.cli_common import existing as _existing
from compliance.cli_common import ledger_path as _ledger_path
from compliance.cli_common import project_root as _project_root
from compliance.cli_evidence import add_evidence_commands
from compliance.cli_opa import add_engine_flags, add_export_commands, add_opa_commands, engine_name, opa_settings
from compliance.cli_report import add_report_commands
from compliance.errors import MlgateError, UsageError

if TYPE_CHECKING:
    from compliance.plan.model import Plan

__all__ = ["main"]


def _load_plan(args: argparse.Namespace, *, quiet: bool = False) -> Plan:
    """The plan a command works on: ``--plan FILE``, ``--preview-json FILE`` or a fresh capture."""
    from compliance.plan.model import Plan

    if getattr(args, "plan", None):
        plan = Plan.load(args.plan)
        if plan.environment != args.env:
            raise UsageError(f"plan is for environment {plan.environment!r}, not {args.env!r}", file=args.plan)
        return plan
    if getattr(args, "preview_json", None):
        from compliance.plan.preview import plan_from_preview

        return plan_from_preview(args.preview_json, args.env)
    from compliance.plan.capture import capture_plan

    root = _project_root(args)
    progress = None if quiet else (lambda message: _err(f"mlgate: {message} …"))
    return capture_plan(
        root,
        args.env,
        stack_file=_existing(args.stack_config, "stack config"),
        catalog=_existing(args.catalog, "catalog directory"),
        workers=getattr(args, "workers", None),
        progress=progress,
        preflight=getattr(args, "preflight", False),
    )


def _summary(plan: Plan) -> str:
    from collections import Counter

    kinds = Counter(r.type.rsplit(":", 1)[-1] for r in plan if r.custom and not r.type.startswith("pulumi:"))
    regions = sorted({r.region for r in plan if r.region})
    top = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common(4))
    return f"{len(plan)} resources in {len(regions)} regions ({', '.join(regions)}): {top}"


def cmd_plan(args: argparse.Namespace) -> int:
    from compliance._internal.files import atomic_write

    started = time.perf_counter()
    if args.preflight:
        from compliance.preflight import PreflightError, describe, preflight_logging

        if args.preview_json:
            raise UsageError("--preflight runs the program; it does not apply to --preview-json", field="--preflight")
        try:
            with preflight_logging(_err):
                plan = _load_plan(args)
        except PreflightError as exc:
            if not exc.denied:
                _err(exc.message)
            else:
                ids = ", ".join(dict.fromkeys(d.id for d in exc.denied))
                _err(f"mlgate: the pre-flight stops the {args.env} update: {ids}")
                for decision in exc.denied:
                    _err(f"  deny {describe(decision)}")
            return exc.exit_code
    else:
        plan = _load_plan(args)
    text = plan.dumps()
    if args.out == "-":
        sys.stdout.write(text)
    else:
        atomic_write(args.out or f"plan.{args.env}.json", text)
    target = "stdout" if args.out == "-" else (args.out or f"plan.{args.env}.json")
    _err(f"mlgate: plan {args.env}: {_summary(plan)} → {target} ({time.perf_counter() - started:.1f} s)")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from compliance.crds import CrdCatalog
    from compliance.validate import validate_plan

    crds = CrdCatalog.load(args.crds)
    plan = _load_plan(args, quiet=args.format == "json")
    report = validate_plan(plan, crds)
    if args.format == "json":
        import json

        print(json.dumps(report.to_json(), indent=1))
    else:
        for problem in report.problems:
            print(problem.render())
        print(report.summary())
    return EXIT_FINDINGS if report.problems else EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from compliance._internal.files import atomic_write
    from compliance.spec.schema import model_deployment_schema

    text = json.dumps(model_deployment_schema(), indent=2) + "\n"
    if args.out:
        atomic_write(args.out, text)
        _err(f"mlgate: JSON Schema written to {args.out}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from compliance import outputs
    from compliance._internal.files import atomic_write
    from compliance.gate.check import prepare

    formatter = outputs.get(args.format)
    now = _parse_now(args.now) if args.now else None
    gate = prepare(
        _project_root(args),
        args.env,
        stack_file=_existing(args.stack_config, "stack config"),
        catalog=_existing(args.catalog, "catalog directory"),
        policies=_existing(args.policies, "policy directory"),
        waivers=Path(args.waivers) if args.waivers else None,
        cache=not args.no_cache,
        jobs=args.jobs,
        engine_name=engine_name(args),
        opa=opa_settings(args),
    )
    ledger = None if args.no_ledger else _open_ledger(args, gate.root)  # fails fast, before the plan
    pinned = None
    if args.pinned:
        from compliance.evidence.pins import load_pinned

        pinned = load_pinned(args.pinned)
    plan = _load_plan(args, quiet=args.format != "text" and not args.output)
    run = gate.run(plan, now, pinned=pinned)
    result = run.result
    if args.verbose:
        from compliance.gate.check import engine_report

        _err(f"mlgate: {engine_report(gate.engine)}")
    text = formatter.render(result)
    code = result.exit_code(fail_on_warn=args.fail_on_warn)
    if ledger is not None:  # recorded before any output: a run that could not be recorded reports nothing
        from compliance.ledger import Ledger, record_of_run

        with Ledger.open(ledger) as opened:
            stored = opened.append(record_of_run(run, exit_code=code, fail_on_warn=args.fail_on_warn))
        _err(f"mlgate: recorded run {stored['runId']} (#{stored['seq']}) in {ledger}")
    if args.output:
        atomic_write(args.output, text)
        _err(f"mlgate: {result.summary()} → {args.output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return code


def _open_ledger(args: argparse.Namespace, root: Path) -> Path:
    """The ledger this check records to, created (and checked to be a ledger) now: a bad path fails fast."""
    from compliance.ledger import Ledger

    path = _ledger_path(args, root)
    Ledger.open(path).close()
    return path


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    import json

    from compliance.ledger import Ledger

    with Ledger.open(_ledger_path(args), create=False) as ledger:
        report = ledger.verify()
    print(json.dumps(report.to_json(), indent=1) if args.format == "json" else str(report))
    return EXIT_OK if report.ok else EXIT_FINDINGS


def _counts(summary: dict[str, int]) -> str:
    if not summary:
        return "?"
    keys = (("passed", "passed"), ("warned", "warned"), ("denied", "denied"), ("waived", "waived"))
    return f"{summary.get('subjects', 0)}: " + ", ".join(f"{summary.get(k, 0)} {label}" for k, label in keys)


def cmd_ledger_show(args: argparse.Namespace) -> int:
    import json

    from compliance.ledger import Ledger

    path = _ledger_path(args)
    with Ledger.open(path, create=False) as ledger:
        runs = ledger.runs(args.env, args.limit)
    if args.format == "json":
        print(json.dumps({"ledger": str(path), "runs": [r.to_json() for r in runs]}, indent=1))
        return EXIT_OK
    head = ("seq", "run id", "time", "env", "commit", "deployments", "exit", "hash")
    rows = [
        (
            str(r.seq),
            r.run_id[:12],
            r.time,
            r.environment,
            "-" if r.commit is None else r.commit[:10] + ("+" if r.dirty else ""),
            _counts(r.summary),
            "?" if r.exit_code is None else str(r.exit_code),
            r.hash.removeprefix("sha256:")[:12],
        )
        for r in runs
    ]
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(len(head))]
    for row in (head, *rows):
        cells = [c.rjust(w) if i == 0 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(cells).rstrip())
    scope = f" of {args.env}" if args.env else ""
    print(f"{len(runs)} runs{scope} in {path}" + ("" if runs else " (none recorded)"))
    return EXIT_OK


def _jobs(value: str) -> int | None:
    if value == "auto":
        return None
    try:
        jobs = int(value)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of processes (1 or more) or auto")
    return jobs


def _parse_now(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--now {value!r} is not an RFC 3339 time like 2026-11-25T10:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def cmd_policy_test(args: argparse.Namespace) -> int:
    from compliance.gate.bundle import PolicyBundle
    from compliance.gate.policytest import run_policy_tests

    bundle = PolicyBundle.load(args.policies or _project_root(args) / "policies")
    outcomes = run_policy_tests(bundle, args.run)
    current = None
    for outcome in outcomes:
        if args.verbose_tests or not outcome.passed:
            if outcome.file != current:
                current = outcome.file
                print(f"{bundle.root / outcome.file}:")
            detail = f": {outcome.error}" if outcome.error else ""
            print(f"{outcome.query}: {outcome.status} ({outcome.seconds * 1000:.2f}ms){detail}")
    passed = sum(o.passed for o in outcomes)
    print("-" * 80)
    if not outcomes:
        print("no test_ rules found")
        return EXIT_FINDINGS
    failed = len(outcomes) - passed
    print(f"PASS: {passed}/{len(outcomes)}" + (f"\nFAIL: {failed}/{len(outcomes)}" if failed else ""))
    return EXIT_OK if not failed else EXIT_FINDINGS


def cmd_policy_doc(args: argparse.Namespace) -> int:
    from compliance.gate.bundle import PolicyBundle
    from compliance.gate.catalogue import policy_markdown

    bundle = PolicyBundle.load(args.policies or _project_root(args) / "policies")
    sys.stdout.write(policy_markdown(bundle))
    return EXIT_OK


EPILOG = """\
examples:
  mlgate plan --env prod                      capture the prod stack's resources into plan.prod.json
  mlgate plan --env prod --preview-json p.json   the same Plan from `pulumi preview --json`
  mlgate plan --env prod --preflight          the program as `pulumi up` runs it; exit 1 names the denied ids
  mlgate validate --env prod --crds ../shared/crds   check every custom resource against the CRDs
  mlgate schema > modeldeployment.schema.json      JSON Schema for editors
  mlgate check --env prod                     gate the prod stack: rich table, exit 1 on an unwaived deny
  mlgate check --env prod --format sarif --output mlgate.sarif   for GitHub code scanning
  mlgate ledger verify                        check the hash chain of the runs mlgate check recorded
  mlgate policy test                          run the Rego unit tests (like `opa test`)
  mlgate evidence fairness --model m --version v7 --predictions p.csv --label income --score s --sensitive sex \\
      --favorable '>50K' --out fairness.json   fairness evidence from offline predictions
  mlgate evidence lineage --tracking-uri sqlite:///mlflow.db --registered-model m --model-version 7 \\
      --artifact ./model --out lineage.json   lineage evidence from an MLflow model version
  mlgate evidence data --model m --version v7 --dataset train.csv --out data.json
                                              data-handling evidence: columns that likely hold personal data
  mlgate evidence fairness --model m --version v7 --endpoint http://127.0.0.1:8080 --dataset eval.csv \
      --features age,sex,... --label income --score probability --sensitive sex --favorable '>50K' --out f.json
                                              the same from a live KServe V2 model server

exit codes: 0 ok, 1 findings (e.g. invalid resources), 2 usage, input or engine error.
"""


def _stack_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, metavar="ENV", help="environment = Pulumi stack (dev, staging, prod)")
    parser.add_argument(
        "--catalog", metavar="DIR", help="model catalog directory (default: the stack's mlgate:catalog)"
    )
    parser.add_argument("--stack-config", metavar="FILE", help="stack config file (default: stacks/Pulumi.<ENV>.yaml)")
    parser.add_argument("--root", metavar="DIR", help="project root holding Pulumi.yaml (default: found upwards)")
    parser.add_argument("--workers", type=int, metavar="N", help="processes for big catalogs (default: CPU count)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlgate",
        description="GPU model serving on AWS with a compliance gate: plan, validate and check deployments.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="mlgate 0.1.0")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    plan = commands.add_parser(
        "plan",
        help="capture a stack's resources (Pulumi program under the mock engine, or a preview)",
        description="Run the Pulumi program of one stack under Pulumi's mock engine (no cloud, no CLI) and "
        "write its Plan: every resource with urn, type, parent, provider, region, inputs and dependencies. "
        "Secrets are written as [secret].",
    )
    _stack_flags(plan)
    plan.add_argument("--out", metavar="FILE", help="where to write the plan, - for stdout (default: plan.<ENV>.json)")
    plan.add_argument(
        "--preview-json", metavar="FILE", help="build the plan from `pulumi preview --json` output instead"
    )
    plan.add_argument(
        "--preflight",
        action="store_true",
        help="run the program as `pulumi up` does, its pre-flight gate on as mlgate:policy.mode says; "
        "exit 1 naming the denied decisions when it would stop the update",
    )
    plan.set_defaults(handler=cmd_plan)

    validate = commands.add_parser(
        "validate",
        help="validate the plan's custom resources against CRDs (strict, like kubectl)",
        description="Validate every custom resource of the plan against the openAPIV3Schema of the matching CRD "
        "in DIR, rejecting unknown fields as kubectl's strict validation does. Exit 1 when any is invalid.",
    )
    _stack_flags(validate)
    validate.add_argument("--crds", required=True, metavar="DIR", help="directory of CRD YAML (e.g. your cluster's)")
    validate.add_argument("--plan", metavar="FILE", help="validate this plan file instead of capturing one")
    validate.add_argument("--preview-json", metavar="FILE", help="validate the resources of `pulumi preview --json`")
    validate.add_argument("--format", choices=("text", "json"), default="text")
    validate.set_defaults(handler=cmd_validate)

    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of the ModelDeployment format (for editors)",
        description="Print the JSON Schema of models/*.yaml. Point your editor's YAML language server at it.",
    )
    schema.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    schema.set_defaults(handler=cmd_schema)

    check_cmd = commands.add_parser(
        "check",
        help="gate an environment: evaluate every deployment against the Rego policies",
        description="Build one input per model deployment (spec + plan + evidence) and one for the platform, "
        "evaluate the policies in policies/ on the embedded engine, apply policies/waivers.yaml and report. "
        "Exit 0 when no unwaived deny remains, 1 when one does, 2 on bad input or an engine error.",
        epilog="formats: text (a table per model), json (GateResult), sarif (2.1.0, for code scanning), "
        "junit (a testcase per deployment and policy package), github (workflow annotations)",
    )
    _stack_flags(check_cmd)
    check_cmd.add_argument("--plan", metavar="FILE", help="gate this plan file instead of capturing one")
    check_cmd.add_argument("--preview-json", metavar="FILE", help="gate the resources of `pulumi preview --json`")
    check_cmd.add_argument(
        "--format", default="text", metavar="FORMAT", help="text (default), json, sarif, junit, github"
    )
    check_cmd.add_argument("--output", metavar="FILE", help="write the report to FILE (atomically) instead of stdout")
    check_cmd.add_argument("--fail-on-warn", action="store_true", help="exit 1 on unwaived warnings too")
    check_cmd.add_argument("--policies", metavar="DIR", help="policy directory (default: policies/)")
    check_cmd.add_argument("--waivers", metavar="FILE", help="waivers file (default: <policies>/waivers.yaml)")
    check_cmd.add_argument("--now", metavar="TIME", help="judge as of this RFC 3339 time (evidence age, waiver expiry)")
    check_cmd.add_argument(
        "--pinned",
        metavar="RECORD",
        help="a GateResult JSON of an earlier check (--format json): deny (GATE-EVIDENCE-CHANGED) any evidence "
        "file whose sha256 differs from it",
    )
    check_cmd.add_argument(
        "--no-cache",
        action="store_true",
        help="judge every document again: no decision cache (also MLGATE_NO_CACHE=1)",
    )
    check_cmd.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        metavar="N",
        help="processes for big inputs, this one included (default: auto, from 500 documents; 1: never split)",
    )
    recording = check_cmd.add_mutually_exclusive_group()
    recording.add_argument(
        "--ledger",
        metavar="PATH",
        help="record the run in this ledger (default: $MLGATE_LEDGER, else <root>/.mlgate/ledger.db)",
    )
    recording.add_argument("--no-ledger", action="store_true", help="do not record the run in a ledger")
    add_engine_flags(check_cmd)
    check_cmd.set_defaults(handler=cmd_check)
    add_opa_commands(commands)
    add_export_commands(commands)
    add_report_commands(commands)

    ledger_cmd = commands.add_parser(
        "ledger",
        help="the run ledger: verify its hash chain, show the recorded runs",
        description="Every mlgate check appends one record to a hash-chained SQLite ledger (default "
        "<root>/.mlgate/ledger.db, or $MLGATE_LEDGER): run id, time, environment, git commit, policy-bundle "
        "digest, input and evidence digests, decisions and waivers, and the hash of the record before it. "
        "See docs/ledger.md.",
        epilog="examples:\n"
        "  mlgate ledger verify                        walk the chain; exit 1 naming the first broken record\n"
        "  mlgate ledger verify --ledger ci-ledger.db  another ledger file\n"
        "  mlgate ledger show --env prod --limit 10    the last ten prod runs\n"
        "  mlgate ledger show --format json            every run, as JSON\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ledger_commands = ledger_cmd.add_subparsers(dest="ledger_command", metavar="COMMAND", required=True)
    ledger_verify = ledger_commands.add_parser(
        "verify",
        help="check every record's hash and link; exit 0 intact, 1 broken, 2 unreadable",
        description="Walk the ledger in order: each record must hash to its hash, link to the record before it "
        "(prev) and follow it without a gap. Exit 0 when intact, 1 naming the first broken (or missing) record, "
        "2 when the ledger cannot be read.",
        epilog="example: mlgate ledger verify --ledger .mlgate/ledger.db",
    )
    ledger_show = ledger_commands.add_parser(
        "show",
        help="list the recorded runs: seq, run id, time, environment, commit, verdicts, exit code, hash",
        description="List the recorded runs, oldest first (the records are not verified: use ledger verify).",
        epilog="example: mlgate ledger show --env prod --limit 20",
    )
    for sub in (ledger_verify, ledger_show):
        sub.add_argument(
            "--ledger", metavar="PATH", help="ledger file (default: $MLGATE_LEDGER, else <root>/.mlgate/ledger.db)"
        )
        sub.add_argument("--root", metavar="DIR", help="project root holding Pulumi.yaml (default: found upwards)")
        sub.add_argument("--format", choices=("text", "json"), default="text")
    ledger_show.add_argument("--env", metavar="ENV", help="only the runs of ENV")
    ledger_show.add_argument("--limit", type=int, metavar="N", help="only the last N runs")
    ledger_verify.set_defaults(handler=cmd_ledger_verify)
    ledger_show.set_defaults(handler=cmd_ledger_show)

    policy = commands.add_parser("policy", help="work with the Rego policies: test, doc")
    policy_commands = policy.add_subparsers(dest="policy_command", metavar="COMMAND", required=True)
    test = policy_commands.add_parser(
        "test",
        help="run every test_ rule of policies/**/*_test.rego (like opa test)",
        description="Evaluate every test_ rule of the *_test.rego files on the embedded engine. Exit 1 on a failure.",
    )
    test.add_argument("--policies", metavar="DIR", help="policy directory (default: policies/)")
    test.add_argument("--root", metavar="DIR", help=argparse.SUPPRESS)
    test.add_argument("--run", metavar="REGEX", help="only tests whose query matches REGEX")
    test.add_argument("-v", dest="verbose_tests", action="store_true", help="list passing tests too")
    test.set_defaults(handler=cmd_policy_test)
    doc = policy_commands.add_parser(
        "doc", help="print the policy catalogue (id, title, severity, controls) as Markdown"
    )
    doc.add_argument("--policies", metavar="DIR", help="policy directory (default: policies/)")
    doc.add_argument("--root", metavar="DIR", help=argparse.SUPPRESS)
    doc.set_defaults(handler=cmd_policy_doc)

    add_evidence_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
        return result
    except MlgateError as exc:
        if args.verbose:
            raise
        _err(f"mlgate: error: {exc.diagnostics()}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("mlgate: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
