"""Lineage evidence from where ML teams already record it: an MLflow tracking store, or OpenLineage events.

MLflow (``--tracking-uri`` and ``--registered-model NAME --model-version N``, or ``--run-id ID``): the model
version's source run gives ``training`` (run id, ``mlflow.source.git.commit``, ``mlflow.source.git.repoURL``,
start time) and ``datasets`` (the run's ``mlflow.log_input`` inputs: name, source, and the
``mlflow.data.context`` tag as the role). MLflow's own dataset digest is a short hash, not the sha256 the gate
requires, so a dataset's digest is, in this order: the input's ``mlgate.sha256`` tag, the run tag
``mlgate.dataset.<name>.sha256``, the sha256 of the source when it is a local file or directory that exists
here, and otherwise MLflow's digest as MLflow gives it (the gate's LIN-005 then denies it, visibly).
Categories and residency come from the input tags ``mlgate.categories`` (comma-separated) and
``mlgate.residency``, or the run tags ``mlgate.dataset.<name>.categories`` / ``.residency``.
Approvals are the model-version (and run) tags ``mlgate.approval.<role>`` = ``"<by> <RFC 3339 time>"``
plus ``--approval ROLE=BY@TIME`` flags; the parent is ``--parent MODEL@VERSION`` or the tag
``mlgate.parent``. The artifact digest is the sha256 of ``--artifact PATH`` (see
:mod:`compliance.evidence.artifacts`) or the tag ``mlgate.artifact.digest``; its uri is ``--artifact-uri``,
the tag ``mlgate.artifact.uri``, or the model version's source (``runs:/`` and ``models:/`` resolved).

OpenLineage (``--openlineage FILE``): see :mod:`compliance.evidence.openlineage`.

mlflow is imported only inside :func:`from_mlflow`: ``mlgate --help`` and ``mlgate check`` never load it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from compliance.errors import EvidenceError, UsageError
from compliance.evidence.formats import RFC3339_TIME

__all__ = [
    "LineageRequest",
    "LineageResult",
    "build_lineage_evidence",
    "write_lineage_evidence",
]

SHA256 = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")

# The tags read from MLflow (documented in docs/evidence.md, "Lineage").
TAG_COMMIT = "mlflow.source.git.commit"
TAG_REPO = ("mlflow.source.git.repoURL", "mlflow.gitRepoURL")
TAG_CONTEXT = "mlflow.data.context"
TAG_SHA256 = "mlgate.sha256"
TAG_CATEGORIES = "mlgate.categories"
TAG_RESIDENCY = "mlgate.residency"
TAG_ROLE = "mlgate.role"
TAG_APPROVAL = "mlgate.approval."
TAG_PARENT = "mlgate.parent"
TAG_ARTIFACT_DIGEST = "mlgate.artifact.digest"
TAG_ARTIFACT_URI = "mlgate.artifact.uri"
UNSPECIFIED_ROLE = "unspecified"


@dataclass(frozen=True)
class LineageRequest:
    """What ``mlgate evidence lineage`` was asked for: one source (MLflow or OpenLineage) and overrides."""

    model: str | None = None
    version: str | None = None
    tracking_uri: str | None = None
    registry_uri: str | None = None
    registered_model: str | None = None
    model_version: str | None = None
    run_id: str | None = None
    openlineage: Path | None = None
    artifact: Path | None = None
    artifact_uri: str | None = None
    code_repo: str | None = None
    parent: str | None = None
    approvals: Sequence[str] = ()


@dataclass
class LineageResult:
    """The validated document, where it came from (for the summary line) and notes on what the gate will deny."""

    document: dict[str, Any]
    source: str
    notes: list[str] = field(default_factory=list)


# Shared helpers ----------------------------------------------------------------------------------------------


def sha256_digest(value: str) -> str | None:
    """``sha256:<64 lowercase hex>`` for ``sha256:<hex>`` or bare 64 hex (any case), else None."""
    match = SHA256.match(value.strip())
    return f"sha256:{match.group(1).lower()}" if match else None


def utc_time(moment: dt.datetime) -> str:
    """RFC 3339 in UTC, to the second: ``2026-11-18T08:00:00Z``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_path(uri: str) -> Path | None:
    """The local file or directory a dataset/artifact uri names, when it is one that exists here."""
    if not uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            return None
        candidate = Path(unquote(parsed.path))
    elif parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):
        candidate = Path(uri)
    else:
        return None
    return candidate if candidate.exists() else None


