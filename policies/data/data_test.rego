package mlgate.data_test

import data.mlgate.data as handling

# A good deployment document: an EU-resident model handling personal and financial data, logging
# payloads with redaction and a 30-day retention, trained on EU data, planned in two EU regions.

_lineage_doc := {
	"apiVersion": "mlgate.io/v1",
	"kind": "LineageEvidence",
	"model": "credit-scoring",
	"version": "v7",
	"datasets": [{
		"name": "adult-train",
		"uri": "s3://mlgate-data/uci-adult/adult.data",
		"digest": "sha256:f2c62076f19504d99a38b22badf445a7f42530ade6b827acf78dd143fbce38bb",
		"role": "training",
		"categories": ["personal"],
		"residency": "eu-west-1",
	}],
}

_good := {
	"kind": "deployment",
	"subject": "credit-scoring@prod",
	"now": "2026-11-25T10:00:00Z",
	"environment": {"name": "prod", "regions": ["eu-west-1", "eu-central-1", "us-east-1"]},
	"model": {
		"name": "credit-scoring",
		"riskTier": "high",
		"data": {
			"categories": ["personal", "financial"],
			"residency": ["eu"],
			"payloadLogging": {"enabled": true, "mode": "all", "redact": ["ssn", "name"], "retentionDays": 30},
			"legalBasis": "contract",
		},
	},
	"deployment": {"regions": ["eu-west-1", "eu-central-1"], "traffic": {"v7": 100}, "abTest": null, "shadow": null},
	"versions": [{
		"name": "v7",
		"position": 0,
		"newest": true,
		"deployed": true,
		"weight": 100,
		"evidence": {"lineage": {
			"file": "evidence/credit-scoring/v7/lineage.json",
			"present": true,
			"document": _lineage_doc,
		}},
	}],
	"plannedRegions": ["eu-central-1", "eu-west-1"],
}

_with(patches) := json.patch(_good, patches)

_with_data(field, value) := _with([{"op": "replace", "path": concat("/", ["/model/data", field]), "value": value}])

_has(decisions, id) if {
	some d in decisions
	d.id == id
}

test_good_document_has_no_decisions if {
	denies := handling.deny with input as _good
	warns := handling.warn with input as _good
	count(denies) == 0
	count(warns) == 0
}

# DATA-001

test_data_001_logging_without_redaction if {
	denies := handling.deny with input as _with_data("payloadLogging/redact", [])
	some d in denies
	d.id == "DATA-001"
}

test_data_001_undeclared_categories_count_as_personal if {
	doc := json.patch(_with_data("payloadLogging/redact", []), [{"op": "remove", "path": "/model/data/categories"}])
	denies := handling.deny with input as doc
	_has(denies, "DATA-001")
}

test_data_001_no_personal_data_passes if {
	doc := json.patch(_with_data("payloadLogging/redact", []), [
		{"op": "replace", "path": "/model/data/categories", "value": ["none"]},
		{"op": "replace", "path": "/versions/0/evidence/lineage", "value": null},
	])
	denies := handling.deny with input as doc
	not _has(denies, "DATA-001")
}

test_data_001_logging_off_passes if {
	denies := handling.deny with input as _with_data("payloadLogging", {"enabled": false})
	not _has(denies, "DATA-001")
}

# DATA-002

test_data_002_retention_too_long if {
	denies := handling.deny with input as _with_data("payloadLogging/retentionDays", 365)
	some d in denies
	d.id == "DATA-002"
	contains(d.msg, "365")
}

test_data_002_retention_unset if {
	denies := handling.deny with input as _with_data("payloadLogging/retentionDays", null)
	_has(denies, "DATA-002")
}

test_data_002_dev_maximum_is_lower if {
	doc := json.patch(_with_data("payloadLogging/retentionDays", 60), [
		{"op": "replace", "path": "/environment/name", "value": "dev"},
	])
	denies := handling.deny with input as doc
	_has(denies, "DATA-002")
}

test_data_002_retention_at_maximum_passes if {
	denies := handling.deny with input as _with_data("payloadLogging/retentionDays", 90)
	not _has(denies, "DATA-002")
}

