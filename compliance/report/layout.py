"""A small, fast page writer on top of reportlab's canvas: text, wrapped paragraphs, tables, pagination.

Why not platypus: a report of 1,000 models has some 100,000 strings; platypus paragraphs and tables cost
~100 ms a page in pure Python, which is minutes. The writer lays text out itself (greedy word wrap) and
appends text, rectangles and lines to the page's content stream as PDF operators (``BT /F1 7 Tf … Tj ET``,
``re f``) — a few microseconds each. Everything else stays reportlab's: fonts, bookmarks, the outline, links,
forms, compression, the file structure. Text outside cp1252 (Chinese …) is shown in the CID font, in the same
text object, encoded by reportlab for the predefined CMap.

What repeats is computed once per document: word widths (printable ASCII from the base-14 fonts' glyph-width
tables, exactly what ``stringWidth`` gives), wrapped lines, the operators that show a non-plain text, font
and stroke settings. All numbers are written with fixed precision, so the same calls give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from compliance.report.text import BODY, BOLD, CJK, MONO, runs

__all__ = ["BODY_W", "MARGIN", "PAGE_H", "PAGE_W", "Col", "Row", "Writer", "rgb"]

PAGE_W, PAGE_H = A4
MARGIN = 16 * mm
BODY_W = PAGE_W - 2 * MARGIN

# cp1252 bytes (decoded as latin-1, one character a byte) → the PDF string literal: ( ) \ escaped, bytes
# outside printable ASCII as octal escapes
_ESCAPE = str.maketrans(
    {
        **{i: f"\\{i:03o}" for i in (*range(0, 32), *range(127, 256))},
        ord("("): "\\(",
        ord(")"): "\\)",
        ord("\\"): "\\\\",
    }
)
_PLAIN = frozenset(chr(i) for i in range(32, 127)) - {"(", ")", "\\"}
RULE = colors.HexColor("#d0d7de")  # table rules
HEADER_FILL = colors.HexColor("#eef2f6")  # table headers
_WRAPS_MAX = 100_000  # memoised wraps (text, width, font, size) → lines


_RGB: dict[int, tuple[Any, str]] = {}


def _glyph_widths(font: str) -> Sequence[int]:
    """The width (1/1000 em) of each byte of a base-14 font's WinAnsi encoding."""
    from reportlab.pdfbase.pdfmetrics import getFont

    widths: Sequence[int] = getFont(font).widths
    return widths


def rgb(color: Any) -> str:
    """``r g b`` of a reportlab color, fixed precision (cached: the report uses a dozen colors)."""
    known = _RGB.get(id(color))
    if known is not None and known[0] is color:
        return known[1]
    text = f"{color.red:.3f} {color.green:.3f} {color.blue:.3f}"
    if len(_RGB) < 256:
        _RGB[id(color)] = (color, text)  # keeps the color alive, so its id is not reused
    return text


def _pdf_string(text: str) -> str:
    if _PLAIN.issuperset(text):
        return text
    return text.encode("cp1252", errors="replace").decode("latin-1").translate(_ESCAPE)


@dataclass(frozen=True)
class Col:
    width: float
    font: str = BODY
    size: float = 7.0
    align: str = "left"  # left | right


Span = tuple[str, str]  # (text, font)
CellValue = str | Sequence[Span]


@dataclass
class Row:
    cells: Sequence[CellValue]
    fills: dict[int, Any] = field(default_factory=dict)  # column → background
    inks: dict[int, Any] = field(default_factory=dict)  # column → text color
    fill: Any = None  # background of the whole row


