# Lineage of every deployed version (rollback targets included): where its artifact, code and data came from,
# and, where the environment requires it, who approved it.
package mlgate.lineage

# METADATA
# title: Lineage evidence present
# description: Every deployed version, including a rollback target with weight 0, has a readable lineage evidence file.
# custom:
#   id: LIN-001
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 10(2)(b)", "Art. 11(1)", "Art. 12(1)"]
#     nist-ai-rmf: ["GOVERN 1.4", "MAP 4.1"]
#     iso-42001: ["A.6.2.7", "A.7.5"]
deny contains v if {
	input.kind == "deployment"
	some version in input.versions
	version.deployed == true
	ref := _evidence_ref(version, "lineage")
	not _document(ref)
	v := {
		"id": "LIN-001",
		"msg": sprintf("deployed version %v has no lineage evidence: %v", [version.name, _absence(ref)]),
		"version": version.name,
	}
}

# METADATA
# title: Artifact digest matches the spec
# description: The artifact digest recorded in a deployed version's lineage equals the digest the ModelDeployment pins for that version, so what is served is what was trained and reviewed.
# custom:
#   id: LIN-002
#   severity: critical
#   controls:
#     eu-ai-act: ["Art. 15(5)", "Art. 17(1)(b)"]
#     nist-ai-rmf: ["MEASURE 2.7"]
#     iso-42001: ["A.6.2.5", "A.7.5"]
deny contains v if {
	input.kind == "deployment"
	some version in input.versions
	version.deployed == true
	doc := _lineage(version)
	recorded := _value(_value(doc, "artifact"), "digest")
	recorded != version.digest
	v := {
		"id": "LIN-002",
		"msg": sprintf(
			"version %v: lineage records artifact digest %v, the spec pins %v",
			[version.name, recorded, version.digest],
		),
		"version": version.name,
	}
}

# METADATA
# title: Training run recorded
# description: The lineage of a deployed version names the training run (a non-empty training.runId) in the experiment tracker.
# custom:
#   id: LIN-003
#   severity: medium
#   controls:
#     eu-ai-act: ["Art. 11(1)", "Art. 12(1)"]
#     nist-ai-rmf: ["GOVERN 1.4", "MEASURE 2.1"]
#     iso-42001: ["A.6.2.3", "A.6.2.7"]
deny contains v if {
	input.kind == "deployment"
	some version in input.versions
	version.deployed == true
	doc := _lineage(version)
	run_id := _value(_value(doc, "training"), "runId")
	not _non_empty_string(run_id)
	v := {
		"id": "LIN-003",
		"msg": sprintf("version %v: lineage names no training run (training.runId is %v)", [version.name, run_id]),
		"version": version.name,
	}
}

# METADATA
# title: Code commit pinned
# description: The lineage of a deployed version pins the training code to a full git commit (40 lowercase hex digits), not a branch or a short hash.
# custom:
#   id: LIN-004
#   severity: medium
#   controls:
#     eu-ai-act: ["Art. 11(1)", "Art. 17(1)(b)"]
#     nist-ai-rmf: ["GOVERN 1.4", "MAP 4.2"]
#     iso-42001: ["A.6.2.3"]
deny contains v if {
	input.kind == "deployment"
	some version in input.versions
	version.deployed == true
	doc := _lineage(version)
	commit := _value(_value(doc, "training"), "codeCommit")
	not _commit(commit)
	v := {
		"id": "LIN-004",
		"msg": sprintf("version %v: training.codeCommit %v is not a 40-digit lowercase git commit", [version.name, commit]),
		"version": version.name,
	}
}

# METADATA
# title: Datasets identified by location and digest
# description: The lineage of a deployed version lists its datasets, each with a uri and a sha256 digest, so the data can be retrieved and proven unchanged.
# custom:
#   id: LIN-005
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 10(2)(b)", "Art. 11(1)"]
#     nist-ai-rmf: ["MAP 4.1"]
#     iso-42001: ["A.7.3", "A.7.5"]
deny contains v if {
	input.kind == "deployment"
	some version in input.versions
	version.deployed == true
	doc := _lineage(version)
	not _has_datasets(doc)
	v := {
		"id": "LIN-005",
		"msg": sprintf("version %v: lineage lists no datasets", [version.name]),
		"version": version.name,
	}
}

