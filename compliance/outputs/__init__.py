"""The CI output formats of ``mlgate check``: one module per format behind one :class:`Formatter` Protocol.

A formatter turns a :class:`~compliance.gate.decisions.GateResult` into text and nothing else: it never
chooses the exit code (that is :meth:`GateResult.exit_code`), never reads the clock, and keeps the order of
``result.decisions``, so the same result always renders to the same bytes. ``render`` returns the whole
document ending in one newline; the caller writes it (``sys.stdout.write`` or ``atomic_write``).

>>> from compliance import outputs
>>> outputs.names()
['text', 'json', 'sarif', 'junit', 'github']
>>> text = outputs.get("sarif").render(result)  # doctest: +SKIP

Importing this package is cheap: every format module imports only the standard library at module level;
``text`` imports rich inside ``render``.
"""

from __future__ import annotations

from typing import Protocol

from compliance.errors import UsageError
from compliance.gate.decisions import GateResult
from compliance.outputs.github import GithubFormatter
from compliance.outputs.json_ import JsonFormatter
from compliance.outputs.junit import JunitFormatter
from compliance.outputs.sarif import SarifFormatter
from compliance.outputs.text import TextFormatter

__all__ = [
    "FORMATS",
    "Formatter",
    "GithubFormatter",
    "JsonFormatter",
    "JunitFormatter",
    "SarifFormatter",
    "TextFormatter",
    "get",
    "names",
]


class Formatter(Protocol):
    """One output format of ``mlgate check``."""

    name: str  # the ``--format`` value
    description: str  # one line for ``--format`` help

    def render(self, result: GateResult) -> str:
        """The whole document for ``result``, ending in a newline; deterministic for a given result."""
        ...


FORMATS: dict[str, Formatter] = {
    f.name: f for f in (TextFormatter(), JsonFormatter(), SarifFormatter(), JunitFormatter(), GithubFormatter())
}


def names() -> list[str]:
    """The known format names, in registry order (``text`` first, the default), for ``--format`` help."""
    return list(FORMATS)


def get(name: str, *, color: bool = False) -> Formatter:
    """The formatter called ``name``; ``color`` only matters to ``text`` (pass it when stdout is a TTY).

    Raises :class:`~compliance.errors.UsageError` naming the known formats when ``name`` is unknown.
    """
    formatter = FORMATS.get(name)
    if formatter is None:
        raise UsageError(f"unknown output format {name!r}; known formats: {', '.join(names())}", field="--format")
    if color and isinstance(formatter, TextFormatter):
        return TextFormatter(color=True, width=formatter.width)
    return formatter
