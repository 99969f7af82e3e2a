package mlgate.lineage_test

import data.mlgate.lineage

# A good deployment document: a high-risk model in prod, v7 at 100 % and v6 kept as a rollback target,
# both with complete, approved lineage.

_digests := {
	"v7": "sha256:03a8cfebde867a647dc4723b645b1ba905a7fb9fcc23ee939dad8dc97e34658f",
	"v6": "sha256:3f264f861f269ec563385b2e486ac00f316c5bb04e0e5e884fbdf71ecac18962",
	"v5": "sha256:9e1f6c0d3b2a8f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e",
}

_digest(name) := _digests[name]

_lineage_doc(name) := {
	"apiVersion": "mlgate.io/v1",
	"kind": "LineageEvidence",
	"model": "credit-scoring",
	"version": name,
	"artifact": {"uri": sprintf("s3://mlgate-models/credit-scoring/%v/", [name]), "digest": _digest(name)},
	"training": {
		"runId": "8f2c4b1e9a7d4c3b",
		"tracking": "mlflow",
		"codeRepo": "https://git.example.com/risk/credit",
		"codeCommit": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
		"startedAt": "2026-11-18T08:00:00Z",
	},
	"datasets": [{
		"name": "adult-train",
		"uri": "s3://mlgate-data/uci-adult/adult.data",
		"digest": "sha256:f2c62076f19504d99a38b22badf445a7f42530ade6b827acf78dd143fbce38bb",
		"role": "training",
		"categories": ["personal"],
		"residency": "eu-west-1",
	}],
	"approvals": [{"by": "cro@example.com", "role": "model-risk", "at": "2026-11-19T12:00:00Z"}],
}

_version(name, position, weight) := {
	"name": name,
	"position": position,
	"newest": position == 0,
	"storageUri": sprintf("s3://mlgate-models/credit-scoring/%v/", [name]),
	"digest": _digest(name),
	"deployed": true,
	"weight": weight,
	"evidence": {"lineage": {
		"file": sprintf("evidence/credit-scoring/%v/lineage.json", [name]),
		"present": true,
		"sha256": "9d1e",
		"document": _lineage_doc(name),
	}},
}

_good := {
	"kind": "deployment",
	"subject": "credit-scoring@prod",
	"now": "2026-11-25T10:00:00Z",
	"environment": {"name": "prod", "regions": ["eu-west-1"]},
	"model": {"name": "credit-scoring", "riskTier": "high"},
	"deployment": {"regions": ["eu-west-1"], "traffic": {"v7": 100, "v6": 0}, "abTest": null, "shadow": null},
	"versions": [_version("v7", 0, 100), _version("v6", 1, 0)],
}

_with(patches) := json.patch(_good, patches)

# The good document with a field of v6's (the rollback target's) lineage document replaced.
_with_v6(path, value) := _with([{
	"op": "replace",
	"path": concat("", ["/versions/1/evidence/lineage/document", path]),
	"value": value,
}])

_has(decisions, id) if {
	some d in decisions
	d.id == id
}

test_good_document_has_no_decisions if {
	denies := lineage.deny with input as _good
	warns := lineage.warn with input as _good
	count(denies) == 0
	count(warns) == 0
}

# LIN-001

test_lin_001_rollback_target_without_lineage if {
	denies := lineage.deny with input as _with([{"op": "replace", "path": "/versions/1/evidence/lineage", "value": null}])
	some d in denies
	d.id == "LIN-001"
	d.version == "v6"
}

test_lin_001_unreadable_file if {
	denies := lineage.deny with input as _with([
		{"op": "replace", "path": "/versions/0/evidence/lineage/document", "value": null},
	])
	_has(denies, "LIN-001")
}

test_lin_001_undeployed_version_needs_none if {
	denies := lineage.deny with input as _with([
		{"op": "replace", "path": "/versions/1/deployed", "value": false},
		{"op": "replace", "path": "/versions/1/weight", "value": null},
		{"op": "replace", "path": "/versions/1/evidence/lineage", "value": null},
	])
	not _has(denies, "LIN-001")
}

# LIN-002

test_lin_002_digest_differs if {
	denies := lineage.deny with input as _with_v6("/artifact/digest", _digest("v5"))
	some d in denies
	d.id == "LIN-002"
	d.version == "v6"
}

test_lin_002_missing_artifact_fails_closed if {
	denies := lineage.deny with input as _with([
		{"op": "remove", "path": "/versions/0/evidence/lineage/document/artifact"},
	])
	_has(denies, "LIN-002")
}

test_lin_002_same_digest_passes if {
	denies := lineage.deny with input as _good
	not _has(denies, "LIN-002")
}

# LIN-003

test_lin_003_empty_run_id if {
	denies := lineage.deny with input as _with_v6("/training/runId", " ")
	some d in denies
	d.id == "LIN-003"
}

test_lin_003_missing_training if {
	denies := lineage.deny with input as _with([
		{"op": "remove", "path": "/versions/0/evidence/lineage/document/training"},
	])
	_has(denies, "LIN-003")
}

