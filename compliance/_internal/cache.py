"""Where mlgate keeps its caches: ``$XDG_CACHE_HOME/mlgate/<name>`` (default ``~/.cache``)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_root"]


def cache_root(name: str) -> Path | None:
    """The directory of cache ``name``, or None when ``MLGATE_NO_CACHE`` is set or there is no home directory."""
    if os.environ.get("MLGATE_NO_CACHE", "").strip().lower() in {"1", "true", "yes"}:
        return None
    base = os.environ.get("XDG_CACHE_HOME", "")
    try:
        root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    except RuntimeError:  # no home directory
        return None
    return root / "mlgate" / name
