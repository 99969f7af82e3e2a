"""JSON Schema of the ModelDeployment format, for editors (``mlgate schema``)."""

from __future__ import annotations

from typing import Any

from compliance.spec.model import ModelDeployment

__all__ = ["model_deployment_schema"]


def model_deployment_schema() -> dict[str, Any]:
    schema = ModelDeployment.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://mlgate.io/schemas/v1/modeldeployment.json",
        "title": "mlgate ModelDeployment",
        "description": "One model, its versions, data handling and per-environment traffic (models/<name>.yaml).",
        **{k: v for k, v in schema.items() if k != "title"},
    }
