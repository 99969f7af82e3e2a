"""The logic of the Pulumi policy pack (``policies/pack``): the stack's resources → the gate's Plan → the same Rego.

``pulumi preview --policy-pack policies/pack`` (and ``pulumi up``) hands a ``StackValidationPolicy`` every resource
of the stack. :func:`resources_to_plan` maps them onto the Plan that ``mlgate plan`` captures, and the gate judges
it as ``mlgate check`` does: every deployment document and the platform document, with evidence and waivers.
Two policies report the decisions: ``mlgate-deny`` (mandatory) one violation per unwaived deny, ``mlgate-warn``
(advisory) one per unwaived warning.

Duck-typed on ``pulumi_policy.PolicyResource`` (``urn``, ``resource_type``, ``name``, ``props``, ``parent``,
``provider``, ``dependencies``, ``opts``): importable and tested without pulumi-policy, which pins protobuf 5.29
while mlgate's own environment needs protobuf 6 (kserve). Needs only the gate core: pydantic, PyYAML, regorus
and pulumi (the pack's ``requirements.txt``).

What the pack sees differs from a ``mlgate plan`` capture in three ways (see ``docs/preflight.md``):
resource properties are Pulumi's *outputs* (at preview: the inputs, computed values unknown); secrets arrive
decrypted, so values under secret-looking keys are masked as ``[secret]`` here; provider ids are unknown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from compliance.errors import MlgateError
from compliance.gate.decisions import Decision, GateResult
from compliance.plan.model import SECRET, UNKNOWN, Plan, PlannedResource, assign_regions, normalise
from compliance.spec.stack import StackConfig

__all__ = [
    "DENY_POLICY",
    "WARN_POLICY",
    "judge_stack",
    "plain",
    "resources_to_plan",
    "validate_deny",
    "validate_warn",
]

DENY_POLICY = "mlgate-deny"
WARN_POLICY = "mlgate-warn"
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_PREFIX = "pulumi:providers:"
# pulumi_policy.proxy's sentinels for values not known before the update, one per type: all become Plan's UNKNOWN.
UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        UNKNOWN,  # string
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)
# A stack policy gets secrets decrypted (pulumi-policy does not mark them): values under these keys (compared
# lower-case, without '-' and '_') never reach a gate input or a violation message.
SECRET_KEYS = frozenset(
    {
        "kubeconfig",
        "password",
        "secret",
        "secretkey",
        "token",
        "privatekey",
        "clientkey",
        "clientkeydata",
        "accesskey",
        "apikey",
        "stringdata",
    }
)
_SECRET_DATA_TYPES = frozenset({"kubernetes:core/v1:Secret"})

ReportViolation = Callable[..., None]  # (message: str, urn: str | None = None)


class PolicyResourceLike(Protocol):
    """What mlgate reads of ``pulumi_policy.PolicyResource``."""

    urn: str
    resource_type: str
    name: str
    props: Mapping[str, Any]
    parent: Any  # PolicyResource | None
    provider: Any  # PolicyProviderResource | None
    dependencies: Sequence[Any]  # PolicyResource
    opts: Any  # PolicyResourceOptions


class StackArgsLike(Protocol):
    resources: Sequence[Any]

    def get_config(self) -> Mapping[str, Any]: ...


def _target(value: Any) -> Any:
    """The container behind pulumi-policy's unknown-checking proxy, read without tripping on unknowns."""
    if type(value).__name__ in {"_DictProxy", "_ListProxy"}:
        return value["__target"]
    return value


def _is_secret_key(key: str) -> bool:
    return key.lower().replace("-", "").replace("_", "") in SECRET_KEYS


def plain(value: Any, *, mask: bool = True) -> Any:
    """Plan-ready JSON of a property value: proxies unwrapped, unknowns as :data:`UNKNOWN`, integral floats as
    ints, values under secret-looking keys as ``[secret]``, assets and archives by their kind."""
    value = _target(value)
    if isinstance(value, str):
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if isinstance(value, bool | int | float) or value is None:
        return normalise(value)
    if isinstance(value, Mapping):
        return {str(k): SECRET if mask and _is_secret_key(str(k)) else plain(v, mask=mask) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, mask=mask) for v in value]
    return f"[{type(value).__name__.lower()}]"  # a pulumi Asset or Archive: no JSON form


def _props(resource: PolicyResourceLike) -> dict[str, Any]:
    props = plain(resource.props)
    if resource.resource_type in _SECRET_DATA_TYPES and "data" in props:
        props["data"] = SECRET
    options = getattr(resource, "opts", None)
    for key in getattr(options, "additional_secret_outputs", None) or ():
        if key in props:
            props[key] = SECRET
    return dict(props)


def _parent_urn(resource: PolicyResourceLike) -> str | None:
    if resource.parent is not None:
        return str(resource.parent.urn)
    parent = getattr(getattr(resource, "opts", None), "parent", None)
    return str(parent) if parent else None


