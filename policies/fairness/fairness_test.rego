package mlgate.fairness_test

import data.mlgate.fairness

# A good deployment document: v7 is a 10 % canary beside v6, both with fair, recent evidence.

_groups := {
	"Male": {"n": 10860, "selectionRate": 0.62, "tpr": 0.96, "fpr": 0.47, "accuracy": 0.65},
	"Female": {"n": 5421, "selectionRate": 0.57, "tpr": 0.97, "fpr": 0.52, "accuracy": 0.54},
}

_feature := {
	"demographicParityDifference": 0.05,
	"demographicParityRatio": 0.92,
	"equalizedOddsDifference": 0.05,
	"groups": _groups,
}

_fairness_doc(version) := {
	"apiVersion": "mlgate.io/v1",
	"kind": "FairnessEvidence",
	"model": "credit-scoring",
	"version": version,
	"generatedAt": "2026-11-20T10:00:00Z",
	"features": {"sex": _feature},
}

_version(name, position, weight) := {
	"name": name,
	"position": position,
	"newest": position == 0,
	"storageUri": sprintf("s3://mlgate-models/credit-scoring/%v/", [name]),
	"digest": "sha256:03a8cfebde867a647dc4723b645b1ba905a7fb9fcc23ee939dad8dc97e34658f",
	"deployed": true,
	"weight": weight,
	"evidence": {"fairness": {
		"file": sprintf("evidence/credit-scoring/%v/fairness.json", [name]),
		"present": true,
		"sha256": "0b1c",
		"document": _fairness_doc(name),
	}},
}

_good := {
	"kind": "deployment",
	"subject": "credit-scoring@prod",
	"now": "2026-11-25T10:00:00Z",
	"environment": {"name": "prod", "regions": ["eu-west-1", "eu-central-1"]},
	"model": {"name": "credit-scoring", "riskTier": "high"},
	"deployment": {"regions": ["eu-west-1"], "traffic": {"v7": 10, "v6": 90}, "abTest": null, "shadow": null},
	"versions": [_version("v7", 0, 10), _version("v6", 1, 90)],
}

# The good document with JSON patches applied.
_with(patches) := json.patch(_good, patches)

# The good document with one metric of v7's "sex" feature replaced.
_with_metric(metric, value) := _with([{
	"op": "replace",
	"path": sprintf("/versions/0/evidence/fairness/document/features/sex/%v", [metric]),
	"value": value,
}])

_has(decisions, id) if {
	some d in decisions
	d.id == id
}

test_good_document_has_no_decisions if {
	denies := fairness.deny with input as _good
	warns := fairness.warn with input as _good
	count(denies) == 0
	count(warns) == 0
}

test_platform_document_is_ignored if {
	denies := fairness.deny with input as {"kind": "platform", "environment": {"name": "prod"}}
	count(denies) == 0
}

# FAIR-001

test_fair_001_missing_file if {
	denies := fairness.deny with input as _with([
		{"op": "replace", "path": "/versions/0/evidence/fairness/present", "value": false},
		{"op": "replace", "path": "/versions/0/evidence/fairness/document", "value": null},
	])
	some d in denies
	d.id == "FAIR-001"
	d.version == "v7"
	contains(d.msg, "does not exist")
}

test_fair_001_unreadable_document if {
	denies := fairness.deny with input as _with([
		{"op": "replace", "path": "/versions/0/evidence/fairness/document", "value": null},
	])
	some d in denies
	d.id == "FAIR-001"
	contains(d.msg, "could not be read")
}

test_fair_001_no_evidence_named if {
	denies := fairness.deny with input as _with([
		{"op": "replace", "path": "/versions/1/evidence/fairness", "value": null},
	])
	some d in denies
	d.id == "FAIR-001"
	d.version == "v6"
}

test_fair_001_no_features if {
	denies := fairness.deny with input as _with([
		{"op": "replace", "path": "/versions/0/evidence/fairness/document/features", "value": {}},
	])
	some d in denies
	d.id == "FAIR-001"
}

test_fair_001_ab_route_needs_evidence if {
	denies := fairness.deny with input as _with([
		{"op": "replace", "path": "/deployment/traffic", "value": {"v7": 0, "v6": 100}},
		{"op": "replace", "path": "/deployment/abTest", "value": {"header": "x-variant", "routes": {"b": "v7"}}},
		{"op": "replace", "path": "/versions/0/weight", "value": 0},
		{"op": "replace", "path": "/versions/0/evidence/fairness", "value": null},
	])
	some d in denies
	d.id == "FAIR-001"
	d.version == "v7"
}

