"""``--format text`` (the default): for people, a table of findings per deployment, then the summary line.

Each subject, in ``result.subjects`` order, gets a heading with its verdict; one with findings gets a rich table
(level, id, message, controls, waiver), waived rows dimmed and marked ``waived``. The last line is exactly
:meth:`GateResult.summary`. rich is imported inside :meth:`TextFormatter.render`, so importing the format
registry stays cheap.
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, TextIO

from compliance.gate.decisions import Decision, GateResult
from compliance.outputs._common import controls_of, subject_names

if TYPE_CHECKING:
    from rich.text import Text

__all__ = ["TextFormatter", "short_control", "should_color"]

_SHORT = (("EU AI Act ", "AIA "), ("NIST AI RMF ", "RMF "), ("ISO/IEC 42001 ", "ISO 42001 "))
_VERDICT_STYLE = {"denied": "bold red", "warned": "bold yellow", "passed": "bold green"}
_LEVEL_STYLE = {"deny": "red", "warn": "yellow"}


def short_control(ref: str) -> str:
    """``EU AI Act Art. 10(2)(f)`` → ``AIA Art. 10(2)(f)``; ``NIST AI RMF MEASURE 2.11`` → ``RMF MEASURE 2.11``."""
    for long, short in _SHORT:
        if ref.startswith(long):
            return short + ref[len(long) :]
    return ref


def should_color(stream: TextIO) -> bool:
    """Colour for a TTY unless ``NO_COLOR`` is set; ``FORCE_COLOR`` forces it (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class TextFormatter:
    name = "text"
    description = "a table per deployment and a summary line, for people (default)"

    def __init__(self, *, color: bool = False, width: int = 120) -> None:
        self.color = color
        self.width = width

    def render(self, result: GateResult) -> str:
        from rich import box
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        out = io.StringIO()
        console = Console(
            file=out,
            width=self.width,
            color_system="standard" if self.color else None,
            force_terminal=self.color,
            no_color=not self.color,
            highlight=False,
            emoji=False,
            markup=False,
            legacy_windows=False,
        )
        subjects = {s.name: s for s in result.subjects}
        console.print(Text(f"mlgate check: environment {result.environment} ({result.engine} engine)", style="bold"))
        for name in subject_names(result):
            verdict = result.verdict(name)
            heading = Text()
            heading.append(name, style="bold")
            heading.append("  ")
            heading.append(verdict, style=_VERDICT_STYLE.get(verdict, ""))
            subject = subjects.get(name)
            if subject is not None and subject.file:
                heading.append(f"  {subject.file}", style="dim")
            mine = result.of(name)
            console.print()
            console.print(heading)
            if not mine:
                continue
            table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold", expand=True)
            table.add_column("level", no_wrap=True, width=13)
            table.add_column("id", no_wrap=True, width=10)
            table.add_column("message", ratio=1, overflow="fold")
            table.add_column("controls", width=20, overflow="fold")
            table.add_column("waiver", width=26, overflow="fold")
            for d in mine:
                table.add_row(*self._cells(result, d), style="dim" if d.waived else None)
            console.print(table)
        console.print()
        console.print(Text(result.summary(), style="bold"))
        text = out.getvalue()
        return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"

    @staticmethod
    def _cells(result: GateResult, d: Decision) -> list[Text]:
        from rich.text import Text

        level = f"{d.level} (waived)" if d.waived else d.level
        subject_file = next((s.file for s in result.subjects if s.name == d.subject), None)
        if d.file and d.line is not None:
            where = f"{d.file}:{d.line}"
        elif d.file and d.file != subject_file:
            where = d.file
        else:
            where = ""
        message = f"{d.msg}\n{where}" if where else d.msg
        controls = "\n".join(short_control(c) for c in controls_of(result, d))
        waiver = ""
        if d.waiver is not None:
            waiver = f"{d.waiver.owner}\nexpires {d.waiver.expires.isoformat()}\n{d.waiver.reason}"
        return [
            Text(level, style="" if d.waived else _LEVEL_STYLE[d.level]),
            Text(d.id),
            Text(message),
            Text(controls),
            Text(waiver),
        ]
