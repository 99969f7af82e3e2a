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
		# AWS resources (PLAT-010 and up) follow: look them up by name (_with_resource), not by index.
		_private_subnet,
		_public_subnet,
		_cluster,
		_cpu_pool,
		_gpu_pool,
		_bucket,
		_bucket_sse,
		_bucket_public_access_block,
		_release,
		_peer_authentication("eu-west-1"),
		_peer_authentication("eu-central-1"),
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

# AWS platform (PLAT-010 and up) ----------------------------------------------------------------------------
#
# eu-west-1 provisions a cluster (a CPU and a GPU node group in a private subnet), a model bucket with its
# encryption configuration and public access block, and a Helm release; both regions have a mesh-wide
# STRICT PeerAuthentication.

_unknown := "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

_urn(type, name) := sprintf("urn:pulumi:prod::mlgate::%v::%v", [type, name])

_aws(type, name, dependencies, inputs) := {
	"urn": _urn(type, name),
	"type": type,
	"name": name,
	"region": "eu-west-1",
	"custom": true,
	"parent": "urn:pulumi:prod::mlgate::mlgate:platform:Region::eu-west-1",
	"provider": "urn:pulumi:prod::mlgate::pulumi:providers:aws::eu-west-1-aws::id",
	"dependencies": dependencies,
	"inputs": inputs,
}

_subnet_type := "aws:ec2/subnet:Subnet"

_cluster_type := "aws:eks/cluster:Cluster"

_bucket_type := "aws:s3/bucket:Bucket"

_private_subnet := _aws(_subnet_type, "eu-west-1-private-a", [], {
	"cidrBlock": "10.0.0.0/19",
	"mapPublicIpOnLaunch": false,
	"tags": {"mlgate.io/tier": "private"},
})

_public_subnet := _aws(_subnet_type, "eu-west-1-public-a", [], {
	"cidrBlock": "10.0.96.0/20",
	"mapPublicIpOnLaunch": true,
	"tags": {"mlgate.io/tier": "public"},
})

_cluster := _aws(
	_cluster_type,
	"eu-west-1-eks",
	[_private_subnet.urn, _public_subnet.urn],
	{
		"version": "1.34",
		"encryptionConfig": {"provider": {"keyArn": _unknown}, "resources": ["secrets"]},
		"vpcConfig": {
			"endpointPublicAccess": false,
			"endpointPrivateAccess": true,
			"subnetIds": [_unknown, _unknown],
		},
		"enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
	},
)

_node_group(name, inputs) := _aws(
	"aws:eks/nodeGroup:NodeGroup",
	name,
	[_cluster.urn, _private_subnet.urn],
	object.union({"clusterName": _unknown, "subnetIds": [_unknown]}, inputs),
)

_cpu_pool := _node_group("eu-west-1-system", {"amiType": "AL2023_x86_64_STANDARD", "instanceTypes": ["m6i.large"]})

_gpu_pool := _node_group("eu-west-1-a10g", {
	"amiType": "AL2023_x86_64_NVIDIA",
	"instanceTypes": ["g5.xlarge"],
	"labels": {"mlgate.io/node-class": "gpu"},
	"taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}],
})

_bucket := _aws(_bucket_type, "mlgate-models-eu-west-1", [], {"forceDestroy": false})

_bucket_sse := _aws(
	"aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
	"mlgate-models-eu-west-1-sse",
	[_bucket.urn],
	{
		"bucket": _unknown,
		"rules": [{
			"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": _unknown},
			"bucketKeyEnabled": true,
		}],
	},
)

_bucket_public_access_block := _aws(
	"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
	"mlgate-models-eu-west-1-pab",
	[_bucket.urn],
	{
		"bucket": _unknown,
		"blockPublicAcls": true,
		"blockPublicPolicy": true,
		"ignorePublicAcls": true,
		"restrictPublicBuckets": true,
	},
)

_release := _aws(
	"kubernetes:helm.sh/v3:Release",
	"eu-west-1-istiod",
	[_cluster.urn],
	{"chart": "istiod", "version": "1.30.3", "namespace": "istio-system"},
)

