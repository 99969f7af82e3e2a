"""``mlgate``: the command line, a thin face over the library.

Each command parses its flags, calls one library function and renders the result; exit codes:
0 success, 1 a finding (invalid resources, denied deployment), 2 usage, input or engine error.
Heavy modules (pulumi, jsonschema) are imported inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from compliance.cli_opa import add_engine_flags, add_export_commands, add_opa_commands, engine_name, opa_settings
from compliance.cli_report import add_report_commands
from compliance.errors import MlgateError, UsageError

if TYPE_CHECKING:
    from compliance.evidence.endpoint import Endpoint
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


def _ledger_path(args: argparse.Namespace, root: Path | None = None) -> Path:
    """``--ledger``, else ``$MLGATE_LEDGER``, else ``<project root>/.mlgate/ledger.db``."""
    from compliance.ledger import LEDGER_ENV, ledger_path

    if args.ledger or os.environ.get(LEDGER_ENV):
        return ledger_path(Path(), args.ledger)
    return ledger_path(root or _project_root(args))


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


def _fairness_endpoint(args: argparse.Namespace) -> Endpoint | None:
    """The live endpoint of ``evidence fairness``, or None for offline predictions; UsageError for a mix-up."""
    from compliance.evidence.endpoint import Endpoint

    live = {"--dataset": args.dataset, "--features": args.features, "--model-name": args.model_name}
    if args.endpoint is None:
        given = [flag for flag, value in live.items() if value is not None]
        if given:
            raise UsageError(f"{given[0]} applies to --endpoint only", field=given[0])
        return None
    for flag in ("--dataset", "--features"):
        if live[flag] is None:
            raise UsageError(f"--endpoint needs {flag}", field=flag)
    last = [0.0]

    def progress(done: int, total: int, elapsed: float) -> None:  # at most every 2 s, and the end of long runs
        if (elapsed - last[0] >= 2.0 or done == total) and elapsed >= 2.0:
            last[0] = elapsed
            _err(f"mlgate: {done}/{total} rows predicted ({done / max(elapsed, 1e-9):,.0f} rows/s)")

    return Endpoint(
        url=args.endpoint,
        model_name=args.model_name or args.model,
        features=[name.strip() for name in args.features.split(",")],
        batch_size=args.batch_size,
        timeout=args.timeout,
        concurrency=args.concurrency,
        progress=progress,
    )


def cmd_evidence_fairness(args: argparse.Namespace) -> int:
    from compliance.evidence.fairness import FairnessRequest, build_fairness_evidence, write_fairness_evidence

    if args.threshold is not None and args.score is None:
        raise UsageError("--threshold applies to --score only", field="--threshold")
    started = time.perf_counter()
    endpoint = _fairness_endpoint(args)
    request = FairnessRequest(
        model=args.model,
        version=args.version,
        predictions=Path(args.dataset if endpoint is not None else args.predictions),
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
        endpoint=endpoint,
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


def _artifact_flag(value: str) -> tuple[tuple[str, str], Path]:
    subject, sep, path = value.partition("=")
    model, at, version = subject.partition("@")
    if not (sep and at and model and version and path):
        raise argparse.ArgumentTypeError(f"{value!r} is not MODEL@VERSION=PATH")
    return (model, version), Path(path)


def cmd_evidence_verify(args: argparse.Namespace) -> int:
    import json

    from compliance.evidence.pins import load_pinned
    from compliance.evidence.verify import verify_catalog
    from compliance.spec.load import load_catalog, load_stack_config

    root = _project_root(args)
    if args.catalog:
        catalog_dir = Path(args.catalog)
    else:
        stack = load_stack_config(root / "stacks" / f"Pulumi.{args.env or 'prod'}.yaml", args.env)
        catalog_dir = root / stack.catalog
    pinned = load_pinned(args.pinned) if args.pinned else None
    artifacts: dict[tuple[str, str], Path] = {}
    for key, path in args.artifact or ():
        if not path.exists():
            raise UsageError("artifact not found", file=path, field="--artifact")
        artifacts[key] = path
    checks = verify_catalog(load_catalog(catalog_dir), root, environment=args.env, pinned=pinned, artifacts=artifacts)
    failed = [c for c in checks if c.status == "fail"]
    if args.format == "json":
        print(json.dumps({"checks": [c.to_json() for c in checks], "failed": len(failed)}, indent=1))
    else:
        for check in checks:
            if check.status == "fail" or args.verbose_checks:
                print(f"{check.status.upper():4}  {check.model}@{check.version}  {check.what:9} {check.detail}")
        scope = f"environment {args.env}" if args.env else "the catalog"
        print(
            f"{len(checks) - len(failed)}/{len(checks)} evidence checks of {scope} hold"
            + ("" if pinned is None else f" against {args.pinned}")
            + (f"; {len(failed)} FAILED" if failed else "")
        )
    return EXIT_FINDINGS if failed else EXIT_OK


LINEAGE_DESCRIPTION = """\
Write LineageEvidence JSON (DESIGN.md "Evidence"), validated, atomically: nothing is written on an error.