def parse_approval(text: str, *, where: str) -> dict[str, str]:
    """``ROLE=BY@TIME`` (a flag) → an approval; BY may hold ``@`` itself (the last one separates TIME)."""
    role, equals, rest = text.partition("=")
    by, at_sign, at = rest.rpartition("@")
    if not equals or not at_sign or not role.strip() or not by.strip():
        raise UsageError(
            f"{text!r} is not ROLE=BY@TIME, e.g. model-risk=cro@example.com@2026-11-19T12:00:00Z", field=where
        )
    return _approval(role.strip(), by.strip(), at.strip(), where=where, error=UsageError)


def approval_from_tag(role: str, value: str, *, where: str) -> dict[str, str]:
    """A tag ``mlgate.approval.<role>`` = ``"<by> <time>"`` → an approval."""
    parts = value.split()
    if len(parts) != 2 or not role:
        raise EvidenceError(
            f"{value!r} is not '<by> <RFC 3339 time>', e.g. 'cro@example.com 2026-11-19T12:00:00Z'", field=where
        )
    return _approval(role, parts[0], parts[1], where=where, error=EvidenceError)


def _approval(role: str, by: str, at: str, *, where: str, error: type[UsageError | EvidenceError]) -> dict[str, str]:
    if not RFC3339_TIME.match(at):
        raise error(f"approval time {at!r} is not RFC 3339 like 2026-11-19T12:00:00Z", field=where)
    return {"by": by, "role": role, "at": at}


def parse_parent(text: str, *, where: str, error: type[UsageError | EvidenceError] = UsageError) -> dict[str, str]:
    """``MODEL@VERSION`` → a parent reference."""
    model, at_sign, version = text.strip().rpartition("@")
    if not at_sign or not model or not version:
        raise error(f"{text!r} is not MODEL@VERSION, e.g. credit-scoring@v6", field=where)
    return {"model": model, "version": version}


def merge_approvals(*groups: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """All approvals, one per (role, by): a later group (the flags) replaces an earlier one's entry."""
    merged: dict[tuple[str, str], dict[str, str]] = {}
    for group in groups:
        for approval in group:
            merged[(approval["role"], approval["by"])] = approval
    return sorted(merged.values(), key=lambda a: (a["role"], a["by"]))


def resolve_artifact(
    request: LineageRequest, recorded: str | None, recorded_from: str, uri: str | None
) -> dict[str, str]:
    """The ``artifact`` object: digest of ``--artifact`` (checked against a recorded digest) or the recorded one."""
    final_uri = request.artifact_uri or uri
    if request.artifact is not None:
        from compliance.evidence.artifacts import artifact_digest

        digest = artifact_digest(request.artifact)
        if recorded is not None and recorded != digest:
            raise EvidenceError(
                f"the artifact's digest {digest} differs from {recorded} recorded in {recorded_from}",
                file=request.artifact,
            )
        if final_uri is None:
            final_uri = request.artifact.resolve().as_uri()
    elif recorded is not None:
        digest = recorded
    else:
        raise UsageError(
            f"no artifact digest: give --artifact PATH (a local copy of the model) or record it in {recorded_from}",
            field="--artifact",
        )
    if final_uri is None:
        raise UsageError("no artifact uri recorded: give --artifact-uri URI", field="--artifact-uri")
    return {"uri": final_uri, "digest": digest}


def finish(document: dict[str, Any], where: str) -> None:
    """Validate against LineageEvidence; a failure here is a bug or an unusable value from the source."""
    from pydantic import ValidationError

    from compliance.evidence.formats import LineageEvidence

    try:
        LineageEvidence.model_validate(document)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in error["loc"])
        raise EvidenceError(f"would write invalid lineage evidence: {error['msg']}", file=where, field=loc) from None