test_data_002_no_thresholds_fails_closed if {
	denies := handling.deny with input as _good with data.mlgate.thresholds as {}
	_has(denies, "DATA-002")
}

# DATA-003

test_data_003_planned_region_outside_residency if {
	denies := handling.deny with input as _with([
		{"op": "replace", "path": "/plannedRegions", "value": ["eu-central-1", "eu-west-1", "us-east-1"]},
	])
	some d in denies
	d.id == "DATA-003"
	d.region == "us-east-1"
	count({x | some x in denies; x.id == "DATA-003"}) == 1
}

test_data_003_plan_not_spec_is_judged if {
	# the spec's regions are fine, but the plan deploys to ap-south-1
	denies := handling.deny with input as _with([{"op": "replace", "path": "/plannedRegions", "value": ["ap-south-1"]}])
	some d in denies
	d.id == "DATA-003"
	d.region == "ap-south-1"
}

test_data_003_exact_region_residency if {
	doc := _with([
		{"op": "replace", "path": "/model/data/residency", "value": ["eu-west-1"]},
		{"op": "replace", "path": "/versions/0/evidence/lineage", "value": null},
	])
	denies := handling.deny with input as doc
	some d in denies
	d.id == "DATA-003"
	d.region == "eu-central-1"
}

test_data_003_middle_east_group_covers_israel if {
	doc := _with([
		{"op": "replace", "path": "/model/data/residency", "value": ["me"]},
		{"op": "replace", "path": "/plannedRegions", "value": ["il-central-1", "me-south-1"]},
		{"op": "replace", "path": "/versions/0/evidence/lineage", "value": null},
	])
	denies := handling.deny with input as doc
	not _has(denies, "DATA-003")
}

test_data_003_regions_within_residency_pass if {
	denies := handling.deny with input as _good
	not _has(denies, "DATA-003")
}

test_data_003_residency_not_a_list_fails_closed if {
	denies := handling.deny with input as _with_data("residency", "eu")
	count({d.region | some d in denies; d.id == "DATA-003"}) == 2
}

test_data_003_no_region_groups_fails_closed if {
	# without region groups in the data even an exact region name is not taken as resident
	doc := _with([
		{"op": "replace", "path": "/model/data/residency", "value": ["eu-west-1"]},
		{"op": "replace", "path": "/plannedRegions", "value": ["eu-west-1"]},
	])
	denies := handling.deny with input as doc with data.mlgate.thresholds as {}
	some d in denies
	d.id == "DATA-003"
	d.region == "eu-west-1"
}

# DATA-004

test_data_004_health_data_without_legal_basis if {
	doc := _with([
		{"op": "replace", "path": "/model/data/categories", "value": ["personal", "health"]},
		{"op": "replace", "path": "/model/data/legalBasis", "value": null},
	])
	denies := handling.deny with input as doc
	some d in denies
	d.id == "DATA-004"
	contains(d.msg, "health")
}

test_data_004_legal_basis_declared_passes if {
	denies := handling.deny with input as _with_data("categories", ["personal", "health"])
	not _has(denies, "DATA-004")
}

test_data_004_limited_risk_passes if {
	doc := _with([
		{"op": "replace", "path": "/model/data/categories", "value": ["biometric"]},
		{"op": "replace", "path": "/model/data/legalBasis", "value": null},
		{"op": "replace", "path": "/model/riskTier", "value": "limited"},
	])
	denies := handling.deny with input as doc
	not _has(denies, "DATA-004")
}

# DATA-005

test_data_005_training_data_outside_residency if {
	denies := handling.deny with input as _with([
		{"op": "replace", "path": "/versions/0/evidence/lineage/document/datasets/0/residency", "value": "us-east-1"},
	])
	some d in denies
	d.id == "DATA-005"
	d.version == "v7"
}

test_data_005_residency_unknown_fails_closed if {
	denies := handling.deny with input as _with([
		{"op": "remove", "path": "/versions/0/evidence/lineage/document/datasets/0/residency"},
	])
	_has(denies, "DATA-005")
}

