"""What the report's sections share: the document they draw on, key-value tables, status fills, dashes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from reportlab.lib import colors

from compliance.report.layout import BODY_W, Col, Row, Span, Writer
from compliance.report.model import ReportData
from compliance.report.text import BOLD, MONO

__all__ = ["KEY_W", "STATUS_FILL", "Document", "dash", "kv", "level_of"]

STATUS_FILL: dict[str, Any] = {
    "pass": colors.HexColor("#dff3e3"),
    "warn": colors.HexColor("#fff1d6"),
    "deny": colors.HexColor("#fbdada"),
    "waived": colors.HexColor("#e3e9ee"),
}
KEY_W = 96.0


class Document(Protocol):
    """The report being drawn: its page writer, its data, and headings that are bookmarks and contents targets."""

    w: Writer
    data: ReportData

    def heading(
        self, text: str, size: float, key: str, level: int, *, outline: str | None = None, keep: float = 60
    ) -> None: ...


def dash(value: object) -> str:
    """``value`` as text; — when it is None or empty."""
    return "—" if value is None or value == "" else str(value)


def level_of(decision: Mapping[str, Any]) -> str:
    """A decision's level as the report shows it: ``waived`` when a waiver applied, else its level."""
    return "waived" if decision.get("waiver") else str(decision.get("level"))


def kv(
    w: Writer, rows: Sequence[tuple[str, str | Sequence[Span]]], key_w: float = KEY_W, mono: Sequence[str] = ()
) -> None:
    """A key-value table; the values of the keys in ``mono`` are set in the monospace font."""
    cols = (Col(key_w, BOLD), Col(BODY_W - key_w))
    body = [Row([k, [(v, MONO)] if k in mono and isinstance(v, str) else v]) for k, v in rows]
    w.table(cols, body)