test_fair_001_rollback_target_without_traffic_passes if {
	denies := fairness.deny with input as _with([
		{"op": "replace", "path": "/versions/1/weight", "value": 0},
		{"op": "replace", "path": "/versions/0/weight", "value": 100},
		{"op": "replace", "path": "/versions/1/evidence/fairness", "value": null},
	])
	not _has(denies, "FAIR-001")
}

# FAIR-002

test_fair_002_difference_above_limit if {
	denies := fairness.deny with input as _with_metric("demographicParityDifference", 0.12)
	some d in denies
	d.id == "FAIR-002"
	d.version == "v7"
	contains(d.msg, "sex")
}

test_fair_002_missing_metric_fails_closed if {
	denies := fairness.deny with input as _with([
		{"op": "remove", "path": "/versions/0/evidence/fairness/document/features/sex/demographicParityDifference"},
	])
	_has(denies, "FAIR-002")
}

test_fair_002_difference_at_limit_passes if {
	denies := fairness.deny with input as _with_metric("demographicParityDifference", 0.10)
	not _has(denies, "FAIR-002")
}

test_fair_002_limited_tier_is_looser if {
	doc := json.patch(_with_metric("demographicParityDifference", 0.12), [
		{"op": "replace", "path": "/model/riskTier", "value": "limited"},
	])
	denies := fairness.deny with input as doc
	not _has(denies, "FAIR-002")
}

test_fair_002_unknown_environment_uses_default if {
	doc := json.patch(_with_metric("demographicParityDifference", 0.12), [
		{"op": "replace", "path": "/environment/name", "value": "perf"},
	])
	denies := fairness.deny with input as doc
	_has(denies, "FAIR-002")
}

test_fair_002_limit_comes_from_data if {
	thresholds := {"environments": {"default": {"fairness": {"high": {
		"maxDemographicParityDifference": 0.15,
		"maxEqualizedOddsDifference": 0.15,
		"minDemographicParityRatio": 0.5,
	}}}}}
	denies := fairness.deny with input as _with_metric("demographicParityDifference", 0.12)
		with data.mlgate.thresholds as thresholds
	not _has(denies, "FAIR-002")
}

test_fair_002_no_thresholds_fails_closed if {
	denies := fairness.deny with input as _good with data.mlgate.thresholds as {}
	some d in denies
	d.id == "FAIR-002"
	contains(d.msg, "null")
}

test_fair_002_difference_not_a_number_fails_closed if {
	denies := fairness.deny with input as _with_metric("demographicParityDifference", "0.01")
	_has(denies, "FAIR-002")
}

test_fair_002_only_the_failing_feature_is_reported if {
	# v6 gains a second feature above the limit: one decision, for that feature of that version
	race := json.patch(_feature, [{"op": "replace", "path": "/demographicParityDifference", "value": 0.3}])
	denies := fairness.deny with input as _with([
		{"op": "add", "path": "/versions/1/evidence/fairness/document/features/race", "value": race},
	])
	found := [d | some d in denies; d.id == "FAIR-002"]
	count(found) == 1
	found[0].version == "v6"
	contains(found[0].msg, "race")
}

# FAIR-003

test_fair_003_equalized_odds_above_limit if {
	denies := fairness.deny with input as _with_metric("equalizedOddsDifference", 0.14)
	some d in denies
	d.id == "FAIR-003"
}

test_fair_003_equalized_odds_within_limit_passes if {
	denies := fairness.deny with input as _with_metric("equalizedOddsDifference", 0.09)
	not _has(denies, "FAIR-003")
}

test_fair_003_negative_difference_counts_by_size if {
	beyond := fairness.deny with input as _with_metric("equalizedOddsDifference", -0.14)
	_has(beyond, "FAIR-003")
	at_limit := fairness.deny with input as _with_metric("equalizedOddsDifference", -0.10)
	not _has(at_limit, "FAIR-003")
}

# FAIR-004

test_fair_004_ratio_below_minimum if {
	denies := fairness.deny with input as _with_metric("demographicParityRatio", 0.75)
	some d in denies
	d.id == "FAIR-004"
}

