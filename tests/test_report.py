"""mlgate report / verify / keygen: the PDF read back (pypdf), reproducibility, signatures and tamper checks.

One gate run of a project copy is recorded in a private ledger (module fixture): the example catalog, with a
Chinese owner and purpose for credit-scoring and a waiver of its FAIR-002 finding, judged at a fixed time.
Rendered pages go to PNG with pdftoppm when it is installed (skipped otherwise), under the test's tmp dir.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdf
import pytest
from conftest import copy_project

from compliance.cli import main
from compliance.ledger import Ledger
from compliance.plan.model import Plan
from compliance.report.markdown import render_markdown
from compliance.report.pdf import render_pdf

NOW = "2026-11-25T10:00:00Z"
OWNER = "张伟@example.com"
PURPOSE = "信用评分模型 — consumer credit default scoring"
WAIVER = """
- policy: FAIR-002
  subject: credit-scoring@prod:v7
  reason: Mitigation retraining scheduled, ticket RISK-881
  owner: 李娜@example.com
  approvedBy: cro@example.com
  expires: 2027-03-31
"""


class Run:
    def __init__(self, root: Path, ledger: Path, record: dict[str, Any], key: Path, pdf: Path) -> None:
        self.root, self.ledger, self.record, self.key, self.pdf = root, ledger, record, key, pdf

    @property
    def pub(self) -> Path:
        return self.key.with_name(self.key.name + ".pub")

    def text(self) -> str:
        reader = pypdf.PdfReader(self.pdf)
        return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, prod_plan: Plan) -> Iterator[Run]:
    base = tmp_path_factory.mktemp("report")
    root = copy_project(base / "project")
    model = root / "models" / "credit-scoring.yaml"
    text = model.read_text(encoding="utf-8")
    text = text.replace("owner: risk-ml@example.com", f"owner: {OWNER}")
    text = text.replace("purpose: Consumer credit default scoring for loan applications", f"purpose: {PURPOSE}")
    model.write_text(text, encoding="utf-8")
    with (root / "policies" / "waivers.yaml").open("a", encoding="utf-8") as handle:
        handle.write(WAIVER)
    plan = base / "plan.json"
    plan.write_text(prod_plan.dumps(), encoding="utf-8")
    ledger = base / "ledger.db"
    args = ["--root", str(root), "--ledger", str(ledger)]
    code = main(["check", "--env", "prod", "--plan", str(plan), "--now", NOW, "--format", "json",
                 "--output", str(base / "check.json"), "--no-cache", *args])  # fmt: skip
    assert code == 1  # two unwaived denies remain
    with Ledger.open(ledger, create=False) as opened:
        record = opened.latest("prod")
    assert record is not None
    key = base / "signer.key"
    assert main(["keygen", "--out", str(key)]) == 0
    pdf = base / "report.pdf"
    assert main(["report", "--env", "prod", "--out", str(pdf), "--sign", str(key), *args]) == 0
    yield Run(root, ledger, record, key, pdf)


def _verify(run: Run, pdf: Path, *extra: str, ledger: Path | None = None, root: Path | None = None) -> int:
    return main(["verify", str(pdf), "--ledger", str(ledger or run.ledger), "--root", str(root or run.root), *extra])


# ------------------------------------------------------------------------------------------------ content


def test_the_pdf_has_every_section_decision_and_digest(run: Run) -> None:
    text = run.text()
    for title in (
        "ML deployment compliance report", "Contents", "Executive summary", "Model deployments",
        "Identity and risk tier", "Deployment topology", "Traffic split", "Fairness", "Selection rate",
        "True / false positive rate", "Lineage", "Data handling", "Decisions", "Platform", "Appendix",
        "Policy catalogue and control mapping", "EU AI Act", "NIST AI RMF", "ISO/IEC 42001", "Waivers",
        "Evidence manifest", "How to verify this report",
    ):  # fmt: skip
        assert title in text, title
    record = run.record
    assert record["decisions"], "the example run has findings"
    for decision in record["decisions"]:
        assert decision["id"] in text
    for pin in record["evidence"]:
        assert pin["sha256"] in text, pin["file"]
        assert pin["file"] in text
    assert record["runId"] in text
    assert record["policyBundle"]["digest"] in text
    assert record["hash"] in text
    assert "DENIED" in text  # overall verdict on the cover
    assert "Mitigation retraining scheduled, ticket RISK-881" in text  # the waiver, with its owner and expiry
    assert "2027-03-31" in text


def test_chinese_owner_and_purpose_are_text(run: Run) -> None:
    text = run.text()
    assert OWNER in text
    assert "信用评分模型" in text
    assert "李娜@example.com" in text  # the waiver owner


def test_outline_page_numbers_and_labels(run: Run) -> None:
    reader = pypdf.PdfReader(run.pdf)
    pages = len(reader.pages)

    def titles(items: list[Any]) -> list[str]:
        out: list[str] = []
        for item in items:
            out += titles(item) if isinstance(item, list) else [item.title]
        return out

    outline = titles(reader.outline)
    for title in ("Cover", "Contents", "Executive summary", "credit-scoring@prod", "Evidence manifest"):
        assert title in outline
    assert reader.page_labels[:3] == ["1", "2", "3"]
    # "of N" is a form XObject filled in when the document ends: extractors put it on a line of its own
    assert re.search(rf"Page 1 of\s+{pages}\b", reader.pages[0].extract_text())
    assert re.search(rf"Page {pages} of\s+{pages}\b", reader.pages[-1].extract_text())
    # the contents give the page of each model section, and link to it
    contents = reader.pages[1].extract_text()
    assert "credit-scoring@prod" in contents
    assert any(a.get_object().get("/Subtype") == "/Link" for a in reader.pages[1].get("/Annots", []))


def test_fairness_thresholds_follow_the_record(run: Run) -> None:
    record = dict(run.record)
    record["thresholds"] = {
        "fairness": {"high": {"maxDemographicParityDifference": 0.1, "minDemographicParityRatio": 0.8,
                              "maxEqualizedOddsDifference": 0.1}},
        "minGroupSize": 100,
    }  # fmt: skip
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_pdf(record))).pages)
    assert "highest rate - max parity difference = 0.17" in text  # v7: 0.272 (Male) - 0.1
    assert "outside" in text  # v7's sex parity difference 0.178 > 0.1
    bare = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_pdf(run.record))).pages)
    assert "highest rate - max parity difference" not in bare or "thresholds" in run.record


def test_markdown_summary(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["report", "--env", "prod", "--format", "md", "--ledger", str(run.ledger), "--root", str(run.root)]) == 0
    )
    out = capsys.readouterr().out
    assert out == render_markdown(run.record)
    assert out.startswith("## mlgate compliance: prod — DENIED")
    for decision in run.record["decisions"]:
        assert f"`{decision['id']}`" in out
    assert "| credit-scoring@prod | high |" in out
    assert "waived" in out


# ------------------------------------------------------------------------------------------------ reproducible


def test_rebuilds_are_byte_identical(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")
    first, second = render_pdf(run.record), render_pdf(run.record)
    assert first == second
    assert b"/CreationDate (D:20260921141320+00'00')" in first  # 1790000000 = 2026-09-21T14:13:20Z
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    default = render_pdf(run.record)
    assert default != first and default == render_pdf(run.record)
    assert b"/CreationDate (D:20261125100000+00'00')" in default  # the run's time


def test_writer_fast_paths_match_reportlab() -> None:
    """The page writer's shortcuts (glyph-width table, memoised wraps and text operators, translate-table
    escaping) give exactly what reportlab's stringWidth and a byte-wise escape give, so the bytes are unchanged."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen.canvas import Canvas

    from compliance.report.layout import Writer, _pdf_string
    from compliance.report.text import BODY, BOLD, CJK, MONO, register_fonts, runs

    register_fonts()
    writer = Writer(Canvas(io.BytesIO()), lambda _: None)
    samples = ["model-00001@prod", "sha256:" + "0f" * 32, "a (b) \\ c", "tab\there", "~`'\"", "é — ≤ 张伟@example.com"]
    for text in samples:
        for font in (BODY, BOLD, MONO):
            expected = sum(stringWidth(r, font if latin else CJK, 1000.0) for latin, r in runs(text)) * 7.0 / 1000.0
            assert writer.width(text, font, 7.0) == expected, (text, font)
            assert writer.width(text, font, 7.0) == expected  # cached
    byte_wise = "".join(
        chr(b) if 32 <= b < 127 and chr(b) not in "()\\" else ("\\" + chr(b) if 32 <= b < 127 else f"\\{b:03o}")
        for b in "a(b)\\c é—\x01~".encode("cp1252")
    )
    assert _pdf_string("a(b)\\c é—\x01~") == byte_wise == "a\\(b\\)\\\\c \\351\\227\\001~"
    text = "Every rule the policy bundle enforced in this run " * 4
    assert writer.wrap(text, 200, BODY, 8.5) is writer.wrap(text, 200, BODY, 8.5)
    assert " ".join(writer.wrap(text, 200, BODY, 8.5)) == text.strip()


