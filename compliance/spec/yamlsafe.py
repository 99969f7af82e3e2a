"""YAML loading that is safe against hostile files and remembers where every key stood.

``load_yaml`` returns plain Python data plus a :class:`LineIndex` that maps a field path
(``("spec", "versions", 0, "digest")``) back to the line of the YAML file that set it, so that a
validation error can point a user at ``models/x.yaml:12``.

Guards: a size cap on the file, a cap on the node count after alias expansion (an alias bomb
parses into a small graph but explodes when anything walks it), and duplicate mapping keys,
which PyYAML would silently resolve to the last one.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import yaml

from compliance.errors import SpecError

__all__ = ["MAX_FILE_BYTES", "MAX_NODES", "LineIndex", "load_yaml", "load_yaml_documents"]

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NODES = 200_000

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineIndex:
    """Line numbers (1-based) of mapping keys and sequence items, looked up by field path."""

    def __init__(self) -> None:
        self._lines: dict[int, dict[Hashable, int]] = {}
        self._keep: list[Any] = []  # keeps ids stable while the index lives

    def record(self, container: Any, key: Hashable, line: int) -> None:
        if id(container) not in self._lines:
            self._keep.append(container)
            self._lines[id(container)] = {}
        self._lines[id(container)][key] = line

    def line_of(self, data: Any, path: Sequence[Hashable]) -> int | None:
        """The line of the deepest element of ``path`` that exists in ``data``."""
        line: int | None = None
        node = data
        for key in path:
            lines = self._lines.get(id(node))
            if lines is None or key not in lines:
                break
            line = lines[key]
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                break
        return line


def _make_loader(index: LineIndex) -> type[yaml.SafeLoader]:
    class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
            explicit = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
            self.flatten_mapping(node)
            merged = len(node.value) - explicit  # flatten_mapping puts merged pairs first
            mapping: dict[Hashable, Any] = {}
            merged_keys: set[Hashable] = set()
            for position, (key_node, value_node) in enumerate(node.value):
                key = self.construct_object(key_node, deep=deep)
                if not isinstance(key, Hashable) or isinstance(key, (list, dict)):
                    raise yaml.constructor.ConstructorError(
                        None, None, "mapping key is not a scalar", key_node.start_mark
                    )
                if key in mapping and position >= merged and key not in merged_keys:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
                if position < merged:
                    merged_keys.add(key)
                else:
                    merged_keys.discard(key)  # an explicit key may override a merged one, once
                mapping[key] = self.construct_object(value_node, deep=deep)
                index.record(mapping, key, key_node.start_mark.line + 1)
            return mapping

        def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> list[Any]:
            items = [self.construct_object(child, deep=deep) for child in node.value]
            for position, child in enumerate(node.value):
                index.record(items, position, child.start_mark.line + 1)
            return items

    _Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_mapping)
    _Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_sequence)
    return _Loader


def _expanded_size(node: yaml.Node, memo: dict[int, int], limit: int) -> int:
    """Node count with aliases expanded, computed on the shared graph (linear, not exponential)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = limit + 1  # a node reaching itself through an alias is a cycle: treat as too big
    size = 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            size += _expanded_size(key_node, memo, limit) + _expanded_size(value_node, memo, limit)
            if size > limit:
                break
    elif isinstance(node, yaml.SequenceNode):
        for child in node.value:
            size += _expanded_size(child, memo, limit)
            if size > limit:
                break
    memo[id(node)] = size
    return size


def _read_text(path: Path, max_bytes: int) -> str:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SpecError(
                f"file is {size / 1048576:.1f} MiB, larger than the {max_bytes // 1048576} MiB limit", file=path
            )
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise SpecError("file not found", file=path) from None
    except IsADirectoryError:
        raise SpecError("is a directory, expected a YAML file", file=path) from None
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror}", file=path) from None
    if len(raw) > max_bytes:
        raise SpecError(f"file is larger than the {max_bytes // 1048576} MiB limit", file=path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text (byte {exc.start})", file=path) from None


def load_yaml_documents(
    path: str | Path, *, max_bytes: int = MAX_FILE_BYTES, max_nodes: int = MAX_NODES
) -> list[tuple[Any, LineIndex]]:
    """Parse every document of a YAML file; errors are :class:`SpecError` naming file and line."""
    path = Path(path)
    text = _read_text(path, max_bytes)
    index = LineIndex()
    loader = _make_loader(index)(text)
    documents: list[tuple[Any, LineIndex]] = []
    try:
        memo: dict[int, int] = {}
        budget = max_nodes
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            budget -= _expanded_size(node, memo, budget)
            if budget < 0:
                raise SpecError(
                    f"document expands to more than {max_nodes:,} nodes (an alias bomb?)",
                    file=path,
                    line=node.start_mark.line + 1,
                )
            documents.append((loader.construct_document(node), index))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(f"invalid YAML: {problem}", file=path, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", file=path) from None
    except RecursionError:
        raise SpecError("YAML nests too deeply", file=path) from None
    finally:
        loader.dispose()
    return documents


def load_yaml(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> tuple[Any, LineIndex]:
    """Parse a single-document YAML file (an empty file is ``None``)."""
    documents = load_yaml_documents(path, max_bytes=max_bytes)
    if len(documents) > 1:
        raise SpecError(f"holds {len(documents)} YAML documents, expected one", file=path)
    if not documents:
        return None, LineIndex()
    return documents[0]
