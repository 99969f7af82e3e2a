"""The PDF audit report of one ledger run, byte-for-byte reproducible.

Layout: cover, contents, executive summary, one section per model deployment, the platform, and an appendix
(policy catalogue with its control mapping, waivers, evidence manifest, how to verify). Every heading is a
bookmark in the PDF outline; the contents lines link to them; every page says "Page X of Y" and the pages
carry page labels.

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
from collections.abc import Mapping, Sequence
from typing import Any

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.pdfbase.pdfdoc import PDFDate, PDFDictionary, PDFInfo, PDFName, PDFString
from reportlab.pdfgen.canvas import Canvas

from compliance.errors import UsageError
from compliance.gate.decisions import FRAMEWORKS
from compliance.report.charts import (
    AMBER,
    GRID,
    INK,
    MUTED,
    RED,
    GroupRow,
    Panel,
    Threshold,
    fairness_figure,
    figure_height,
    traffic_bar,
)
from compliance.report.layout import BODY_W, MARGIN, PAGE_H, PAGE_W, Col, Row, Span, Writer
from compliance.report.model import (
    FairnessThresholds,
    ReportData,
    SubjectView,
    concern_of,
    overall_verdict,
    report_data,
)
from compliance.report.text import BODY, BOLD, MONO, fmt, register_fonts

__all__ = ["REPORT_FORMAT", "build_epoch", "iso", "render_pdf"]

REPORT_FORMAT = "1"  # bump when the layout changes: a report verifies only against the format that made it

STATUS_FILL: dict[str, Any] = {
    "pass": colors.HexColor("#dff3e3"),
    "warn": colors.HexColor("#fff1d6"),
    "deny": colors.HexColor("#fbdada"),
    "waived": colors.HexColor("#e3e9ee"),
}
VERDICT_INK = {"PASSED": colors.HexColor("#2e7d32"), "PASSED with warnings": AMBER, "DENIED": RED}
HEADING_INK = colors.HexColor("#0b3d62")
KEY_W = 96.0
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


def _s(value: object) -> str:
    return "—" if value is None or value == "" else str(value)


def _level(decision: Mapping[str, Any]) -> str:
    return "waived" if decision.get("waiver") else str(decision.get("level"))


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

    def kv(
        self, rows: Sequence[tuple[str, str | Sequence[Span]]], key_w: float = KEY_W, mono: Sequence[str] = ()
    ) -> None:
        cols = (Col(key_w, BOLD), Col(BODY_W - key_w))
        body = [Row([k, [(v, MONO)] if k in mono and isinstance(v, str) else v]) for k, v in rows]
        self.w.table(cols, body)

    # -------------------------------------------------------------------------------------- sections

    def cover(self) -> None:
        w, data = self.w, self.data
        w.c.bookmarkPage("cover")
        w.c.addOutlineEntry("Cover", "cover", 0)
        self.last_level = 0
        w.y -= 70
        w.paragraph("ML deployment compliance report", BOLD, 22, INK, after=4)
        w.paragraph(f"Environment {data.environment} — gate run of {data.time}", BOLD, 10, MUTED, after=24)
        verdict = overall_verdict(data)
        w.paragraph("Overall verdict", BODY, 8, MUTED, after=0)
        w.paragraph(verdict, BOLD, 22, VERDICT_INK.get(verdict, INK), after=12)
        summary, counts = data.summary, data.level_counts()
        platform = "; ".join(f"{p.name} {p.verdict}" for p in data.platforms) or "—"
        self.kv(
            [
                ("Environment", data.environment),
                ("Gate run", data.run_id),
                ("Run time (UTC)", data.time),
                ("Repository commit", data.commit),
                ("Policy bundle", data.bundle_digest),
                ("Ledger record", f"#{_s(data.seq)}  {data.record_hash}"),
                ("Previous record", _s(data.record.get("prev")) if data.record.get("prev") else "— (first record)"),
                ("Tool / engine", f"{_s(data.record.get('tool'))} / {_s(data.record.get('engine'))}"),
                ("Exit code", fmt(data.exit_code)),
                (
                    "Deployments",
                    f"{summary.get('subjects', len(data.deployments))} model deployments: {summary.get('passed', 0)} "
                    f"passed, {summary.get('warned', 0)} warned, {summary.get('denied', 0)} denied",
                ),
                ("Platform", platform),
                ("Findings", f"{counts['deny']} deny, {counts['warn']} warn, {counts['waived']} waived"),
            ],
            110,
            mono=("Policy bundle", "Ledger record", "Previous record"),
        )
        w.y -= 16
        w.paragraph(
            "This report is rendered from one record of the mlgate ledger and shows exactly what the gate decided "
            "in that run: its decisions, the gate input of every deployment and the sha256 of every evidence file. "
            "mlgate verify checks the signature, that the report matches its ledger record, that the ledger chain "
            "holds and that the evidence files are unchanged (see the appendix).",
            BODY, 7.5, MUTED,
        )  # fmt: skip
        w.new_page()

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

    def summary(self) -> None:
        w, data = self.w, self.data
        concerns = data.concerns
        self.heading("Executive summary", 15.0, "summary", 0)
        summary, counts = data.summary, data.level_counts()
        w.paragraph(
            f"{summary.get('subjects', len(data.deployments))} model deployments in {data.environment}: "
            f"{summary.get('passed', 0)} passed, {summary.get('warned', 0)} warned, {summary.get('denied', 0)} denied; "
            f"{counts['deny']} deny, {counts['warn']} warn and {counts['waived']} waived findings in all. A cell shows "
            "the strongest unwaived finding of that concern (deny over warn), waived when every finding of it is "
            "waived, and — where the concern does not apply to the subject.",
            after=6,
        )
        totals = {c: {"deny": 0, "warn": 0, "waived": 0} for c in concerns}
        for d in data.decisions:
            totals.setdefault(concern_of(d), {"deny": 0, "warn": 0, "waived": 0})[_level(d)] += 1
        rows: list[Row] = []
        for c in concerns:
            applicable = [s for s in data.subjects if s.cells.get(c) != "n/a"]
            passing = sum(1 for s in applicable if s.cells.get(c) in ("pass", "waived"))
            t = totals[c]
            rows.append(Row([c, str(t["deny"]), str(t["warn"]), str(t["waived"]), f"{passing} of {len(applicable)}"]))
        rows.append(
            Row(
                ["all", str(counts["deny"]), str(counts["warn"]), str(counts["waived"]), ""],
                fill=colors.HexColor("#f6f8fa"),
            )
        )
        w.table(
            (Col(90), Col(50, align="right"), Col(50, align="right"), Col(50, align="right"), Col(90, align="right")),
            rows,
            ["Concern", "deny", "warn", "waived", "subjects passing"],
        )
        status_w, count_w = 37.0, 31.0
        name_w = BODY_W - 44 - 42 - status_w * len(concerns) - 3 * count_w
        cols = [Col(name_w), Col(44), Col(42)] + [Col(status_w, size=6.5)] * len(concerns)
        cols += [Col(count_w, align="right")] * 3
        table: list[Row] = []
        verdict_cell = {"passed": "pass", "warned": "warn", "denied": "deny"}
        for subject in data.subjects:
            levels = [_level(d) for d in subject.decisions]
            cells = [subject.cells.get(c, "n/a") for c in concerns]
            fills = {3 + i: STATUS_FILL[c] for i, c in enumerate(cells) if c in STATUS_FILL}
            if subject.verdict in verdict_cell:
                fills[2] = STATUS_FILL[verdict_cell[subject.verdict]]
            risk = subject.model.get("riskTier") or ("platform" if subject.kind != "deployment" else "—")
            table.append(
                Row(
                    [
                        subject.name,
                        str(risk),
                        subject.verdict,
                        *["—" if c == "n/a" else c for c in cells],
                        str(levels.count("deny")),
                        str(levels.count("warn")),
                        str(levels.count("waived")),
                    ],
                    fills=fills,
                )
            )
        w.table(cols, table, ["Model deployment", "Risk", "Verdict", *concerns, "deny", "warn", "waived"])
        w.new_page()

    def models(self) -> None:
        w, data = self.w, self.data
        self.heading("Model deployments", 15.0, "models", 0)
        w.paragraph(
            f"One section per model deployment of {data.environment}: identity and risk tier, deployment topology, "
            "fairness, lineage, data handling and the gate's decisions with their controls and waivers."
        )
        for index, subject in enumerate(data.deployments):
            self.model(subject, index)
        w.new_page()

    def model(self, subject: SubjectView, index: int) -> None:
        w = self.w
        prefix = f"m{index}"
        w.ensure(220)
        self.heading(subject.title, 12.0, prefix, 1)
        owner = subject.model.get("owner")
        w.paragraph(
            f"{_s(subject.model.get('riskTier'))} risk · owner {_s(owner)} · verdict {subject.verdict}",
            BODY,
            7.5,
            MUTED,
        )
        self.identity(subject, prefix)
        self.topology(subject, prefix)
        self.fairness(subject, prefix)
        self.lineage(subject, prefix)
        self.data_handling(subject, prefix)
        self.decisions(subject.decisions, f"{prefix}-dec")
        w.y -= 8

    def identity(self, subject: SubjectView, prefix: str) -> None:
        model = subject.model
        resources = model.get("resources") or {}
        scaling = model.get("autoscaling") or {}
        batching = model.get("batching") or {}
        rows: list[tuple[str, str | Sequence[Span]]] = [("Model", _s(model.get("name")))]
        if model.get("displayName"):
            rows.append(("Display name", _s(model.get("displayName"))))
        rows += [
            ("Owner", _s(model.get("owner"))),
            ("Risk tier", _s(model.get("riskTier"))),
            ("Purpose", _s(model.get("purpose"))),
            ("Serving", f"{_s(model.get('framework'))}, protocol {_s(model.get('protocol'))}"),
            (
                "Resources",
                f"cpu {_s(resources.get('cpu'))}, memory {_s(resources.get('memory'))}, gpu {resources.get('gpu', 0)}; "
                f"replicas {_s(scaling.get('minReplicas'))} to {_s(scaling.get('maxReplicas'))} on "
                f"{_s(scaling.get('metric'))} {_s(scaling.get('target'))}"
                + (
                    f"; batching {batching.get('maxBatchSize')} / {batching.get('maxLatencyMs')} ms" if batching else ""
                ),
            ),
            ("Spec file", _s(model.get("file"))),
            ("Input digest", _s(subject.digest)),
        ]
        self.heading("Identity and risk tier", 9.5, f"{prefix}-id", 2)
        self.kv(rows, mono=("Input digest",))

    def topology(self, subject: SubjectView, prefix: str) -> None:
        w = self.w
        deployment = subject.deployment
        traffic = deployment.get("traffic") or {}
        order = [str(v.get("name")) for v in subject.versions if str(v.get("name")) in traffic]
        order += [str(v) for v in traffic if str(v) not in order]
        notes: list[str] = []
        shadow = deployment.get("shadow")
        if isinstance(shadow, Mapping):
            notes.append(
                f"Shadow: {_s(shadow.get('version'))} receives a mirror of {fmt(shadow.get('percent'))}% of requests"
            )
        ab = deployment.get("abTest")
        if isinstance(ab, Mapping):
            routes = ", ".join(f"{k} → {v}" for k, v in (ab.get("routes") or {}).items())
            notes.append(f"A/B test on header {_s(ab.get('header'))}: {routes}")
        self.heading("Deployment topology", 9.5, f"{prefix}-topo", 2)
        self.kv(
            [
                ("Regions (spec)", ", ".join(str(r) for r in deployment.get("regions") or ()) or "—"),
                ("Regions (plan)", ", ".join(subject.planned_regions) or "— (nothing planned)"),
            ]
        )
        if order:
            w.ensure(48)
            w.paragraph("Traffic split", BOLD, 7.5, INK, after=0)
            traffic_bar(w, [(v, float(traffic[v])) for v in order], notes)
        rows = [
            Row(
                [
                    _s(v.get("name")),
                    "newest" if v.get("newest") else _s(v.get("position")),
                    fmt(bool(v.get("deployed"))),
                    fmt(v.get("weight")),
                    [(_s(v.get("digest")), MONO)],
                    _s(v.get("storageUri")),
                ]
            )
            for v in subject.versions
        ]
        w.table(
            (Col(38), Col(36), Col(38), Col(34), Col(178, size=6.5), Col(BODY_W - 324)),
            rows,
            ["Version", "Position", "Deployed", "Weight", "Artifact digest", "Storage URI"],
        )

    def fairness(self, subject: SubjectView, prefix: str) -> None:
        w = self.w
        limits = self.data.thresholds(str(subject.model.get("riskTier") or ""))
        self.heading("Fairness", 9.5, f"{prefix}-fair", 2)
        for version in subject.shown_versions():
            name = _s(version.get("name"))
            evidence = subject.evidence(version, "fairness")
            if evidence is None:
                entry = (version.get("evidence") or {}).get("fairness")
                state = (
                    "no fairness evidence is named"
                    if not entry
                    else f"the evidence file {entry.get('file')} is missing"
                )
                w.paragraph(f"Version {name}: {state}.", BODY, 8)
                continue
            dataset = evidence.get("dataset") or {}
            perf = ", ".join(f"{k} {fmt(v)}" for k, v in (evidence.get("performance") or {}).items()) or "—"
            w.paragraph(
                f"Version {name}: {_s(dataset.get('rows'))} rows of {_s(dataset.get('uri'))}, label "
                f"{_s(evidence.get('label'))} (favorable {_s(evidence.get('favorable'))}), generated "
                f"{_s(evidence.get('generatedAt'))} by {_s(evidence.get('tool'))}; {perf}.",
                BODY, 7.5,
            )  # fmt: skip
            for feature, metrics in (evidence.get("features") or {}).items():
                if isinstance(metrics, Mapping):
                    self.feature(str(feature), metrics, limits)
        if limits == FairnessThresholds():
            w.paragraph("The record carries no thresholds: the limits are not drawn.", BODY, 7, MUTED)

    def feature(self, feature: str, metrics: Mapping[str, Any], limits: FairnessThresholds) -> None:
        w = self.w
        intervals = metrics.get("intervals") or {}
        groups_in = [(str(g), v) for g, v in (metrics.get("groups") or {}).items() if isinstance(v, Mapping)][:40]
        # keep the metric table and the figure of a feature on one page
        w.ensure(min(w.top - w.bottom, 70 + (figure_height(len(groups_in), 2, 2) if groups_in else 0)))

        def number(value: Any) -> float | None:
            return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

        cells: list[str] = []
        inks: dict[int, Any] = {}
        for index, (key, limit, upper) in enumerate(
            (
                ("demographicParityDifference", limits.max_dp_difference, True),
                ("demographicParityRatio", limits.min_dp_ratio, False),
                ("equalizedOddsDifference", limits.max_eo_difference, True),
            )
        ):
            value = number(metrics.get(key))
            bound = intervals.get(key)
            text = fmt(value)
            if isinstance(bound, list) and len(bound) == 2:
                text += f"  (95% interval [{fmt(bound[0])}, {fmt(bound[1])}])"
            if value is not None and limit is not None:
                inside = value <= limit if upper else value >= limit
                text += f"\nlimit {'≤' if upper else '≥'} {fmt(limit)}: {'within' if inside else 'OUTSIDE'}"
                if not inside:
                    inks[index] = RED
            cells.append(text)
        w.paragraph(f"Sensitive feature: {feature}", BOLD, 8, INK, after=1)
        third = BODY_W / 3
        w.table(
            (Col(third), Col(third), Col(third)),
            [Row(cells, inks=inks)],
            ["Demographic parity difference", "Demographic parity ratio", "Equalized odds difference"],
            after=3,
        )
        if not groups_in:
            return
        minimum = limits.min_group_size
        groups = [
            GroupRow(
                g,
                v["n"] if isinstance(v.get("n"), int) else None,
                minimum is not None and isinstance(v.get("n"), int) and v["n"] < minimum,
            )
            for g, v in groups_in
        ]
        rates = [number(v.get("selectionRate")) for _, v in groups_in]
        tprs = [number(v.get("tpr")) for _, v in groups_in]
        fprs = [number(v.get("fpr")) for _, v in groups_in]
        rate_lines: list[Threshold] = []
        known = [r for r in rates if r is not None]
        if known and limits.max_dp_difference is not None:
            rate_lines.append(Threshold(max(known) - limits.max_dp_difference, "highest rate - max parity difference"))
        if known and limits.min_dp_ratio is not None:
            rate_lines.append(
                Threshold(max(known) * limits.min_dp_ratio, "highest rate x min parity ratio", AMBER, (1.0, 1.5))
            )
        odds_lines: list[Threshold] = []
        tpr_known = [t for t in tprs if t is not None]
        fpr_known = [f for f in fprs if f is not None]
        if limits.max_eo_difference is not None and tpr_known:
            odds_lines.append(
                Threshold(max(tpr_known) - limits.max_eo_difference, "TPR floor: highest - max odds difference")
            )
        if limits.max_eo_difference is not None and fpr_known:
            odds_lines.append(
                Threshold(
                    min(fpr_known) + limits.max_eo_difference,
                    "FPR ceiling: lowest + max odds difference",
                    AMBER,
                    (1.0, 1.5),
                )
            )
        fairness_figure(
            w,
            groups,
            (
                Panel("Selection rate", ("selection rate",), tuple((r,) for r in rates), tuple(rate_lines)),
                Panel(
                    "True / false positive rate", ("TPR", "FPR"), tuple(zip(tprs, fprs, strict=True)), tuple(odds_lines)
                ),
            ),
        )
        if any(g.small for g in groups):
            w.paragraph(f"* fewer than {minimum} rows: below the environment's minimum group size.", BODY, 7, MUTED)

    def lineage(self, subject: SubjectView, prefix: str) -> None:
        w = self.w
        self.heading("Lineage", 9.5, f"{prefix}-lin", 2)
        for version in subject.shown_versions():
            name = _s(version.get("name"))
            evidence = subject.evidence(version, "lineage")
            if evidence is None:
                entry = (version.get("evidence") or {}).get("lineage")
                state = (
                    "no lineage evidence is named" if not entry else f"the evidence file {entry.get('file')} is missing"
                )
                w.paragraph(f"Version {name}: {state}.", BODY, 8)
                continue
            artifact = evidence.get("artifact") or {}
            training = evidence.get("training") or {}
            spec = version.get("digest")
            match = "matches the spec" if artifact.get("digest") == spec else f"DIFFERS from the spec's {_s(spec)}"
            datasets = "\n".join(
                f"{_s(d.get('name'))} ({_s(d.get('role'))}; {', '.join(d.get('categories') or []) or '—'}; "
                f"{_s(d.get('residency'))}): {_s(d.get('uri'))} {_s(d.get('digest'))}"
                for d in evidence.get("datasets") or []
                if isinstance(d, Mapping)
            )
            approvals = "\n".join(
                f"{_s(a.get('role'))}: {_s(a.get('by'))} at {_s(a.get('at'))}"
                for a in evidence.get("approvals") or []
                if isinstance(a, Mapping)
            )
            parent = evidence.get("parent") or {}
            w.paragraph(
                f"Version {name}: artifact → training run → datasets → code commit → approvals", BOLD, 7.5, INK, after=1
            )
            self.kv(
                [
                    ("1 Artifact", f"{_s(artifact.get('uri'))}\n{_s(artifact.get('digest'))} — {match}"),
                    (
                        "2 Training run",
                        f"{_s(training.get('runId'))} ({_s(training.get('tracking'))}), "
                        f"started {_s(training.get('startedAt'))}",
                    ),
                    ("3 Datasets", datasets or "none recorded"),
                    ("4 Code commit", f"{_s(training.get('codeRepo'))} @ {_s(training.get('codeCommit'))}"),
                    ("5 Approvals", approvals or "none"),
                    ("Parent", f"{_s(parent.get('model'))}@{_s(parent.get('version'))}" if parent else "—"),
                ],
                80,
            )

    def data_handling(self, subject: SubjectView, prefix: str) -> None:
        w = self.w
        handling = subject.model.get("data") or {}
        logging = handling.get("payloadLogging") or {}
        env = self.data.record.get("thresholds")
        limit = env.get("maxRetentionDays") if isinstance(env, Mapping) else None
        if logging.get("enabled"):
            redact = ", ".join(str(r) for r in logging.get("redact") or ()) or "nothing"
            days = logging.get("retentionDays")
            log_text = (
                f"enabled, mode {_s(logging.get('mode') or 'all')}; redacts {redact}; retention "
                f"{days if days is not None else 'unbounded'} days"
                + (f" (environment limit {limit})" if limit is not None else "")
            )
        else:
            log_text = "disabled"
        self.heading("Data handling", 9.5, f"{prefix}-data", 2)
        self.kv(
            [
                ("Categories", ", ".join(str(c) for c in handling.get("categories") or ()) or "—"),
                ("Legal basis", _s(handling.get("legalBasis"))),
                ("Residency", ", ".join(str(r) for r in handling.get("residency") or ()) or "—"),
                ("Payload logging", log_text),
            ]
        )
        spec_regions = {str(r) for r in subject.deployment.get("regions") or ()}
        rows = [
            Row(
                [region, fmt(region in spec_regions), fmt(planned), fmt(inside)],
                inks={3: RED} if planned and not inside else {},
            )
            for region, planned, inside in subject.residency_rows()
        ]
        if rows:
            w.table(
                (Col(110), Col(70), Col(70), Col(90)), rows, ["Region", "In the spec", "Planned", "Inside residency"]
            )

    def decisions(self, decisions: Sequence[Mapping[str, Any]], key: str) -> None:
        w = self.w
        self.heading("Decisions", 9.5, key, 2, keep=30)
        if not decisions:
            w.paragraph("No findings: every policy passed.", BODY, 8)
            return
        rows: list[Row] = []
        for d in decisions:
            rule = self.data.rule(str(d.get("id"))) or {}
            finding: list[Span] = []
            if rule.get("title"):
                finding.append((str(rule["title"]), BOLD))
            finding.append((_s(d.get("msg")), BODY))
            waiver = d.get("waiver")
            if isinstance(waiver, Mapping):
                finding.append(
                    (
                        f"Waived: {_s(waiver.get('reason'))} — owner {_s(waiver.get('owner'))}, approved by "
                        f"{_s(waiver.get('approvedBy'))}, expires {_s(waiver.get('expires'))}",
                        BOLD,
                    )
                )
            where = "\n".join(str(x) for x in (d.get("version"), d.get("region"), d.get("resource")) if x) or "—"
            level = _level(d)
            rows.append(
                Row(
                    [_s(d.get("id")), level, where, finding, "\n".join(str(c) for c in d.get("controls") or ()) or "—"],
                    fills={1: STATUS_FILL.get(level, STATUS_FILL["waived"])},
                )
            )
        w.table(
            (Col(62), Col(34), Col(52), Col(BODY_W - 62 - 34 - 52 - 122), Col(122)),
            rows,
            ["Id", "Level", "Where", "Finding", "Controls"],
        )

    def platform(self) -> None:
        w, data = self.w, self.data
        self.heading("Platform", 15.0, "platform", 0)
        if not data.platforms:
            w.paragraph("The record holds no platform document.")
        for index, subject in enumerate(data.platforms):
            doc = subject.document
            env = doc.get("environment") or {}
            self.kv(
                [
                    ("Subject", subject.name),
                    ("Verdict", subject.verdict),
                    ("Regions", ", ".join(str(r) for r in env.get("regions") or ()) or "—"),
                    ("Deployments", str(len(doc.get("deployments") or ()))),
                    ("Planned resources", fmt(doc.get("resourceCount"))),
                    ("Input digest", _s(subject.digest)),
                ],
                mono=("Input digest",),
            )
            self.decisions(subject.decisions, f"platform-{index}-dec")
        w.new_page()

    def catalogue(self) -> None:
        w, data = self.w, self.data
        self.heading("Appendix", 15.0, "appendix", 0)
        self.heading("Policy catalogue and control mapping", 12.0, "catalogue", 1)
        w.paragraph(
            "Every rule the policy bundle enforced in this run, with its level and severity and the controls it "
            "implements in the EU AI Act, the NIST AI Risk Management Framework and ISO/IEC 42001."
        )
        frameworks = list(FRAMEWORKS)
        others = sorted({k for r in data.rules for k in (r.get("controls") or {})} - set(frameworks))
        fw_w = (BODY_W - 170) / (len(frameworks) + len(others))
        rows: list[Row] = []
        for rule in sorted(data.rules, key=lambda r: str(r.get("id"))):
            controls = rule.get("controls") or {}
            head: list[Span] = [
                (f"{_s(rule.get('id'))} {_s(rule.get('title'))}", BOLD),
                (f"{_s(rule.get('level'))}, severity {_s(rule.get('severity'))}, {_s(rule.get('package'))}", BODY),
            ]
            rows.append(Row([head, *["\n".join(controls.get(f) or ()) or "—" for f in frameworks + others]]))
        w.table(
            [Col(170)] + [Col(fw_w)] * (len(frameworks) + len(others)),
            rows,
            ["Rule", *[FRAMEWORKS[f] for f in frameworks], *others],
        )

    def waivers(self) -> None:
        w, data = self.w, self.data
        self.heading("Waivers", 12.0, "waivers", 1)
        if not data.waivers:
            w.paragraph("No waivers were loaded for this run.")
            return
        used = {
            (str(v.get("policy")), str(v.get("subject")), str(v.get("expires")))
            for d in data.decisions
            if isinstance(v := d.get("waiver"), Mapping)
        }
        rows = [
            Row(
                [
                    _s(v.get("policy")),
                    _s(v.get("subject")),
                    _s(v.get("reason")),
                    f"{_s(v.get('owner'))}\n{_s(v.get('approvedBy'))}",
                    _s(v.get("expires")),
                    "yes" if (str(v.get("policy")), str(v.get("subject")), str(v.get("expires"))) in used else "no",
                ]
            )
            for v in data.waivers
        ]
        w.table(
            (Col(52), Col(95), Col(160), Col(105), Col(50), Col(BODY_W - 462)),
            rows,
            ["Policy", "Subject", "Reason", "Owner / approved by", "Expires", "Applied"],
        )

    def manifest(self) -> None:
        w, data = self.w, self.data
        self.heading("Evidence manifest", 12.0, "manifest", 1)
        w.paragraph(
            "Every evidence file the decisions were made on, pinned by the sha256 of its bytes (as sha256sum prints "
            "it). A file that changed since the run fails mlgate verify."
        )
        rows = [
            Row(
                [
                    f"{_s(pin.get('subject'))} {_s(pin.get('version'))}",
                    _s(pin.get("kind")),
                    [
                        (_s(pin.get("file")), BODY),
                        (_s(pin.get("sha256")) if pin.get("sha256") else "(missing when judged)", MONO),
                    ],
                ]
            )
            for pin in data.evidence
        ]
        if rows:
            w.table(
                (Col(130), Col(45), Col(BODY_W - 175, size=6.5)), rows, ["Subject / version", "Kind", "File / sha256"]
            )
        else:
            w.paragraph("No evidence files.")

    def how_to_verify(self) -> None:
        w, data = self.w, self.data
        self.heading("How to verify this report", 12.0, "verify", 1)
        for text in (
            f"This report was rendered from ledger record #{_s(data.seq)} (run {data.run_id}) whose hash is "
            f"{data.record_hash}.",
            "mlgate verify report.pdf --key signer.pub checks, naming whatever fails: (1) the detached signature "
            "report.pdf.sig over the sha256 of the whole file; (2) the signature embedded in the PDF (an incremental "
            "update appended to the unsigned report) over the sha256 of the unsigned report, made with the key whose "
            "fingerprint --key pins; (3) that rendering the ledger run again yields the unsigned report byte for "
            "byte, so the report states exactly what the ledger recorded; (4) that the ledger's hash chain holds and "
            "the record's hash is the one the report names; (5) that every evidence file of the manifest still has "
            "its pinned sha256.",
            "Without mlgate: the signed message is the ASCII text sha256:<hex> of the signed bytes (the whole file "
            "for the .sig; its first MlgateSignedLength bytes for the embedded signature). Check it with any Ed25519 "
            "implementation, e.g. openssl pkeyutl -verify -rawin -pubin -inkey signer.pub. A key's fingerprint is "
            "sha256: and the sha256 of its 32 raw public key bytes. Evidence digests are sha256 of the file bytes.",
            "Reports are reproducible: the same ledger run and the same SOURCE_DATE_EPOCH (by default the run's own "
            "time) give the same bytes.",
        ):
            w.paragraph(text, after=5)

    def render(self) -> None:
        self.cover()
        self.contents()
        self.summary()
        self.models()
        self.platform()
        self.catalogue()
        self.waivers()
        self.manifest()
        self.how_to_verify()


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
        "MlgateLedgerSeq": _s(data.seq),
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
