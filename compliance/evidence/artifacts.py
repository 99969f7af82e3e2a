"""The sha256 digest of a model artifact: one file, or a directory tree.

A file's digest is ``sha256:`` + the sha256 of its bytes.

A directory's digest is ``sha256:`` + the sha256 of its *manifest*: one line per file below it,
``"<sha256 hex of the file>  <path relative to the directory, with / separators>\\n"`` (two spaces, as
``sha256sum`` prints), the lines ordered by the UTF-8 bytes of the relative path. Only files count: an
empty sub-directory changes nothing, and so do file modes and times. Symbolic links are followed (a
Hugging Face snapshot is a tree of links into a blob store) and a link cycle is an error. The same
digest from a shell, for a directory without newlines in its file names::

    cd DIR && find -L . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -r -d '\\n' sha256sum | sha256sum

This module only needs the standard library: the lineage command and the integrity checker share it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from compliance.errors import EvidenceError, UsageError

__all__ = ["artifact_digest", "artifact_manifest", "file_sha256"]

_BLOCK = 1 << 20


def file_sha256(path: Path) -> str:
    """The sha256 hex digest of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(root: Path) -> list[tuple[str, Path]]:
    """Every file below ``root`` as (relative posix path, path), following links, sorted by UTF-8 path."""
    found: list[tuple[str, Path]] = []
    seen: set[str] = set()
    for current, directories, names in os.walk(root, followlinks=True):
        real = os.path.realpath(current)
        if real in seen:
            raise EvidenceError("symbolic link cycle in the artifact directory", file=current)
        seen.add(real)
        directories.sort()
        for name in names:
            path = Path(current, name)
            if not path.is_file():  # a dangling link, a socket, a fifo
                raise EvidenceError("not a regular file (dangling link?)", file=path)
            relative = path.relative_to(root).as_posix()
            if "\n" in relative or "\r" in relative:
                raise EvidenceError("file name holds a line break: it has no manifest line", file=path)
            found.append((relative, path))
    found.sort(key=lambda item: item[0].encode("utf-8", "surrogateescape"))
    return found


def artifact_manifest(path: str | Path) -> str:
    """The manifest of a directory (see the module docstring): the text whose sha256 is its digest."""
    root = Path(path)
    if not root.is_dir():
        raise UsageError("artifact directory not found", file=root)
    return "".join(f"{file_sha256(file)}  {relative}\n" for relative, file in _files(root))


def artifact_digest(path: str | Path) -> str:
    """``sha256:<64 hex>`` of a file's bytes, or of a directory's manifest (see the module docstring).

    Raises UsageError when ``path`` does not exist, EvidenceError for a directory without files, an
    unreadable file, a dangling link or a link cycle.
    """
    target = Path(path)
    try:
        if target.is_file():
            return f"sha256:{file_sha256(target)}"
        if not target.is_dir():
            raise UsageError("artifact not found (neither a file nor a directory)", file=target)
        manifest = artifact_manifest(target)
    except OSError as exc:
        raise EvidenceError(f"cannot read the artifact: {exc.strerror}", file=exc.filename or target) from None
    if not manifest:
        raise EvidenceError("artifact directory holds no files", file=target)
    return f"sha256:{hashlib.sha256(manifest.encode('utf-8', 'surrogateescape')).hexdigest()}"
