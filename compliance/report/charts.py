"""The report's charts, drawn by the page writer: vector bars and lines with real (searchable) text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reportlab.lib import colors

from compliance.report.layout import BODY_W, Writer
from compliance.report.text import BODY, BOLD, fmt

__all__ = [
    "AMBER",
    "GRID",
    "INK",
    "MUTED",
    "RED",
    "GroupRow",
    "Panel",
    "Threshold",
    "fairness_figure",
    "figure_height",
    "traffic_bar",
]

PALETTE = (
    colors.HexColor("#1f5f8b"),
    colors.HexColor("#7fb3d5"),
    colors.HexColor("#2e7d32"),
    colors.HexColor("#a5d6a7"),
    colors.HexColor("#6a1b9a"),
    colors.HexColor("#ce93d8"),
    colors.HexColor("#ef6c00"),
    colors.HexColor("#ffcc80"),
)
GRID = colors.HexColor("#d0d7de")
INK = colors.HexColor("#1b1f23")
MUTED = colors.HexColor("#57606a")
RED = colors.HexColor("#c62828")
AMBER = colors.HexColor("#ef6c00")
SERIES = (PALETTE[0], colors.HexColor("#f0a04b"), PALETTE[2])


def traffic_bar(w: Writer, traffic: Sequence[tuple[str, float]], notes: Sequence[str]) -> None:
    """The traffic split: a 100 % stacked bar, a segment per version, and a legend naming every version."""
    height = 36 + 9 * len(notes)
    w.ensure(height)
    x0, top = w.x0, w.y
    total = sum(weight for _, weight in traffic) or 1.0
    bar_y, bar_h = top - 16, 12
    x = x0
    for index, (version, weight) in enumerate(traffic):
        span = BODY_W * weight / total
        if span > 0:
            w.rect(x, bar_y, span, bar_h, PALETTE[index % len(PALETTE)])
            label = f"{version} {fmt(weight)}%"
            if w.width(label, BOLD, 7) + 4 < span:
                ink = colors.white if index % 2 == 0 else INK
                w.text(x + span / 2, bar_y + 3.5, label, BOLD, 7, ink, align="center")
            x += span
    w.frame(x0, bar_y, BODY_W, bar_h, GRID)
    lx, ly = x0, bar_y - 12
    for index, (version, weight) in enumerate(traffic):
        w.rect(lx, ly, 7, 7, PALETTE[index % len(PALETTE)])
        label = f"{version}: {fmt(weight)}%" + (" (deployed, no traffic)" if weight == 0 else "")
        w.text(lx + 10, ly + 1, label, BODY, 7, INK)
        lx += 18 + w.width(label, BODY, 7)
    for line, note in enumerate(notes):
        w.text(x0, ly - 10 - 9 * line, note, BODY, 7, MUTED)
    w.y -= height


@dataclass(frozen=True)
class GroupRow:
    label: str
    n: int | None
    small: bool = False  # below the environment's minimum group size


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str
    color: Any = RED
    dash: tuple[float, ...] = (3.0, 2.0)


@dataclass(frozen=True)
class Panel:
    title: str
    series: tuple[str, ...]
    rows: tuple[tuple[float | None, ...], ...]  # per group, one value per series
    thresholds: tuple[Threshold, ...] = ()


LABEL_W = 118.0
BAR_H = 4.8
GAP = 4.0


def figure_height(groups: int, series: int, thresholds: int) -> float:
    return 12 + (series * BAR_H + GAP) * groups + 14 + 12 + 9 * thresholds


def fairness_figure(w: Writer, groups: Sequence[GroupRow], panels: Sequence[Panel]) -> None:
    """Per-group bars of one sensitive feature on a 0 to 1 scale, panels side by side, limits as vertical lines."""
    series = max(len(p.series) for p in panels)
    row_h = series * BAR_H + GAP
    plot_h = row_h * len(groups)
    height = figure_height(len(groups), series, max(len(p.thresholds) for p in panels))
    w.ensure(height)
    top = w.y - 12
    base = top - plot_h
    for index, group in enumerate(groups):
        y = top - (index + 1) * row_h + GAP / 2
        label = group.label + (f" (n={group.n})" if group.n is not None else "") + (" *" if group.small else "")
        w.text(
            w.x0 + LABEL_W - 4,
            y + 1 + (series - 1) * BAR_H / 2,
            _clip(w, label, LABEL_W - 8),
            BODY,
            6.5,
            INK,
            align="right",
        )
    panel_w = (BODY_W - LABEL_W - 14 * len(panels)) / len(panels)
    x0 = w.x0 + LABEL_W
    for panel in panels:
        _panel(w, panel, x0, base, top, panel_w, row_h)
        x0 += panel_w + 14
    w.y -= height


def _panel(w: Writer, panel: Panel, x0: float, base: float, top: float, width: float, row_h: float) -> None:
    w.text(x0, top + 4, panel.title, BOLD, 7.5, INK)
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = x0 + width * tick
        w.line(x, base, x, top, GRID, 0.4)
        w.text(x, base - 8, fmt(tick, 2), BODY, 6, MUTED, align="center")
    for index, values in enumerate(panel.rows):
        y = top - (index + 1) * row_h + GAP / 2
        for s, value in enumerate(values):
            bar_y = y + (len(values) - 1 - s) * BAR_H
            if value is None:
                w.text(x0 + 2, bar_y + 0.8, "n/a", BODY, 5.5, MUTED)
                continue
            span = width * max(0.0, min(1.0, value))
            w.rect(x0, bar_y, span, BAR_H - 0.8, SERIES[s % len(SERIES)])
            w.text(x0 + span + 2, bar_y + 0.6, fmt(value), BODY, 5.5, INK)
    for line in panel.thresholds:
        if 0.0 <= line.value <= 1.0:
            x = x0 + width * line.value
            w.line(x, base, x, top + 1, line.color, 0.9, line.dash)
    ly = base - 20
    lx = x0
    for s, name in enumerate(panel.series):
        w.rect(lx, ly, 6, 5, SERIES[s % len(SERIES)])
        w.text(lx + 8, ly, name, BODY, 6.5, INK)
        lx += 14 + w.width(name, BODY, 6.5)
    for index, line in enumerate(panel.thresholds):
        y = ly - 9 * (index + 1)
        w.line(x0, y + 2.5, x0 + 12, y + 2.5, line.color, 0.9, line.dash)
        shown = fmt(line.value) + ("" if 0.0 <= line.value <= 1.0 else " (off the scale)")
        w.text(x0 + 15, y, f"{line.label} = {shown}", BODY, 6.5, INK)


def _clip(w: Writer, text: str, width: float, size: float = 6.5) -> str:
    if w.width(text, BODY, size) <= width:
        return text
    while text and w.width(text + "…", BODY, size) > width:
        text = text[:-1]
    return text + "…"
