"""Text for the PDF: Latin in Helvetica, everything else (Chinese …) in the built-in CID font STSong-Light.

Neither font is embedded: Helvetica is one of the PDF base-14 fonts and STSong-Light is one of Adobe's
predefined CJK fonts (``UnicodeCIDFont``), which every conforming viewer maps to a font it has. That keeps the
output identical on every machine, whatever fonts are installed, and the text stays text (searchable,
extractable): nothing is drawn as an image. Characters outside cp1252 are routed to STSong-Light, which
covers GB 2312 (Chinese, also Greek, Cyrillic, arrows and common symbols).
"""

from __future__ import annotations

from functools import lru_cache
from xml.sax.saxutils import escape

__all__ = ["BODY", "BOLD", "CJK", "MONO", "fmt", "markup", "register_fonts", "runs", "text_width"]

BODY, BOLD, MONO, CJK = "Helvetica", "Helvetica-Bold", "Courier", "STSong-Light"


@lru_cache(maxsize=1)
def register_fonts() -> None:
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(CJK))
    for bold in (0, 1):
        for italic in (0, 1):
            addMapping(CJK, bold, italic, CJK)  # the CID font has no bold face: <b> keeps the same glyphs


def _latin(ch: str) -> bool:
    if ch < "\x80":
        return True
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def runs(text: str) -> list[tuple[bool, str]]:
    """``text`` split into (latin, run) pieces."""
    if text.isascii():
        return [(True, text)]
    try:
        text.encode("cp1252")
        return [(True, text)]
    except UnicodeEncodeError:
        pass
    pieces: list[tuple[bool, str]] = []
    for ch in text:
        latin = _latin(ch)
        if pieces and pieces[-1][0] == latin:
            pieces[-1] = (latin, pieces[-1][1] + ch)
        else:
            pieces.append((latin, ch))
    return pieces


def markup(text: object) -> str:
    """Paragraph markup for any text: XML-escaped, non-Latin runs in the CJK font."""
    value = "—" if text is None else str(text)
    if value.isascii():
        return escape(value)
    return "".join(escape(run) if latin else f'<font name="{CJK}">{escape(run)}</font>' for latin, run in runs(value))


def text_width(text: str, font: str, size: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return float(sum(stringWidth(run, font if latin else CJK, size) for latin, run in runs(text)))


def fmt(value: object, digits: int = 3) -> str:
    """Numbers as the report shows them: up to ``digits`` decimals, no trailing zeros; None as "—"."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
        return text if text not in ("", "-0") else "0"
    return str(value)
