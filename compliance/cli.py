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
from typing import TYPE_CHECKING, TextIO

from compliance.errors import MlgateError, UsageError

if TYPE_CHECKING:
    from compliance.plan.model import Plan

__all__ = ["main"]

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _err(message: str, stream: TextIO | None = None) -> None:
    print(message, file=stream or sys.stderr)


def _project_root(args: argparse.Namespace) -> Path:
    from compliance._internal.project import find_project_root

    return Path(args.root).resolve() if args.root else find_project_root()


def _existing(path: str | None, what: str) -> Path | None:
    if path is None:
        return None
    candidate = Path(path)
    if not candidate.exists():
        raise UsageError(f"{what} not found", file=candidate)
    return candidate.resolve()


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
    )
    plan = _load_plan(args, quiet=args.format != "text" and not args.output)
    result = gate.judge(plan, now)
    if args.verbose:
        from compliance.gate.check import engine_report

        _err(f"mlgate: {engine_report(gate.engine)}")
    text = formatter.render(result)
    if args.output:
        atomic_write(args.output, text)
        _err(f"mlgate: {result.summary()} → {args.output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return result.exit_code(fail_on_warn=args.fail_on_warn)


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


def cmd_evidence_fairness(args: argparse.Namespace) -> int:
    from compliance.evidence.fairness import FairnessRequest, build_fairness_evidence, write_fairness_evidence

    if args.threshold is not None and args.score is None:
        raise UsageError("--threshold applies to --score only", field="--threshold")
    started = time.perf_counter()
    request = FairnessRequest(
        model=args.model,
        version=args.version,
        predictions=Path(args.predictions),
        label=args.label,
        sensitive=[name.strip() for name in args.sensitive.split(",")],
        favorable=args.favorable,
        prediction=args.prediction,
        score=args.score,
        threshold=0.5 if args.threshold is None else args.threshold,
        bootstrap=args.bootstrap,
        seed=args.seed,
        dataset_uri=args.dataset_uri,
        generated_at=args.generated_at,
    )
    document = build_fairness_evidence(request)
    write_fairness_evidence(document, args.out)
    worst = max(document["features"].items(), key=lambda item: item[1]["demographicParityDifference"])
    _err(
        f"mlgate: fairness evidence {args.model}@{args.version}: {document['dataset']['rows']} rows, "
        f"{len(document['features'])} features (largest parity difference {worst[1]['demographicParityDifference']:.3f}"
        f" on {worst[0]}) → {args.out} ({time.perf_counter() - started:.1f} s)"
    )
    return EXIT_OK


EPILOG = """\
examples:
  mlgate plan --env prod                      capture the prod stack's resources into plan.prod.json
  mlgate plan --env prod --preview-json p.json   the same Plan from `pulumi preview --json`
  mlgate validate --env prod --crds ../shared/crds   check every custom resource against the CRDs
  mlgate schema > modeldeployment.schema.json      JSON Schema for editors
  mlgate check --env prod                     gate the prod stack: rich table, exit 1 on an unwaived deny
  mlgate check --env prod --format sarif --output mlgate.sarif   for GitHub code scanning
  mlgate policy test                          run the Rego unit tests (like `opa test`)
  mlgate evidence fairness --model m --version v7 --predictions p.csv --label income --score s --sensitive sex \\
      --favorable '>50K' --out fairness.json   fairness evidence from offline predictions

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
    check_cmd.set_defaults(handler=cmd_check)

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

    evidence = commands.add_parser("evidence", help="write evidence files for the gate: fairness")
    evidence_commands = evidence.add_subparsers(dest="evidence_command", metavar="COMMAND", required=True)
    fairness = evidence_commands.add_parser(
        "fairness",
        help="fairness evidence from a file of offline predictions (CSV or Parquet)",
        description="Compute per-group metrics (n, selection rate, TPR, FPR, accuracy) and the demographic parity "
        "difference/ratio and equalized odds difference per sensitive feature with fairlearn, with bootstrap 95% "
        "percentile intervals, and write FairnessEvidence JSON (DESIGN.md) atomically.",
    )
    fairness.add_argument("--model", required=True, metavar="NAME", help="model name")
    fairness.add_argument("--version", required=True, metavar="V", help="model version")
    fairness.add_argument("--predictions", required=True, metavar="FILE", help="CSV, or Parquet (needs pyarrow)")
    fairness.add_argument("--label", required=True, metavar="COL", help="column of true labels")
    predicted = fairness.add_mutually_exclusive_group(required=True)
    predicted.add_argument("--prediction", metavar="COL", help="column of predicted labels")
    predicted.add_argument("--score", metavar="COL", help="column of scores: predicted favorable when >= threshold")
    fairness.add_argument("--threshold", type=float, metavar="T", help="score threshold (default: 0.5)")
    fairness.add_argument("--sensitive", required=True, metavar="COL[,COL]", help="sensitive feature columns")
    fairness.add_argument(
        "--favorable", required=True, metavar="VALUE", help="the favorable label/prediction value (compared as text)"
    )
    fairness.add_argument("--bootstrap", type=int, default=200, metavar="N", help="resamples (default 200; 0: none)")
    fairness.add_argument("--seed", type=int, default=0, metavar="S", help="bootstrap seed (default 0)")
    fairness.add_argument("--dataset-uri", metavar="URI", help="dataset.uri to record (default: the file path)")
    fairness.add_argument("--generated-at", metavar="TIME", help="pin generatedAt (RFC 3339), for reproducible files")
    fairness.add_argument("--out", required=True, metavar="FILE", help="where to write the evidence JSON")
    fairness.set_defaults(handler=cmd_evidence_fairness)
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