test_data_005_training_data_in_residency_passes if {
	denies := handling.deny with input as _good
	not _has(denies, "DATA-005")
}

test_data_005_exact_region_residency if {
	doc := _with([
		{"op": "replace", "path": "/model/data/residency", "value": ["eu-west-1", "eu-central-1"]},
		{"op": "add", "path": "/versions/0/evidence/lineage/document/datasets/-", "value": json.patch(
			_lineage_doc.datasets[0],
			[{"op": "replace", "path": "/residency", "value": "eu-north-1"}],
		)},
	])
	denies := handling.deny with input as doc
	found := [d | some d in denies; d.id == "DATA-005"]
	count(found) == 1
	contains(found[0].msg, "eu-north-1")
}

# DATA-006

test_data_006_none_declared_but_personal_training_data if {
	doc := _with([
		{"op": "replace", "path": "/model/data/categories", "value": ["none"]},
		{"op": "replace", "path": "/model/data/payloadLogging", "value": {"enabled": false}},
	])
	denies := handling.deny with input as doc
	some d in denies
	d.id == "DATA-006"
	contains(d.msg, "adult-train")
}

test_data_006_none_declared_and_none_in_data_passes if {
	doc := _with([
		{"op": "replace", "path": "/model/data/categories", "value": ["none"]},
		{"op": "replace", "path": "/versions/0/evidence/lineage/document/datasets/0/categories", "value": ["none"]},
	])
	denies := handling.deny with input as doc
	not _has(denies, "DATA-006")
}

# DATA-007

test_data_007_full_logging_of_special_categories if {
	warns := handling.warn with input as _with_data("categories", ["personal", "special"])
	some w in warns
	w.id == "DATA-007"
}

test_data_007_request_only_logging_passes if {
	doc := _with([
		{"op": "replace", "path": "/model/data/categories", "value": ["personal", "special"]},
		{"op": "replace", "path": "/model/data/payloadLogging/mode", "value": "request"},
	])
	warns := handling.warn with input as doc
	not _has(warns, "DATA-007")
}

# DATA-008 and DATA-009: data-handling evidence (mlgate evidence data)

_data_doc(columns, categories) := {
	"apiVersion": "mlgate.io/v1",
	"kind": "DataEvidence",
	"model": "credit-scoring",
	"version": "v7",
	"datasets": [{"uri": "data/train.csv", "rows": 1000, "sampled": 1000, "columns": columns}],
	"categories": categories,
}

_email_column := {"name": "contact", "category": "personal", "detector": "email", "share": 0.97}

_race_column := {"name": "race", "category": "special", "detector": "attribute:race", "share": 1.0}

_card_column := {"name": "pan", "category": "financial", "detector": "payment-card", "share": 0.99}

# _good with data evidence for v7 and the given declared categories (payload logging off: DATA-001/002 aside)
_with_data_evidence(declared, evidence) := _with([
	{"op": "replace", "path": "/model/data/categories", "value": declared},
	{"op": "replace", "path": "/model/data/payloadLogging", "value": {"enabled": false}},
	{"op": "replace", "path": "/versions/0/evidence/lineage/document/datasets/0/categories", "value": ["none"]},
	{"op": "add", "path": "/versions/0/evidence/data", "value": {
		"file": "evidence/credit-scoring/v7/data.json",
		"present": true,
		"sha256": "0000",
		"document": evidence,
	}},
])

test_data_008_none_declared_but_emails_found if {
	doc := _with_data_evidence(["none"], _data_doc([_email_column], ["personal"]))
	denies := handling.deny with input as doc
	found := [d | some d in denies; d.id == "DATA-008"]
	count(found) == 1
	found[0].version == "v7"
	contains(found[0].msg, "column contact of data/train.csv (email, personal)")
}

test_data_008_names_every_column_and_category if {
	doc := _with_data_evidence(["none"], _data_doc([_email_column, _race_column], ["personal", "special"]))
	denies := handling.deny with input as doc
	some d in denies
	d.id == "DATA-008"
	contains(d.msg, "found personal, special data")
	contains(d.msg, "column race of data/train.csv (attribute:race, special)")
}

