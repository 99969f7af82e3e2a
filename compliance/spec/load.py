"""Load and validate the catalog (``models/*.yaml``) and stack configs, with errors that point home.

Every error is a :class:`~compliance.errors.SpecError` reading like
``models/credit.yaml:31: spec.environments.prod.traffic: weights sum to 90, must be 100``.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from compliance.errors import SpecError
from compliance.spec import model as model_spec
from compliance.spec import stack as stack_spec
from compliance.spec.model import ModelDeployment
from compliance.spec.stack import StackConfig
from compliance.spec.types import ENVIRONMENT_NAME
from compliance.spec.yamlsafe import LineIndex, load_yaml

__all__ = [
    "Catalog",
    "Deployment",
    "format_path",
    "load_catalog",
    "load_model",
    "load_stack_config",
    "parse_stack_config",
]

MAX_CATALOG_FILES = 10_000
_SUFFIXES = (".yaml", ".yml")


def format_path(data: Any, path: Sequence[Hashable]) -> str:
    """``spec.versions[v7].digest``: list items are named by their ``name`` where they have one."""
    text = ""
    node = data
    for key in path:
        if isinstance(key, int):
            item = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            text += f"[{name}]" if isinstance(name, str) else f"[{key}]"
            node = item
        else:
            text += f".{key}" if text else str(key)
            node = node.get(key) if isinstance(node, dict) else None
    return text


# Human words for the regular expressions of compliance.spec.types.
_PATTERN_HINTS = {
    r"^[a-z]([-a-z0-9]*[a-z0-9])?$": (
        "must be a DNS-1035 label: lowercase letters, digits and '-', starting with a letter"
    ),
    r"^sha256:[0-9a-f]{64}$": "must be 'sha256:' followed by 64 lowercase hex digits",
}


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "string_pattern_mismatch":
        hint = _PATTERN_HINTS.get(error.get("ctx", {}).get("pattern", ""), "has the wrong format")
        return f"{hint} (got {error.get('input')!r})"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    if kind.endswith("_type") or kind in {"literal_error", "enum"}:
        given = error.get("input")
        if not isinstance(given, dict | list):
            message = f"{message} (got {given!r})"
    return message


def _data_path(data: Any, loc: tuple[Hashable, ...]) -> tuple[Hashable, ...]:
    """Keep the parts of a pydantic loc that exist in the data, plus a missing key at the end.

    A union (``str | SecretRef``) inserts a tag per member (``str``, ``SecretRef``) that names no field.
    """
    path: list[Hashable] = []
    node = data
    for position, part in enumerate(loc):
        if part == "[key]":  # pydantic's marker for an invalid mapping key: the key itself is the field
            continue
        if isinstance(node, dict) and part in node:  # noqa: SIM114 - separate branches let mypy narrow
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif not (isinstance(node, dict) and position == len(loc) - 1):
            continue  # a union tag
        path.append(part)
    return tuple(path)


def _suggestion(errors: list[Any]) -> str:
    """`` (did you mean 'riskTier'?)`` when an unknown field sits beside a missing one like it."""
    first = errors[0]
    if first["type"] != "extra_forbidden":
        return ""
    parent = tuple(first["loc"][:-1])
    missing = [str(e["loc"][-1]) for e in errors if e["type"] == "missing" and tuple(e["loc"][:-1]) == parent]
    close = difflib.get_close_matches(str(first["loc"][-1]), missing, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _validation_error(exc: ValidationError, data: Any, index: LineIndex, file: Path, to_path: Any = None) -> SpecError:
    """The first pydantic error as a SpecError; ``to_path`` maps a model loc onto the YAML's path."""
    # An unknown field first: a typo of a required key also reports the key as missing.
    errors = sorted(exc.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
    loc = tuple(errors[0]["loc"])
    path = _data_path(data, to_path(loc) if to_path else loc)
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return SpecError(
        _describe(errors[0]) + _suggestion(errors) + more,
        file=file,
        line=index.line_of(data, path),
        field=format_path(data, path) or None,
    )


def _first_consistency_error(
    errors: list[tuple[tuple[str | int, ...], str]], data: Any, index: LineIndex, file: Path
) -> None:
    if errors:
        path, message = errors[0]
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise SpecError(message + more, file=file, line=index.line_of(data, path), field=format_path(data, path))


@dataclass(frozen=True)
class LoadedModel:
    """A validated ModelDeployment with where it came from (for error and SARIF locations)."""

    model: ModelDeployment
    file: Path
    lines: LineIndex
    raw: Any

    def line_of(self, path: Sequence[Hashable]) -> int | None:
        return self.lines.line_of(self.raw, path)


def load_model(path: str | Path) -> LoadedModel:
    file = Path(path)
    data, index = load_yaml(file)
    if not isinstance(data, dict):
        raise SpecError("expected a ModelDeployment mapping (apiVersion, kind, metadata, spec)", file=file, line=1)
    if data.get("kind") != "ModelDeployment" or data.get("apiVersion") != model_spec.API_VERSION:
        raise SpecError(
            f"expected apiVersion {model_spec.API_VERSION} and kind ModelDeployment "
            f"(got {data.get('apiVersion')!r}, {data.get('kind')!r})",
            file=file,
            line=index.line_of(data, ["kind"]) or 1,
        )
    try:
        model = ModelDeployment.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, data, index, file) from None
    _first_consistency_error(model_spec.consistency_errors(model), data, index, file)
    return LoadedModel(model, file, index, data)


