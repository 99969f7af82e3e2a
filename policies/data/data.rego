# Data handling: payload logging of personal data, data residency of the serving regions and of the
# training data, the legal basis for special categories, and the personal data that data-handling evidence
# (`mlgate evidence data`) found in a version's datasets against the declared data categories.
# Region groups (eu, us, ...) map to AWS region prefixes in data.mlgate.thresholds.regionGroups.
package mlgate.data

# METADATA
# title: Payload logs of personal data are redacted
# description: A model that handles personal data and logs request or response payloads names the fields to redact from the logs.
# custom:
#   id: DATA-001
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 10(5)(c)", "Art. 12(1)"]
#     nist-ai-rmf: ["MEASURE 2.10"]
#     iso-42001: ["A.6.2.8", "A.7.4"]
deny contains v if {
	input.kind == "deployment"
	_processes_personal
	_logging
	not _redacts
	v := {
		"id": "DATA-001",
		"msg": sprintf("payload logging is on for %v data and redacts no field", [_categories_text]),
	}
}

# METADATA
# title: Payload log retention bounded
# description: Payload logs of a model that handles personal data have a retention period, no longer than the environment's maximum.
# custom:
#   id: DATA-002
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 10(5)(e)", "Art. 12(1)"]
#     nist-ai-rmf: ["MEASURE 2.10"]
#     iso-42001: ["A.6.2.8"]
deny contains v if {
	input.kind == "deployment"
	_processes_personal
	_logging
	days := _value(input.model.data.payloadLogging, "retentionDays")
	max_days := object.get(env, "maxRetentionDays", null)
	not _at_most(days, max_days)
	v := {
		"id": "DATA-002",
		"msg": sprintf(
			"payload logs of %v data are kept for %v days, the %v maximum is %v",
			[_categories_text, days, _env_name, max_days],
		),
	}
}

# METADATA
# title: Serving regions within the declared residency
# description: Every region the plan deploys the model to lies within the model's declared data residency (a region group or an exact region).
# custom:
#   id: DATA-003
#   severity: critical
#   controls:
#     eu-ai-act: ["Art. 26(1)"]
#     nist-ai-rmf: ["GOVERN 1.1", "MAP 4.1"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "deployment"
	some region in input.plannedRegions
	not region in _resident_regions
	v := {
		"id": "DATA-003",
		"msg": sprintf(
			"the plan deploys %v to %v, outside its declared residency %v",
			[input.model.name, region, _value(input.model.data, "residency")],
		),
		"region": region,
	}
}

# METADATA
# title: Legal basis for special categories in high-risk models
# description: A high-risk model that handles special-category, health, biometric or children's data declares its legal basis.
# custom:
#   id: DATA-004
#   severity: critical
#   controls:
#     eu-ai-act: ["Art. 10(5)"]
#     nist-ai-rmf: ["GOVERN 1.1", "MEASURE 2.10"]
#     iso-42001: ["A.7.3"]
deny contains v if {
	input.kind == "deployment"
	input.model.riskTier == "high"
	count(_special_categories) > 0
	not _non_empty_string(_value(input.model.data, "legalBasis"))
	v := {
		"id": "DATA-004",
		"msg": sprintf(
			"high-risk model handles %v data without a declared legalBasis",
			[concat(", ", sort(_special_categories))],
		),
	}
}

# METADATA
# title: Training data within the declared residency
# description: Every dataset in the lineage of a deployed version resides in a region within the model's declared data residency.
# custom:
#   id: DATA-005
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 10(2)(b)"]
#     nist-ai-rmf: ["MAP 4.1"]
#     iso-42001: ["A.7.3", "A.7.5"]
deny contains v if {
	input.kind == "deployment"
	some i, datasets in _datasets
	some dataset in datasets
	residency := object.get(dataset, "residency", null)
	not residency in _resident_regions
	version := input.versions[i]
	v := {
		"id": "DATA-005",
		"msg": sprintf(
			"version %v: dataset %v resides in %v, outside the declared residency %v",
			[version.name, _value(dataset, "name"), residency, _value(input.model.data, "residency")],
		),
		"version": version.name,
	}
}