def test_signed_builds_are_identical_too(run: Run, tmp_path: Path) -> None:
    args = ["--ledger", str(run.ledger), "--root", str(run.root), "--sign", str(run.key)]
    assert (
        main(["report", "--env", "prod", "--run", run.record["runId"], "--out", str(tmp_path / "again.pdf"), *args])
        == 0
    )
    assert (tmp_path / "again.pdf").read_bytes() == run.pdf.read_bytes()  # Ed25519 signatures are deterministic


# ------------------------------------------------------------------------------------------------ sign, verify


def test_sign_and_verify_round_trip(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    assert _verify(run, run.pdf, "--key", str(run.pub)) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert "rendered again, byte for byte" in out
    assert out.rstrip().endswith("verified")
    sig = run.pdf.with_name("report.pdf.sig").read_text()
    assert '"algorithm": "Ed25519"' in sig and run.record["runId"] in sig
    assert (os.stat(run.key).st_mode & 0o777) == 0o600


def test_verify_without_key_is_unpinned(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    assert _verify(run, run.pdf) == 0
    assert "unpinned" in capsys.readouterr().out


def test_verify_with_another_key_fails(run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen", "--out", str(tmp_path / "other.key")]) == 0
    capsys.readouterr()
    assert _verify(run, run.pdf, "--key", str(tmp_path / "other.key.pub")) == 1
    assert "FAIL  key: signed by" in capsys.readouterr().out


def test_unsigned_report_fails_unless_allowed(run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pdf = tmp_path / "plain.pdf"
    assert (
        main(["report", "--env", "prod", "--out", str(pdf), "--ledger", str(run.ledger), "--root", str(run.root)]) == 0
    )
    assert not pdf.with_name("plain.pdf.sig").exists()
    capsys.readouterr()
    assert _verify(run, pdf) == 1
    assert "FAIL  plain.pdf: not signed" in capsys.readouterr().out
    assert _verify(run, pdf, "--allow-unsigned") == 0


def _copy(run: Run, tmp_path: Path) -> tuple[Path, Path]:
    pdf = tmp_path / "report.pdf"
    shutil.copy(run.pdf, pdf)
    shutil.copy(run.pdf.with_name("report.pdf.sig"), tmp_path / "report.pdf.sig")
    return pdf, tmp_path / "report.pdf.sig"


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9, 0.999])
def test_a_flipped_pdf_byte_is_named(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: float
) -> None:
    pdf, _ = _copy(run, tmp_path)
    _flip(pdf, int(len(pdf.read_bytes()) * where))
    capsys.readouterr()
    assert _verify(run, pdf, "--key", str(run.pub)) == 1
    out = capsys.readouterr().out
    assert "FAIL  report.pdf:" in out and "the PDF was altered" in out
    assert "FAIL  report.pdf.sig" not in out and "FAIL  ledger" not in out


@pytest.mark.parametrize("where", [0.2, 0.5, 0.95])
def test_a_flipped_sig_byte_is_named(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: float
) -> None:
    pdf, sig = _copy(run, tmp_path)
    _flip(sig, int(len(sig.read_bytes()) * where))
    capsys.readouterr()
    assert _verify(run, pdf, "--key", str(run.pub)) == 1
    out = capsys.readouterr().out
    assert "FAIL  report.pdf.sig:" in out
    assert "FAIL  report.pdf:" not in out


def test_an_altered_ledger_record_is_named(run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "ledger.db"
    shutil.copy(run.ledger, ledger)
    with sqlite3.connect(ledger) as db:  # one byte of the stored record: a decision's message
        (stored,) = db.execute("SELECT record FROM runs WHERE seq = 1").fetchone()
        assert "above the prod limit" in stored
        db.execute(
            "UPDATE runs SET record = ? WHERE seq = 1",
            (stored.replace("above the prod limit", "above the prod limiT", 1),),
        )
    capsys.readouterr()
    assert _verify(run, run.pdf, "--key", str(run.pub), ledger=ledger) == 1
    out = capsys.readouterr().out
    assert "FAIL  ledger: hash chain broken at record 1" in out
    assert "FAIL  report.pdf: differs from ledger run" in out  # the report no longer matches what the ledger says


def test_a_changed_evidence_file_is_named(run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "project"
    shutil.copytree(run.root, root)
    _flip(root / "evidence" / "credit-scoring" / "v7" / "fairness.json", 100)
    capsys.readouterr()
    assert _verify(run, run.pdf, "--key", str(run.pub), root=root) == 1
    out = capsys.readouterr().out
    assert "FAIL  evidence/credit-scoring/v7/fairness.json: changed since run" in out
    assert out.count("FAIL") == 1


def test_verify_of_unusable_input_exits_2(run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _verify(run, tmp_path / "nosuch.pdf") == 2
    assert _verify(run, run.pdf, ledger=tmp_path / "nosuch.db") == 2
    (tmp_path / "x.pdf").write_bytes(b"not a pdf")
    assert _verify(run, tmp_path / "x.pdf") == 2


def test_report_of_an_unknown_run(run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--ledger", str(run.ledger), "--root", str(run.root), "--out", str(tmp_path / "r.pdf")]
    assert main(["report", "--env", "prod", "--run", "nosuch", *args]) == 2
    assert "holds no run nosuch" in capsys.readouterr().err
    assert main(["report", "--env", "staging", *args]) == 2
    assert not (tmp_path / "r.pdf").exists()


# ------------------------------------------------------------------------------------------------ files


def test_report_writes_are_atomic(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write interrupted before its rename (a kill) leaves no report and no temporary file."""
    out = tmp_path / "r.pdf"

    def killed(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", killed)
    from compliance.report import write_report

    with pytest.raises(KeyboardInterrupt):
        write_report(run.record, out)
    assert list(tmp_path.iterdir()) == []


def test_help_does_not_import_reportlab() -> None:
    code = (
        "import sys, compliance.cli; compliance.cli.build_parser(); "
        "sys.exit('reportlab' in sys.modules or 'cryptography.hazmat' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed")
def test_pages_render_to_png(run: Run, tmp_path: Path) -> None:
    """Pages 1-3 and the first model page as PNG, for a person to look at (tmp_path is kept by pytest)."""
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "4", str(run.pdf), str(tmp_path / "page")], check=True
    )
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == 4
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