_peer_authentication(region) := {
	"urn": _urn("kubernetes:security.istio.io/v1:PeerAuthentication", sprintf("%v-mesh-mtls", [region])),
	"type": "kubernetes:security.istio.io/v1:PeerAuthentication",
	"name": sprintf("%v-mesh-mtls", [region]),
	"region": region,
	"custom": true,
	"dependencies": [],
	"inputs": {
		"apiVersion": "security.istio.io/v1",
		"kind": "PeerAuthentication",
		"metadata": {"name": "default", "namespace": "istio-system", "labels": {"mlgate.io/environment": "prod"}},
		"spec": {"mtls": {"mode": "STRICT"}},
	},
}

# _good with the resource called `name` patched (undefined, failing the test, when a patch does not apply).
_with_resource(name, patches) := doc if {
	resources := [_patched_if(resource, name, patches) | some resource in _good.resources]
	count(resources) == count(_good.resources)
	doc := json.patch(_good, [{"op": "replace", "path": "/resources", "value": resources}])
}

_patched_if(resource, name, patches) := json.patch(resource, patches) if resource.name == name

_patched_if(resource, name, _) := resource if resource.name != name

_without_resource(name) := json.patch(_good, [{
	"op": "replace",
	"path": "/resources",
	"value": [resource | some resource in _good.resources; resource.name != name],
}])

_plus_resource(doc, resource) := json.patch(doc, [{"op": "add", "path": "/resources/-", "value": resource}])

_as_environment(doc, name) := json.patch(doc, [{"op": "replace", "path": "/environment/name", "value": name}])

_denies(decisions, id, resource) if {
	some d in decisions
	d.id == id
	d.resource == resource
}

# Thresholds of an environment allowing a public endpoint (staging) and the strict default.
_thresholds := {"environments": {
	"staging": {"allowPublicApiEndpoint": true, "requiredClusterLogTypes": ["api", "audit", "authenticator"]},
	"default": {"allowPublicApiEndpoint": false, "requiredClusterLogTypes": ["api", "audit", "authenticator"]},
}}

_public_endpoint(cidrs) := _as_environment(
	_with_resource("eu-west-1-eks", [
		{"op": "replace", "path": "/inputs/vpcConfig/endpointPublicAccess", "value": true},
		{"op": "add", "path": "/inputs/vpcConfig/publicAccessCidrs", "value": cidrs},
	]),
	"staging",
)

test_aws_resources_of_the_good_document_pass if {
	denies := platform.deny with input as _good
	every id in ["PLAT-010", "PLAT-011", "PLAT-012", "PLAT-013", "PLAT-014", "PLAT-015", "PLAT-016", "PLAT-017", "PLAT-018"] {
		not _has(denies, id)
	}
}

# PLAT-010

test_plat_010_unknown_key_arn_passes if {
	denies := platform.deny with input as _good
	not _has(denies, "PLAT-010")
}

test_plat_010_no_encryption_config if {
	denies := platform.deny with input as _with_resource("eu-west-1-eks", [
		{"op": "remove", "path": "/inputs/encryptionConfig"},
	])
	some d in denies
	d.id == "PLAT-010"
	d.resource == "eu-west-1-eks"
	d.region == "eu-west-1"
	contains(d.msg, "eu-west-1-eks")
}

test_plat_010_secrets_not_listed if {
	denies := platform.deny with input as _with_resource("eu-west-1-eks", [
		{"op": "replace", "path": "/inputs/encryptionConfig/resources", "value": []},
	])
	_denies(denies, "PLAT-010", "eu-west-1-eks")
}

test_plat_010_no_key_arn if {
	denies := platform.deny with input as _with_resource("eu-west-1-eks", [
		{"op": "replace", "path": "/inputs/encryptionConfig/provider", "value": {}},
	])
	_denies(denies, "PLAT-010", "eu-west-1-eks")
}

# PLAT-011