MLflow: registered model version -> its source run -> the run's dataset inputs (mlflow.log_input; the role is
the input's mlflow.data.context tag), git commit (run tag mlflow.source.git.commit: required), repository
(mlflow.source.git.repoURL) and start time (-> training.startedAt, UTC).
OpenLineage: run.runId, job.facets.sourceCodeLocation (repoUrl; version = the commit), the START event's
eventTime, inputs[] as datasets, the model output (the one with an 'mlgate' facet role "model", or the only one).

Digests: the gate requires sha256:<64 hex>, and MLflow's dataset digest is a short hash. A dataset's digest is
  1. the input tag mlgate.sha256, or the run tag mlgate.dataset.<name>.sha256
     (OpenLineage: the 'mlgate' dataset facet's sha256, or version.datasetVersion when it is sha256-shaped);
  2. else the sha256 of its source, when that is a local file or directory that exists here;
  3. else the source's own digest as given: the gate's LIN-005 denies it (a note on stderr says so).
The artifact digest is that of --artifact PATH (file: sha256 of its bytes; directory: sha256 of its
sha256sum-style manifest), else the model version / run tag mlgate.artifact.digest (checked when both).
Also read: input tags mlgate.categories (comma-separated) and mlgate.residency; model version (or run) tags
mlgate.approval.<role> = "<by> <RFC 3339 time>", mlgate.parent = MODEL@VERSION, mlgate.artifact.uri.
More in docs/evidence.md ("Lineage").
"""


def cmd_evidence_lineage(args: argparse.Namespace) -> int:
    from compliance.evidence.lineage import LineageRequest, build_lineage_evidence, write_lineage_evidence

    started = time.perf_counter()
    request = LineageRequest(
        model=args.model,
        version=args.version,
        tracking_uri=args.tracking_uri,
        registry_uri=args.registry_uri,
        registered_model=args.registered_model,
        model_version=args.model_version,
        run_id=args.run_id,
        openlineage=Path(args.openlineage) if args.openlineage else None,
        artifact=Path(args.artifact) if args.artifact else None,
        artifact_uri=args.artifact_uri,
        code_repo=args.code_repo,
        parent=args.parent,
        approvals=args.approval or (),
    )
    result = build_lineage_evidence(request)
    write_lineage_evidence(result.document, args.out)
    for note in result.notes:
        _err(f"mlgate: note: {note}")
    document = result.document
    _err(
        f"mlgate: lineage evidence {document['model']}@{document['version']} from {result.source}: "
        f"{len(document['datasets'])} datasets, {len(document['approvals'])} approvals, artifact "
        f"{document['artifact']['digest'][:19]}… → {args.out} ({time.perf_counter() - started:.1f} s)"
    )
    return EXIT_OK


def cmd_evidence_data(args: argparse.Namespace) -> int:
    from compliance.evidence.data import DataRequest, build_data_evidence, summary, write_data_evidence

    started = time.perf_counter()
    request = DataRequest(
        model=args.model,
        version=args.version,
        datasets=[Path(name) for name in args.dataset],
        sample=args.sample,
        seed=args.seed,
        generated_at=args.generated_at,
    )
    document = build_data_evidence(request)
    write_data_evidence(document, args.out)
    _err(f"mlgate: data evidence {args.model}@{args.version}: {summary(document, started)} → {args.out}")
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

    evidence = commands.add_parser("evidence", help="write evidence files for the gate: fairness, lineage, data")
    evidence_commands = evidence.add_subparsers(dest="evidence_command", metavar="COMMAND", required=True)
    fairness = evidence_commands.add_parser(
        "fairness",
        help="fairness evidence from offline predictions (CSV or Parquet) or a live V2 model server",
        description="Compute per-group metrics (n, selection rate, TPR, FPR, accuracy) and the demographic parity "
        "difference/ratio and equalized odds difference per sensitive feature with fairlearn, with bootstrap 95% "
        "percentile intervals, and write FairnessEvidence JSON (DESIGN.md) atomically. The predictions come from "
        "a column of --predictions FILE, or from a model server speaking the KServe V2 protocol: --endpoint URL "
        "--dataset FILE --features COLS sends the feature columns of the dataset to "
        "URL/v2/models/<--model-name>/infer and reads the output tensor named by --prediction or --score.",
    )
    fairness.add_argument("--model", required=True, metavar="NAME", help="model name")
    fairness.add_argument("--version", required=True, metavar="V", help="model version")
    source = fairness.add_mutually_exclusive_group(required=True)
    source.add_argument("--predictions", metavar="FILE", help="offline predictions: CSV, or Parquet (needs pyarrow)")
    source.add_argument(
        "--endpoint", metavar="URL", help="base URL of a live KServe V2 model server, e.g. http://127.0.0.1:8080"
    )
    fairness.add_argument("--label", required=True, metavar="COL", help="column of true labels")
    predicted = fairness.add_mutually_exclusive_group(required=True)
    predicted.add_argument(
        "--prediction", metavar="NAME", help="column (with --endpoint: output tensor) of predicted labels"
    )
    predicted.add_argument(
        "--score",
        metavar="NAME",
        help="column (with --endpoint: output tensor) of scores: predicted favorable when >= threshold",
    )
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
    live = fairness.add_argument_group("with --endpoint (a live model server)")
    live.add_argument("--dataset", metavar="FILE", help="CSV/Parquet with the feature, label and sensitive columns")
    live.add_argument("--features", metavar="COL[,COL]", help="the columns sent as input tensors, one per column")
    live.add_argument("--model-name", metavar="NAME", help="the model's name on the server (default: --model)")
    live.add_argument("--batch-size", type=int, default=1000, metavar="N", help="rows per request (default 1000)")
    live.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds per request (default 30)")
    live.add_argument("--concurrency", type=int, default=4, metavar="N", help="requests in flight (default 4)")
    fairness.set_defaults(handler=cmd_evidence_fairness)

    lineage = evidence_commands.add_parser(
        "lineage",
        help="lineage evidence from an MLflow tracking store or an OpenLineage run event file",
        description=LINEAGE_DESCRIPTION,
        epilog="examples:\n"
        "  mlgate evidence lineage --tracking-uri sqlite:///mlflow.db --registered-model credit-scoring \\\n"
        "      --model-version 7 --artifact ./model/ --out evidence/credit-scoring/v7/lineage.json\n"
        "  MLFLOW_TRACKING_URI=https://mlflow.example.com mlgate evidence lineage --run-id 8f2c... \\\n"
        "      --model credit-scoring --version v7 --approval model-risk=cro@example.com@2026-11-19T12:00:00Z \\\n"
        "      --parent credit-scoring@v6 --out lineage.json\n"
        "  mlgate evidence lineage --openlineage run-events.jsonl --model credit-scoring --version v7 \\\n"
        "      --out lineage.json\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = lineage.add_mutually_exclusive_group(required=True)
    source.add_argument("--registered-model", metavar="NAME", help="MLflow registered model (with --model-version)")
    source.add_argument("--run-id", metavar="ID", help="MLflow run, without the model registry")
    source.add_argument("--openlineage", metavar="FILE", help="OpenLineage RunEvent JSON, or JSON lines of one run")
    lineage.add_argument("--model-version", metavar="N", help="version of --registered-model")
    lineage.add_argument(
        "--tracking-uri", metavar="URI", help="sqlite:///mlflow.db or http(s)://server (default: $MLFLOW_TRACKING_URI)"
    )
    lineage.add_argument(
        "--registry-uri", metavar="URI", help="model registry (default: $MLFLOW_REGISTRY_URI, else the tracking URI)"
    )
    lineage.add_argument("--model", metavar="NAME", help="mlgate model name (default: the registered model's name)")
    lineage.add_argument("--version", metavar="V", help="mlgate model version (default: v<N> of --model-version N)")
    lineage.add_argument(
        "--artifact", metavar="PATH", help="local copy of the model (file or directory) to take the sha256 of"
    )
    lineage.add_argument(
        "--artifact-uri",
        metavar="URI",
        help="artifact.uri to record (default: tag mlgate.artifact.uri, the model version's source, the output)",
    )
    lineage.add_argument("--code-repo", metavar="URL", help="training.codeRepo when the source records none")
    lineage.add_argument("--parent", metavar="MODEL@VERSION", help="the version this one was derived from")
    lineage.add_argument(
        "--approval",
        action="append",
        metavar="ROLE=BY@TIME",
        help="an approval, e.g. model-risk=cro@example.com@2026-11-19T12:00:00Z; repeatable",
    )
    lineage.add_argument("--out", required=True, metavar="FILE", help="where to write the evidence JSON")
    lineage.set_defaults(handler=cmd_evidence_lineage)

    data = evidence_commands.add_parser(
        "data",
        help="data-handling evidence: columns of datasets that likely hold personal data (CSV or Parquet)",
        description="Scan a seeded uniform sample of every column of each dataset for likely personal data (e-mail "
        "addresses, phone numbers, US SSNs, UK NINOs, IBANs, payment card numbers, IP addresses, person names, "
        "dates of birth, ages; sex, race, religion, ... columns by name) and write DataEvidence JSON atomically. "
        "A value detector flags a column when at least 80% of its non-empty sampled values match. Only column "
        "names, detectors, categories and match shares are written: never a value. See docs/evidence.md.",
    )
    data.add_argument("--model", required=True, metavar="NAME", help="model name")
    data.add_argument("--version", required=True, metavar="V", help="model version")
    data.add_argument(
        "--dataset", required=True, action="append", metavar="FILE", help="CSV, or Parquet (needs pyarrow); repeatable"
    )
    data.add_argument(
        "--sample", type=int, default=10_000, metavar="N", help="rows sampled per dataset (default 10000)"
    )
    data.add_argument("--seed", type=int, default=0, metavar="S", help="sampling seed (default 0)")
    data.add_argument("--generated-at", metavar="TIME", help="pin generatedAt (RFC 3339), for reproducible files")
    data.add_argument("--out", required=True, metavar="FILE", help="where to write the evidence JSON")
    data.set_defaults(handler=cmd_evidence_data)

    verify = evidence_commands.add_parser(
        "verify",
        help="check evidence files against a pinned record, the spec's artifact digests and local artifacts",
        description="For every version of every model (with --env: the models of that environment): each "
        "referenced evidence file exists, is valid and is about that model version; with --pinned, its sha256 "
        "equals the one the record pinned; the lineage's artifact digest equals the spec's; with --artifact, "
        "a local copy of the artifact has the spec's digest (file: sha256 of its bytes; directory: sha256 of "
        "its sha256sum-style manifest). Exit 1 when a check fails.",
        epilog="example: mlgate check --env prod --format json --output record.json   # in CI, at review\n"
        "         mlgate evidence verify --env prod --pinned record.json     # later: nothing changed since",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("--env", metavar="ENV", help="only the models deployed in ENV (default: the whole catalog)")
    verify.add_argument("--catalog", metavar="DIR", help="model catalog directory (default: the stack's)")
    verify.add_argument("--root", metavar="DIR", help="project root holding Pulumi.yaml (default: found upwards)")
    verify.add_argument("--pinned", metavar="RECORD", help="GateResult JSON of mlgate check --format json")
    verify.add_argument(
        "--artifact",
        action="append",
        type=_artifact_flag,
        metavar="MODEL@VERSION=PATH",
        help="a local copy of a version's artifact (file or directory) to digest; repeatable",
    )
    verify.add_argument("--format", choices=("text", "json"), default="text")
    verify.add_argument("-v", dest="verbose_checks", action="store_true", help="list the checks that hold too")
    verify.set_defaults(handler=cmd_evidence_verify)
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
