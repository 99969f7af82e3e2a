"""``--format json``: :meth:`GateResult.to_json`, indented, keys sorted (the machine-readable record)."""

from __future__ import annotations

import json

from compliance.gate.decisions import GateResult

__all__ = ["JsonFormatter"]


class JsonFormatter:
    name = "json"
    description = "the GateResult as JSON (apiVersion mlgate.io/v1, kind GateResult)"

    def render(self, result: GateResult) -> str:
        return json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n"