test_plat_011_private_endpoint_passes_in_prod if {
	denies := platform.deny with input as _good
	not _has(denies, "PLAT-011")
}

test_plat_011_public_endpoint_in_prod if {
	denies := platform.deny with input as _with_resource("eu-west-1-eks", [
		{"op": "replace", "path": "/inputs/vpcConfig/endpointPublicAccess", "value": true},
		{"op": "add", "path": "/inputs/vpcConfig/publicAccessCidrs", "value": ["203.0.113.0/24"]},
	])
	some d in denies
	d.id == "PLAT-011"
	d.resource == "eu-west-1-eks"
	d.region == "eu-west-1"
	contains(d.msg, "prod allows none")
}

test_plat_011_unset_endpoint_is_public if {
	denies := platform.deny with input as _with_resource("eu-west-1-eks", [
		{"op": "remove", "path": "/inputs/vpcConfig/endpointPublicAccess"},
	])
	_denies(denies, "PLAT-011", "eu-west-1-eks")
}

test_plat_011_unknown_endpoint_denies if {
	every patch in [
		{"op": "replace", "path": "/inputs/vpcConfig/endpointPublicAccess", "value": _unknown},
		{"op": "replace", "path": "/inputs/vpcConfig", "value": _unknown},
	] {
		denies := platform.deny with input as _with_resource("eu-west-1-eks", [patch])
		some d in denies
		d.id == "PLAT-011"
		contains(d.msg, "unknown before deployment")
	}
}

test_plat_011_unlisted_environment_is_strict if {
	doc := _as_environment(_public_endpoint(["203.0.113.0/24"]), "qa")
	denies := platform.deny with input as doc with data.mlgate.thresholds as _thresholds
	_denies(denies, "PLAT-011", "eu-west-1-eks")
}

test_plat_011_restricted_public_endpoint_passes_in_staging if {
	denies := platform.deny with input as _public_endpoint(["203.0.113.0/24", "198.51.100.7/32"])
		with data.mlgate.thresholds as _thresholds
	not _has(denies, "PLAT-011")
}

test_plat_011_staging_endpoint_open_to_all if {
	denies := platform.deny with input as _public_endpoint(["203.0.113.0/24", "0.0.0.0/0"])
		with data.mlgate.thresholds as _thresholds
	some d in denies
	d.id == "PLAT-011"
	d.resource == "eu-west-1-eks"
	contains(d.msg, "open to any address")
}

test_plat_011_staging_endpoint_without_cidrs if {
	doc := _as_environment(
		_with_resource("eu-west-1-eks", [{"op": "replace", "path": "/inputs/vpcConfig/endpointPublicAccess", "value": true}]),
		"staging",
	)
	denies := platform.deny with input as doc with data.mlgate.thresholds as _thresholds
	_denies(denies, "PLAT-011", "eu-west-1-eks")
}

test_plat_011_staging_endpoint_with_empty_or_unknown_cidrs if {
	every cidrs in [[], [_unknown], _unknown] {
		denies := platform.deny with input as _public_endpoint(cidrs) with data.mlgate.thresholds as _thresholds
		_denies(denies, "PLAT-011", "eu-west-1-eks")
	}
}

test_plat_011_shipped_thresholds if {
	# The shipped data: staging allows a restricted public endpoint, prod does not.
	staging := platform.deny with input as _public_endpoint(["203.0.113.0/24"])
	not _has(staging, "PLAT-011")
	prod := platform.deny with input as _as_environment(_public_endpoint(["203.0.113.0/24"]), "prod")
	_denies(prod, "PLAT-011", "eu-west-1-eks")
}

# PLAT-012

test_plat_012_required_log_types_pass if {
	denies := platform.deny with input as _good
	not _has(denies, "PLAT-012")
}

test_plat_012_audit_log_off if {
	denies := platform.deny with input as _with_resource("eu-west-1-eks", [
		{"op": "replace", "path": "/inputs/enabledClusterLogTypes", "value": ["api", "authenticator"]},
	])
	some d in denies
	d.id == "PLAT-012"
	d.resource == "eu-west-1-eks"
	d.region == "eu-west-1"
	contains(d.msg, "log types audit ")
}

