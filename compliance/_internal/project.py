"""Where the project is: the directory holding ``Pulumi.yaml`` (kept free of Pulumi imports)."""

from __future__ import annotations

from pathlib import Path

from compliance.errors import SpecError

__all__ = ["find_project_root"]


def find_project_root(start: Path | None = None) -> Path:
    """The directory holding ``Pulumi.yaml``, searched upwards (Pulumi runs us from ``stacks/``)."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "Pulumi.yaml").is_file():
            return directory
    raise SpecError("no Pulumi.yaml found in this directory or above", file=here)
