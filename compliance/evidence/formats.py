"""The evidence formats of DESIGN.md (fairness, lineage, data) as strict models.

Evidence is read by Rego, where a value of the wrong type makes a builtin raise: so every file is
checked here first, and a malformed one stops the gate with an error naming file and field.
"""

from __future__ import annotations

import re
from importlib import metadata
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from compliance.spec.model import DataCategory
from compliance.spec.types import Digest

__all__ = ["RFC3339_TIME", "DataEvidence", "FairnessEvidence", "LineageEvidence", "tool"]

RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
RFC3339_TIME = re.compile(RFC3339)  # what the commands accept for --generated-at, approvals, …
Timestamp = Annotated[str, StringConstraints(pattern=RFC3339)]
Unit = Annotated[float, Field(ge=0, le=1, strict=False)]


def tool() -> str:
    """The ``tool`` an evidence file records: ``mlgate <installed version>``."""
    try:
        return f"mlgate {metadata.version('mlgate')}"
    except metadata.PackageNotFoundError:
        return "mlgate 0.1.0"


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


FoundCategory = Literal["personal", "special", "financial", "health", "biometric", "children"]


class DataColumn(_Strict):
    """A column that likely holds personal data. Never its values: name, detector, category, share."""

    name: str
    category: FoundCategory
    detector: str = Field(min_length=1)
    share: Unit  # of the non-empty sampled values, the share the detector matched
    values: int | None = Field(default=None, ge=0)  # non-empty sampled values
    hint: str | None = None  # the column-name hint that enabled or supports the detector


class DataDataset(_Strict):
    uri: str
    digest: Digest
    rows: int = Field(ge=0)
    sampled: int = Field(ge=0)
    columns: list[DataColumn] = []


class Sampling(_Strict):
    method: str
    size: int = Field(ge=1)
    seed: int | None = None


class DataEvidence(_Strict):
    apiVersion: Literal["mlgate.io/v1"]
    kind: Literal["DataEvidence"]
    model: str
    version: str
    generatedAt: Timestamp
    tool: str
    sampling: Sampling | None = None
    datasets: list[DataDataset] = Field(min_length=1)
    categories: list[DataCategory] = Field(min_length=1)  # the union of the columns' categories, or [none]

    @model_validator(mode="after")
    def _categories_cover_the_columns(self) -> DataEvidence:
        found = {column.category for dataset in self.datasets for column in dataset.columns}
        declared = set(self.categories)
        if "none" in declared and (len(declared) > 1 or found):
            raise ValueError("'none' means no column was flagged: it cannot stand beside a category or a column")
        missing = sorted(found - declared)
        if missing:
            raise ValueError(f"categories must list every flagged column's category; missing {', '.join(missing)}")
        return self
