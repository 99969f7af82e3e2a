"""Lineage evidence from OpenLineage run events (the 2-0-2 ``RunEvent`` shape), parsed with pydantic.

The file holds one JSON event, a JSON array of events, or JSON lines (one event per line), all of one run
(``run.runId``); events are merged in file order, a later facet replacing an earlier one. What is read:

- ``run.runId`` → ``training.runId``; ``training.tracking`` is ``openlineage``.
- ``job.facets.sourceCodeLocation``: ``repoUrl`` (else ``url``) → ``codeRepo``, ``version`` → ``codeCommit``
  (required: without it there is no lineage of the code).
- ``eventTime`` of the (earliest) ``START`` event → ``startedAt``, else ``run.facets.nominalTime.nominalStartTime``.
- ``inputs[]`` → ``datasets``: uri from ``namespace`` and ``name`` (OpenLineage naming: ``s3://bucket`` +
  ``path`` → ``s3://bucket/path``, ``file`` + ``/p`` → ``file:///p``), name = the ``mlgate`` facet's
  ``name``, else the dataset ``name``.
  The digest is, in this order: the custom dataset facet ``mlgate.sha256``; the standard ``version`` facet's
  ``datasetVersion`` when it is ``sha256:<64 hex>``; the sha256 of the uri when it is a local file or directory
  that exists here; else ``datasetVersion`` as given (or empty) — which the gate's LIN-005 denies.
  Role, categories and residency come from the ``mlgate`` facet (role default ``training``).
- ``outputs[]``: the model artifact is the output whose ``mlgate`` facet has ``role: model``, else the only
  output. Its digest follows the dataset rules (or ``--artifact PATH``, checked against a recorded one).

The custom facet (``_producer``/``_schemaURL`` as every facet has; all other fields optional)::

    "mlgate": {"_producer": "...", "_schemaURL": "...", "name": "adult-train", "sha256": "sha256:<64 hex>",
               "role": "training", "categories": ["personal"], "residency": "eu-west-1"}
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from compliance.errors import EvidenceError, UsageError
from compliance.evidence.lineage import (
    COMMIT,
    LineageRequest,
    LineageResult,
    finish,
    local_path,
    merge_approvals,
    parse_approval,
    parse_parent,
    resolve_artifact,
    sha256_digest,
    utc_time,
)

__all__ = ["RunEvent", "from_openlineage", "read_run_events"]

MAX_EVENT_BYTES = 64 * 1024 * 1024


class _Part(BaseModel):
    """Only the fields read here are declared; the others (and unknown facets) are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class SourceCodeLocationFacet(_Part):
    type: str | None = None
    url: str | None = None
    repoUrl: str | None = None
    path: str | None = None
    version: str | None = None
    tag: str | None = None
    branch: str | None = None


class NominalTimeFacet(_Part):
    nominalStartTime: str
    nominalEndTime: str | None = None


class ProcessingEngineFacet(_Part):
    name: str | None = None
    version: str | None = None


class MlgateFacet(_Part):
    name: str | None = None
    sha256: str | None = None
    role: str | None = None
    categories: list[str] | None = None
    residency: str | None = None


class DataSourceFacet(_Part):
    name: str | None = None
    uri: str | None = None


class DatasetVersionFacet(_Part):
    datasetVersion: str


class DatasetFacets(_Part):
    dataSource: DataSourceFacet | None = None
    version: DatasetVersionFacet | None = None
    mlgate: MlgateFacet | None = None


class Dataset(_Part):
    namespace: str
    name: str
    facets: DatasetFacets = DatasetFacets()


class RunFacets(_Part):
    nominalTime: NominalTimeFacet | None = None
    processing_engine: ProcessingEngineFacet | None = None


class Run(_Part):
    runId: str
    facets: RunFacets = RunFacets()


class JobFacets(_Part):
    sourceCodeLocation: SourceCodeLocationFacet | None = None


class Job(_Part):
    namespace: str
    name: str
    facets: JobFacets = JobFacets()


class RunEvent(_Part):
    eventType: Literal["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"] | None = None
    eventTime: str
    run: Run
    job: Job
    inputs: list[Dataset] = []
    outputs: list[Dataset] = []
    producer: str | None = None
    schemaURL: str | None = None


