"""Build a Plan from ``pulumi preview --json`` output, in the same shape as the mock-engine capture.

The file is the Pulumi CLI's ``PreviewDigest``: a JSON object with ``steps`` and, optionally, ``config``,
``diagnostics``, ``changeSummary`` and ``duration``. A step has ``op``, ``urn`` and ``provider``, and
``oldState`` / ``newState`` as ``apitype.ResourceV3`` objects (``urn``, ``custom``, ``type``, ``inputs``,
``parent``, ``provider``, ``dependencies``, ...). A resource is in the Plan when a step gives it a
``newState`` and the stack still holds it after the update. The CLI already prints secrets as
``"[secret]"``; values not known before the update appear as :data:`UNKNOWN` and are kept as they are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from compliance.errors import PlanError
from compliance.plan.model import UNKNOWN, Plan, PlannedResource, assign_regions, normalise

__all__ = ["UNKNOWN", "plan_from_preview"]

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
_URN_PREFIX = "urn:pulumi:"
_MAX_PREVIEW_BYTES = 512 * 1024 * 1024
# After these steps the URN's resource is gone from the stack (or the step names the old copy of a replacement).
_GONE_OPS = frozenset({"delete", "delete-replaced", "discard", "discard-replaced", "remove-pending-replace"})
# The Terraform bridge lists the inputs it defaulted under this key at every object level; it is no input.
_BRIDGE_DEFAULTS = "__defaults"
_CLIP = 300


def plan_from_preview(path: str | Path, environment: str | None = None) -> Plan:
    """Read a ``pulumi preview --json`` file into a Plan. ``environment``, when given, must be the
    stack the preview was run for. Raises :class:`PlanError` (with ``file`` set) on a bad file."""
    file = Path(path)
    document = _read(file)
    if not isinstance(document, dict):
        raise PlanError(
            f"not `pulumi preview --json` output: the top level is {_kind(document)}, not an object", file=file
        )
    # A failed preview still writes a (partial) document: say why it failed rather than what is missing.
    _check_diagnostics(document.get("diagnostics"), file)
    steps = document.get("steps")
    if not isinstance(steps, list):
        found = "missing" if steps is None else _kind(steps)
        raise PlanError(f'not `pulumi preview --json` output: "steps" is {found}, not a list', file=file, field="steps")

    stack: str | None = None
    project: str | None = None
    sames = 0
    kept: dict[str, PlannedResource] = {}
    for index, step in enumerate(steps):
        where = f"steps[{index}]"
        if not isinstance(step, dict):
            raise _wrong_type(file, where, "an object", step)
        op = step.get("op")
        if not isinstance(op, str):
            raise _wrong_type(file, f"{where}.op", "a string", op)
        urn = step.get("urn")
        if not isinstance(urn, str):
            raise _wrong_type(file, f"{where}.urn", "a string", urn)
        urn_stack, urn_project, qualified_type, name = _split_urn(urn, file, f"{where}.urn")
        if stack is None:
            stack, project = urn_stack, urn_project
        elif (urn_stack, urn_project) != (stack, project):
            raise PlanError(
                f"URN of stack {urn_stack!r} in project {urn_project!r}, but the earlier steps are of stack "
                f"{stack!r} in project {project!r}",
                file=file,
                field=f"{where}.urn",
            )
        step_provider = step.get("provider")
        if step_provider is not None and not isinstance(step_provider, str):
            raise _wrong_type(file, f"{where}.provider", "a string", step_provider)
        if op == "same":
            sames += 1
        state = step.get("newState")
        if state is None or op in _GONE_OPS:
            continue
        resource = _resource(state, urn, qualified_type, name, step_provider or None, file, f"{where}.newState")
        if resource is not None:
            # One URN can have several steps (a replacement, --refresh): the last holds the state after the update.
            kept[resource.urn] = resource

    if stack is None or project is None:
        raise PlanError("the preview has no steps (not even the stack itself)", file=file, field="steps")
    if environment is not None and environment != stack:
        raise PlanError(f"the preview is of stack {stack!r}, not of environment {environment!r}", file=file)
    _check_sames(document.get("changeSummary"), sames, file)
    resources = sorted(assign_regions(kept.values()), key=lambda r: r.urn)
    return Plan(project, stack, "preview", tuple(resources))


def _read(file: Path) -> Any:
    try:
        if file.stat().st_size > _MAX_PREVIEW_BYTES:
            raise PlanError("preview file is larger than 512 MiB", file=file)
        # Bytes, so that json detects UTF-16 (PowerShell's `>`) and a UTF-8 BOM by itself.
        return json.loads(file.read_bytes())
    except FileNotFoundError:
        raise PlanError("file not found", file=file) from None
    except OSError as exc:
        raise PlanError(f"cannot read: {exc.strerror or exc}", file=file) from None
    except json.JSONDecodeError as exc:
        raise PlanError(
            f"invalid JSON: {exc.msg} (expected the output of `pulumi preview --json`)", file=file, line=exc.lineno
        ) from None
    except UnicodeDecodeError:
        raise PlanError("not JSON text (cannot decode it as UTF-8, UTF-16 or UTF-32)", file=file) from None
    except RecursionError:
        raise PlanError("invalid JSON: nested too deeply", file=file) from None


def _check_diagnostics(diagnostics: Any, file: Path) -> None:
    if diagnostics is None:
        return
    if not isinstance(diagnostics, list):
        raise _wrong_type(file, "diagnostics", "a list", diagnostics)
    for index, diagnostic in enumerate(diagnostics):
        if not isinstance(diagnostic, dict):
            raise _wrong_type(file, f"diagnostics[{index}]", "an object", diagnostic)
        if diagnostic.get("severity") == "error":
            message = diagnostic.get("message")
            text = _clip(" ".join(message.split())) if isinstance(message, str) else ""
            raise PlanError(
                f'the pulumi preview failed: "{text or "(no message)"}"', file=file, field=f"diagnostics[{index}]"
            )


def _check_sames(summary: Any, sames: int, file: Path) -> None:
    """Without ``--show-sames`` the CLI leaves unchanged resources out of ``steps`` but counts them in
    ``changeSummary``: such a plan would miss resources (and the parents their regions come from)."""
    if summary is None:
        return
    if not isinstance(summary, dict):
        raise _wrong_type(file, "changeSummary", "an object", summary)
    expected = summary.get("same", 0)
    if isinstance(expected, bool) or not isinstance(expected, int):
        raise _wrong_type(file, "changeSummary.same", "an integer", expected)
    if expected > sames:
        raise PlanError(
            f"the preview leaves out {expected - sames} unchanged resource(s): run "
            "`pulumi preview --json --show-sames` so that every resource of the stack is in it",
            file=file,
        )


def _resource(
    state: Any, urn: str, qualified_type: str, name: str, step_provider: str | None, file: Path, where: str
) -> PlannedResource | None:
    """The PlannedResource of one ``newState``; None for the root stack and for a state pending deletion."""
    if not isinstance(state, dict):
        raise _wrong_type(file, where, "an object", state)
    type_ = state.get("type")
    if not isinstance(type_, str):
        raise _wrong_type(file, f"{where}.type", "a string", type_)
    if type_ != qualified_type.rsplit("$", 1)[-1]:
        raise PlanError(f"type {_clip(type_)!r} is not the type in the step's URN", file=file, field=f"{where}.type")
    state_urn = state.get("urn", urn)
    if state_urn != urn:
        raise PlanError("differs from the step's urn", file=file, field=f"{where}.urn")
    if type_ == ROOT_STACK_TYPE or state.get("delete") is True:
        return None
    custom = state.get("custom", False)
    if not isinstance(custom, bool):
        raise _wrong_type(file, f"{where}.custom", "a boolean", custom)
    inputs = state.get("inputs")
    if inputs is None:
        inputs = {}
    elif not isinstance(inputs, dict):
        raise _wrong_type(file, f"{where}.inputs", "an object", inputs)
    parent = _optional_string(state, "parent", file, where)
    provider = _optional_string(state, "provider", file, where) or step_provider
    dependencies = state.get("dependencies")
    if dependencies is None:
        dependencies = []
    elif not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise _wrong_type(file, f"{where}.dependencies", "a list of URNs", dependencies)
    try:
        clean = _drop_bridge_defaults(normalise(inputs))
    except RecursionError:
        raise PlanError("inputs nested too deeply", file=file, field=f"{where}.inputs") from None
    return PlannedResource(
        urn=urn,
        type=type_,
        name=name,
        custom=custom,
        parent=parent,
        provider=provider,
        inputs=clean,
        dependencies=tuple(dependencies),
    )


def _split_urn(urn: str, file: Path, field: str) -> tuple[str, str, str, str]:
    """``urn:pulumi:<stack>::<project>::<qualified type>::<name>``; the name is the rest, as Pulumi reads it."""
    parts = urn[len(_URN_PREFIX) :].split("::", 3) if urn.startswith(_URN_PREFIX) else []
    if len(parts) != 4 or not all(parts):
        raise PlanError(f"not a Pulumi URN: {_clip(urn)!r}", file=file, field=field)
    stack, project, qualified_type, name = parts
    return stack, project, qualified_type, name


def _optional_string(state: dict[str, Any], key: str, file: Path, where: str) -> str | None:
    value = state.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _wrong_type(file, f"{where}.{key}", "a string", value)
    return value or None


def _drop_bridge_defaults(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _drop_bridge_defaults(v) for k, v in value.items() if not (k == _BRIDGE_DEFAULTS and isinstance(v, list))
        }
    if isinstance(value, list):
        return [_drop_bridge_defaults(v) for v in value]
    return value


def _wrong_type(file: Path, field: str, expected: str, value: Any) -> PlanError:
    return PlanError(f"expected {expected}, found {_kind(value)}", file=file, field=field)


def _kind(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _clip(text: str) -> str:
    return text if len(text) <= _CLIP else text[: _CLIP - 1] + "…"
