"""Pulumi ComponentResources of mlgate: infrastructure only, no policy logic."""

from components.model_deployment import ModelDeployment, ModelDeploymentArgs
from components.region import Region, RegionArgs

__all__ = ["ModelDeployment", "ModelDeploymentArgs", "Region", "RegionArgs"]
