"""The stack config as Pulumi hands it to a running program or policy pack (``PULUMI_CONFIG``).

Needs only ``pulumi`` (no provider SDK): both the program (:mod:`compliance.program`) and the policy pack
(:mod:`compliance.pack`) read the stack config here.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pulumi.runtime import config as pulumi_config

from compliance.spec.load import parse_stack_config
from compliance.spec.stack import StackConfig

__all__ = ["config_map", "stack_config_from_pulumi"]


def config_map(raw: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """All stack config as Pulumi hands it over (default: the PULUMI_CONFIG env of the engine, or set_all_config),
    structured values decoded from their JSON strings."""
    if raw is None:
        raw = {**pulumi_config.get_config_env(), **pulumi_config.CONFIG.get()}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        values[key] = value
    return values


def stack_config_from_pulumi(environment: str, root: Path) -> StackConfig:
    source = root / "stacks" / f"Pulumi.{environment}.yaml"
    return parse_stack_config(environment, config_map(), file=source)
