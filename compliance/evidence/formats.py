"""The evidence formats of DESIGN.md (fairness, lineage) as strict models.

Evidence is read by Rego, where a value of the wrong type makes a builtin raise: so every file is
checked here first, and a malformed one stops the gate with an error naming file and field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from compliance.spec.types import Digest

__all__ = ["FairnessEvidence", "LineageEvidence"]

RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
Timestamp = Annotated[str, StringConstraints(pattern=RFC3339)]
Unit = Annotated[float, Field(ge=0, le=1, strict=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Dataset(_Strict):
    uri: str
    digest: Digest
    rows: int = Field(ge=0)


class GroupMetrics(_Strict):
    n: int = Field(ge=0)
    selectionRate: Unit
    tpr: Unit | None = None
    fpr: Unit | None = None
    accuracy: Unit | None = None


class FeatureMetrics(_Strict):
    demographicParityDifference: Unit
    demographicParityRatio: Unit
    equalizedOddsDifference: Unit
    intervals: dict[str, Annotated[list[float], Field(min_length=2, max_length=2)]] = {}
    groups: dict[str, GroupMetrics] = Field(min_length=1)


class FairnessEvidence(_Strict):
    apiVersion: Literal["mlgate.io/v1"]
    kind: Literal["FairnessEvidence"]
    model: str
    version: str
    dataset: Dataset
    label: str
    favorable: str | int | bool
    generatedAt: Timestamp
    tool: str
    performance: dict[str, Unit] = {}
    features: dict[str, FeatureMetrics] = Field(min_length=1)


class Artifact(_Strict):
    uri: str
    digest: Digest


class Training(_Strict):
    runId: str
    tracking: str
    codeRepo: str
    codeCommit: str
    startedAt: Timestamp


class LineageDataset(_Strict):
    name: str
    uri: str
    digest: str
    role: str
    categories: list[str] = []
    residency: str | None = None


class Parent(_Strict):
    model: str
    version: str


class Approval(_Strict):
    by: str
    role: str
    at: Timestamp


class LineageEvidence(_Strict):
    apiVersion: Literal["mlgate.io/v1"]
    kind: Literal["LineageEvidence"]
    model: str
    version: str
    artifact: Artifact
    training: Training
    datasets: list[LineageDataset] = []
    parent: Parent | None = None
    approvals: list[Approval] = []