test_plat_012_logging_unset_or_unknown if {
	every value in [null, _unknown] {
		denies := platform.deny with input as _with_resource("eu-west-1-eks", [
			{"op": "replace", "path": "/inputs/enabledClusterLogTypes", "value": value},
		])
		some d in denies
		d.id == "PLAT-012"
		contains(d.msg, "api, audit, authenticator")
	}
}

test_plat_012_required_types_are_data if {
	doc := _with_resource("eu-west-1-eks", [{"op": "replace", "path": "/inputs/enabledClusterLogTypes", "value": ["api"]}])
	thresholds := {"environments": {"default": {"requiredClusterLogTypes": ["api"]}}}
	denies := platform.deny with input as doc with data.mlgate.thresholds as thresholds
	not _has(denies, "PLAT-012")
}

test_plat_012_environment_without_required_types if {
	thresholds := {"environments": {"default": {"allowPublicApiEndpoint": false}}}
	denies := platform.deny with input as _good with data.mlgate.thresholds as thresholds
	some d in denies
	d.id == "PLAT-012"
	contains(d.msg, "no requiredClusterLogTypes")
}

# PLAT-013

test_plat_013_tainted_gpu_pool_and_cpu_pool_pass if {
	denies := platform.deny with input as _good
	not _has(denies, "PLAT-013")
}

test_plat_013_gpu_pool_without_taint if {
	denies := platform.deny with input as _with_resource("eu-west-1-a10g", [{"op": "remove", "path": "/inputs/taints"}])
	some d in denies
	d.id == "PLAT-013"
	d.resource == "eu-west-1-a10g"
	d.region == "eu-west-1"
}

test_plat_013_prefer_no_schedule_is_not_enough if {
	denies := platform.deny with input as _with_resource("eu-west-1-a10g", [
		{"op": "replace", "path": "/inputs/taints/0/effect", "value": "PREFER_NO_SCHEDULE"},
	])
	_denies(denies, "PLAT-013", "eu-west-1-a10g")
}

test_plat_013_gpu_label_makes_a_gpu_pool if {
	denies := platform.deny with input as _with_resource("eu-west-1-system", [
		{"op": "add", "path": "/inputs/labels", "value": {"mlgate.io/node-class": "gpu"}},
	])
	_denies(denies, "PLAT-013", "eu-west-1-system")
}

test_plat_013_unknown_ami_type_needs_the_taint if {
	denies := platform.deny with input as _with_resource("eu-west-1-system", [
		{"op": "replace", "path": "/inputs/amiType", "value": _unknown},
	])
	_denies(denies, "PLAT-013", "eu-west-1-system")
}

# PLAT-014

test_plat_014_kms_encrypted_bucket_passes if {
	denies := platform.deny with input as _good
	not _has(denies, "PLAT-014")
}

test_plat_014_bucket_without_encryption_config if {
	denies := platform.deny with input as _without_resource("mlgate-models-eu-west-1-sse")
	some d in denies
	d.id == "PLAT-014"
	d.resource == "mlgate-models-eu-west-1"
	d.region == "eu-west-1"
	contains(d.msg, "no BucketServerSideEncryptionConfiguration")
}

test_plat_014_aes256_is_not_kms if {
	denies := platform.deny with input as _with_resource("mlgate-models-eu-west-1-sse", [
		{"op": "replace", "path": "/inputs/rules/0/applyServerSideEncryptionByDefault/sseAlgorithm", "value": "AES256"},
	])
	_denies(denies, "PLAT-014", "mlgate-models-eu-west-1")
}

test_plat_014_no_rules_or_unknown_algorithm if {
	every patch in [
		{"op": "replace", "path": "/inputs/rules", "value": []},
		{"op": "replace", "path": "/inputs/rules", "value": [_unknown]},
		{"op": "replace", "path": "/inputs/rules/0/applyServerSideEncryptionByDefault/sseAlgorithm", "value": _unknown},
	] {
		denies := platform.deny with input as _with_resource("mlgate-models-eu-west-1-sse", [patch])
		_denies(denies, "PLAT-014", "mlgate-models-eu-west-1")
	}
}