test_lin_003_run_id_present_passes if {
	denies := lineage.deny with input as _good
	not _has(denies, "LIN-003")
}

# LIN-004

test_lin_004_short_commit if {
	denies := lineage.deny with input as _with_v6("/training/codeCommit", "4b825dc")
	some d in denies
	d.id == "LIN-004"
}

test_lin_004_uppercase_commit if {
	denies := lineage.deny with input as _with_v6("/training/codeCommit", "4B825DC642CB6EB9A060E54BF8D69288FBEE4904")
	_has(denies, "LIN-004")
}

test_lin_004_full_commit_passes if {
	denies := lineage.deny with input as _good
	not _has(denies, "LIN-004")
}

test_lin_004_almost_a_commit if {
	every commit in [
		"4b825dc642cb6eb9a060e54bf8d69288fbee490", # 39 digits
		"4b825dc642cb6eb9a060e54bf8d69288fbee49041", # 41
		"4b825dc642cb6eb9a060e54bf8d69288fbee490g", # not hex
		"4b825dc642cb6eb9a060e54bf8d69288fbee4904\n", # trailing newline
		" 4b825dc642cb6eb9a060e54bf8d69288fbee490",
		"",
		40,
	] {
		denies := lineage.deny with input as _with_v6("/training/codeCommit", commit)
		_has(denies, "LIN-004")
	}
}

# LIN-005

test_lin_005_no_datasets if {
	denies := lineage.deny with input as _with_v6("/datasets", [])
	some d in denies
	d.id == "LIN-005"
	contains(d.msg, "no datasets")
}

test_lin_005_dataset_without_digest if {
	denies := lineage.deny with input as _with([
		{"op": "remove", "path": "/versions/0/evidence/lineage/document/datasets/0/digest"},
	])
	some d in denies
	d.id == "LIN-005"
	contains(d.msg, "adult-train")
}

test_lin_005_dataset_with_md5_digest if {
	denies := lineage.deny with input as _with_v6("/datasets/0/digest", "md5:5d7c39d7b8804f071cdd1f2a7c460872")
	_has(denies, "LIN-005")
}

test_lin_005_identified_datasets_pass if {
	denies := lineage.deny with input as _good
	not _has(denies, "LIN-005")
}

test_lin_005_almost_a_sha256_digest if {
	hex := "f2c62076f19504d99a38b22badf445a7f42530ade6b827acf78dd143fbce38bb"
	every digest in [
		concat("", ["abcdef0", hex]), # 71 hex digits, no prefix
		concat("", ["sha256:", substring(hex, 0, 63)]),
		concat("", ["sha256:", hex, "0"]),
		concat("", ["sha256:", substring(hex, 0, 63), "g"]),
		concat("", ["sha256:", upper(hex)]),
		concat("", ["SHA256:", hex]),
		concat("", ["sha256:", hex, "\n"]),
		null,
	] {
		denies := lineage.deny with input as _with_v6("/datasets/0/digest", digest)
		_has(denies, "LIN-005")
	}
}

test_lin_005_blank_uri if {
	denies := lineage.deny with input as _with_v6("/datasets/0/uri", "  ")
	_has(denies, "LIN-005")
}

# LIN-006

test_lin_006_no_model_risk_approval if {
	denies := lineage.deny with input as _with_v6("/approvals", [
		{"by": "lead@example.com", "role": "ml-lead", "at": "2026-11-19T12:00:00Z"},
	])
	some d in denies
	d.id == "LIN-006"
	d.version == "v6"
}

test_lin_006_approvals_missing if {
	denies := lineage.deny with input as _with([
		{"op": "remove", "path": "/versions/0/evidence/lineage/document/approvals"},
	])
	_has(denies, "LIN-006")
}

test_lin_006_version_without_lineage if {
	denies := lineage.deny with input as _with([{"op": "replace", "path": "/versions/1/evidence/lineage", "value": null}])
	some d in denies
	d.id == "LIN-006"
	d.version == "v6"
}

test_lin_006_not_required_in_staging if {
	doc := json.patch(_with_v6("/approvals", []), [{"op": "replace", "path": "/environment/name", "value": "staging"}])
	denies := lineage.deny with input as doc
	not _has(denies, "LIN-006")
}

test_lin_006_not_required_below_high_risk if {
	doc := json.patch(_with_v6("/approvals", []), [{"op": "replace", "path": "/model/riskTier", "value": "limited"}])
	denies := lineage.deny with input as doc
	not _has(denies, "LIN-006")
}

# LIN-007

test_lin_007_artifact_uri_differs if {
	warns := lineage.warn with input as _with_v6("/artifact/uri", "s3://scratch/credit-scoring/v6/")
	some w in warns
	w.id == "LIN-007"
}

test_lin_007_same_uri_passes if {
	warns := lineage.warn with input as _good
	not _has(warns, "LIN-007")
}