@dataclass(frozen=True)
class Deployment:
    """One model in one environment: the unit the program deploys and the gate judges."""

    loaded: LoadedModel
    environment: str

    @property
    def model(self) -> ModelDeployment:
        return self.loaded.model

    @property
    def env(self) -> model_spec.Environment:
        return self.loaded.model.spec.environments[self.environment]


@dataclass(frozen=True)
class Catalog:
    directory: Path
    models: tuple[LoadedModel, ...]

    def __iter__(self) -> Iterator[LoadedModel]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    def deployments(self, stack: StackConfig) -> list[Deployment]:
        """The models deployed in ``stack``'s environment, each checked against the stack's regions."""
        result: list[Deployment] = []
        available = set(stack.region_names)
        for loaded in self.models:
            env = loaded.model.spec.environments.get(stack.environment)
            if env is None:
                continue
            for i, region in enumerate(env.regions):
                if region not in available:
                    path = ("spec", "environments", stack.environment, "regions", i)
                    raise SpecError(
                        f"region {region!r} is not a region of stack {stack.environment} "
                        f"({', '.join(stack.region_names)})",
                        file=loaded.file,
                        line=loaded.line_of(path),
                        field=format_path(loaded.raw, path),
                    )
            result.append(Deployment(loaded, stack.environment))
        return result


def load_catalog(directory: str | Path, *, shard: tuple[int, int] | None = None) -> Catalog:
    """Every ``*.yaml``/``*.yml`` file in ``directory`` (not recursive), one ModelDeployment each.

    ``shard=(i, n)`` loads every n-th file from the i-th only (names are then unique only within it).
    """
    root = Path(directory)
    if not root.is_dir():
        raise SpecError("catalog directory not found", file=root)
    files = sorted(p for p in root.iterdir() if p.suffix in _SUFFIXES and p.is_file())
    if len(files) > MAX_CATALOG_FILES:
        raise SpecError(f"holds {len(files)} model files, more than the {MAX_CATALOG_FILES:,} limit", file=root)
    if shard is not None:
        files = files[shard[0] :: shard[1]]
    models: list[LoadedModel] = []
    first_file: dict[str, Path] = {}
    for file in files:
        loaded = load_model(file)
        name = loaded.model.name
        if name in first_file:
            raise SpecError(
                f"model {name!r} is already defined in {first_file[name]}",
                file=file,
                line=loaded.line_of(("metadata", "name")),
                field="metadata.name",
            )
        first_file[name] = file
        models.append(loaded)
    return Catalog(root, tuple(models))


def _config_key_path(loc: tuple[Hashable, ...]) -> tuple[Hashable, ...]:
    """StackConfig's ``("regions", 0)`` is the stack file's ``("mlgate:regions", 0)``."""
    if not loc:
        return loc
    head = "aws:region" if loc[0] == "awsRegion" else f"mlgate:{loc[0]}"
    return (head, *loc[1:])


def parse_stack_config(
    environment: str, config: dict[str, Any], *, file: Path, data: Any = None, index: LineIndex | None = None
) -> StackConfig:
    """Validate a Pulumi config map (``{"mlgate:regions": [...], ...}``) as the stack ``environment``."""
    index = index or LineIndex()
    data = data if data is not None else config
    if not ENVIRONMENT_NAME.match(environment):
        raise SpecError(
            f"stack name {environment!r} must be a DNS-1035 label of at most 22 characters "
            "(namespaces are named <model>-<environment>)",
            file=file,
        )
    fields = stack_spec.stack_fields(environment, config)
    if "awsRegion" not in fields:
        raise SpecError("required key aws:region is missing", file=file, field="config")
    try:
        stack = StackConfig.model_validate(fields)
    except ValidationError as exc:
        raise _validation_error(exc, data, index, file, _config_key_path) from None
    _first_consistency_error(stack_spec.consistency_errors(stack), data, index, file)
    return stack


def load_stack_config(path: str | Path, environment: str | None = None) -> StackConfig:
    """Read ``Pulumi.<env>.yaml``; the environment is the ``<env>`` of the file name unless given."""
    file = Path(path)
    if environment is None:
        parts = file.name.split(".")
        if len(parts) != 3 or parts[0] != "Pulumi" or parts[2] not in {"yaml", "yml"}:
            raise SpecError("stack config files are named Pulumi.<env>.yaml", file=file)
        environment = parts[1]
    data, index = load_yaml(file)
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise SpecError("expected a mapping with a `config:` section", file=file, line=1)
    config = data["config"]
    return parse_stack_config(environment, config, file=file, data=config, index=index)