test_plat_014_config_of_another_bucket_does_not_count if {
	other := _aws(_bucket_type, "mlgate-logs-eu-west-1", [], {})
	denies := platform.deny with input as _plus_resource(_good, other)
	_denies(denies, "PLAT-014", "mlgate-logs-eu-west-1")
	not _denies(denies, "PLAT-014", "mlgate-models-eu-west-1")
}

# PLAT-015

test_plat_015_blocked_bucket_passes if {
	denies := platform.deny with input as _good
	not _has(denies, "PLAT-015")
}

test_plat_015_bucket_without_public_access_block if {
	denies := platform.deny with input as _without_resource("mlgate-models-eu-west-1-pab")
	some d in denies
	d.id == "PLAT-015"
	d.resource == "mlgate-models-eu-west-1"
	d.region == "eu-west-1"
}

test_plat_015_flag_off_or_unset if {
	every patch in [
		{"op": "replace", "path": "/inputs/restrictPublicBuckets", "value": false},
		{"op": "remove", "path": "/inputs/blockPublicPolicy"},
		{"op": "replace", "path": "/inputs/ignorePublicAcls", "value": _unknown},
	] {
		denies := platform.deny with input as _with_resource("mlgate-models-eu-west-1-pab", [patch])
		some d in denies
		d.id == "PLAT-015"
		d.resource == "mlgate-models-eu-west-1"
		contains(d.msg, "mlgate-models-eu-west-1-pab")
	}
}

# PLAT-016

test_plat_016_private_subnets_pass if {
	denies := platform.deny with input as _good
	not _has(denies, "PLAT-016")
}

test_plat_016_public_subnet if {
	denies := platform.deny with input as _with_resource("eu-west-1-a10g", [
		{"op": "add", "path": "/dependencies/-", "value": _public_subnet.urn},
	])
	some d in denies
	d.id == "PLAT-016"
	d.resource == "eu-west-1-a10g"
	d.region == "eu-west-1"
	contains(d.msg, "eu-west-1-public-a")
}

test_plat_016_private_tag_but_public_ips if {
	denies := platform.deny with input as _with_resource("eu-west-1-private-a", [
		{"op": "replace", "path": "/inputs/mapPublicIpOnLaunch", "value": true},
	])
	_denies(denies, "PLAT-016", "eu-west-1-system")
	_denies(denies, "PLAT-016", "eu-west-1-a10g")
}

test_plat_016_untagged_subnet if {
	denies := platform.deny with input as _with_resource("eu-west-1-private-a", [{"op": "remove", "path": "/inputs/tags"}])
	_denies(denies, "PLAT-016", "eu-west-1-system")
}

test_plat_016_no_subnet_among_dependencies if {
	denies := platform.deny with input as _with_resource("eu-west-1-system", [
		{"op": "replace", "path": "/dependencies", "value": [_cluster.urn]},
	])
	some d in denies
	d.id == "PLAT-016"
	d.resource == "eu-west-1-system"
	contains(d.msg, "depends on no subnet")
}

# PLAT-017

test_plat_017_exact_versions_pass if {
	every version in ["1.30.3", "v0.20.0", "79.5.0", "1.0.0-rc.1", "2.3.4+build.5"] {
		denies := platform.deny with input as _with_resource("eu-west-1-istiod", [
			{"op": "replace", "path": "/inputs/version", "value": version},
		])
		not _has(denies, "PLAT-017")
	}
}

test_plat_017_unpinned_versions if {
	every version in ["", "latest", "^1.2", "~1", ">=1", "1.x", "*", "1.2", "1.2.3 || 1.2.4", _unknown, null] {
		denies := platform.deny with input as _with_resource("eu-west-1-istiod", [
			{"op": "replace", "path": "/inputs/version", "value": version},
		])
		some d in denies
		d.id == "PLAT-017"
		d.resource == "eu-west-1-istiod"
		d.region == "eu-west-1"
	}
}