# METADATA
# title: Declared data categories match the training data
# description: A model that declares it handles no personal data is not trained on a dataset whose lineage declares personal data categories.
# custom:
#   id: DATA-006
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 10(2)(b)", "Art. 11(1)"]
#     nist-ai-rmf: ["MAP 4.1", "MEASURE 2.10"]
#     iso-42001: ["A.7.2", "A.7.5"]
deny contains v if {
	input.kind == "deployment"
	"none" in _categories
	some i, datasets in _datasets
	some dataset in datasets
	found := _personal_in(_value(dataset, "categories"))
	count(found) > 0
	version := input.versions[i]
	v := {
		"id": "DATA-006",
		"msg": sprintf(
			"version %v: the spec declares no personal data but dataset %v holds %v data",
			[version.name, _value(dataset, "name"), concat(", ", sort(found))],
		),
		"version": version.name,
	}
}

# METADATA
# title: Full payload logging of special categories
# description: Logging both requests and responses (mode all) of a model that handles special-category, health, biometric or children's data keeps more sensitive data than most purposes need.
# custom:
#   id: DATA-007
#   severity: medium
#   controls:
#     eu-ai-act: ["Art. 10(5)(c)"]
#     nist-ai-rmf: ["MEASURE 2.10"]
#     iso-42001: ["A.6.2.8"]
warn contains v if {
	input.kind == "deployment"
	_logging
	count(_special_categories) > 0
	not _narrow_logging
	v := {
		"id": "DATA-007",
		"msg": sprintf(
			"payload logging records requests and responses of %v data; log one side only if the purpose allows",
			[concat(", ", sort(_special_categories))],
		),
	}
}

# METADATA
# title: No personal data found under a "none" declaration
# description: A deployed version whose data-handling evidence found likely personal data (flagged columns of any category) contradicts a spec that declares it handles no personal data (categories [none]).
# custom:
#   id: DATA-008
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 10(2)(b)", "Art. 10(5)", "Art. 11(1)"]
#     nist-ai-rmf: ["MAP 4.1", "MEASURE 2.10"]
#     iso-42001: ["A.7.2", "A.7.4"]
deny contains v if {
	input.kind == "deployment"
	"none" in _categories
	some i, found in _data_found
	count(found.categories) > 0
	version := input.versions[i]
	v := {
		"id": "DATA-008",
		"msg": sprintf(
			"version %v: the spec declares no personal data (categories [none]) but its data evidence found %v data: %v",
			[version.name, concat(", ", sort(found.categories)), _findings_text(found.findings)],
		),
		"version": version.name,
	}
}

# METADATA
# title: Data categories found by the data evidence are declared
# description: Every data category the data-handling evidence of a deployed version found is declared in the spec's data.categories, so that the rules on payload logging, retention and legal basis judge the categories the model really handles. A warning, not a deny, because the detectors are heuristics and a spec that declares personal data is already under those rules.
# custom:
#   id: DATA-009
#   severity: medium
#   controls:
#     eu-ai-act: ["Art. 10(2)(b)", "Art. 10(5)"]
#     nist-ai-rmf: ["MAP 4.1", "MEASURE 2.10"]
#     iso-42001: ["A.7.2"]
warn contains v if {
	input.kind == "deployment"
	not "none" in _categories
	some i, found in _data_found
	undeclared := found.categories - _categories
	count(undeclared) > 0
	findings := {f | some f in found.findings; f.category in undeclared}
	version := input.versions[i]
	v := {
		"id": "DATA-009",
		"msg": sprintf(
			"version %v: its data evidence found %v data, which spec.data.categories (%v) does not declare: %v",
			[version.name, concat(", ", sort(undeclared)), _categories_text, _findings_text(findings)],
		),
		"version": version.name,
	}
}

