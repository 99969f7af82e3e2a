package mlgate.platform_test

import data.mlgate.platform

# A good platform document: prod with two regions; credit-scoring declared and planned in both.

_labels(region) := {
	"mlgate.io/environment": "prod",
	"mlgate.io/model": "credit-scoring",
	"mlgate.io/region": region,
}

_object(kind, name, region) := {
	"type": sprintf("kubernetes:test/v1:%v", [kind]),
	"name": name,
	"region": region,
	"custom": true,
	"parent": "urn:pulumi:prod::mlgate::mlgate:serving:ModelDeployment::credit-scoring",
	"inputs": {"apiVersion": "test/v1", "kind": kind, "metadata": {"name": name, "labels": _labels(region)}},
}

_good := {
	"kind": "platform",
	"subject": "platform@prod",
	"now": "2026-11-25T10:00:00Z",
	"environment": {"name": "prod", "regions": ["eu-west-1", "eu-central-1"]},
	"deployments": [{"model": "credit-scoring", "regions": ["eu-west-1", "eu-central-1"], "versions": ["v6", "v7"]}],
	"resources": [
		{"type": "mlgate:platform:Region", "name": "eu-west-1", "region": "eu-west-1", "custom": false, "inputs": {}},
		{"type": "pulumi:providers:kubernetes", "name": "eu-west-1-k8s", "region": "eu-west-1", "custom": true, "inputs": {}},
		_object("Namespace", "credit-scoring-eu-west-1-ns", "eu-west-1"),
		_object("InferenceService", "credit-scoring-eu-west-1-v7", "eu-west-1"),
		_object("Namespace", "credit-scoring-eu-central-1-ns", "eu-central-1"),
		_object("InferenceService", "credit-scoring-eu-central-1-v7", "eu-central-1"),
	],
}

_with(patches) := json.patch(_good, patches)

# Removes credit-scoring's eu-central-1 objects from the plan.
_drop_eu_central := [{"op": "remove", "path": "/resources/5"}, {"op": "remove", "path": "/resources/4"}]

_has(decisions, id) if {
	some d in decisions
	d.id == id
}

test_good_document_has_no_decisions if {
	denies := platform.deny with input as _good
	count(denies) == 0
}

test_deployment_document_is_ignored if {
	denies := platform.deny with input as json.patch(_good, [{"op": "replace", "path": "/kind", "value": "deployment"}])
	count(denies) == 0
}

# PLAT-001

test_plat_001_declared_region_not_planned if {
	denies := platform.deny with input as _with(_drop_eu_central)
	some d in denies
	d.id == "PLAT-001"
	d.region == "eu-central-1"
	contains(d.msg, "plan deploys nothing")
}

test_plat_001_planned_region_not_declared if {
	denies := platform.deny with input as _with([
		{
			"op": "add",
			"path": "/resources/-",
			"value": _object("InferenceService", "credit-scoring-us-east-1-v7", "us-east-1"),
		},
	])
	some d in denies
	d.id == "PLAT-001"
	d.region == "us-east-1"
}

test_plat_001_other_models_do_not_count if {
	other := json.patch(_object("Namespace", "fraud-ns", "eu-central-1"), [
		{"op": "replace", "path": "/inputs/metadata/labels/mlgate.io~1model", "value": "fraud-detector"},
	])
	doc := _with(array.concat(_drop_eu_central, [{"op": "add", "path": "/resources/-", "value": other}]))
	denies := platform.deny with input as doc
	some d in denies
	d.id == "PLAT-001"
	d.region == "eu-central-1"
}

test_plat_001_matching_regions_pass if {
	denies := platform.deny with input as _good
	not _has(denies, "PLAT-001")
}

# PLAT-002

test_plat_002_wrong_environment_label if {
	denies := platform.deny with input as _with([
		{"op": "replace", "path": "/resources/3/inputs/metadata/labels/mlgate.io~1environment", "value": "staging"},
	])
	some d in denies
	d.id == "PLAT-002"
	d.resource == "credit-scoring-eu-west-1-v7"
}

test_plat_002_no_labels if {
	denies := platform.deny with input as _with([{"op": "remove", "path": "/resources/2/inputs/metadata/labels"}])
	some d in denies
	d.id == "PLAT-002"
	d.resource == "credit-scoring-eu-west-1-ns"
}

test_plat_002_provider_and_components_are_skipped if {
	denies := platform.deny with input as _good
	not _has(denies, "PLAT-002")
}

# PLAT-003

test_plat_003_object_without_region if {
	denies := platform.deny with input as _with([{"op": "replace", "path": "/resources/3/region", "value": null}])
	some d in denies
	d.id == "PLAT-003"
	d.resource == "credit-scoring-eu-west-1-v7"
}

test_plat_003_objects_with_regions_pass if {
	denies := platform.deny with input as _good
	not _has(denies, "PLAT-003")
}
