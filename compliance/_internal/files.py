"""Atomic file output: a reader sees the old file or the whole new one, never half of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from compliance.errors import UsageError

__all__ = ["atomic_write", "shown_path"]


def _default_mode() -> int:
    """What ``open()`` would create: 0o666 less the process umask (read without a window where it is 0)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    return 0o644


def atomic_write(path: str | Path, data: str | bytes, *, mode: int | None = None) -> None:
    """Write via a temporary file, fsync and rename. The file gets ``mode``, or by default the mode a plain
    ``open()`` would give (mkstemp's 0600 would hide reports and plans from the rest of a team)."""
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    directory = target.parent if str(target.parent) else Path()
    if not directory.is_dir():
        raise UsageError("output directory does not exist", file=directory)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), _default_mode() if mode is None else mode)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def shown_path(path: Path, root: Path) -> str:
    """``path`` as users see it in reports and records: relative to the project root where possible."""
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:  # another drive on Windows
        return str(path)