# METADATA
# title: Referenced data evidence present
# description: A deployed version whose spec names a data-handling evidence file has that file; a missing file is not taken as "nothing found".
# custom:
#   id: DATA-010
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 10(2)(b)", "Art. 11(1)"]
#     nist-ai-rmf: ["MAP 4.1", "MEASURE 2.10"]
#     iso-42001: ["A.7.2"]
deny contains v if {
	input.kind == "deployment"
	some version in input.versions
	version.deployed == true
	ref := version.evidence.data
	is_object(ref)
	ref.present != true
	v := {
		"id": "DATA-010",
		"msg": sprintf(
			"deployed version %v names data evidence %v, which does not exist",
			[version.name, _value(ref, "file")],
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

_personal := {"personal", "special", "health", "biometric", "children"}

_special := {"special", "health", "biometric", "children"}

_categories contains category if {
	is_array(input.model.data.categories)
	some category in input.model.data.categories
}

_special_categories contains category if {
	some category in _categories
	category in _special
}

_processes_personal if {
	some category in _categories
	category in _personal
}

# Undeclared categories are treated as personal data.
_processes_personal if count(_categories) == 0

default _categories_text := "undeclared"

_categories_text := concat(", ", sort(_categories)) if count(_categories) > 0

_logging if input.model.data.payloadLogging.enabled == true

_redacts if {
	is_array(input.model.data.payloadLogging.redact)
	count(input.model.data.payloadLogging.redact) > 0
}

_narrow_logging if input.model.data.payloadLogging.mode in {"request", "response"}

_residency := input.model.data.residency if is_array(input.model.data.residency)

# The declared residency as exact region names and as the prefixes of its region groups, collected once
# (both empty when the residency is not an array: then no region is resident).
_residency_entries := {entry | some entry in _residency}

_residency_prefixes := {prefix |
	some entry in _residency
	some prefix in data.mlgate.thresholds.regionGroups[entry]
}

# The regions DATA-003 and DATA-005 judge (planned regions, dataset residencies), collected once, and those of
# them within the declared residency: an exact region name, or a region group whose prefixes they start with.
# Without region groups in the data no region is resident (fail closed).
_judged_regions := {region | some region in input.plannedRegions} | {region |
	some datasets in _datasets
	some dataset in datasets
	region := object.get(dataset, "residency", null)
}

_resident_regions contains region if {
	_ = data.mlgate.thresholds.regionGroups
	some region in _judged_regions
	region in _residency_entries
}

_resident_regions contains region if {
	_ = data.mlgate.thresholds.regionGroups
	some region in _judged_regions
	is_string(region)
	some prefix in _residency_prefixes
	startswith(region, prefix)
}

_personal_in(categories) := {category | some category in categories; category in _personal} if is_array(categories)

_personal_in(categories) := set() if not is_array(categories)

default _value(_, _) := null

_value(obj, key) := obj[key]

# The datasets of the readable lineage document of each deployed version (when they are an array), by the
# version's index in input.versions. A rule, not a function: computed once per evaluation.
_datasets[i] := doc.datasets if {
	some i, version in input.versions
	version.deployed == true
	ref := version.evidence.lineage
	ref.present == true
	doc := ref.document
	is_object(doc)
	is_array(doc.datasets)
}

_non_empty_string(value) if {
	is_string(value)
	trim_space(value) != ""
}

_at_most(value, limit) if {
	is_number(value)
	is_number(limit)
	value <= limit
}

# What the readable data evidence of each deployed version found, by the version's index in input.versions:
# its categories other than "none" (the columns' and the document's own list) and its flagged columns. A rule,
# not a function: computed once per evaluation.
_data_found[i] := {"categories": categories, "findings": findings} if {
	some i, version in input.versions
	version.deployed == true
	ref := version.evidence.data
	ref.present == true
	doc := ref.document
	is_object(doc)
	findings := {finding |
		some dataset in _array(doc, "datasets")
		some column in _array(dataset, "columns")
		is_string(column.category)
		column.category != "none"
		finding := {
			"dataset": _value(dataset, "uri"),
			"column": _value(column, "name"),
			"detector": _value(column, "detector"),
			"category": column.category,
		}
	}
	listed := {category | some category in _array(doc, "categories"); is_string(category); category != "none"}
	categories := {f.category | some f in findings} | listed
}

_array(obj, key) := obj[key] if _is_array_at(obj, key)

_array(obj, key) := [] if not _is_array_at(obj, key)

_is_array_at(obj, key) if {
	is_object(obj)
	is_array(obj[key])
}

# "column email of s3://data/train.csv (email, personal); ..." or, when the evidence names no column, a note.
_findings_text(findings) := concat("; ", sort([text |
	some f in findings
	text := sprintf("column %v of %v (%v, %v)", [f.column, f.dataset, f.detector, f.category])
])) if count(findings) > 0

_findings_text(findings) := "listed in its categories, no column named" if count(findings) == 0