def build_lineage_evidence(request: LineageRequest) -> LineageResult:
    """The LineageEvidence document (DESIGN.md "Evidence") for ``request``, validated.

    Raises UsageError for bad flags, a missing file or something not found in the tracking store, and
    EvidenceError for a source that lacks what lineage needs (no git commit) or is malformed.
    """
    mlflow_source = request.registered_model is not None or request.run_id is not None
    if request.openlineage is not None and mlflow_source:
        raise UsageError("give one source: --openlineage FILE, or MLflow (--registered-model/--run-id)")
    if request.registered_model is not None and request.run_id is not None:
        raise UsageError("give --registered-model NAME --model-version N, or --run-id ID, not both")
    for flag in request.approvals:
        parse_approval(flag, where="--approval")
    if request.parent is not None:
        parse_parent(request.parent, where="--parent")
    if request.openlineage is not None:
        from compliance.evidence.openlineage import from_openlineage

        return from_openlineage(request)
    if mlflow_source:
        return from_mlflow(request)
    raise UsageError("give a source: --registered-model NAME --model-version N, --run-id ID, or --openlineage FILE")


def write_lineage_evidence(document: dict[str, Any], out: str | Path) -> None:
    """Write ``document`` as indented JSON, atomically (no partial file on failure)."""
    from compliance._internal.files import atomic_write

    atomic_write(out, json.dumps(document, indent=2) + "\n")


# MLflow ------------------------------------------------------------------------------------------------------


def _check_sqlite(uri: str) -> None:
    """A sqlite store must exist and hold MLflow's tables: MLflow would otherwise create one, silently."""
    rest = uri[len("sqlite://") :].split("?", 1)[0]
    if not rest.startswith("/") or rest == "/":
        raise UsageError("a sqlite tracking URI names a file: sqlite:///relative.db or sqlite:////abs.db", field=uri)
    path = Path(rest[1:])
    if not path.is_file():
        raise UsageError("tracking store not found (no such sqlite file)", file=path)
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        raise UsageError(f"tracking store unreadable: {exc}", file=path) from None
    if not {"runs", "experiments"} <= tables:
        raise UsageError("not an MLflow tracking database (no runs/experiments tables)", file=path)


@contextlib.contextmanager
def _http_limits() -> Iterator[None]:
    """Fail fast on an unreachable server (MLflow's defaults retry 7 times with backoff, for minutes)."""
    defaults = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
    added = [name for name in defaults if name not in os.environ]
    for name in added:
        os.environ[name] = defaults[name]
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _first_line(exc: BaseException) -> str:
    message = str(getattr(exc, "message", None) or exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


class _Store:
    """The few MlflowClient calls lineage needs, each turning MLflow's errors into one-line mlgate errors."""

    def __init__(self, tracking_uri: str, registry_uri: str) -> None:
        from mlflow import MlflowClient

        self.uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)

    def call(self, what: str, function: Any, *args: Any) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return function(*args)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise _NotFoundError(what) from None
            message = _first_line(exc)
            if "failed with exception" in message:  # MLflow's wrapping of a requests/urllib3 connection error
                cause = re.search(r"\[Errno -?\d+\] ([^\"')]+)|(Read timed out)", message)
                message = f"cannot reach it ({cause.group(1) or cause.group(2)})" if cause else message
            raise UsageError(f"tracking store {self.uri}: {message}", field=what) from None
        except (OSError, ValueError) as exc:  # a malformed URI, a refused connection outside MLflow's wrapping
            raise UsageError(f"tracking store {self.uri}: {_first_line(exc)}", field=what) from None