test_data_008_financial_only_under_none_denies if {
	doc := _with_data_evidence(["none"], _data_doc([_card_column], ["financial"]))
	denies := handling.deny with input as doc
	_has(denies, "DATA-008")
}

test_data_008_categories_without_columns_deny if {
	doc := _with_data_evidence(["none"], _data_doc([], ["health"]))
	denies := handling.deny with input as doc
	some d in denies
	d.id == "DATA-008"
	contains(d.msg, "no column named")
}

test_data_008_nothing_found_passes if {
	doc := _with_data_evidence(["none"], _data_doc([], ["none"]))
	denies := handling.deny with input as doc
	warns := handling.warn with input as doc
	not _has(denies, "DATA-008")
	not _has(warns, "DATA-009")
}

test_data_008_personal_declared_passes if {
	doc := _with_data_evidence(["personal"], _data_doc([_email_column], ["personal"]))
	denies := handling.deny with input as doc
	not _has(denies, "DATA-008")
}

test_data_008_version_not_deployed_passes if {
	doc := json.patch(_with_data_evidence(["none"], _data_doc([_email_column], ["personal"])), [
		{"op": "replace", "path": "/versions/0/deployed", "value": false},
	])
	denies := handling.deny with input as doc
	not _has(denies, "DATA-008")
}

test_data_008_missing_or_malformed_evidence_is_not_a_finding if {
	missing := json.patch(_with_data_evidence(["none"], null), [
		{"op": "replace", "path": "/versions/0/evidence/data/present", "value": false},
	])
	missing_denies := handling.deny with input as missing
	not _has(missing_denies, "DATA-008")
	odd := _with_data_evidence(["none"], {"datasets": "x", "categories": [1, "none"]})
	odd_denies := handling.deny with input as odd
	not _has(odd_denies, "DATA-008")
	no_ref := _with([{"op": "replace", "path": "/model/data/categories", "value": ["none"]}])
	no_ref_denies := handling.deny with input as no_ref
	not _has(no_ref_denies, "DATA-008")
}

test_data_009_undeclared_special_category_warns if {
	evidence := _data_doc([_email_column, _race_column], ["personal", "special"])
	doc := _with_data_evidence(["personal", "financial"], evidence)
	warns := handling.warn with input as doc
	found := [w | some w in warns; w.id == "DATA-009"]
	count(found) == 1
	found[0].version == "v7"
	contains(found[0].msg, "found special data")
	contains(found[0].msg, "(financial, personal)")
	contains(found[0].msg, "column race of data/train.csv")
	not contains(found[0].msg, "contact")
	denies := handling.deny with input as doc
	not _has(denies, "DATA-008")
}

test_data_009_declared_categories_pass if {
	evidence := _data_doc([_email_column, _race_column], ["personal", "special"])
	doc := _with_data_evidence(["personal", "special"], evidence)
	warns := handling.warn with input as doc
	not _has(warns, "DATA-009")
}

test_data_009_not_under_none if {
	# under [none] the deny (DATA-008) speaks, not this warning
	doc := _with_data_evidence(["none"], _data_doc([_race_column], ["special"]))
	warns := handling.warn with input as doc
	not _has(warns, "DATA-009")
}

# DATA-010

test_data_010_referenced_data_evidence_missing if {
	doc := json.patch(_with_data_evidence(["none"], null), [
		{"op": "replace", "path": "/versions/0/evidence/data/present", "value": false},
	])
	denies := handling.deny with input as doc
	some d in denies
	d.id == "DATA-010"
	d.version == "v7"
	contains(d.msg, "evidence/credit-scoring/v7/data.json")
}

test_data_010_present_or_unreferenced_passes if {
	present := _with_data_evidence(["personal"], _data_doc([_email_column], ["personal"]))
	present_denies := handling.deny with input as present
	not _has(present_denies, "DATA-010")
	unreferenced := _with([{"op": "add", "path": "/versions/0/evidence/data", "value": null}])
	unreferenced_denies := handling.deny with input as unreferenced
	not _has(unreferenced_denies, "DATA-010")
}