test_plat_017_version_missing if {
	denies := platform.deny with input as _with_resource("eu-west-1-istiod", [{"op": "remove", "path": "/inputs/version"}])
	_denies(denies, "PLAT-017", "eu-west-1-istiod")
}

# PLAT-018

test_plat_018_strict_mesh_passes if {
	denies := platform.deny with input as _good
	not _has(denies, "PLAT-018")
}

test_plat_018_cluster_region_without_mesh_policy if {
	denies := platform.deny with input as _without_resource("eu-west-1-mesh-mtls")
	some d in denies
	d.id == "PLAT-018"
	d.resource == "eu-west-1-eks"
	d.region == "eu-west-1"
}

test_plat_018_region_without_cluster_needs_no_mesh_policy if {
	denies := platform.deny with input as _without_resource("eu-central-1-mesh-mtls")
	not _has(denies, "PLAT-018")
}

test_plat_018_mesh_policy_must_be_mesh_wide if {
	every patch in [
		{"op": "replace", "path": "/inputs/metadata/namespace", "value": "kserve"},
		{"op": "add", "path": "/inputs/spec/selector", "value": {"matchLabels": {"app": "istiod"}}},
		{"op": "remove", "path": "/inputs/spec/mtls"},
	] {
		denies := platform.deny with input as _with_resource("eu-west-1-mesh-mtls", [patch])
		_denies(denies, "PLAT-018", "eu-west-1-eks")
	}
}

test_plat_018_cluster_without_region if {
	denies := platform.deny with input as _with_resource("eu-west-1-eks", [{"op": "replace", "path": "/region", "value": null}])
	_denies(denies, "PLAT-018", "eu-west-1-eks")
}

test_plat_018_permissive_or_disabled if {
	every patch in [
		{"op": "replace", "path": "/inputs/spec/mtls/mode", "value": "PERMISSIVE"},
		{"op": "replace", "path": "/inputs/spec/mtls/mode", "value": "DISABLE"},
		{"op": "replace", "path": "/inputs/spec/mtls/mode", "value": _unknown},
		{"op": "replace", "path": "/inputs/spec/mtls", "value": _unknown},
	] {
		denies := platform.deny with input as _with_resource("eu-central-1-mesh-mtls", [patch])
		some d in denies
		d.id == "PLAT-018"
		d.resource == "eu-central-1-mesh-mtls"
		d.region == "eu-central-1"
	}
}

test_plat_018_namespace_policy_weakening_a_port if {
	policy := json.patch(_peer_authentication("eu-west-1"), [
		{"op": "replace", "path": "/name", "value": "fraud-detector-mtls"},
		{"op": "replace", "path": "/inputs/metadata/namespace", "value": "fraud-detector"},
		{"op": "replace", "path": "/inputs/spec", "value": {
			"selector": {"matchLabels": {"app": "fraud-detector"}},
			"mtls": {"mode": "UNSET"},
			"portLevelMtls": {"8080": {"mode": "STRICT"}, "9090": {"mode": "PERMISSIVE"}},
		}},
	])
	denies := platform.deny with input as _plus_resource(_good, policy)
	some d in denies
	d.id == "PLAT-018"
	d.resource == "fraud-detector-mtls"
	contains(d.msg, "portLevelMtls[9090]")
	count([x | some x in denies; x.id == "PLAT-018"]) == 1
}

test_plat_018_namespace_policy_inheriting_passes if {
	policy := json.patch(_peer_authentication("eu-west-1"), [
		{"op": "replace", "path": "/name", "value": "fraud-detector-mtls"},
		{"op": "replace", "path": "/inputs/metadata/namespace", "value": "fraud-detector"},
		{"op": "replace", "path": "/inputs/spec", "value": {"mtls": {"mode": "UNSET"}}},
	])
	denies := platform.deny with input as _plus_resource(_good, policy)
	not _has(denies, "PLAT-018")
}