class Writer:
    """Draws top to bottom onto pages; ``ensure(h)`` starts a new page when ``h`` points do not fit."""

    PAD = 2.5

    def __init__(self, canv: Canvas, on_page: Callable[[Writer], None], top_gap: float = 14.0) -> None:
        self.c = canv
        self.on_page = on_page
        self.top = PAGE_H - MARGIN - top_gap
        self.bottom = MARGIN + 12
        self.x0 = MARGIN
        self.y = self.top
        self.page = 0
        self._fonts: dict[str, str] = {}
        self._widths: dict[tuple[str, str], float] = {}
        self._wraps: dict[tuple[str, float, str, float], tuple[str, ...]] = {}
        self._tf: dict[tuple[str, float], str] = {}
        self._glyphs: dict[str, Sequence[int]] = {name: _glyph_widths(name) for name in (BODY, BOLD, MONO)}
        self._shows: dict[tuple[str, str, float], str] = {}
        self._strokes: dict[tuple[float, str, tuple[float, ...]], str] = {}
        self.ink = colors.black

    # ------------------------------------------------------------------------------------------ pages

    def new_page(self) -> None:
        if self.page:
            self.c.showPage()
        self.page += 1
        self.y = self.top
        self.on_page(self)

    def ensure(self, height: float) -> None:
        if self.y - height < self.bottom:
            self.new_page()

    def fresh(self) -> bool:
        return bool(self.y >= self.top - 0.01)

    def space(self, height: float) -> None:
        if not self.fresh():
            self.y -= height

    # ------------------------------------------------------------------------------------------ primitives

    def _font(self, name: str) -> str:
        ref = self._fonts.get(name)
        if ref is None:
            ref = self._fonts[name] = self.c._doc.getInternalFontName(name)
        return ref

    def _font_op(self, name: str, size: float) -> str:
        """``/F1 7.00 Tf`` (cached: a report uses a dozen font and size pairs)."""
        op = self._tf.get((name, size))
        if op is None:
            op = self._tf[(name, size)] = f"{self._font(name)} {size:.2f} Tf"
        return op

    def width(self, text: str, font: str, size: float) -> float:
        key = (text, font)
        unit = self._widths.get(key)
        if unit is None:
            table = self._glyphs.get(font)
            if table is not None and text.isascii() and text.isprintable():
                # what stringWidth computes for printable ASCII in a base-14 font, without its per-call
                # encoding into font runs: the sum of the glyph widths (integers, so exact), scaled
                unit = sum(map(table.__getitem__, text.encode("ascii"))) * 0.001 * 1000.0
            elif text.isascii():
                unit = stringWidth(text, font, 1000.0)
            else:
                unit = sum(stringWidth(run, font if latin else CJK, 1000.0) for latin, run in runs(text))
            if len(self._widths) < 200_000:
                self._widths[key] = unit
        return unit * size / 1000.0

    def text(
        self, x: float, y: float, text: str, font: str = BODY, size: float = 7.0, color: Any = None, align: str = "left"
    ) -> None:
        if not text:
            return
        if align != "left":
            w = self.width(text, font, size)
            x -= w if align == "right" else w / 2
        color = color if color is not None else self.ink
        if _PLAIN.issuperset(text):  # the common case: printable ASCII without ( ) \
            self.c._code.append(f"BT {rgb(color)} rg {x:.2f} {y:.2f} Td {self._font_op(font, size)} ({text}) Tj ET")
            return
        key = (text, font, size)
        show = self._shows.get(key)
        if show is None:
            show = self._show(text, font, size)
            if len(self._shows) < 100_000:
                self._shows[key] = show
        self.c._code.append(f"BT {rgb(color)} rg {x:.2f} {y:.2f} Td {show}")

    def _show(self, text: str, font: str, size: float) -> str:
        """The operators that show ``text`` and end the text object: one text object; each run continues where
        the one before ended (Tj advances the position), so extractors read "张伟@example.com" as one word."""
        ops = []
        for latin, run in runs(text):
            if latin:
                ops.append(f"{self._font_op(font, size)} ({_pdf_string(run)}) Tj")
            else:
                ops.append(f"{self._font_op(CJK, size)} ({self._cjk(run)}) Tj")
        ops.append("ET")
        return " ".join(ops)

    def _cjk(self, run: str) -> str:
        """A run in the CID font: UTF-16BE code units (the UniGB-UCS2-H CMap), escaped as a PDF string."""
        from reportlab.pdfbase.pdfmetrics import getFont

        encoded: str = getFont(CJK).formatForPdf(run)
        return encoded

    def rect(self, x: float, y: float, w: float, h: float, fill: Any) -> None:
        self.c._code.append(f"{rgb(fill)} rg {x:.2f} {y:.2f} {w:.2f} {h:.2f} re f")

    def frame(self, x: float, y: float, w: float, h: float, stroke: Any, width: float = 0.5) -> None:
        self.c._code.append(f"{width:.2f} w {rgb(stroke)} RG {x:.2f} {y:.2f} {w:.2f} {h:.2f} re S")

    def line(
        self, x1: float, y1: float, x2: float, y2: float, color: Any, width: float = 0.5, dash: Sequence[float] = ()
    ) -> None:
        key = (width, rgb(color), tuple(dash))
        stroke = self._strokes.get(key)
        if stroke is None:  # width, color and dash: a dozen combinations in a report
            pattern = " ".join(f"{d:.2f}" for d in dash)
            stroke = self._strokes[key] = f"{width:.2f} w {key[1]} RG [{pattern}] 0 d"
        self.c._code.append(f"{stroke} {x1:.2f} {y1:.2f} m {x2:.2f} {y2:.2f} l S [] 0 d")

    def form(self, name: str, x: float, y: float) -> None:
        self.c._code.append(f"q 1 0 0 1 {x:.2f} {y:.2f} cm")
        self.c.doForm(name)
        self.c._code.append("Q")

    def link(self, key: str, x1: float, y1: float, x2: float, y2: float) -> None:
        self.c.linkRect("", key, (x1, y1, x2, y2), relative=1, thickness=0)

    # ------------------------------------------------------------------------------------------ text layout

    def wrap(self, text: str, width: float, font: str, size: float) -> tuple[str, ...]:
        """``text`` in lines of at most ``width`` points (memoised: tables repeat their headers and values)."""
        key = (text, width, font, size)
        known = self._wraps.get(key)
        if known is None:
            known = tuple(self._wrap(text, width, font, size))
            if len(self._wraps) < _WRAPS_MAX:
                self._wraps[key] = known
        return known

    def _wrap(self, text: str, width: float, font: str, size: float) -> list[str]:
        lines: list[str] = []
        space = self.width(" ", font, size)
        for paragraph in text.split("\n"):
            line, line_w = "", 0.0
            for word in paragraph.split(" "):
                if not word:
                    continue
                word_w = self.width(word, font, size)
                if word_w > width:  # a digest or a URL: break it by characters
                    if line:
                        lines.append(line)
                    pieces = self._hard_break(word, width, font, size)
                    lines.extend(pieces[:-1])
                    line, line_w = pieces[-1], self.width(pieces[-1], font, size)
                    continue
                if line and line_w + space + word_w > width:
                    lines.append(line)
                    line, line_w = word, word_w
                elif line:
                    line, line_w = f"{line} {word}", line_w + space + word_w
                else:
                    line, line_w = word, word_w
            lines.append(line)
        return lines

    def _hard_break(self, word: str, width: float, font: str, size: float) -> list[str]:
        pieces: list[str] = []
        current = ""
        for ch in word:
            if current and self.width(current + ch, font, size) > width:
                pieces.append(current)
                current = ch
            else:
                current += ch
        pieces.append(current)
        return pieces

    def paragraph(
        self,
        text: str,
        font: str = BODY,
        size: float = 8.5,
        color: Any = None,
        *,
        indent: float = 0.0,
        after: float = 3.0,
        leading: float | None = None,
    ) -> None:
        lead = leading or size * 1.3
        for line in self.wrap(text, BODY_W - indent, font, size):
            self.ensure(lead)
            self.y -= lead
            self.text(self.x0 + indent, self.y + size * 0.22, line, font, size, color)
        self.y -= after

    def spans(self, spans: Sequence[Span], size: float = 8.5, color: Any = None, after: float = 3.0) -> None:
        for text, font in spans:
            self.paragraph(text, font, size, color, after=0)
        self.y -= after

    # ------------------------------------------------------------------------------------------ tables

    def _cell_lines(self, value: CellValue, col: Col) -> list[tuple[str, str]]:
        width = col.width - 2 * self.PAD
        if isinstance(value, str):
            return [(line, col.font) for line in self.wrap(value, width, col.font, col.size)]
        out: list[tuple[str, str]] = []
        for text, font in value:
            out += [(line, font) for line in self.wrap(text, width, font, col.size)]
        return out

    def table(
        self,
        cols: Sequence[Col],
        rows: Sequence[Row | Sequence[CellValue]],
        header: Sequence[str] | None = None,
        *,
        header_fill: Any = None,
        rule: Any = None,
        after: float = 6.0,
        x: float | None = None,
    ) -> None:
        """Rows of wrapped cells; a row that does not fit goes to the next page, under a repeated header."""
        left = self.x0 if x is None else x
        size = max(c.size for c in cols)
        lead = size * 1.22
        rule = rule if rule is not None else RULE
        header_fill = header_fill if header_fill is not None else HEADER_FILL
        max_lines = int((self.top - self.bottom - 4 * self.PAD) / lead) - 3

        def draw_header() -> None:
            if header is None:
                return
            lines = [
                self.wrap(h, c.width - 2 * self.PAD, "Helvetica-Bold", c.size)
                for h, c in zip(header, cols, strict=True)
            ]
            height = max(len(h) for h in lines) * lead + 2 * self.PAD
            self.y -= height
            self.rect(left, self.y, sum(c.width for c in cols), height, header_fill)
            cx = left
            for col, cell in zip(cols, lines, strict=True):
                for index, line in enumerate(cell):
                    y = self.y + height - self.PAD - (index + 1) * lead + lead * 0.25
                    tx = cx + self.PAD if col.align == "left" else cx + col.width - self.PAD
                    self.text(tx, y, line, "Helvetica-Bold", col.size, align=col.align)
                cx += col.width

        header_h = 0.0
        if header is not None:
            header_h = (
                max(
                    len(self.wrap(h, c.width - 2 * self.PAD, "Helvetica-Bold", c.size))
                    for h, c in zip(header, cols, strict=True)
                )
                * lead
                + 2 * self.PAD
            )
        self.ensure(header_h + lead + 2 * self.PAD)
        draw_header()
        total_w = sum(c.width for c in cols)
        for raw in rows:
            row = raw if isinstance(raw, Row) else Row(list(raw))
            cells = [self._cell_lines(v, c) for v, c in zip(row.cells, cols, strict=True)]
            for index, cell in enumerate(cells):
                if len(cell) > max_lines:
                    cells[index] = [*cell[: max_lines - 1], ("… (truncated)", cols[index].font)]
            height = max(len(c) for c in cells) * lead + 2 * self.PAD
            if self.y - height < self.bottom:
                self.new_page()
                draw_header()
            self.y -= height
            if row.fill is not None:
                self.rect(left, self.y, total_w, height, row.fill)
            cx = left
            for index, (col, cell) in enumerate(zip(cols, cells, strict=True)):
                fill = row.fills.get(index)
                if fill is not None:
                    self.rect(cx, self.y, col.width, height, fill)
                ink = row.inks.get(index)
                for number, (line, font) in enumerate(cell):
                    y = self.y + height - self.PAD - (number + 1) * lead + lead * 0.25
                    tx = cx + self.PAD if col.align == "left" else cx + col.width - self.PAD
                    self.text(tx, y, line, font, col.size, ink, align=col.align)
                cx += col.width
            self.line(left, self.y, left + total_w, self.y, rule, 0.3)
        self.y -= after