class _NotFoundError(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def _source_uri(source_type: str, source: str) -> str:
    """The location in an MLflow dataset source (JSON such as ``{"uri": ...}``), else the source as given."""
    try:
        parsed = json.loads(source)
    except (json.JSONDecodeError, TypeError):
        return source
    if isinstance(parsed, dict):
        for key in ("uri", "url", "path", "delta_table_name", "table_name"):
            value = parsed.get(key)
            if isinstance(value, str) and value:
                return value
    return f"{source_type}:{source}" if source_type else source


def _categories(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _dataset(item: Any, run_tags: Mapping[str, str], run_id: str, notes: list[str]) -> dict[str, Any]:
    from compliance.evidence.artifacts import artifact_digest

    dataset = item.dataset
    tags = {tag.key: tag.value for tag in item.tags or []}
    name = str(dataset.name)
    run_prefix = f"mlgate.dataset.{name}."

    def tag(key: str) -> tuple[str | None, str]:
        if key in tags:
            return tags[key], f"dataset {name}: input tag {key}"
        run_key = run_prefix + key.removeprefix("mlgate.")
        return run_tags.get(run_key), f"run {run_id}: tag {run_key}"

    uri = _source_uri(str(dataset.source_type or ""), str(dataset.source or ""))
    recorded, where = tag(TAG_SHA256)
    local = local_path(uri)
    if recorded is not None:
        digest = sha256_digest(recorded)
        if digest is None:
            raise EvidenceError(f"{recorded!r} is not sha256:<64 hex>", field=where)
        if local is not None and (actual := artifact_digest(local)) != digest:
            notes.append(f"dataset {name}: {uri} now has digest {actual}, the run recorded {digest} (kept)")
    elif local is not None:
        digest = artifact_digest(local)
    else:
        digest = str(dataset.digest or "")
        notes.append(
            f"dataset {name}: no sha256 (MLflow digest {digest!r}); LIN-005 will deny it: tag the input "
            f"with {TAG_SHA256} or the run with {run_prefix}sha256"
        )
    role = tags.get(TAG_CONTEXT) or tag(TAG_ROLE)[0] or UNSPECIFIED_ROLE
    entry: dict[str, Any] = {
        "name": name,
        "uri": uri,
        "digest": digest,
        "role": role,
        "categories": _categories(tag(TAG_CATEGORIES)[0]),
    }
    residency = tag(TAG_RESIDENCY)[0]
    if residency:
        entry["residency"] = residency.strip()
    return entry


def _approvals_from_tags(tags: Mapping[str, str], whose: str) -> list[dict[str, str]]:
    return [
        approval_from_tag(key.removeprefix(TAG_APPROVAL), value, where=f"{whose}: tag {key}")
        for key, value in sorted(tags.items())
        if key.startswith(TAG_APPROVAL)
    ]


def _artifact_uri(store: _Store, source: str, run: Any) -> str:
    """A model version's source as a storage uri: ``runs:/ID/path`` and ``models:/m-ID`` resolved."""
    if source.startswith("runs:/"):
        run_id, _, path = source.removeprefix("runs:/").partition("/")
        if run_id == run.info.run_id:
            base = str(run.info.artifact_uri).rstrip("/")
            return f"{base}/{path}" if path else base
    if source.startswith("models:/m-"):
        model_id = source.removeprefix("models:/").split("/", 1)[0]
        with contextlib.suppress(_NotFoundError, UsageError, AttributeError):
            logged = store.call(f"logged model {model_id}", store.client.get_logged_model, model_id)
            return str(logged.artifact_location)
    return source


def from_mlflow(request: LineageRequest) -> LineageResult:
    """LineageEvidence from an MLflow tracking store (see the module docstring for what is read)."""
    uri = request.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise UsageError(
            "no tracking store: give --tracking-uri URI or set MLFLOW_TRACKING_URI", field="--tracking-uri"
        )
    registry = request.registry_uri or os.environ.get("MLFLOW_REGISTRY_URI") or uri
    for store_uri in dict.fromkeys((uri, registry)):
        if store_uri.startswith("sqlite:"):
            _check_sqlite(store_uri)
    with _http_limits():
        store = _Store(uri, registry)
        return _read_mlflow(store, request)


def _read_mlflow(store: _Store, request: LineageRequest) -> LineageResult:
    notes: list[str] = []
    version_tags: dict[str, str] = {}
    model_version: Any = None
    if request.registered_model is not None:
        name, number = request.registered_model, request.model_version
        if not number:
            raise UsageError("--registered-model needs --model-version N", field="--model-version")
        what = f"registered model {name!r} version {number}"
        try:
            model_version = store.call(what, store.client.get_model_version, name, number)
        except _NotFoundError:
            try:
                store.call(f"registered model {name!r}", store.client.get_registered_model, name)
            except _NotFoundError:
                raise UsageError(
                    f"registered model {name!r} not found in {store.uri}", field="--registered-model"
                ) from None
            raise UsageError(f"registered model {name!r} has no version {number}", field="--model-version") from None
        version_tags = dict(model_version.tags or {})
        run_id = model_version.run_id
        if not run_id:
            raise EvidenceError(f"{what} names no source run (register it from a run)", field="--model-version")
        source = f"{name} version {number} (run {run_id})"
    else:
        if request.model_version is not None:
            raise UsageError("--model-version goes with --registered-model", field="--model-version")
        run_id = str(request.run_id)
        source = f"run {run_id}"
    try:
        run = store.call(f"run {run_id}", store.client.get_run, run_id)
    except _NotFoundError:
        raise UsageError(f"run {run_id} not found in {store.uri}", field="--run-id") from None
    run_tags: dict[str, str] = dict(run.data.tags or {})

    model = request.model or (request.registered_model if model_version is not None else None)
    version = request.version or (f"v{model_version.version}" if model_version is not None else None)
    if not model or not version:
        raise UsageError("with --run-id, name the mlgate model and version: --model NAME --version V", field="--model")

    commit = run_tags.get(TAG_COMMIT)
    if not commit:
        raise EvidenceError(f"run {run_id} has no git commit tag ({TAG_COMMIT})", field=TAG_COMMIT)
    if not COMMIT.match(commit):
        notes.append(f"{TAG_COMMIT} {commit!r} is not a 40-digit lowercase commit: LIN-004 will deny it")
    repo = request.code_repo or next((run_tags[t] for t in TAG_REPO if run_tags.get(t)), None)
    if not repo:
        raise EvidenceError(
            f"run {run_id} has no git repository tag ({TAG_REPO[0]}): give --code-repo URL", field=TAG_REPO[0]
        )

    datasets = [_dataset(item, run_tags, run_id, notes) for item in (run.inputs.dataset_inputs if run.inputs else [])]
    if not datasets:
        notes.append(f"run {run_id} logged no dataset inputs (mlflow.log_input): LIN-005 will deny it")

    recorded, recorded_from = None, f"a model version or run tag {TAG_ARTIFACT_DIGEST}"
    for tags, whose in ((version_tags, "model version"), (run_tags, f"run {run_id}")):
        if tags.get(TAG_ARTIFACT_DIGEST):
            value = tags[TAG_ARTIFACT_DIGEST]
            recorded = sha256_digest(value)
            recorded_from = f"the {whose} tag {TAG_ARTIFACT_DIGEST}"
            if recorded is None:
                raise EvidenceError(f"{value!r} is not sha256:<64 hex>", field=f"{whose}: tag {TAG_ARTIFACT_DIGEST}")
            break
    uri = version_tags.get(TAG_ARTIFACT_URI) or run_tags.get(TAG_ARTIFACT_URI)
    if uri is None and model_version is not None and model_version.source:
        uri = _artifact_uri(store, str(model_version.source), run)
    if uri is None and request.artifact is None:
        uri = str(run.info.artifact_uri)
    artifact = resolve_artifact(request, recorded, recorded_from, uri)

    approvals = merge_approvals(
        _approvals_from_tags(run_tags, f"run {run_id}"),
        _approvals_from_tags(version_tags, "model version"),
        [parse_approval(flag, where="--approval") for flag in request.approvals],
    )
    parent: dict[str, str] | None = None
    if request.parent is not None:
        parent = parse_parent(request.parent, where="--parent")
    else:
        for tags, whose in ((version_tags, "model version"), (run_tags, f"run {run_id}")):
            if tags.get(TAG_PARENT):
                parent = parse_parent(tags[TAG_PARENT], where=f"{whose}: tag {TAG_PARENT}", error=EvidenceError)
                break

    started = dt.datetime.fromtimestamp(int(run.info.start_time) / 1000, tz=dt.UTC)
    document: dict[str, Any] = {
        "apiVersion": "mlgate.io/v1",
        "kind": "LineageEvidence",
        "model": model,
        "version": version,
        "artifact": artifact,
        "training": {
            "runId": run_id,
            "tracking": "mlflow",
            "codeRepo": repo,
            "codeCommit": commit,
            "startedAt": utc_time(started),
        },
        "datasets": datasets,
    }
    if parent is not None:
        document["parent"] = parent
    document["approvals"] = approvals
    finish(document, store.uri)
    return LineageResult(document, f"MLflow {source}", notes)
