"""A deployment's fairness: per version and sensitive feature, the metrics against the risk tier's limits and
the per-group figure (:func:`compliance.report.charts.fairness_figure`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compliance.report.charts import AMBER, INK, MUTED, RED, GroupRow, Panel, Threshold, fairness_figure, figure_height
from compliance.report.layout import BODY_W, Col, Row
from compliance.report.model import FairnessThresholds, SubjectView
from compliance.report.sections.common import Document, dash
from compliance.report.text import BODY, BOLD, fmt

__all__ = ["fairness"]


def fairness(doc: Document, subject: SubjectView, prefix: str) -> None:
    w = doc.w
    limits = doc.data.thresholds(str(subject.model.get("riskTier") or ""))
    doc.heading("Fairness", 9.5, f"{prefix}-fair", 2)
    for version in subject.shown_versions():
        name = dash(version.get("name"))
        evidence = subject.evidence(version, "fairness")
        if evidence is None:
            entry = (version.get("evidence") or {}).get("fairness")
            state = (
                "no fairness evidence is named" if not entry else f"the evidence file {entry.get('file')} is missing"
            )
            w.paragraph(f"Version {name}: {state}.", BODY, 8)
            continue
        dataset = evidence.get("dataset") or {}
        perf = ", ".join(f"{k} {fmt(v)}" for k, v in (evidence.get("performance") or {}).items()) or "—"
        w.paragraph(
            f"Version {name}: {dash(dataset.get('rows'))} rows of {dash(dataset.get('uri'))}, label "
            f"{dash(evidence.get('label'))} (favorable {dash(evidence.get('favorable'))}), generated "
            f"{dash(evidence.get('generatedAt'))} by {dash(evidence.get('tool'))}; {perf}.",
            BODY, 7.5,
        )  # fmt: skip
        for feature, metrics in (evidence.get("features") or {}).items():
            if isinstance(metrics, Mapping):
                _feature(doc, str(feature), metrics, limits)
    if limits == FairnessThresholds():
        w.paragraph("The record carries no thresholds: the limits are not drawn.", BODY, 7, MUTED)


def _feature(doc: Document, feature: str, metrics: Mapping[str, Any], limits: FairnessThresholds) -> None:
    w = doc.w
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
            Panel("True / false positive rate", ("TPR", "FPR"), tuple(zip(tprs, fprs, strict=True)), tuple(odds_lines)),
        ),
    )
    if any(g.small for g in groups):
        w.paragraph(f"* fewer than {minimum} rows: below the environment's minimum group size.", BODY, 7, MUTED)
