# Fairness of the versions that answer users: their fairness evidence exists, describes them, is recent,
# and every sensitive feature stays within the environment's limits for the model's risk tier.
# Limits come from data.mlgate.thresholds.environments[<env>].fairness[<riskTier>].
package mlgate.fairness

# METADATA
# title: Fairness evidence present
# description: Every version that answers users (weight above 0, or an A/B test route) has a readable fairness evidence file that reports at least one sensitive feature.
# custom:
#   id: FAIR-001
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 9(8)", "Art. 10(2)(f)"]
#     nist-ai-rmf: ["MEASURE 2.11"]
#     iso-42001: ["A.6.2.4"]
deny contains v if {
	input.kind == "deployment"
	some i, version in input.versions
	version.name in _serving
	not _fair[i]
	ref := _evidence_ref(version, "fairness")
	v := {
		"id": "FAIR-001",
		"msg": sprintf(
			"version %v answers users (weight %v) without fairness evidence: %v",
			[version.name, version.weight, _absence(ref)],
		),
		"version": version.name,
	}
}

# METADATA
# title: Fairness evidence present
# description: Every version that answers users (weight above 0, or an A/B test route) has a readable fairness evidence file that reports at least one sensitive feature.
# custom:
#   id: FAIR-001
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 9(8)", "Art. 10(2)(f)"]
#     nist-ai-rmf: ["MEASURE 2.11"]
#     iso-42001: ["A.6.2.4"]
deny contains v if {
	input.kind == "deployment"
	some i, doc in _fair
	not _has_features(doc)
	version := input.versions[i]
	v := {
		"id": "FAIR-001",
		"msg": sprintf("version %v: fairness evidence %v reports no sensitive features", [version.name, _file(version)]),
		"version": version.name,
	}
}

# METADATA
# title: Demographic parity within threshold
# description: For every sensitive feature of a version with traffic, the demographic-parity difference stays within the environment's limit for the model's risk tier.
# custom:
#   id: FAIR-002
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 10(2)(f)", "Art. 15(1)"]
#     nist-ai-rmf: ["MEASURE 2.11"]
#     iso-42001: ["A.7.4"]
deny contains v if {
	input.kind == "deployment"
	limit := _value(limits, "maxDemographicParityDifference")
	not _all_at_most("demographicParityDifference", limit)
	some i, features in _features
	some feature_name, feature in features
	value := object.get(feature, "demographicParityDifference", null)
	not _at_most(value, limit)
	version := input.versions[i]
	v := {
		"id": "FAIR-002",
		"msg": sprintf(
			"version %v: demographic-parity difference for %v is %.3f, above the %v limit of %v for %v-risk models",
			[version.name, feature_name, value, _env_name, limit, _tier],
		),
		"version": version.name,
	}
}

# METADATA
# title: Equalized odds within threshold
# description: For every sensitive feature of a version with traffic, the equalized-odds difference (the larger gap in true- or false-positive rate between groups) stays within the environment's limit.
# custom:
#   id: FAIR-003
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 9(8)", "Art. 10(2)(f)"]
#     nist-ai-rmf: ["MEASURE 2.11"]
#     iso-42001: ["A.6.2.4"]
deny contains v if {
	input.kind == "deployment"
	limit := _value(limits, "maxEqualizedOddsDifference")
	not _all_at_most("equalizedOddsDifference", limit)
	some i, features in _features
	some feature_name, feature in features
	value := object.get(feature, "equalizedOddsDifference", null)
	not _at_most(value, limit)
	version := input.versions[i]
	v := {
		"id": "FAIR-003",
		"msg": sprintf(
			"version %v: equalized-odds difference for %v is %.3f, above the %v limit of %v for %v-risk models",
			[version.name, feature_name, value, _env_name, limit, _tier],
		),
		"version": version.name,
	}
}

# METADATA
# title: Demographic-parity ratio above threshold
# description: For every sensitive feature of a version with traffic, the lowest group selection rate divided by the highest stays at or above the environment's minimum (the four-fifths rule in production).
# custom:
#   id: FAIR-004
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 10(2)(f)", "Art. 10(2)(g)"]
#     nist-ai-rmf: ["MEASURE 2.11"]
#     iso-42001: ["A.7.4"]
deny contains v if {
	input.kind == "deployment"
	limit := _value(limits, "minDemographicParityRatio")
	not _all_at_least("demographicParityRatio", limit)
	some i, features in _features
	some feature_name, feature in features
	value := object.get(feature, "demographicParityRatio", null)
	not _at_least(value, limit)
	version := input.versions[i]
	v := {
		"id": "FAIR-004",
		"msg": sprintf(
			"version %v: demographic-parity ratio for %v is %.3f, below the %v minimum of %v for %v-risk models",
			[version.name, feature_name, value, _env_name, limit, _tier],
		),
		"version": version.name,
	}
}

# METADATA
# title: Evaluation groups large enough
# description: Each group of a sensitive feature in the fairness evaluation holds at least the environment's minimum number of rows, so its metrics mean something.
# custom:
#   id: FAIR-005
#   severity: low
#   controls:
#     eu-ai-act: ["Art. 10(2)(h)", "Art. 10(3)"]
#     nist-ai-rmf: ["MEASURE 2.1", "MEASURE 2.11"]
#     iso-42001: ["A.7.4"]
warn contains v if {
	input.kind == "deployment"
	minimum := object.get(env, "minGroupSize", null)
	not _all_groups_large(minimum)
	some i, features in _features
	some feature_name, feature in features
	groups := feature.groups
	is_object(groups)
	some group_name, group in groups
	size := object.get(group, "n", null)
	not _at_least(size, minimum)
	version := input.versions[i]
	v := {
		"id": "FAIR-005",
		"msg": sprintf(
			"version %v: group %v of %v has %v rows in the fairness evaluation, fewer than %v",
			[version.name, group_name, feature_name, size, minimum],
		),
		"version": version.name,
	}
}