def _parse_time(value: str, *, file: Path, line: int | None, field: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise EvidenceError(f"{value!r} is not an ISO 8601 time", file=file, line=line, field=field) from None
    if moment.tzinfo is None:
        raise EvidenceError(f"{value!r} has no time zone offset", file=file, line=line, field=field)
    return moment


def _validate(raw: Any, *, file: Path, line: int | None, prefix: str) -> RunEvent:
    if not isinstance(raw, dict):
        raise EvidenceError(
            "not an OpenLineage RunEvent: expected a JSON object", file=file, line=line, field=prefix or None
        )
    try:
        event = RunEvent.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in error["loc"])
        field = f"{prefix}{field}" if prefix else field
        raise EvidenceError(f"not an OpenLineage RunEvent: {error['msg']}", file=file, line=line, field=field) from None
    _parse_time(event.eventTime, file=file, line=line, field=f"{prefix}eventTime")
    return event


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def read_run_events(path: Path) -> list[tuple[RunEvent, int | None]]:
    """The events of ``path`` (JSON object, JSON array or JSON lines), each with its line (JSON lines only)."""
    try:
        if path.stat().st_size > MAX_EVENT_BYTES:
            raise EvidenceError("OpenLineage file is larger than 64 MiB", file=path)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError("OpenLineage file not found", file=path) from None
    except IsADirectoryError:
        raise UsageError("OpenLineage file is a directory", file=path) from None
    except UnicodeDecodeError:
        raise EvidenceError("OpenLineage file is not UTF-8 text", file=path) from None
    except OSError as exc:
        raise UsageError(f"cannot read: {exc.strerror}", file=path) from None
    if not text.strip():
        raise EvidenceError("OpenLineage file holds no events", file=path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as whole:
        lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
        if len(lines) < 2 or not _is_json(lines[0][1]):  # not JSON lines: a broken (pretty-printed) document
            raise EvidenceError(f"invalid JSON: {whole.msg}", file=path, line=whole.lineno) from None
        events: list[tuple[RunEvent, int | None]] = []
        for number, line in lines:
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvidenceError(
                    f"invalid JSON line: {exc.msg} (column {exc.colno})", file=path, line=number
                ) from None
            events.append((_validate(raw, file=path, line=number, prefix=""), number))
        return events
    if isinstance(document, list):
        if not document:
            raise EvidenceError("OpenLineage file holds an empty array", file=path)
        return [(_validate(raw, file=path, line=None, prefix=f"[{i}]."), None) for i, raw in enumerate(document)]
    return [(_validate(document, file=path, line=None, prefix=""), None)]


def dataset_uri(namespace: str, name: str) -> str:
    """The uri of an OpenLineage dataset from its namespace and name (OpenLineage naming conventions)."""
    if namespace == "file" or namespace.startswith("file://"):
        return f"file://{name}" if name.startswith("/") else f"file:///{name}"
    if "://" in namespace:
        return f"{namespace.rstrip('/')}/{name.lstrip('/')}"
    return f"{namespace}:{name}" if namespace else name


def _merge_dataset(old: Dataset | None, new: Dataset) -> Dataset:
    if old is None:
        return new
    facets = old.facets.model_copy(update={k: v for k, v in new.facets if v is not None})
    return new.model_copy(update={"facets": facets})


def _digest(dataset: Dataset, what: str, notes: list[str], *, file: Path) -> tuple[str, str | None]:
    """(digest to write, the recorded sha256 or None) of a dataset, by the rules of the module docstring."""
    from compliance.evidence.artifacts import artifact_digest

    facets = dataset.facets
    if facets.mlgate is not None and facets.mlgate.sha256 is not None:
        digest = sha256_digest(facets.mlgate.sha256)
        if digest is None:
            raise EvidenceError(
                f"{facets.mlgate.sha256!r} is not sha256:<64 hex>", file=file, field=f"{what}.facets.mlgate.sha256"
            )
        return digest, digest
    version = facets.version.datasetVersion if facets.version is not None else None
    if version is not None and (digest := sha256_digest(version)) is not None:
        return digest, digest
    local = local_path(dataset_uri(dataset.namespace, dataset.name))
    if local is not None:
        return artifact_digest(local), None
    notes.append(
        f"{what}: no sha256 (datasetVersion {version!r}); LIN-005 will deny it: add an 'mlgate' facet with sha256"
    )
    return version or "", None


def _model_output(outputs: list[Dataset], file: Path) -> Dataset | None:
    marked = [o for o in outputs if o.facets.mlgate is not None and o.facets.mlgate.role == "model"]
    if len(marked) > 1:
        names = ", ".join(o.name for o in marked)
        raise EvidenceError(f"several outputs have role 'model' ({names})", file=file, field="outputs")
    if marked:
        return marked[0]
    if len(outputs) > 1:
        names = ", ".join(o.name for o in outputs)
        raise EvidenceError(
            f'several outputs ({names}): mark the model with an \'mlgate\' facet {{"role": "model"}}',
            file=file,
            field="outputs",
        )
    return outputs[0] if outputs else None


def from_openlineage(request: LineageRequest) -> LineageResult:
    """LineageEvidence from an OpenLineage event file (see the module docstring for what is read)."""
    path = Path(str(request.openlineage))
    if not request.model or not request.version:
        raise UsageError(
            "with --openlineage, name the mlgate model and version: --model NAME --version V", field="--model"
        )
    events = read_run_events(path)
    first, _ = events[0]
    run_id = first.run.runId
    inputs: dict[tuple[str, str], Dataset] = {}
    outputs: dict[tuple[str, str], Dataset] = {}
    code: SourceCodeLocationFacet | None = None
    nominal: NominalTimeFacet | None = None
    starts: list[dt.datetime] = []
    for event, line in events:
        if event.run.runId != run_id:
            raise EvidenceError(
                f"events of more than one run ({run_id}, {event.run.runId}): give one run's events",
                file=path,
                line=line,
                field="run.runId",
            )
        for dataset in event.inputs:
            key = (dataset.namespace, dataset.name)
            inputs[key] = _merge_dataset(inputs.get(key), dataset)
        for dataset in event.outputs:
            key = (dataset.namespace, dataset.name)
            outputs[key] = _merge_dataset(outputs.get(key), dataset)
        code = event.job.facets.sourceCodeLocation or code
        nominal = event.run.facets.nominalTime or nominal
        if event.eventType == "START":
            starts.append(_parse_time(event.eventTime, file=path, line=line, field="eventTime"))

    notes: list[str] = []
    field = "job.facets.sourceCodeLocation"
    if code is None or not code.version:
        raise EvidenceError(
            "no git commit: the job has no sourceCodeLocation facet with a version", file=path, field=f"{field}.version"
        )
    if not COMMIT.match(code.version):
        notes.append(f"{field}.version {code.version!r} is not a 40-digit lowercase commit: LIN-004 will deny it")
    repo = request.code_repo or code.repoUrl or code.url
    if not repo:
        raise EvidenceError("no repository: give --code-repo URL", file=path, field=f"{field}.repoUrl")
    if starts:
        started = min(starts)
    elif nominal is not None:
        started = _parse_time(
            nominal.nominalStartTime, file=path, line=None, field="run.facets.nominalTime.nominalStartTime"
        )
    else:
        raise EvidenceError(
            "no start time: no START event and no nominalTime run facet", file=path, field="run.facets.nominalTime"
        )

    datasets = []
    for dataset in inputs.values():
        digest, _ = _digest(dataset, f"inputs[{dataset.name}]", notes, file=path)
        facet = dataset.facets.mlgate
        entry: dict[str, Any] = {
            "name": (facet.name if facet is not None and facet.name else None) or dataset.name,
            "uri": dataset_uri(dataset.namespace, dataset.name),
            "digest": digest,
            "role": (facet.role if facet is not None and facet.role else None) or "training",
            "categories": list(facet.categories or []) if facet is not None else [],
        }
        if facet is not None and facet.residency:
            entry["residency"] = facet.residency
        datasets.append(entry)
    if not datasets:
        notes.append("the run has no input datasets: LIN-005 will deny it")

    output = _model_output(list(outputs.values()), path)
    recorded: str | None = None
    uri: str | None = None
    if output is not None:
        uri = dataset_uri(output.namespace, output.name)
        scratch: list[str] = []
        written, recorded = _digest(output, f"outputs[{output.name}]", scratch, file=path)
        if recorded is None and written.startswith("sha256:") and request.artifact is None:
            recorded = written  # computed from a local file
    artifact = resolve_artifact(request, recorded, f"the output's 'mlgate' or 'version' facet in {path}", uri)

    approvals = merge_approvals([parse_approval(flag, where="--approval") for flag in request.approvals])
    document: dict[str, Any] = {
        "apiVersion": "mlgate.io/v1",
        "kind": "LineageEvidence",
        "model": request.model,
        "version": request.version,
        "artifact": artifact,
        "training": {
            "runId": run_id,
            "tracking": "openlineage",
            "codeRepo": repo,
            "codeCommit": code.version,
            "startedAt": utc_time(started),
        },
        "datasets": datasets,
    }
    if request.parent is not None:
        document["parent"] = parse_parent(request.parent, where="--parent")
    document["approvals"] = approvals
    finish(document, str(path))
    return LineageResult(document, f"OpenLineage run {run_id} ({len(events)} events)", notes)
