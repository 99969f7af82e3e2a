"""The ``mlgate evidence`` commands: fairness (predictions or a live endpoint), lineage, data, verify.

pandas, fairlearn, httpx and mlflow are imported inside the commands, never by ``mlgate --help``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compliance.cli_common import EXIT_FINDINGS, EXIT_OK
from compliance.cli_common import err as _err
from compliance.cli_common import project_root as _project_root
from compliance.errors import UsageError

if TYPE_CHECKING:
    from compliance.evidence.endpoint import Endpoint

__all__ = ["add_evidence_commands"]


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


def add_evidence_commands(commands: Any) -> None:
    evidence = commands.add_parser(
        "evidence", help="write evidence files for the gate (fairness, lineage, data) and verify them"
    )
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
    source.add_argument("--predictions", metavar="FILE", help="offline predictions: CSV or Parquet")
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
    data.add_argument("--dataset", required=True, action="append", metavar="FILE", help="CSV or Parquet; repeatable")
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
