"""The PDF audit report of one ledger run, byte-for-byte reproducible.

Layout: cover, contents, executive summary, one section per model deployment, the platform, and an appendix
(policy catalogue with its control mapping, waivers, evidence manifest, how to verify). This module assembles
the document (build order, contents, outline, page furniture, metadata); the sections are drawn by
:mod:`compliance.report.sections`. Every heading is a bookmark in the PDF outline; the contents lines link to
them; every page says "Page X of Y" and the pages carry page labels.

One pass: the contents' page numbers and the page total are form XObjects drawn where they are needed and
defined when the document ends (a PDF may use a form before defining it), so nothing is laid out twice.
Pages are drawn by :mod:`compliance.report.layout` (fast, see there) on a reportlab canvas.

Reproducibility: the same record and the same ``built`` time give the same bytes. ReportLab's invariant mode
fixes the document ID; the creation date is ``built`` (``SOURCE_DATE_EPOCH`` when set, else the run's own
time); fonts are not embedded (Helvetica, Courier and the predefined CID font STSong-Light, see
:mod:`compliance.report.text`); streams are Flate-compressed without ASCII85; nothing reads the clock, the
locale or the machine.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.pdfbase.pdfdoc import PDFDate, PDFDictionary, PDFInfo, PDFName, PDFString
from reportlab.pdfgen.canvas import Canvas

from compliance.errors import UsageError
from compliance.report.charts import GRID, INK, MUTED
from compliance.report.layout import BODY_W, MARGIN, PAGE_H, PAGE_W, Writer
from compliance.report.model import ReportData, overall_verdict, report_data
from compliance.report.sections.appendix import catalogue, how_to_verify, manifest, waivers
from compliance.report.sections.common import dash
from compliance.report.sections.cover import cover
from compliance.report.sections.deployments import deployments
from compliance.report.sections.platform import platform
from compliance.report.sections.summary import summary
from compliance.report.text import BODY, BOLD, register_fonts

__all__ = ["REPORT_FORMAT", "build_epoch", "iso", "render_pdf"]


REPORT_FORMAT = "1"  # bump when the layout changes: a report verifies only against the format that made it
HEADING_INK = colors.HexColor("#0b3d62")
OUTLINE_DETAIL = 100  # up to this many deployments, each model's subsections are bookmarks too


def build_epoch(record: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> int:
    """The report's creation time: ``SOURCE_DATE_EPOCH`` when set, else the run's time, so that a report is
    reproducible even without the variable."""
    environ = os.environ if environ is None else environ
    value = environ.get("SOURCE_DATE_EPOCH", "").strip()
    if value:
        try:
            epoch = int(value)
        except ValueError:
            raise UsageError(f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds") from None
        if not 0 <= epoch < 253402300800:
            raise UsageError(f"SOURCE_DATE_EPOCH={value!r} is out of range")
        return epoch
    moment = str(record.get("time") or "")
    try:
        parsed = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"ledger record has no valid time ({moment!r})", field="time") from None
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp())


def iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------- the PDF file


class _Stamp:
    """The time stamp reportlab writes as CreationDate and ModDate: ``built``, in UTC."""

    def __init__(self, epoch: int) -> None:
        moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
        self.t = float(epoch)
        self.lt = moment.timetuple()
        self.YMDhms = tuple(self.lt)[:6]
        self.dhh = 0
        self.dmm = 0
        self.tzname = "UTC"


class _Info(PDFInfo):  # type: ignore[misc]
    """The document information dictionary with mlgate's keys (MlgateRunId, MlgateLedgerHash, …)."""

    def __init__(self, extra: Mapping[str, str]) -> None:
        super().__init__()
        self.extra = dict(extra)

    def format(self, document: Any) -> bytes:
        entries: dict[str, Any] = OrderedDict()
        for key in ("Title", "Author", "Subject", "Keywords", "Creator", "Producer"):
            entries[key] = PDFString(getattr(self, key.lower()))
        entries["CreationDate"] = entries["ModDate"] = PDFDate(ts=document._timeStamp)
        entries["Trapped"] = PDFName(self.trapped)
        for key, value in sorted(self.extra.items()):
            entries[key] = PDFString(value)
        result: bytes = PDFDictionary(entries).format(document)
        return result


class _Canvas(Canvas):  # type: ignore[misc]
    """Stamps the fixed creation date and defines the deferred forms (page total, contents numbers) on save."""

    def __init__(self, buffer: io.BytesIO, *, built: int, info: Mapping[str, str], report: _Report) -> None:
        super().__init__(buffer, pagesize=(PAGE_W, PAGE_H), invariant=1, pageCompression=1)
        self._doc._timeStamp = _Stamp(built)
        self._doc.info = _Info(info)
        self._report = report

    def save(self) -> None:
        pages = self.getPageNumber() - 1
        self.beginForm("page-total", 0, -2, 60, 10)
        self.setFont(BODY, 7)
        self.setFillColor(MUTED)
        self.drawString(0, 0, str(pages))
        self.endForm()
        for _, key, _ in self._report.entries:
            self.beginForm(f"toc-{key}", -60, -2, 0, 10)
            self.setFont(BODY, 8)
            self.setFillColor(INK)
            page = self._report.pages.get(key)
            self.drawRightString(0, 0, str(page) if page is not None else "?")
            self.endForm()
        super().save()


# ------------------------------------------------------------------------------------------- the report


def _short(value: object, n: int = 19) -> str:
    text = str(value or "—")
    return text if len(text) <= n else text[:n] + "…"