test_fair_004_ratio_not_a_number_fails_closed if {
	denies := fairness.deny with input as _with_metric("demographicParityRatio", "0.9")
	_has(denies, "FAIR-004")
}

test_fair_004_ratio_at_minimum_passes if {
	denies := fairness.deny with input as _with_metric("demographicParityRatio", 0.8)
	not _has(denies, "FAIR-004")
}

# FAIR-005

test_fair_005_small_group_warns if {
	warns := fairness.warn with input as _with([
		{"op": "replace", "path": "/versions/0/evidence/fairness/document/features/sex/groups/Female/n", "value": 40},
	])
	some w in warns
	w.id == "FAIR-005"
	contains(w.msg, "Female")
}

test_fair_005_large_groups_pass if {
	warns := fairness.warn with input as _good
	not _has(warns, "FAIR-005")
}

test_fair_005_group_at_minimum_passes if {
	warns := fairness.warn with input as _with([
		{"op": "replace", "path": "/versions/0/evidence/fairness/document/features/sex/groups/Female/n", "value": 100},
	])
	not _has(warns, "FAIR-005")
}

test_fair_005_size_not_a_number_warns if {
	# a string sorts after every number in Rego: "5000" >= 100 holds, yet it is no row count
	warns := fairness.warn with input as _with([
		{"op": "replace", "path": "/versions/1/evidence/fairness/document/features/sex/groups/Male/n", "value": "5000"},
	])
	some w in warns
	w.id == "FAIR-005"
	w.version == "v6"
	contains(w.msg, "Male")
}

# FAIR-006

test_fair_006_evidence_of_another_version if {
	denies := fairness.deny with input as _with([
		{"op": "replace", "path": "/versions/0/evidence/fairness/document/version", "value": "v6"},
	])
	some d in denies
	d.id == "FAIR-006"
	d.version == "v7"
}

test_fair_006_wrong_kind if {
	denies := fairness.deny with input as _with([
		{"op": "replace", "path": "/versions/1/evidence/fairness/document/kind", "value": "LineageEvidence"},
	])
	_has(denies, "FAIR-006")
}

test_fair_006_matching_evidence_passes if {
	denies := fairness.deny with input as _good
	not _has(denies, "FAIR-006")
}

# FAIR-007

test_fair_007_old_evidence_warns if {
	warns := fairness.warn with input as _with([
		{"op": "replace", "path": "/versions/1/evidence/fairness/document/generatedAt", "value": "2026-06-01T00:00:00Z"},
	])
	some w in warns
	w.id == "FAIR-007"
	w.version == "v6"
}

test_fair_007_missing_timestamp_warns if {
	warns := fairness.warn with input as _with([
		{"op": "remove", "path": "/versions/0/evidence/fairness/document/generatedAt"},
	])
	_has(warns, "FAIR-007")
}

test_fair_007_recent_evidence_passes if {
	warns := fairness.warn with input as _with([
		{"op": "replace", "path": "/versions/1/evidence/fairness/document/generatedAt", "value": "2026-08-28T00:00:00Z"},
	])
	not _has(warns, "FAIR-007")
}

test_fair_007_maximum_age_is_inclusive if {
	# prod allows 90 days: exactly 90 days before the run passes, one second more warns
	at_limit := fairness.warn with input as _with([
		{"op": "replace", "path": "/versions/1/evidence/fairness/document/generatedAt", "value": "2026-08-27T10:00:00Z"},
	])
	not _has(at_limit, "FAIR-007")
	beyond := fairness.warn with input as _with([
		{"op": "replace", "path": "/versions/1/evidence/fairness/document/generatedAt", "value": "2026-08-27T09:59:59Z"},
	])
	_has(beyond, "FAIR-007")
}

test_fair_007_run_time_with_offset if {
	# 12:00+02:00 is 10:00Z: evidence generated exactly 90 days before passes
	warns := fairness.warn with input as _with([
		{"op": "replace", "path": "/now", "value": "2026-11-25T12:00:00+02:00"},
		{"op": "replace", "path": "/versions/1/evidence/fairness/document/generatedAt", "value": "2026-08-27T10:00:00Z"},
	])
	not _has(warns, "FAIR-007")
}

test_fair_007_run_time_not_a_timestamp_warns if {
	warns := fairness.warn with input as _with([{"op": "replace", "path": "/now", "value": "yesterday"}])
	count({w.version | some w in warns; w.id == "FAIR-007"}) == 2
}