# METADATA
# title: Fairness evidence describes the version
# description: The fairness evidence of a version with traffic is a FairnessEvidence document for this model and this version.
# custom:
#   id: FAIR-006
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 11(1)", "Art. 17(1)(d)"]
#     nist-ai-rmf: ["MEASURE 2.1"]
#     iso-42001: ["A.6.2.4", "A.6.2.7"]
deny contains v if {
	input.kind == "deployment"
	some i, doc in _fair
	version := input.versions[i]
	not _describes(doc, "FairnessEvidence", input.model.name, version.name)
	v := {
		"id": "FAIR-006",
		"msg": sprintf(
			"version %v: %v is a %v for %v@%v, expected FairnessEvidence for %v@%v",
			[
				version.name, _file(version), _value(doc, "kind"), _value(doc, "model"), _value(doc, "version"),
				input.model.name, version.name,
			],
		),
		"version": version.name,
	}
}

# METADATA
# title: Fairness evidence recent
# description: The fairness evidence of a version with traffic was generated no more than the environment's maximum number of days before the gate run.
# custom:
#   id: FAIR-007
#   severity: medium
#   controls:
#     eu-ai-act: ["Art. 9(2)", "Art. 72(1)"]
#     nist-ai-rmf: ["GOVERN 1.5", "MEASURE 2.11"]
#     iso-42001: ["A.6.2.6"]
warn contains v if {
	input.kind == "deployment"
	max_days := object.get(env, "maxEvidenceAgeDays", null)
	some i, doc in _fair
	generated := object.get(doc, "generatedAt", null)
	not _recent(generated, max_days)
	version := input.versions[i]
	v := {
		"id": "FAIR-007",
		"msg": sprintf(
			"version %v: fairness evidence generated at %v is more than %v days older than this run (%v)",
			[version.name, generated, max_days, input.now],
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

# A missing or unknown risk tier is judged as high risk.
default _tier := "high"

_tier := input.model.riskTier if input.model.riskTier in {"minimal", "limited", "high"}

default limits := {}

limits := object.get(env.fairness, _tier, env.fairness.high)

# Names of the versions that answer users: a share of the weighted traffic, or an A/B test route.
# A shadow version alone does not: its answers are discarded.
_serving contains version.name if {
	some version in input.versions
	version.deployed == true
	is_number(version.weight)
	version.weight > 0
}

_serving contains name if {
	routes := input.deployment.abTest.routes
	is_object(routes)
	some name in routes
}

default _value(_, _) := null

_value(obj, key) := obj[key]

_evidence_ref(version, kind) := _value(_value(version, "evidence"), kind)

# The readable fairness document of each version that answers users, by the version's index in input.versions.
# A rule, not a function: computed once per evaluation, then shared by every body.
_fair[i] := doc if {
	some i, version in input.versions
	version.name in _serving
	ref := version.evidence.fairness
	ref.present == true
	doc := ref.document
	is_object(doc)
}

# The sensitive features of each such document (when they are an object), by the same index.
_features[i] := doc.features if {
	some i, doc in _fair
	is_object(doc.features)
}

_file(version) := _value(_evidence_ref(version, "fairness"), "file")

default _absence(_) := "the evidence file could not be read"

_absence(ref) := "the spec names no fairness evidence file" if ref == null

_absence(ref) := sprintf("%v does not exist", [ref.file]) if ref.present == false

_has_features(doc) if {
	is_object(doc.features)
	count(doc.features) > 0
}

_describes(doc, kind, model, version) if {
	doc.kind == kind
	doc.model == model
	doc.version == version
}

_at_most(value, limit) if {
	is_number(value)
	is_number(limit)
	abs(value) <= limit
}

_at_least(value, limit) if {
	is_number(value)
	is_number(limit)
	value >= limit
}

# The common cases, each checked once per evaluation without a function call per feature or group: every
# sensitive feature in _features has a metric that _at_most (_at_least) accepts, every group of those features
# has a size that _at_least accepts. The bodies look at single features and groups only when this fails, so
# these must accept exactly what _at_most and _at_least accept.
_all_at_most(metric, limit) if {
	is_number(limit)
	every features in _features {
		every feature in features {
			value := object.get(feature, metric, null)
			is_number(value)
			abs(value) <= limit
		}
	}
}

_all_at_least(metric, limit) if {
	is_number(limit)
	every features in _features {
		every feature in features {
			value := object.get(feature, metric, null)
			is_number(value)
			value >= limit
		}
	}
}

_all_groups_large(minimum) if {
	is_number(minimum)
	sizes := [object.get(group, "n", null) |
		some features in _features
		some feature in features
		is_object(feature.groups)
		some group in feature.groups
	]
	every size in sizes {
		is_number(size)
		size >= minimum
	}
}

_ns_per_day := ((24 * 60) * 60) * 1000000000

# The gate run's time, parsed once; undefined when input.now is no RFC 3339 timestamp.
_now_ns := time.parse_rfc3339_ns(input.now) if _timestamp(input.now)

_timestamp(value) if {
	is_string(value)
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`, value)
}

_recent(generated, max_days) if {
	_timestamp(generated)
	is_number(max_days)
	_now_ns - time.parse_rfc3339_ns(generated) <= max_days * _ns_per_day
}
