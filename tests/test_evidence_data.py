"""``mlgate evidence data``: personal-data detectors, sampling, the DataEvidence file, and the gate's DATA-008.

Detectors run on crafted columns (valid and invalid check digits, plain integers that must not pass for
phone numbers, free text); the real-data test scans ../shared/data/adult.csv (skipped when it is absent).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from compliance.cli import main
from compliance.errors import EvidenceError, UsageError
from compliance.evidence import read_evidence
from compliance.evidence.data import VALUE_THRESHOLD, DataRequest, build_data_evidence, scan_column
from compliance.evidence.detectors import column_hints, luhn_valid
from compliance.evidence.formats import DataEvidence
from compliance.evidence.tables import sample_table
from compliance.spec.schema import model_deployment_schema

pd = pytest.importorskip("pandas")

ADULT = ROOT.parent / "shared" / "data" / "adult.csv"
PINNED = "2026-11-25T10:00:00Z"
Edit = Callable[[Path, str, str], Path]


def flagged(name: str, values: list[str]) -> tuple[str, str] | None:
    """(detector, category) of a column, or None."""
    finding = scan_column(name, values)
    return None if finding is None else (finding.detector, finding.category)


# ------------------------------------------------------------------------------------------- detectors

EMAILS = ["ada@example.com", "grace.hopper@navy.mil", "x+tag@sub.example.co.uk", "o'neil@example.org"]
PHONES = ["+44 20 7946 0958", "+1 (415) 555-0134", "(415) 555-0134", "415-555-0134", "020 7946 0958", "06 12 34 56 78"]


def test_emails() -> None:
    assert flagged("contact", EMAILS) == ("email", "personal")
    assert scan_column("contact", EMAILS).hint is None  # type: ignore[union-attr]
    assert scan_column("e_mail", EMAILS).hint == "email"  # type: ignore[union-attr]
    assert flagged("contact", ["not an email", "a@b", "@example.com", "ada@", "ada at example.com"]) is None


def test_phone_numbers_in_international_and_national_formats() -> None:
    assert flagged("contact", PHONES) == ("phone", "personal")
    assert flagged("x", ["+4915112345678", "+33612345678", "+12025550143"]) == ("phone", "personal")


def test_plain_integers_are_not_phone_numbers_without_a_name_hint() -> None:
    digits = ["4155550134", "2025550143", "7700900123", "6125550199"]
    assert flagged("customer_id", digits) is None
    assert flagged("amount", ["77516", "83311", "215646", "234721"]) is None
    # dates and decimals have separators but are not phone numbers either
    assert flagged("when", ["01-05-2023", "2023-05-01", "12/31/1999"]) is None
    assert flagged("ratio", ["1234.5678", "0.5", "12.75"]) is None
    # with a phone-like column name, plain digit strings count
    assert flagged("mobilePhone", digits) == ("phone", "personal")
    assert scan_column("tel", digits).hint == "phone"  # type: ignore[union-attr]


def test_us_ssn_with_never_issued_ranges_excluded() -> None:
    valid = ["123-45-6789", "078-05-1121", "219-09-9999", "665-12-3456"]
    assert flagged("x", valid) == ("us-ssn", "personal")
    invalid = ["000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000"]
    assert flagged("x", invalid) is None
    # 9 plain digits only with a name hint
    assert flagged("x", ["123456789", "078051121"]) is None
    assert flagged("social_security_number", ["123456789", "078051121"]) == ("us-ssn", "personal")
    assert flagged("ssn", ["000000000", "666123456"]) is None


def test_uk_national_insurance_numbers() -> None:
    assert flagged("x", ["AB123456C", "ab 12 34 56 d", "JG103759A"]) == ("uk-nino", "personal")
    assert flagged("x", ["BG123456A", "GB123456A", "DA123456A", "AB123456E", "AO123456A"]) is None


def test_iban_needs_valid_check_digits() -> None:
    valid = ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR1420041010050500013M02606"]
    assert flagged("x", valid) == ("iban", "financial")
    invalid = ["GB83 WEST 1234 5698 7654 32", "DE88370400440532013000", "FR1520041010050500013M02606"]
    assert flagged("x", invalid) is None


def test_payment_cards_need_luhn_and_an_issuer_prefix() -> None:
    cards = ["4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005", "6011111111111117"]
    assert all(luhn_valid(c.replace(" ", "").replace("-", "")) for c in cards)
    assert flagged("x", cards) == ("payment-card", "financial")
    assert flagged("x", ["4111111111111112", "5555555555554445", "378282246310006"]) is None  # Luhn fails
    assert flagged("x", ["1234567812345670", "9999999999999995"]) is None  # Luhn holds, no issuer prefix
    assert not luhn_valid("79927398710") and luhn_valid("79927398713")


def test_ip_addresses() -> None:
    assert flagged("x", ["192.168.0.1", "10.0.0.254", "2001:db8::1", "fe80::1%eth0"]) == ("ip-address", "personal")
    assert flagged("x", ["999.1.1.1", "1.2.3", "10:30", "1.2.3.4.5"]) is None


def test_person_names_by_column_name_and_value_shape() -> None:
    surnames = ["Smith", "O'Brien", "McDonald", "van der Berg", "Jean-Luc", "Müller", "NGUYEN"]
    assert flagged("last_name", surnames) == ("person-name", "personal")
    assert flagged("firstName", ["Mary", "John", "Émile", "Zoë"]) == ("person-name", "personal")
    full = ["Mary Smith", "John O'Brien", "Ana Lucia Perez", "Smith, John", "Wei Zhang"]
    assert flagged("name", full) == ("person-name", "personal")
    assert flagged("customer_name", full) == ("person-name", "personal")
    # without a name hint: full names whose first word is a common given name
    assert flagged("contact", full) == ("person-name", "personal")
    # a column called name that holds product names is not flagged
    assert flagged("name", ["Widget Pro", "Blue Kettle", "Garden Hose Deluxe", "Office Chair"]) is None
    assert flagged("product_name", full) == ("person-name", "personal")  # but real names still are
    assert flagged("product_name", ["Widget Pro", "Blue Kettle"]) is None
    # capitalised categories are no names without a hint
    assert flagged("workclass", ["State-gov", "Private", "Self-emp-not-inc"]) is None


def test_free_text_is_not_flagged() -> None:
    text = [
        "The quick brown fox jumps over the lazy dog.",
        "Customer asked about the delivery date, contact ada@example.com",
        "Call me tomorrow",
        "Order 4111 1111 1111 1111 was refunded",
    ]
    assert flagged("comment", text) is None
    assert flagged("notes", ["ok", "late", "refund requested", "n/a"]) is None


def test_dates_of_birth_need_a_name_hint() -> None:
    dates = ["1984-02-29", "1990-12-31", "31/12/1975", "12/31/1975", "1969-07-20T20:17:00Z"]
    assert flagged("date_of_birth", dates) == ("date-of-birth", "personal")
    assert flagged("DOB", dates) == ("date-of-birth", "personal")
    assert flagged("signup_date", dates) is None
    assert flagged("dob", ["1984-02-30", "2023-13-01", "hello"]) is None
    assert flagged("birth_year", ["1984", "1990", "1975"]) == ("date-of-birth", "personal")


def test_age_and_children() -> None:
    assert flagged("age", ["39", "50", "38", "53", "28"]) == ("age", "personal")
    assert flagged("customer_age", ["30-39", "40-49", "65+", "<18"]) == ("age", "personal")
    assert flagged("age", ["7", "12", "15", "9", "17"]) == ("age", "children")
    assert flagged("age", ["young", "old", "n/a"]) is None
    assert flagged("page_age_in_cache", ["39", "50"]) is None
    assert flagged("usage", ["39", "50"]) is None


def test_attribute_columns_by_name() -> None:
    labels = ["A", "B", "C"]
    assert flagged("sex", labels) == ("attribute:sex", "personal")
    assert flagged("Gender", labels) == ("attribute:gender", "personal")
    assert flagged("race", labels) == ("attribute:race", "special")
    assert flagged("ethnic_origin", labels) == ("attribute:ethnicity", "special")
    assert flagged("religion", labels) == ("attribute:religion", "special")
    assert flagged("sexual_orientation", labels) == ("attribute:sexual-orientation", "special")
    assert flagged("diagnosis", labels) == ("attribute:health", "health")
    assert flagged("fingerprint_template", labels) == ("attribute:biometric", "biometric")
    for name in ("sussex_branch", "image_orientation", "hours-per-week", "fnlwgt", "marriage_rate"):
        assert flagged(name, labels) is None, name
    # a known limit: the hint is the whole word "race", whatever the table is about
    assert flagged("race_track_id", labels) == ("attribute:race", "special")
    assert flagged("sex", ["", "  ", "?", "NA"]) is None  # no values, nothing held


def test_column_hints() -> None:
    assert column_hints("customerPhoneNumber") == {"phone"}
    assert column_hints("date-of-birth") == {"birth-date"}
    assert column_hints("first_name") == {"name-part"}
    assert column_hints("name") == {"name"}
    assert column_hints("username") == set()
    assert column_hints("file_name") == set()
    assert column_hints("card_type") == set()
    assert column_hints("credit_card_number") == {"card"}
    assert column_hints("national_insurance_no") == {"nino"}


def test_threshold_is_a_share_of_non_empty_values() -> None:
    assert VALUE_THRESHOLD == 0.8
    four_of_five = [*EMAILS, "nobody"]
    finding = scan_column("x", [*four_of_five, "", "", "n/a"])
    assert finding is not None and finding.share == pytest.approx(0.8) and finding.values == 5
    assert scan_column("x", [*EMAILS[:3], "nobody", "none at all"]) is None  # 3 of 5


# -------------------------------------------------------------------------------------------- sampling


def test_sampling_is_seeded_uniform_and_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame({"i": range(1000), "e": [f"user{i}@example.com" for i in range(1000)]}).to_csv(path, index=False)
    first = sample_table(path, 100, seed=1)
    again = sample_table(path, 100, seed=1)
    other = sample_table(path, 100, seed=2)
    assert (first.rows, len(first.sample), first.columns) == (1000, 100, ("i", "e"))
    assert first.sample.equals(again.sample)
    assert not first.sample.equals(other.sample)
    rows = [int(v) for v in first.sample.iloc[:, 0]]
    assert rows == sorted(rows) and len(set(rows)) == 100 and max(rows) > 500  # spread over the file
    everything = sample_table(path, 5000, seed=1)
    assert len(everything.sample) == 1000


def test_sampling_across_chunks_keeps_every_row_candidate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import compliance.evidence.tables as tables

    path = tmp_path / "t.csv"
    pd.DataFrame({"i": range(250)}).to_csv(path, index=False)
    whole = sample_table(path, 40, seed=3)
    monkeypatch.setattr(tables, "CHUNK_ROWS", 60)
    chunked = sample_table(path, 40, seed=3)
    assert chunked.rows == 250 and chunked.sample.equals(whole.sample)


def test_parquet_is_sampled_as_text(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"email": EMAILS, "age": [31, 42, None, 55]}).to_parquet(path)
    document = build_data_evidence(DataRequest("m", "v1", [path], generated_at=PINNED))
    columns = {c["name"]: c for c in document["datasets"][0]["columns"]}
    assert columns["email"]["detector"] == "email" and columns["age"]["values"] == 3


# ----------------------------------------------------------------------------------------- real data


def test_adult_flags_sex_race_and_age_only_by_their_names() -> None:
    if not ADULT.is_file():
        pytest.skip(f"{ADULT} not found: this test scans the UCI adult data set in ../shared/data")
    document = build_data_evidence(DataRequest("credit-scoring", "v7", [ADULT], generated_at=PINNED))
    (dataset,) = document["datasets"]
    assert dataset["rows"] == 32561 and dataset["sampled"] == 10_000
    columns = {c["name"]: c for c in dataset["columns"]}
    assert (columns["sex"]["category"], columns["sex"]["detector"]) == ("personal", "attribute:sex")
    assert (columns["race"]["category"], columns["race"]["detector"]) == ("special", "attribute:race")
    assert (columns["age"]["category"], columns["age"]["detector"], columns["age"]["share"]) == ("personal", "age", 1.0)
    for name in ("fnlwgt", "capital-gain", "capital-loss", "hours-per-week", "education-num", "workclass", "income"):
        assert name not in columns, name
    assert set(document["categories"]) == {"personal", "special"}
    DataEvidence.model_validate(document)


# ------------------------------------------------------------------------------------------- the CLI


def _write(path: Path, rows: dict[str, list[Any]]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _argv(out: Path, *datasets: Path, extra: tuple[str, ...] = ()) -> list[str]:
    argv = ["evidence", "data", "--model", "product-recs", "--version", "v12", "--generated-at", PINNED]
    for dataset in datasets:
        argv += ["--dataset", str(dataset)]
    return [*argv, "--out", str(out), *extra]


def test_cli_writes_evidence_that_read_evidence_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    customers = _write(
        tmp_path / "customers.csv",
        {"id": [1, 2, 3, 4], "contact": EMAILS, "phone": PHONES[:4], "score": [0.1, 0.2, 0.3, 0.4]},
    )
    clean = _write(tmp_path / "items.csv", {"sku": ["a1", "b2"], "price": [3, 4]})
    out = tmp_path / "data.json"
    assert main(_argv(out, customers, clean, extra=("--sample", "3", "--seed", "7"))) == 0
    err = capsys.readouterr().err
    assert "data evidence product-recs@v12: 2 dataset(s), 6 rows, 5 sampled, 2 flagged column(s)" in err
    read = read_evidence(out, "data", "data.json")
    assert read.present and read.kind == "data" and read.document is not None
    document = read.document
    assert document["kind"] == "DataEvidence" and document["generatedAt"] == PINNED
    assert document["sampling"] == {"method": "seeded-uniform", "size": 3, "seed": 7}
    assert document["categories"] == ["personal"]
    first, second = document["datasets"]
    assert first["digest"].startswith("sha256:") and first["rows"] == 4 and first["sampled"] == 3
    assert [(c["name"], c["detector"]) for c in first["columns"]] == [("contact", "email"), ("phone", "phone")]
    assert second["columns"] == [] and second["sampled"] == 2
    text = out.read_text(encoding="utf-8")
    for value in [*EMAILS, *PHONES]:  # privacy: no value is ever copied into the evidence
        assert json.dumps(value)[1:-1] not in text
    # reproducible: the same inputs give the same bytes
    again = tmp_path / "again.json"
    assert main(_argv(again, customers, clean, extra=("--sample", "3", "--seed", "7"))) == 0
    assert again.read_bytes() == out.read_bytes()


def test_cli_nothing_found_writes_none(tmp_path: Path) -> None:
    clean = _write(tmp_path / "items.csv", {"sku": ["a1", "b2"], "price": [3, 4]})
    out = tmp_path / "data.json"
    assert main(_argv(out, clean)) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["categories"] == ["none"]


@pytest.mark.parametrize(
    ("setup", "extra", "expected"),
    [
        ("missing", (), "missing.csv: file not found"),
        ("empty", (), "empty.csv: file is empty (no header, no rows)"),
        ("header", (), "header.csv: table has no rows"),
        ("good", ("--sample", "0"), "--sample: the sample size must be 1 or more, not 0"),
        ("good", ("--sample", "-5"), "--sample: the sample size must be 1 or more, not -5"),
    ],
)
def test_cli_errors_exit_2_with_one_line_and_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: str, extra: tuple[str, ...], expected: str
) -> None:
    files = {
        "missing": tmp_path / "missing.csv",
        "empty": tmp_path / "empty.csv",
        "header": tmp_path / "header.csv",
        "good": tmp_path / "good.csv",
    }
    files["empty"].write_text("", encoding="utf-8")
    files["header"].write_text("email,phone\n", encoding="utf-8")
    _write(files["good"], {"email": EMAILS})
    out = tmp_path / "data.json"
    assert main(_argv(out, files[setup], extra=extra)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlgate: error: ") and lines[0].endswith(expected), lines
    assert not out.exists()


def test_cli_bad_generated_at(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path / "good.csv", {"email": EMAILS})
    out = tmp_path / "data.json"
    argv = [a if a != PINNED else "yesterday" for a in _argv(out, good)]
    assert main(argv) == 2
    assert "--generated-at: 'yesterday' is not an RFC 3339 time" in capsys.readouterr().err
    assert not out.exists()


def test_build_raises_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        build_data_evidence(DataRequest("m", "v1", []))
    header = tmp_path / "h.csv"
    header.write_text("a\n", encoding="utf-8")
    with pytest.raises(EvidenceError, match="no rows"):
        build_data_evidence(DataRequest("m", "v1", [header]))


# ---------------------------------------------------------------------------------- format and spec


def _evidence(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "apiVersion": "mlgate.io/v1",
        "kind": "DataEvidence",
        "model": "m",
        "version": "v1",
        "generatedAt": PINNED,
        "tool": "pipeline 1.0",
        "datasets": [
            {
                "uri": "s3://data/train.csv",
                "digest": "sha256:" + "0" * 64,
                "rows": 10,
                "sampled": 10,
                "columns": [{"name": "contact", "category": "personal", "detector": "email", "share": 0.9}],
            }
        ],
        "categories": ["personal"],
    }
    document.update(changes)
    return document


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"categories": ["financial"]}, "missing personal"),
        ({"categories": ["none"]}, "'none' means no column was flagged"),
        ({"kind": "LineageEvidence"}, "kind"),
        ({"values": ["ada@example.com"]}, "unknown field"),
    ],
)
def test_read_evidence_rejects_malformed_data_evidence(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(_evidence(**changes)), encoding="utf-8")
    with pytest.raises(EvidenceError, match="not valid data evidence") as info:
        read_evidence(path, "data", "data.json")
    assert message in str(info.value)
    path.write_text(json.dumps(_evidence()), encoding="utf-8")
    assert read_evidence(path, "data", "data.json").present


def test_spec_schema_lets_a_version_reference_data_evidence() -> None:
    schema = model_deployment_schema()
    refs = schema["$defs"]["EvidenceRefs"]["properties"]
    assert set(refs) == {"fairness", "lineage", "data"}
    assert refs["data"]["anyOf"] == [{"type": "string"}, {"type": "null"}]


# -------------------------------------------------------------------------------------------- the gate


def test_gate_denies_personal_data_under_a_none_declaration(
    project: Path, edit: Edit, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """product-recs declares categories [none]; data evidence for its v12 that found e-mails → DATA-008."""
    training = _write(tmp_path / "train.csv", {"user": EMAILS, "clicks": [3, 1, 4, 1]})
    evidence = project / "evidence" / "product-recs" / "v12" / "data.json"
    assert main(_argv(evidence, training)) == 0
    edit(
        project / "models" / "product-recs.yaml",
        "        lineage: ../evidence/product-recs/v12/lineage.json\n",
        "        lineage: ../evidence/product-recs/v12/lineage.json\n"
        "        data: ../evidence/product-recs/v12/data.json\n",
    )
    capsys.readouterr()
    code = main(["check", "--now", "2026-11-25T12:00:00Z", "--env", "dev", "--root", str(project), "--format", "json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 1
    (deny,) = [d for d in result["decisions"] if d["level"] == "deny" and not d["waiver"]]
    assert (deny["id"], deny["subject"], deny["version"]) == ("DATA-008", "product-recs@dev", "v12")
    assert f"column user of {training} (email, personal)" in deny["msg"]
    assert "EU AI Act Art. 10(5)" in deny["controls"]

    # once the spec declares personal data, the deny goes (and nothing undeclared is left to warn about)
    edit(project / "models" / "product-recs.yaml", "categories: [none]", "categories: [personal]")
    code = main(["check", "--now", "2026-11-25T12:00:00Z", "--env", "dev", "--root", str(project), "--format", "json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert not [d for d in result["decisions"] if d["id"] in {"DATA-008", "DATA-009", "DATA-010"}]

    # a referenced file that disappears is a deny, not "nothing found"
    evidence.unlink()
    code = main(["check", "--now", "2026-11-25T12:00:00Z", "--env", "dev", "--root", str(project), "--format", "json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 1
    assert {d["id"] for d in result["decisions"] if d["level"] == "deny" and not d["waiver"]} == {"DATA-010"}
