"""Validate rendered Kubernetes custom resources against the CRDs of a cluster, offline.

A :class:`CrdCatalog` is loaded from a directory of upstream ``CustomResourceDefinition`` manifests
(``*.yaml``, ``*.yml``, ``*.json``; multi-document YAML and ``kind: List`` dumps are fine). For a rendered
resource it picks the *served* CRD version matching ``apiVersion`` + ``kind`` and validates the resource
against that version's ``openAPIV3Schema`` with jsonschema's :class:`~jsonschema.Draft7Validator`, the way
``kubectl apply`` with strict server-side field validation (the default) would:

* unknown fields are rejected ("unknown field"): every object node that declares ``properties`` and has no
  ``additionalProperties``, ``x-kubernetes-preserve-unknown-fields: true`` or
  ``x-kubernetes-embedded-resource: true`` gets ``additionalProperties: false`` (walking ``properties``,
  ``items`` and ``additionalProperties`` only);
* ``apiVersion`` / ``kind`` (string) and ``metadata`` (object) are added to the root when the CRD omits them,
  as the apiserver does implicitly; ``metadata`` itself (ObjectMeta) is not checked;
* ``nullable: true`` becomes ``type: [T, "null"]``; ``x-kubernetes-int-or-string: true`` accepts an integer
  or a string; ``x-kubernetes-list-type: set`` rejects duplicate items;
* a ``null`` value of a non-nullable field is dropped before validation (replaced by its ``default`` if it
  has one), as the apiserver prunes such nulls instead of rejecting them.

Not checked, unlike a real apiserver: CEL rules (``x-kubernetes-validations``) are **not evaluated**;
``format`` is an annotation only; defaults are not applied to missing fields; duplicate keys of
``x-kubernetes-list-type: map`` lists are not detected; ``pattern`` uses Python's ``re``, not RE2; the
``status`` of a resource is validated like any other field.

Paths in :class:`CrdViolation` are dotted with list indexes as ``[i]``; a key that is not a plain identifier
is written Kubernetes-style in brackets: ``spec.predictor.model.resources.limits[nvidia.com/gpu]``.

Parsing a large CRD (KServe's InferenceService is 1.9 MB of YAML) takes about a second even with libyaml, so
the served-version schemas extracted from each file are cached as JSON under
``$XDG_CACHE_HOME/mlgate/crds/`` (default ``~/.cache``), keyed by the sha256 of the file's bytes and
:data:`PREPARATION_VERSION`. ``MLGATE_NO_CACHE=1`` disables the cache; an unreadable or corrupt entry is
ignored and rewritten. Schemas are prepared (see above) lazily, on the first resource of each kind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator
from jsonschema.exceptions import UnknownType, ValidationError
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.exceptions import Unresolvable

from compliance._internal.cache import cache_root
from compliance.errors import CrdError

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

__all__ = ["MAX_CRD_FILE_BYTES", "PREPARATION_VERSION", "CrdCatalog", "CrdViolation"]

#: Bump when the extraction or preparation of schemas changes: it invalidates every cache entry.
PREPARATION_VERSION = "mlgate-crds-1"
#: CRD files larger than this are refused.
MAX_CRD_FILE_BYTES = 64 * 1024 * 1024

_SUFFIXES = (".yaml", ".yml", ".json")
_CRD_API_VERSION = "apiextensions.k8s.io/v1"
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*\Z")
_NO_REMOTE_REFS: Registry[Any] = Registry()  # a "$ref" is never fetched from the network


class _Loader(_BaseLoader):
    """A safe loader that leaves timestamps as strings, as Kubernetes' YAML-to-JSON conversion does."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class CrdViolation:
    """One way a resource breaks its CRD schema."""

    path: str  # JSON path inside the manifest, e.g. "spec.http[0].route[1].weight"
    message: str  # e.g. "unknown field", "'ninety' is not of type 'integer'"


