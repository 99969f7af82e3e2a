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
	some i, version in input.versions
	version.deployed == true
	not _lin[i]
	ref := _evidence_ref(version, "lineage")
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
	some i, doc in _lin
	recorded := object.get(doc, ["artifact", "digest"], null)
	version := input.versions[i]
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
	some i, doc in _lin
	run_id := object.get(doc, ["training", "runId"], null)
	not _non_empty_string(run_id)
	version := input.versions[i]
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
	some i, doc in _lin
	commit := object.get(doc, ["training", "codeCommit"], null)
	not _commit(commit)
	version := input.versions[i]
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
	some i, doc in _lin
	not _has_datasets(doc)
	version := input.versions[i]
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
	some i, datasets in _datasets
	some j, dataset in datasets
	not _identified(dataset)
	version := input.versions[i]
	v := {
		"id": "LIN-005",
		"msg": sprintf(
			"version %v: dataset %v needs a uri and a sha256:<64 hex> digest (uri %v, digest %v)",
			[version.name, _dataset_name(dataset, j), _value(dataset, "uri"), _value(dataset, "digest")],
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
	some i, version in input.versions
	version.deployed == true
	not i in _approved
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
	some i, doc in _lin
	recorded := object.get(doc, ["artifact", "uri"], null)
	version := input.versions[i]
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

# The readable lineage document of each deployed version, by the version's index in input.versions.
# A rule, not a function: computed once per evaluation, then shared by every body.
_lin[i] := doc if {
	some i, version in input.versions
	version.deployed == true
	ref := version.evidence.lineage
	ref.present == true
	doc := ref.document
	is_object(doc)
}

# The datasets of each such document (when they are an array), by the same index.
_datasets[i] := doc.datasets if {
	some i, doc in _lin
	is_array(doc.datasets)
}

# Indexes of the deployed versions whose lineage records an approval by the model-risk function.
_approved contains i if {
	some i, doc in _lin
	_approved_by(doc, "model-risk")
}

default _absence(_) := "the evidence file could not be read"

_absence(ref) := "the spec names no lineage evidence file" if ref == null

_absence(ref) := sprintf("%v does not exist", [ref.file]) if ref.present == false

_non_empty_string(value) if {
	is_string(value)
	trim_space(value) != ""
}

# A full git commit: exactly what `^[0-9a-f]{40}$` matches (40 characters, all of them lowercase hex digits),
# checked without a regex: on the embedded engine one regex.match costs about as much as ten such builtins.
_commit(value) if {
	is_string(value)
	count(value) == 40
	trim(value, "0123456789abcdef") == ""
}

_has_datasets(doc) if {
	is_array(doc.datasets)
	count(doc.datasets) > 0
}

# A non-blank uri (as _non_empty_string) and a digest that `^sha256:[0-9a-f]{64}$` matches: the prefix, then
# 64 characters, all of them lowercase hex digits (checked without a regex, as in _commit).
_identified(dataset) if {
	is_string(dataset.uri)
	trim_space(dataset.uri) != ""
	digest := dataset.digest
	is_string(digest)
	count(digest) == 71
	startswith(digest, "sha256:")
	trim(trim_prefix(digest, "sha256:"), "0123456789abcdef") == ""
}

_dataset_name(dataset, _) := dataset.name if is_string(dataset.name)

_dataset_name(dataset, i) := sprintf("#%v", [i]) if not is_string(dataset.name)

_approved_by(doc, role) if {
	is_array(doc.approvals)
	some approval in doc.approvals
	approval.role == role
	_non_empty_string(approval.by)
}