class _Report:
    def __init__(self, data: ReportData) -> None:
        self.data = data
        self.pages: dict[str, int] = {}
        self.entries = self._entries()
        self.last_level = -1
        self.w: Writer

    def _entries(self) -> list[tuple[str, str, int]]:
        data = self.data
        entries = [("Executive summary", "summary", 0), ("Model deployments", "models", 0)]
        entries += [(s.title, f"m{i}", 1) for i, s in enumerate(data.deployments)]
        entries += [
            ("Platform", "platform", 0),
            ("Appendix", "appendix", 0),
            ("Policy catalogue and control mapping", "catalogue", 1),
            ("Waivers", "waivers", 1),
            ("Evidence manifest", "manifest", 1),
            ("How to verify this report", "verify", 1),
        ]
        return entries

    # -------------------------------------------------------------------------------------- page furniture

    def on_page(self, w: Writer) -> None:
        data = self.data
        if w.page == 1:
            w.c.addPageLabel(0, "ARABIC", 1)
        else:
            top = PAGE_H - MARGIN + 2
            w.text(MARGIN, top, "mlgate compliance report", BOLD, 7, MUTED)
            w.text(
                PAGE_W - MARGIN, top, f"{data.environment} · run {data.run_id} · {data.time}", BODY, 7, MUTED, "right"
            )
            w.line(MARGIN, top - 4, PAGE_W - MARGIN, top - 4, GRID, 0.5)
        y = MARGIN - 8
        w.text(
            MARGIN,
            y,
            f"policy bundle {_short(data.bundle_digest)}  ·  ledger record {_short(data.record_hash)}",
            BODY,
            7,
            MUTED,
        )
        right = PAGE_W - MARGIN - 14
        w.text(right, y, f"Page {w.page} of ", BODY, 7, MUTED, "right")
        w.form("page-total", right + 1, y)

    def heading(
        self, text: str, size: float, key: str, level: int, *, outline: str | None = None, keep: float = 60
    ) -> None:
        w = self.w
        before = {15.0: 4.0, 12.0: 10.0}.get(size, 7.0)
        w.ensure(size * 1.4 + before + keep)
        w.space(before)
        w.y -= size * 1.3
        ink = HEADING_INK if size == 12.0 else INK
        for index, line in enumerate(w.wrap(text, BODY_W, BOLD, size)):
            if index:
                w.y -= size * 1.2
            w.text(MARGIN, w.y + size * 0.2, line, BOLD, size, ink)
        w.y -= size * 0.35
        if level >= 2 and len(self.data.deployments) > OUTLINE_DETAIL:
            return  # big fleets: the outline stops at the models (7 entries a model cost 20 % of the time)
        w.c.bookmarkPage(key, fit="XYZ", left=0, top=w.y + size * 2.2, zoom=0)
        level = min(level, self.last_level + 1)
        w.c.addOutlineEntry(outline or text, key, level, closed=level >= 1)
        self.last_level = level
        self.pages[key] = w.page

    def contents(self) -> None:
        w = self.w
        self.heading("Contents", 15.0, "contents", 0)
        for title, key, level in self.entries:
            w.ensure(12)
            w.y -= 12
            indent = 14.0 * level
            font, size = (BOLD, 9.0) if level == 0 else (BODY, 8.0)
            w.text(MARGIN + indent, w.y + 2, title, font, size, INK)
            start = MARGIN + indent + w.width(title, font, size) + 4
            end = PAGE_W - MARGIN - 30
            if end > start:
                w.line(start, w.y + 2, end, w.y + 2, GRID, 0.5, (1.0, 2.0))
            w.form(f"toc-{key}", PAGE_W - MARGIN, w.y + 2)
            w.link(key, MARGIN, w.y, PAGE_W - MARGIN, w.y + 11)
        w.new_page()

    def render(self) -> None:
        """The document in build order; the cover has no heading, so it is bookmarked here."""
        self.w.c.bookmarkPage("cover")
        self.w.c.addOutlineEntry("Cover", "cover", 0)
        self.last_level = 0
        cover(self)
        self.contents()
        summary(self)
        deployments(self)
        platform(self)
        catalogue(self)
        waivers(self)
        manifest(self)
        how_to_verify(self)


def render_pdf(record: Mapping[str, Any], *, built: int | None = None) -> bytes:
    """The unsigned PDF of a ledger record: a pure function of (record, built)."""
    register_fonts()
    data = report_data(record)
    epoch = build_epoch(record) if built is None else built
    report = _Report(data)
    info = {
        "MlgateReportFormat": REPORT_FORMAT,
        "MlgateRunId": data.run_id,
        "MlgateEnvironment": data.environment,
        "MlgateLedgerSeq": dash(data.seq),
        "MlgateLedgerHash": data.record_hash,
        "MlgatePolicyBundle": data.bundle_digest,
        "MlgateBuilt": iso(epoch),
    }
    buffer = io.BytesIO()
    a85 = rl_config.useA85
    rl_config.useA85 = 0  # Flate only: smaller and faster; restored below for other reportlab users
    try:
        canv = _Canvas(buffer, built=epoch, info=info, report=report)
        canv.setTitle(f"mlgate compliance report — {data.environment} — run {data.run_id}")
        canv.setAuthor("mlgate")
        canv.setSubject(f"Gate run {data.run_id} of {data.environment} at {data.time}: {overall_verdict(data)}")
        canv.setCreator("mlgate report")
        canv.setKeywords(f"mlgate, compliance report, {data.environment}, {data.run_id}")
        canv.setPageCompression(1)
        canv.showOutline()
        report.w = Writer(canv, report.on_page)
        report.w.new_page()
        report.render()
        canv.showPage()
        canv.save()
    finally:
        rl_config.useA85 = a85
    return buffer.getvalue()