@dataclass(frozen=True)
class _Served:
    """The raw ``openAPIV3Schema`` of one served CRD version and the file that defined it."""

    api_version: str
    kind: str
    schema: dict[str, Any]
    source: str


class CrdCatalog:
    """The served versions of the CRDs found in one directory; validates resources against them."""

    def __init__(self, directory: Path, served: Mapping[tuple[str, str], _Served]) -> None:
        self.directory = directory
        self._served = dict(served)
        self._validators: dict[tuple[str, str], tuple[dict[str, Any], Validator]] = {}

    @classmethod
    def load(cls, directory: str | Path) -> CrdCatalog:
        """Read every ``*.yaml`` / ``*.yml`` / ``*.json`` file of ``directory`` (not recursive)."""
        root = Path(directory)
        if not root.is_dir():
            raise CrdError("CRD directory not found", file=root)
        try:
            files = sorted(p for p in root.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file())
        except OSError as exc:
            raise CrdError(f"cannot list CRD directory: {exc.strerror or exc}", file=root) from None
        cache = _cache_dir()
        served: dict[tuple[str, str], _Served] = {}
        for path in files:
            for entry in _read_crd_file(path, cache):
                key = (entry.api_version, entry.kind)
                if key in served:
                    raise CrdError(
                        f"{entry.api_version} {entry.kind} is already defined in {served[key].source}", file=path
                    )
                served[key] = entry
        if not served:
            raise CrdError(f"no CustomResourceDefinition ({_CRD_API_VERSION}) with a served version", file=root)
        return cls(root, served)

    def kinds(self) -> list[str]:
        """``"group/version Kind"`` for every served version, sorted."""
        return sorted(f"{api_version} {kind}" for api_version, kind in self._served)

    def serves_group(self, api_version: str) -> bool:
        """Whether any CRD of the catalog belongs to the API group of ``api_version``."""
        group = api_version.rpartition("/")[0]
        return any(served.rpartition("/")[0] == group for served, _ in self._served)

    def has(self, api_version: str, kind: str) -> bool:
        """Whether a CRD in the catalog serves ``api_version`` (``group/version``) of ``kind``."""
        return (api_version, kind) in self._served

    def validate(self, manifest: Mapping[str, Any]) -> list[CrdViolation]:
        """All violations of ``manifest`` (a whole resource) against its CRD version, sorted by path.

        A resource whose ``apiVersion`` / ``kind`` no CRD of the catalog serves gives one violation at
        ``apiVersion``; the caller decides whether that is an error.
        """
        api_version, kind = manifest.get("apiVersion"), manifest.get("kind")
        for field, value in (("apiVersion", api_version), ("kind", kind)):
            if value is None or value == "":
                return [CrdViolation(field, "required field missing")]
            if not isinstance(value, str):
                return [CrdViolation(field, f"{_short_repr(value)} is not of type 'string'")]
        key = (str(api_version), str(kind))
        if key not in self._served:
            return [CrdViolation("apiVersion", f"no served CRD version for {api_version} {kind} in {self.directory}")]
        schema, validator = self._validator(key)
        instance = _prune_nulls(manifest, schema)
        try:
            errors = list(validator.iter_errors(instance))
        except (re.error, UnknownType, Unresolvable, TypeError, RecursionError) as exc:  # a broken CRD schema
            raise CrdError(
                f"the schema of {api_version} {kind} cannot be evaluated: {_one_line(str(exc)) or type(exc).__name__}",
                file=self._served[key].source,
            ) from None
        found: dict[tuple[tuple[tuple[int, int, str], ...], str], CrdViolation] = {}
        for error in errors:
            for parts, message in _explain(error):
                violation = CrdViolation(_format_path(parts), message)
                found[(_sort_key(parts), message)] = violation
        return [found[k] for k in sorted(found)]

    def _validator(self, key: tuple[str, str]) -> tuple[dict[str, Any], Validator]:
        cached = self._validators.get(key)
        if cached is None:
            served = self._served[key]
            try:
                schema = _prepare(served.schema)
            except RecursionError:
                raise CrdError(f"the schema of {key[0]} {key[1]} is nested too deeply", file=served.source) from None
            cached = (schema, Draft7Validator(schema, registry=_NO_REMOTE_REFS))
            self._validators[key] = cached
        return cached


