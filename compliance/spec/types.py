"""Constrained scalar types shared by the spec models (names, digests, quantities, regions)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

__all__ = [
    "AWS_REGION",
    "ENVIRONMENT_NAME",
    "REGION_GROUPS",
    "Digest",
    "DnsLabel",
    "EnvironmentName",
    "ModelName",
    "Quantity",
    "Region",
    "ResidencyZone",
    "StorageUri",
    "VersionName",
    "region_in_zone",
]

DNS_1035 = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
AWS_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
# Region groups a residency may name, and the AWS region prefixes each admits.
REGION_GROUPS: dict[str, tuple[str, ...]] = {
    "eu": ("eu-",),
    "us": ("us-",),
    "apac": ("ap-",),
    "ca": ("ca-",),
    "sa": ("sa-",),
    "me": ("me-", "il-"),
    "af": ("af-",),
}
STORAGE_SCHEMES = ("s3", "gs", "pvc", "oci", "hf")
_QUANTITY = re.compile(
    r"^(\+)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


def _region(value: str) -> str:
    if not AWS_REGION.match(value):
        raise ValueError(f"{value!r} is not an AWS region name (like eu-west-1)")
    return value


def _zone(value: str) -> str:
    if value not in REGION_GROUPS and not AWS_REGION.match(value):
        groups = ", ".join(REGION_GROUPS)
        raise ValueError(f"{value!r} is neither a region group ({groups}) nor an AWS region name")
    return value


def _storage_uri(value: str) -> str:
    scheme, sep, rest = value.partition("://")
    if not sep or scheme not in STORAGE_SCHEMES:
        raise ValueError(f"{value!r} must start with one of {', '.join(s + '://' for s in STORAGE_SCHEMES)}")
    if not rest or rest.startswith("/") or any(ch.isspace() for ch in rest):
        raise ValueError(f"{value!r} has no bucket/path after the scheme, or contains spaces")
    return value


def _quantity(value: object) -> object:
    """Kubernetes quantities: ``"2"``, ``"500m"``, ``8Gi``; YAML numbers become strings."""
    if isinstance(value, bool):
        raise ValueError('must be a quantity like "2" or "500m", not a boolean')
    if isinstance(value, int | float):
        value = format(value, "g")
    if isinstance(value, str) and _QUANTITY.match(value):
        return value
    raise ValueError(f'{value!r} is not a Kubernetes quantity (like "2", "500m", "8Gi")')


def region_in_zone(region: str, zones: list[str]) -> bool:
    """Whether an AWS region lies inside any of the residency zones (groups or region names)."""
    return any(zone == region or region.startswith(REGION_GROUPS.get(zone, ("\0",))) for zone in zones)


DnsLabel = Annotated[str, StringConstraints(pattern=DNS_1035, max_length=63)]
ModelName = Annotated[str, StringConstraints(pattern=DNS_1035, max_length=40)]
# The namespace `<model>-<environment>` must stay a DNS label (63): 40 + 1 + 22.
EnvironmentName = Annotated[str, StringConstraints(pattern=DNS_1035, max_length=22)]
ENVIRONMENT_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,20}[a-z0-9])?$")
# `<model>-<version>-predictor` must stay a DNS label (63): 40 + 1 + 12 + 10.
VersionName = Annotated[str, StringConstraints(pattern=DNS_1035, max_length=12)]
Digest = Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]
Region = Annotated[str, AfterValidator(_region)]
ResidencyZone = Annotated[str, AfterValidator(_zone)]
StorageUri = Annotated[str, AfterValidator(_storage_uri)]
Quantity = Annotated[str, BeforeValidator(_quantity), Field(json_schema_extra={"examples": ["2", "500m", "8Gi"]})]
