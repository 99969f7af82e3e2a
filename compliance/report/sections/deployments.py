"""One section per model deployment: identity and risk tier, topology, fairness, lineage, data handling and
decisions (fairness and decisions have their own modules).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from compliance.report.charts import INK, MUTED, RED, traffic_bar
from compliance.report.layout import BODY_W, Col, Row, Span
from compliance.report.model import SubjectView
from compliance.report.sections.common import Document, dash, kv
from compliance.report.sections.decisions import decisions
from compliance.report.sections.fairness import fairness
from compliance.report.text import BODY, BOLD, MONO, fmt

__all__ = ["deployments"]


def deployments(doc: Document) -> None:
    w, data = doc.w, doc.data
    doc.heading("Model deployments", 15.0, "models", 0)
    w.paragraph(
        f"One section per model deployment of {data.environment}: identity and risk tier, deployment topology, "
        "fairness, lineage, data handling and the gate's decisions with their controls and waivers."
    )
    for index, subject in enumerate(data.deployments):
        _deployment(doc, subject, index)
    w.new_page()


def _deployment(doc: Document, subject: SubjectView, index: int) -> None:
    w = doc.w
    prefix = f"m{index}"
    w.ensure(220)
    doc.heading(subject.title, 12.0, prefix, 1)
    owner = subject.model.get("owner")
    w.paragraph(
        f"{dash(subject.model.get('riskTier'))} risk · owner {dash(owner)} · verdict {subject.verdict}",
        BODY,
        7.5,
        MUTED,
    )
    _identity(doc, subject, prefix)
    _topology(doc, subject, prefix)
    fairness(doc, subject, prefix)
    _lineage(doc, subject, prefix)
    _data_handling(doc, subject, prefix)
    decisions(doc, subject.decisions, f"{prefix}-dec")
    w.y -= 8


def _identity(doc: Document, subject: SubjectView, prefix: str) -> None:
    model = subject.model
    resources = model.get("resources") or {}
    scaling = model.get("autoscaling") or {}
    batching = model.get("batching") or {}
    rows: list[tuple[str, str | Sequence[Span]]] = [("Model", dash(model.get("name")))]
    if model.get("displayName"):
        rows.append(("Display name", dash(model.get("displayName"))))
    rows += [
        ("Owner", dash(model.get("owner"))),
        ("Risk tier", dash(model.get("riskTier"))),
        ("Purpose", dash(model.get("purpose"))),
        ("Serving", f"{dash(model.get('framework'))}, protocol {dash(model.get('protocol'))}"),
        (
            "Resources",
            f"cpu {dash(resources.get('cpu'))}, memory {dash(resources.get('memory'))}, gpu {resources.get('gpu', 0)}; "
            f"replicas {dash(scaling.get('minReplicas'))} to {dash(scaling.get('maxReplicas'))} on "
            f"{dash(scaling.get('metric'))} {dash(scaling.get('target'))}"
            + (f"; batching {batching.get('maxBatchSize')} / {batching.get('maxLatencyMs')} ms" if batching else ""),
        ),
        ("Spec file", dash(model.get("file"))),
        ("Input digest", dash(subject.digest)),
    ]
    doc.heading("Identity and risk tier", 9.5, f"{prefix}-id", 2)
    kv(doc.w, rows, mono=("Input digest",))


def _topology(doc: Document, subject: SubjectView, prefix: str) -> None:
    w = doc.w
    deployment = subject.deployment
    traffic = deployment.get("traffic") or {}
    order = [str(v.get("name")) for v in subject.versions if str(v.get("name")) in traffic]
    order += [str(v) for v in traffic if str(v) not in order]
    notes: list[str] = []
    shadow = deployment.get("shadow")
    if isinstance(shadow, Mapping):
        notes.append(
            f"Shadow: {dash(shadow.get('version'))} receives a mirror of {fmt(shadow.get('percent'))}% of requests"
        )
    ab = deployment.get("abTest")
    if isinstance(ab, Mapping):
        routes = ", ".join(f"{k} → {v}" for k, v in (ab.get("routes") or {}).items())
        notes.append(f"A/B test on header {dash(ab.get('header'))}: {routes}")
    doc.heading("Deployment topology", 9.5, f"{prefix}-topo", 2)
    kv(
        w,
        [
            ("Regions (spec)", ", ".join(str(r) for r in deployment.get("regions") or ()) or "—"),
            ("Regions (plan)", ", ".join(subject.planned_regions) or "— (nothing planned)"),
        ],
    )
    if order:
        w.ensure(48)
        w.paragraph("Traffic split", BOLD, 7.5, INK, after=0)
        traffic_bar(w, [(v, float(traffic[v])) for v in order], notes)
    rows = [
        Row(
            [
                dash(v.get("name")),
                "newest" if v.get("newest") else dash(v.get("position")),
                fmt(bool(v.get("deployed"))),
                fmt(v.get("weight")),
                [(dash(v.get("digest")), MONO)],
                dash(v.get("storageUri")),
            ]
        )
        for v in subject.versions
    ]
    w.table(
        (Col(38), Col(36), Col(38), Col(34), Col(178, size=6.5), Col(BODY_W - 324)),
        rows,
        ["Version", "Position", "Deployed", "Weight", "Artifact digest", "Storage URI"],
    )


def _lineage(doc: Document, subject: SubjectView, prefix: str) -> None:
    w = doc.w
    doc.heading("Lineage", 9.5, f"{prefix}-lin", 2)
    for version in subject.shown_versions():
        name = dash(version.get("name"))
        evidence = subject.evidence(version, "lineage")
        if evidence is None:
            entry = (version.get("evidence") or {}).get("lineage")
            state = "no lineage evidence is named" if not entry else f"the evidence file {entry.get('file')} is missing"
            w.paragraph(f"Version {name}: {state}.", BODY, 8)
            continue
        artifact = evidence.get("artifact") or {}
        training = evidence.get("training") or {}
        spec = version.get("digest")
        match = "matches the spec" if artifact.get("digest") == spec else f"DIFFERS from the spec's {dash(spec)}"
        datasets = "\n".join(
            f"{dash(d.get('name'))} ({dash(d.get('role'))}; {', '.join(d.get('categories') or []) or '—'}; "
            f"{dash(d.get('residency'))}): {dash(d.get('uri'))} {dash(d.get('digest'))}"
            for d in evidence.get("datasets") or []
            if isinstance(d, Mapping)
        )
        approvals = "\n".join(
            f"{dash(a.get('role'))}: {dash(a.get('by'))} at {dash(a.get('at'))}"
            for a in evidence.get("approvals") or []
            if isinstance(a, Mapping)
        )
        parent = evidence.get("parent") or {}
        w.paragraph(
            f"Version {name}: artifact → training run → datasets → code commit → approvals", BOLD, 7.5, INK, after=1
        )
        kv(
            w,
            [
                ("1 Artifact", f"{dash(artifact.get('uri'))}\n{dash(artifact.get('digest'))} — {match}"),
                (
                    "2 Training run",
                    f"{dash(training.get('runId'))} ({dash(training.get('tracking'))}), "
                    f"started {dash(training.get('startedAt'))}",
                ),
                ("3 Datasets", datasets or "none recorded"),
                ("4 Code commit", f"{dash(training.get('codeRepo'))} @ {dash(training.get('codeCommit'))}"),
                ("5 Approvals", approvals or "none"),
                ("Parent", f"{dash(parent.get('model'))}@{dash(parent.get('version'))}" if parent else "—"),
            ],
            80,
        )


def _data_handling(doc: Document, subject: SubjectView, prefix: str) -> None:
    w = doc.w
    handling = subject.model.get("data") or {}
    logging = handling.get("payloadLogging") or {}
    env = doc.data.record.get("thresholds")
    limit = env.get("maxRetentionDays") if isinstance(env, Mapping) else None
    if logging.get("enabled"):
        redact = ", ".join(str(r) for r in logging.get("redact") or ()) or "nothing"
        days = logging.get("retentionDays")
        log_text = (
            f"enabled, mode {dash(logging.get('mode') or 'all')}; redacts {redact}; retention "
            f"{days if days is not None else 'unbounded'} days"
            + (f" (environment limit {limit})" if limit is not None else "")
        )
    else:
        log_text = "disabled"
    doc.heading("Data handling", 9.5, f"{prefix}-data", 2)
    kv(
        w,
        [
            ("Categories", ", ".join(str(c) for c in handling.get("categories") or ()) or "—"),
            ("Legal basis", dash(handling.get("legalBasis"))),
            ("Residency", ", ".join(str(r) for r in handling.get("residency") or ()) or "—"),
            ("Payload logging", log_text),
        ],
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
        w.table((Col(110), Col(70), Col(70), Col(90)), rows, ["Region", "In the spec", "Planned", "Inside residency"])