# --- reading CRD files -------------------------------------------------------------------------------------


def _read_crd_file(path: Path, cache: Path | None) -> list[_Served]:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_CRD_FILE_BYTES + 1)
    except OSError as exc:
        raise CrdError(f"cannot read CRD file: {exc.strerror or exc}", file=path) from None
    if len(data) > MAX_CRD_FILE_BYTES:
        raise CrdError(f"CRD file is larger than {MAX_CRD_FILE_BYTES // (1024 * 1024)} MB", file=path)
    digest = hashlib.sha256(PREPARATION_VERSION.encode() + b"\0" + data).hexdigest()
    entry = cache / f"{digest}.json" if cache is not None else None
    if entry is not None:
        cached = _cache_read(entry)
        if cached is not None:
            return [_Served(api_version, kind, schema, str(path)) for api_version, kind, schema in cached]
    extracted = _extract(path, data)
    if entry is not None:
        _cache_write(entry, extracted)
    return [_Served(api_version, kind, schema, str(path)) for api_version, kind, schema in extracted]


def _extract(path: Path, data: bytes) -> list[tuple[str, str, dict[str, Any]]]:
    """``(group/version, Kind, openAPIV3Schema)`` of every served version of every CRD in the file."""
    try:
        docs: list[Any] = [json.loads(data)] if path.suffix.lower() == ".json" else list(yaml.load_all(data, _Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise CrdError(
            f"invalid YAML: {_one_line(exc.problem or str(exc))}", file=path, line=mark.line + 1 if mark else None
        ) from None
    except json.JSONDecodeError as exc:
        raise CrdError(f"invalid JSON: {exc.msg}", file=path, line=exc.lineno) from None
    except (yaml.YAMLError, ValueError) as exc:
        raise CrdError(f"cannot parse: {_one_line(str(exc))}", file=path) from None
    except RecursionError:
        raise CrdError("cannot parse: nested too deeply", file=path) from None
    out: list[tuple[str, str, dict[str, Any]]] = []
    for doc in _documents(docs):
        if doc.get("kind") != "CustomResourceDefinition" or doc.get("apiVersion") != _CRD_API_VERSION:
            continue
        out.extend(_served_versions(path, doc))
    nodes: dict[int, int] = {}
    limit = max(len(data), 1_000_000)  # without aliases, a node takes at least one byte of the file
    try:  # YAML aliases can expand exponentially ("billion laughs") or loop
        if sum(_count_nodes(schema, nodes, set(), limit) for _, _, schema in out) > limit:
            raise ValueError(f"schemas expand to more than {limit} nodes (YAML aliases?)")
    except (ValueError, RecursionError) as exc:
        raise CrdError(f"refusing CRD schema: {exc or 'nested too deeply'}", file=path) from None
    return out


def _documents(docs: Sequence[Any]) -> Iterator[Mapping[str, Any]]:
    for doc in docs:
        if isinstance(doc, Mapping):
            items = doc.get("items")
            if str(doc.get("kind", "")).endswith("List") and isinstance(items, list):
                yield from (item for item in items if isinstance(item, Mapping))
            else:
                yield doc


def _served_versions(path: Path, doc: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    metadata, spec = doc.get("metadata"), doc.get("spec")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    where = str(name or "CustomResourceDefinition")
    names = spec.get("names") if isinstance(spec, Mapping) else None
    group = spec.get("group") if isinstance(spec, Mapping) else None
    kind = names.get("kind") if isinstance(names, Mapping) else None
    versions = spec.get("versions") if isinstance(spec, Mapping) else None
    if not isinstance(group, str) or not isinstance(kind, str) or not isinstance(versions, list):
        raise CrdError("not a CRD: spec.group, spec.names.kind or spec.versions missing", file=path, field=where)
    for i, version in enumerate(versions):
        if not isinstance(version, Mapping) or version.get("served") is not True:
            continue
        vname, schema = version.get("name"), version.get("schema")
        schema = schema.get("openAPIV3Schema") if isinstance(schema, Mapping) else None
        if not isinstance(vname, str) or not isinstance(schema, dict):
            raise CrdError(
                "served version without name or schema.openAPIV3Schema", file=path, field=f"{where} spec.versions[{i}]"
            )
        yield f"{group}/{vname}", kind, schema


def _count_nodes(node: Any, seen: dict[int, int], active: set[int], limit: int) -> int:
    """Expanded size of ``node``, memoised by identity so that shared (aliased) subtrees cost once."""
    if not isinstance(node, dict | list):
        return 1
    key = id(node)
    if key in seen:
        return seen[key]
    if key in active:
        raise ValueError("recursive YAML alias")
    active.add(key)
    total = 1 + sum(
        _count_nodes(child, seen, active, limit) for child in (node.values() if isinstance(node, dict) else node)
    )
    active.discard(key)
    if total > limit:
        raise ValueError(f"schemas expand to more than {limit} nodes (YAML aliases?)")
    seen[key] = total
    return total


# --- cache ---------------------------------------------------------------------------------------------------


def _cache_dir() -> Path | None:
    return cache_root("crds")


def _cache_read(entry: Path) -> list[tuple[str, str, dict[str, Any]]] | None:
    try:
        with entry.open("rb") as fh:
            doc = json.load(fh)
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("version") != PREPARATION_VERSION or not isinstance(doc.get("crds"), list):
        return None
    out: list[tuple[str, str, dict[str, Any]]] = []
    for item in doc["crds"]:
        if not isinstance(item, dict):
            return None
        api_version, kind, schema = item.get("apiVersion"), item.get("kind"), item.get("schema")
        if not isinstance(api_version, str) or not isinstance(kind, str) or not isinstance(schema, dict):
            return None
        out.append((api_version, kind, schema))
    return out


def _cache_write(entry: Path, extracted: list[tuple[str, str, dict[str, Any]]]) -> None:
    payload = {
        "version": PREPARATION_VERSION,
        "crds": [{"apiVersion": a, "kind": k, "schema": s} for a, k, s in extracted],
    }
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-", suffix=".json")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
            tmp.replace(entry)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
    except (OSError, TypeError, ValueError):  # the cache is an optimisation only
        return


# --- schema preparation ---------------------------------------------------------------------------------------


def _prepare(raw: dict[str, Any]) -> dict[str, Any]:
    """The CRD schema turned into a strict Draft-7 schema (see the module docstring); ``raw`` is not changed."""
    root = dict(raw)
    properties = dict(root["properties"]) if isinstance(root.get("properties"), dict) else {}
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    properties.setdefault("metadata", {"type": "object"})
    root["properties"] = properties
    return _prepare_node(root)


def _prepare_node(node: dict[str, Any]) -> dict[str, Any]:
    out = dict(node)
    properties = out.get("properties")
    if isinstance(properties, dict):
        out["properties"] = {k: _prepare_node(v) if isinstance(v, dict) else v for k, v in properties.items()}
    for keyword in ("items", "additionalProperties"):
        if isinstance(out.get(keyword), dict):
            out[keyword] = _prepare_node(out[keyword])
    if out.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if out.get("x-kubernetes-int-or-string") is True and "type" not in out and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.get("x-kubernetes-list-type") == "set":
        out.setdefault("uniqueItems", True)
    if (
        "properties" in out
        and "additionalProperties" not in out
        and out.get("x-kubernetes-preserve-unknown-fields") is not True
        and out.get("x-kubernetes-embedded-resource") is not True
    ):
        out["additionalProperties"] = False
    return out


def _prune_nulls(value: Any, schema: Mapping[str, Any] | None) -> Any:
    """A plain dict/list copy of ``value`` without the nulls the apiserver prunes before validating."""
    if isinstance(value, Mapping):
        properties = schema.get("properties") if schema else None
        additional = schema.get("additionalProperties") if schema else None
        out: dict[Any, Any] = {}
        for key, item in value.items():
            sub = properties.get(key) if isinstance(properties, dict) and key in properties else additional
            sub = sub if isinstance(sub, Mapping) else None
            if item is None and sub is not None and sub.get("nullable") is not True:
                if "default" in sub:
                    out[key] = deepcopy(sub["default"])
                continue
            out[key] = _prune_nulls(item, sub)
        return out
    if isinstance(value, list | tuple):
        items = schema.get("items") if schema else None
        return [_prune_nulls(item, items if isinstance(items, Mapping) else None) for item in value]
    return value


# --- reporting ------------------------------------------------------------------------------------------------


def _explain(error: ValidationError) -> Iterator[tuple[list[str | int], str]]:
    """``(path parts, message)`` for one jsonschema error; unknown/missing fields get their own path."""
    base = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    instance = error.instance
    if error.validator == "additionalProperties" and error.validator_value is False and isinstance(instance, dict):
        known = schema.get("properties") or {}
        patterns = list(schema.get("patternProperties") or {})
        for name in instance:
            if name not in known and not any(re.search(p, str(name)) for p in patterns):
                yield [*base, name], "unknown field"
        return
    if error.validator == "required" and isinstance(instance, dict) and isinstance(error.validator_value, list):
        for name in error.validator_value:
            if name not in instance:
                yield [*base, name], "required field missing"
        return
    if error.validator == "oneOf":
        message = _one_of_message(error.validator_value, instance)
        if message:
            yield base, message
            return
    if error.validator == "anyOf" and isinstance(error.validator_value, list):
        types = [b.get("type") for b in error.validator_value if isinstance(b, dict) and list(b) == ["type"]]
        if types and len(types) == len(error.validator_value):
            yield base, f"{_short_repr(instance)} is not of type {' or '.join(repr(t) for t in types)}"
            return
    if error.validator == "pattern" and isinstance(error.validator_value, str):
        yield base, f"{_short_repr(instance)} does not match the pattern {error.validator_value}"
        return
    message = error.message
    text = repr(instance)
    if len(text) > 80 and message.startswith(text):
        message = _short_repr(instance) + message[len(text) :]
    yield base, message


def _one_of_message(branches: Any, instance: Any) -> str | None:
    """Istio's "at most one of" pattern: ``oneOf: [{not: {anyOf: [{required: [a]}, ...]}}, {required: [a]}, ...]``."""
    if not isinstance(branches, list) or not isinstance(instance, dict):
        return None
    names: list[str] = []
    optional = False
    for branch in branches:
        if isinstance(branch, dict) and list(branch) == ["required"] and len(branch["required"]) == 1:
            names.append(str(branch["required"][0]))
        elif isinstance(branch, dict) and list(branch) == ["not"]:
            optional = True
        else:
            return None
    present = [n for n in names if n in instance]
    if len(present) > 1:
        return f"only one of {', '.join(names)} may be set (found {', '.join(present)})"
    if not present and not optional and names:
        return f"exactly one of {', '.join(names)} must be set"
    return None


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _format_path(parts: Sequence[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif _IDENTIFIER.match(str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{part}]"
    return out or "(root)"


def _sort_key(parts: Sequence[str | int]) -> tuple[tuple[int, int, str], ...]:
    return tuple(
        (0, part, "") if isinstance(part, int) and not isinstance(part, bool) else (1, 0, str(part)) for part in parts
    )