# METADATA
# title: Datasets identified by location and digest
# description: The lineage of a deployed version lists its datasets, each with a uri and a sha256 digest, so the data can be retrieved and proven unchanged.
# custom:
#   id: LIN-005
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 10(2)(b)", "Art. 11(1)"]
#     nist-ai-rmf: ["MAP 4.1"]
#     iso-42001: ["A.7.3", "A.7.5"]
deny contains v if {
	input.kind == "deployment"
	some version in input.versions
	version.deployed == true
	some i, dataset in _datasets(_lineage(version))
	not _identified(dataset)
	v := {
		"id": "LIN-005",
		"msg": sprintf(
			"version %v: dataset %v needs a uri and a sha256:<64 hex> digest (uri %v, digest %v)",
			[version.name, _dataset_name(dataset, i), _value(dataset, "uri"), _value(dataset, "digest")],
		),
		"version": version.name,
	}
}

# METADATA
# title: Model-risk approval for high-risk models
# description: Where the environment requires approvals, every deployed version of a high-risk model carries an approval by the model-risk function in its lineage.
# custom:
#   id: LIN-006
#   severity: critical
#   controls:
#     eu-ai-act: ["Art. 9(2)", "Art. 17(1)(a)"]
#     nist-ai-rmf: ["GOVERN 2.1", "MANAGE 1.1"]
#     iso-42001: ["A.3.2", "A.6.2.5"]
deny contains v if {
	input.kind == "deployment"
	env.requireApprovals == true
	input.model.riskTier == "high"
	some version in input.versions
	version.deployed == true
	not _approved_by(_lineage(version), "model-risk")
	v := {
		"id": "LIN-006",
		"msg": sprintf(
			"version %v of a high-risk model has no model-risk approval in its lineage (required in %v)",
			[version.name, _env_name],
		),
		"version": version.name,
	}
}

# METADATA
# title: Artifact location matches the spec
# description: The artifact uri recorded in a deployed version's lineage is the storageUri the ModelDeployment serves.
# custom:
#   id: LIN-007
#   severity: low
#   controls:
#     eu-ai-act: ["Art. 11(1)"]
#     nist-ai-rmf: ["MAP 4.2"]
#     iso-42001: ["A.6.2.5"]
warn contains v if {
	input.kind == "deployment"
	some version in input.versions
	version.deployed == true
	doc := _lineage(version)
	recorded := _value(_value(doc, "artifact"), "uri")
	recorded != version.storageUri
	v := {
		"id": "LIN-007",
		"msg": sprintf(
			"version %v: lineage records artifact uri %v, the spec serves %v",
			[version.name, recorded, version.storageUri],
		),
		"version": version.name,
	}
}

# Helpers ---------------------------------------------------------------------------------------------------

default _env_name := "default"

_env_name := input.environment.name if is_string(input.environment.name)

# The environment's thresholds; an environment without an entry gets the strict "default" set. Without
# thresholds at all, every numeric limit is null, and a comparison with null fails (fail closed).
default env := {}

env := object.get(data.mlgate.thresholds.environments, _env_name, data.mlgate.thresholds.environments["default"])

default _value(_, _) := null

_value(obj, key) := obj[key]

_evidence_ref(version, kind) := _value(_value(version, "evidence"), kind)

_document(ref) := ref.document if {
	ref.present == true
	is_object(ref.document)
}

_lineage(version) := _document(_evidence_ref(version, "lineage"))

default _absence(_) := "the evidence file could not be read"

_absence(ref) := "the spec names no lineage evidence file" if ref == null

_absence(ref) := sprintf("%v does not exist", [ref.file]) if ref.present == false

_non_empty_string(value) if {
	is_string(value)
	trim_space(value) != ""
}

_commit(value) if {
	is_string(value)
	regex.match(`^[0-9a-f]{40}$`, value)
}

_has_datasets(doc) if {
	is_array(doc.datasets)
	count(doc.datasets) > 0
}

_datasets(doc) := doc.datasets if is_array(doc.datasets)

_identified(dataset) if {
	_non_empty_string(dataset.uri)
	is_string(dataset.digest)
	regex.match(`^sha256:[0-9a-f]{64}$`, dataset.digest)
}

_dataset_name(dataset, _) := dataset.name if is_string(dataset.name)

_dataset_name(dataset, i) := sprintf("#%v", [i]) if not is_string(dataset.name)

_approved_by(doc, role) if {
	is_array(doc.approvals)
	some approval in doc.approvals
	approval.role == role
	_non_empty_string(approval.by)
}