def resources_to_plan(
    resources: Iterable[PolicyResourceLike], environment: str | None = None, project: str | None = None
) -> Plan:
    """The stack's resources as the gate's Plan (source ``policy-pack``). A resource is custom when it has a
    provider or is one (component resources have neither); the provider reference is ``<urn>::<unknown id>``.
    The root Stack is left out, as ``mlgate plan`` leaves it out."""
    planned: list[PlannedResource] = []
    for resource in resources:
        if resource.resource_type == ROOT_STACK_TYPE:
            continue
        provider = resource.provider
        planned.append(
            PlannedResource(
                urn=resource.urn,
                type=resource.resource_type,
                name=resource.name,
                custom=provider is not None or resource.resource_type.startswith(PROVIDER_PREFIX),
                parent=_parent_urn(resource),
                provider=f"{provider.urn}::{UNKNOWN}" if provider is not None else None,
                inputs=_props(resource),
                dependencies=tuple(sorted({str(d.urn) for d in resource.dependencies})),
            )
        )
    first = planned[0].urn.split("::") if planned else []
    environment = environment or (first[0].removeprefix("urn:pulumi:") if first else "")
    project = project or (first[1] if len(first) > 1 else "mlgate")
    return Plan(project, environment, "policy-pack", tuple(sorted(assign_regions(planned), key=lambda r: r.urn)))


def _environment(plan: Plan, config: Mapping[str, Any]) -> str:
    return str(config.get("environment") or os.environ.get("PULUMI_STACK") or plan.environment)


def _root(config: Mapping[str, Any]) -> Path:
    from compliance._internal.project import find_project_root

    given = config.get("root") or os.environ.get("MLGATE_ROOT")
    if given:
        return Path(str(given)).resolve()
    # The pack lives in the project (policies/pack): its working directory, else this checkout.
    try:
        return find_project_root()
    except Exception:  # noqa: BLE001 - any failure: fall back to the checkout this module belongs to
        return find_project_root(Path(__file__).resolve().parent)


_last: tuple[str, GateResult] | None = None


def judge_stack(
    resources: Iterable[PolicyResourceLike],
    *,
    root: Path | None = None,
    environment: str | None = None,
    config: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> GateResult:
    """Judge the stack as ``mlgate check`` would judge its plan. The stack config is the one Pulumi hands the
    pack (``PULUMI_CONFIG``) when it holds ``mlgate:`` keys, else ``stacks/Pulumi.<env>.yaml``. Both policies
    of the pack judge the same resources: the last result is reused when the plan is the same."""
    global _last
    config = config or {}
    plan = resources_to_plan(resources, environment)
    environment = environment or _environment(plan, config)
    root = root or _root(config)
    key = hashlib.sha256(f"{root}\n{environment}\n{now}\n{plan.dumps()}".encode()).hexdigest()
    if _last is not None and _last[0] == key:
        return _last[1]
    from compliance.gate.check import prepare

    gate = prepare(root, environment, stack=_live_stack(environment, root), jobs=1)
    result = gate.judge(plan, now)
    _last = (key, result)
    return result


def _live_stack(environment: str, root: Path) -> StackConfig | None:
    """The stack config from Pulumi's PULUMI_CONFIG (what the program sees), or None (then the stack file)."""
    from pulumi.runtime import config as pulumi_config

    from compliance.spec.load import parse_stack_config
    from compliance.spec.pulumi_config import config_map

    values = config_map(pulumi_config.get_config_env())
    if not any(key.startswith("mlgate:") for key in values):
        return None
    return parse_stack_config(environment, values, file=root / "stacks" / f"Pulumi.{environment}.yaml")


def _message(decision: Decision) -> str:
    from compliance.preflight import describe

    return f"{describe(decision)} [{decision.policy}]"


def _urn_of(decision: Decision, plan_urns: Mapping[str, str]) -> str | None:
    return plan_urns.get(decision.resource) if decision.resource else None


def _report(args: StackArgsLike, report_violation: ReportViolation, level: str) -> None:
    resources = list(args.resources)
    config = args.get_config() if hasattr(args, "get_config") else {}
    try:
        result = judge_stack(resources, config=config)
    except MlgateError as exc:  # fails closed: the mandatory policy reports a gate that cannot judge
        if level == "deny":
            report_violation(f"GATE-ERROR: the mlgate gate cannot judge this stack: {exc.diagnostics()}")
        return
    urns = {str(r.name): str(r.urn) for r in resources}
    for decision in result.unwaived("deny" if level == "deny" else "warn"):
        urn = _urn_of(decision, urns)
        if urn is None:
            report_violation(_message(decision))
        else:
            report_violation(_message(decision), urn)


def validate_deny(args: StackArgsLike, report_violation: ReportViolation) -> None:
    """``mlgate-deny`` (mandatory): one violation per unwaived deny, GATE-ERROR included (the gate fails closed)."""
    _report(args, report_violation, "deny")


def validate_warn(args: StackArgsLike, report_violation: ReportViolation) -> None:
    """``mlgate-warn`` (advisory): one violation per unwaived warning."""
    _report(args, report_violation, "warn")
