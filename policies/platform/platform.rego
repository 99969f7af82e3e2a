# The platform document: the whole plan of one environment. Checks that the plan deploys each model
# exactly where its spec says, and that every Kubernetes object can be traced to an environment and region.
#
# PLAT-001 to PLAT-009 cover the plan's Kubernetes objects; PLAT-010 and up check the platform's AWS
# resources (EKS clusters and node groups, subnets, model buckets) and its cluster-wide add-ons (Helm
# releases, Istio mTLS).
package mlgate.platform

# METADATA
# title: Planned regions match the spec
# description: For every model deployed in the environment, the regions the plan deploys it to are exactly the regions its spec declares, none missing and none extra.
# custom:
#   id: PLAT-001
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 26(1)"]
#     nist-ai-rmf: ["GOVERN 1.4", "MANAGE 4.1"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "platform"
	some pair in _declared
	not pair in _planned
	[model, region] := pair
	v := {
		"id": "PLAT-001",
		"msg": sprintf("%v declares region %v, but the plan deploys nothing of it there", [model, region]),
		"region": region,
	}
}

# METADATA
# title: Planned regions match the spec
# description: For every model deployed in the environment, the regions the plan deploys it to are exactly the regions its spec declares, none missing and none extra.
# custom:
#   id: PLAT-001
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 26(1)"]
#     nist-ai-rmf: ["GOVERN 1.4", "MANAGE 4.1"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "platform"
	some pair in _planned
	[model, region] := pair
	model in _deployed_models
	not pair in _declared
	v := {
		"id": "PLAT-001",
		"msg": sprintf("the plan deploys %v to %v, a region its spec does not declare", [model, region]),
		"region": region,
	}
}

# METADATA
# title: Kubernetes objects labelled with their environment
# description: Every Kubernetes object of the plan carries the label mlgate.io/environment set to the environment being deployed, so clusters shared between environments stay traceable.
# custom:
#   id: PLAT-002
#   severity: medium
#   controls:
#     eu-ai-act: ["Art. 12(1)"]
#     nist-ai-rmf: ["GOVERN 1.6"]
#     iso-42001: ["A.4.2", "A.6.2.7"]
deny contains v if {
	input.kind == "platform"
	some i in _kubernetes_objects
	resource := input.resources[i]
	not resource.inputs.metadata.labels["mlgate.io/environment"] == input.environment.name
	label := _label(resource, "mlgate.io/environment")
	v := {
		"id": "PLAT-002",
		"msg": sprintf(
			"%v %v has label mlgate.io/environment %v, expected %v",
			[resource.inputs.kind, resource.name, label, input.environment.name],
		),
		"resource": resource.name,
	}
}

# METADATA
# title: Kubernetes objects have a region
# description: Every Kubernetes object of the plan resolves to an AWS region (through its mlgate platform Region or its provider), so residency and failover checks see it.
# custom:
#   id: PLAT-003
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 26(1)"]
#     nist-ai-rmf: ["GOVERN 1.6", "MAP 4.1"]
#     iso-42001: ["A.4.2"]
deny contains v if {
	input.kind == "platform"
	some i in _kubernetes_objects
	resource := input.resources[i]
	not _non_empty_string(resource.region)
	v := {
		"id": "PLAT-003",
		"msg": sprintf("%v %v resolves to no region", [resource.inputs.kind, resource.name]),
		"resource": resource.name,
	}
}

# AWS platform (PLAT-010 and up) ----------------------------------------------------------------------------
#
# Inputs are Pulumi's camelCase input names (pulumi-aws v7, pulumi-kubernetes). A value `pulumi preview`
# cannot know yet (the unknown marker) or a secret ("[secret]") never passes where it decides the outcome:
# such a value is judged as the unsafe one, and the message says it was unknown.

# METADATA
# title: Cluster secrets encrypted with KMS
# description: Every EKS cluster sets encryptionConfig with a provider keyArn and resources containing secrets, so Kubernetes secrets are envelope-encrypted with a KMS key. A keyArn unknown before deployment passes (any value names a KMS key, typically one created in the same update); a missing or unknown encryptionConfig or resources list denies.
# custom:
#   id: PLAT-010
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 15(5)"]
#     nist-ai-rmf: ["MEASURE 2.7"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "platform"
	some i in _of_type["aws:eks/cluster:Cluster"]
	cluster := input.resources[i]
	not _secrets_encrypted(cluster.inputs)
	v := _resource_decision("PLAT-010", cluster, sprintf(
		"EKS cluster %v does not encrypt Kubernetes secrets with KMS (encryptionConfig is %v; expected provider.keyArn and resources [\"secrets\"])",
		[cluster.name, _shown(object.get(cluster.inputs, "encryptionConfig", null))],
	))
}

# METADATA
# title: Cluster API endpoint not public where the environment forbids it
# description: Where the environment's allowPublicApiEndpoint is not true (prod, default), every EKS cluster sets vpcConfig.endpointPublicAccess to false; unset counts as public, as EKS defaults it to true. Where it is true (dev, staging), a public endpoint needs publicAccessCidrs, each a known CIDR other than 0.0.0.0/0 or ::/0 (unset or empty means EKS's 0.0.0.0/0). An endpointPublicAccess or CIDR unknown before deployment denies (fail closed, as one id has one level); set it to a literal or waive.
# custom:
#   id: PLAT-011
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 15(5)"]
#     nist-ai-rmf: ["MEASURE 2.7", "MANAGE 1.3"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "platform"
	not env.allowPublicApiEndpoint == true
	some i in _of_type["aws:eks/cluster:Cluster"]
	cluster := input.resources[i]
	public := _field(object.get(cluster.inputs, "vpcConfig", null), "endpointPublicAccess")
	public != false
	v := _resource_decision("PLAT-011", cluster, sprintf(
		"EKS cluster %v has a public API endpoint (vpcConfig.endpointPublicAccess is %v, EKS defaults to true); %v allows none, set it to false",
		[cluster.name, _shown(public), _env_name],
	))
}

# METADATA
# title: Cluster API endpoint not public where the environment forbids it
# description: Where the environment's allowPublicApiEndpoint is not true (prod, default), every EKS cluster sets vpcConfig.endpointPublicAccess to false; unset counts as public, as EKS defaults it to true. Where it is true (dev, staging), a public endpoint needs publicAccessCidrs, each a known CIDR other than 0.0.0.0/0 or ::/0 (unset or empty means EKS's 0.0.0.0/0). An endpointPublicAccess or CIDR unknown before deployment denies (fail closed, as one id has one level); set it to a literal or waive.
# custom:
#   id: PLAT-011
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 15(5)"]
#     nist-ai-rmf: ["MEASURE 2.7", "MANAGE 1.3"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "platform"
	env.allowPublicApiEndpoint == true
	some i in _of_type["aws:eks/cluster:Cluster"]
	cluster := input.resources[i]
	vpc := object.get(cluster.inputs, "vpcConfig", null)
	_field(vpc, "endpointPublicAccess") != false
	cidrs := _field(vpc, "publicAccessCidrs")
	not _restricted_cidrs(cidrs)
	v := _resource_decision("PLAT-011", cluster, sprintf(
		"EKS cluster %v has a public API endpoint open to any address (vpcConfig.publicAccessCidrs is %v); list the allowed CIDRs, none of them 0.0.0.0/0",
		[cluster.name, _shown(cidrs)],
	))
}

# METADATA
# title: Control-plane logging on
# description: Every EKS cluster's enabledClusterLogTypes includes each log type of the environment's requiredClusterLogTypes (api, audit and authenticator), so API calls and authentication are recorded. A missing or unknown list, or an environment without requiredClusterLogTypes, denies.
# custom:
#   id: PLAT-012
#   severity: medium
#   controls:
#     eu-ai-act: ["Art. 12(1)", "Art. 15(5)"]
#     nist-ai-rmf: ["MEASURE 2.7", "MANAGE 4.1"]
#     iso-42001: ["A.6.2.6", "A.6.2.8"]
deny contains v if {
	input.kind == "platform"
	some i in _of_type["aws:eks/cluster:Cluster"]
	cluster := input.resources[i]
	enabled := object.get(cluster.inputs, "enabledClusterLogTypes", null)
	missing := _missing_log_types(enabled)
	count(missing) > 0
	v := _resource_decision("PLAT-012", cluster, sprintf(
		"EKS cluster %v does not enable control-plane log types %v (enabledClusterLogTypes is %v)",
		[cluster.name, concat(", ", sort(missing)), _shown(enabled)],
	))
}

# METADATA
# title: Control-plane logging on
# description: Every EKS cluster's enabledClusterLogTypes includes each log type of the environment's requiredClusterLogTypes (api, audit and authenticator), so API calls and authentication are recorded. A missing or unknown list, or an environment without requiredClusterLogTypes, denies.
# custom:
#   id: PLAT-012
#   severity: medium
#   controls:
#     eu-ai-act: ["Art. 12(1)", "Art. 15(5)"]
#     nist-ai-rmf: ["MEASURE 2.7", "MANAGE 4.1"]
#     iso-42001: ["A.6.2.6", "A.6.2.8"]
deny contains v if {
	input.kind == "platform"
	not _required_log_types_set
	some i in _of_type["aws:eks/cluster:Cluster"]
	cluster := input.resources[i]
	v := _resource_decision("PLAT-012", cluster, sprintf(
		"EKS cluster %v cannot be checked for control-plane logging: the thresholds of %v have no requiredClusterLogTypes list",
		[cluster.name, _env_name],
	))
}

# METADATA
# title: GPU node pools tainted
# description: Every EKS node group that is a GPU pool (an amiType containing NVIDIA, the label mlgate.io/node-class=gpu, or an amiType unknown before deployment) has a taint with key nvidia.com/gpu and effect NO_SCHEDULE (NO_EXECUTE, stricter, also passes), so only workloads that tolerate it take the GPUs.
# custom:
#   id: PLAT-013
#   severity: medium
#   controls:
#     eu-ai-act: ["Art. 15(4)"]
#     nist-ai-rmf: ["MANAGE 2.2"]
#     iso-42001: ["A.4.5"]
deny contains v if {
	input.kind == "platform"
	some i in _gpu_node_groups
	pool := input.resources[i]
	not _gpu_tainted(pool.inputs)
	v := _resource_decision("PLAT-013", pool, sprintf(
		"GPU node group %v (amiType %v) has no taint nvidia.com/gpu with effect NO_SCHEDULE",
		[pool.name, _shown(object.get(pool.inputs, "amiType", null))],
	))
}

# METADATA
# title: Model buckets encrypted with KMS
# description: Every S3 bucket of the plan has a BucketServerSideEncryptionConfiguration (linked through its dependencies on the bucket) whose every rule sets applyServerSideEncryptionByDefault.sseAlgorithm to aws:kms (or aws:kms:dsse). A bucket without one, or with an unknown algorithm, denies.
# custom:
#   id: PLAT-014
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 15(5)"]
#     nist-ai-rmf: ["MEASURE 2.7"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "platform"
	some i in _buckets
	bucket := input.resources[i]
	not _sse_of[bucket.urn]
	v := _resource_decision("PLAT-014", bucket, sprintf(
		"S3 bucket %v has no BucketServerSideEncryptionConfiguration in the plan; add one with sseAlgorithm aws:kms",
		[bucket.name],
	))
}

# METADATA
# title: Model buckets encrypted with KMS
# description: Every S3 bucket of the plan has a BucketServerSideEncryptionConfiguration (linked through its dependencies on the bucket) whose every rule sets applyServerSideEncryptionByDefault.sseAlgorithm to aws:kms (or aws:kms:dsse). A bucket without one, or with an unknown algorithm, denies.
# custom:
#   id: PLAT-014
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 15(5)"]
#     nist-ai-rmf: ["MEASURE 2.7"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "platform"
	some i in _buckets
	bucket := input.resources[i]
	some j in _sse_of[bucket.urn]
	config := input.resources[j]
	not _kms_encrypted(config.inputs)
	v := _resource_decision("PLAT-014", bucket, sprintf(
		"S3 bucket %v is not encrypted with KMS: %v sets rules %v, expected every applyServerSideEncryptionByDefault.sseAlgorithm aws:kms",
		[bucket.name, config.name, _shown(object.get(config.inputs, "rules", null))],
	))
}

# METADATA
# title: Model buckets private
# description: Every S3 bucket of the plan has a BucketPublicAccessBlock (linked through its dependencies on the bucket) with blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets all true. A bucket without one, or a flag unset or unknown, denies.
# custom:
#   id: PLAT-015
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 15(5)"]
#     nist-ai-rmf: ["MEASURE 2.7"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "platform"
	some i in _buckets
	bucket := input.resources[i]
	not _public_access_block_of[bucket.urn]
	v := _resource_decision("PLAT-015", bucket, sprintf(
		"S3 bucket %v has no BucketPublicAccessBlock in the plan; add one with all four flags true",
		[bucket.name],
	))
}

# METADATA
# title: Model buckets private
# description: Every S3 bucket of the plan has a BucketPublicAccessBlock (linked through its dependencies on the bucket) with blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets all true. A bucket without one, or a flag unset or unknown, denies.
# custom:
#   id: PLAT-015
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 15(5)"]
#     nist-ai-rmf: ["MEASURE 2.7"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "platform"
	some i in _buckets
	bucket := input.resources[i]
	some j in _public_access_block_of[bucket.urn]
	block := input.resources[j]
	unset_flags := [sprintf("%v is %v", [flag, _shown(value)]) |
		some flag in _public_access_flags
		value := object.get(block.inputs, flag, null)
		value != true
	]
	count(unset_flags) > 0
	v := _resource_decision("PLAT-015", bucket, sprintf(
		"S3 bucket %v is not fully private: %v sets %v",
		[bucket.name, block.name, concat(", ", unset_flags)],
	))
}

# METADATA
# title: Node groups only in private subnets
# description: Every EKS node group's subnets, found as the aws ec2 Subnet resources among its dependencies, are private, that is tagged mlgate.io/tier=private with mapPublicIpOnLaunch not true (unset is false). A subnet tagged public, untagged, or with mapPublicIpOnLaunch true or unknown denies, and so does a node group with no subnet of the plan among its dependencies (it cannot be judged).
# custom:
#   id: PLAT-016
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 15(5)"]
#     nist-ai-rmf: ["MEASURE 2.7"]
#     iso-42001: ["A.6.2.5", "A.4.5"]
deny contains v if {
	input.kind == "platform"
	some i in _of_type["aws:eks/nodeGroup:NodeGroup"]
	pool := input.resources[i]
	dependencies := pool.dependencies
	is_array(dependencies)
	some urn in dependencies
	subnet := input.resources[_subnet_at[urn]]
	not _private_subnet(subnet.inputs)
	v := _resource_decision("PLAT-016", pool, sprintf(
		"EKS node group %v uses subnet %v, which is not private (tag mlgate.io/tier is %v, mapPublicIpOnLaunch is %v)",
		[
			pool.name,
			subnet.name,
			_shown(object.get(subnet.inputs, ["tags", "mlgate.io/tier"], null)),
			_shown(object.get(subnet.inputs, "mapPublicIpOnLaunch", null)),
		],
	))
}

# METADATA
# title: Node groups only in private subnets
# description: Every EKS node group's subnets, found as the aws ec2 Subnet resources among its dependencies, are private, that is tagged mlgate.io/tier=private with mapPublicIpOnLaunch not true (unset is false). A subnet tagged public, untagged, or with mapPublicIpOnLaunch true or unknown denies, and so does a node group with no subnet of the plan among its dependencies (it cannot be judged).
# custom:
#   id: PLAT-016
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 15(5)"]
#     nist-ai-rmf: ["MEASURE 2.7"]
#     iso-42001: ["A.6.2.5", "A.4.5"]
deny contains v if {
	input.kind == "platform"
	some i in _of_type["aws:eks/nodeGroup:NodeGroup"]
	pool := input.resources[i]
	not _uses_planned_subnet(pool)
	v := _resource_decision("PLAT-016", pool, sprintf(
		"EKS node group %v depends on no subnet of the plan, so its subnets cannot be shown to be private",
		[pool.name],
	))
}

# METADATA
# title: Helm chart versions pinned
# description: Every Helm release (helm.sh v3 Release, v4 Chart) sets version to one exact semantic version such as 1.30.3 or v0.20.0, optionally with a pre-release or build suffix. Unset, empty, latest, a range (^1.2, ~1, >=1, 1.x, *), a partial version (1.2) or an unknown value denies.
# custom:
#   id: PLAT-017
#   severity: medium
#   controls:
#     eu-ai-act: ["Art. 15(4)", "Art. 17(1)(b)"]
#     nist-ai-rmf: ["MAP 4.1", "GOVERN 6.1"]
#     iso-42001: ["A.6.2.5", "A.10.3"]
deny contains v if {
	input.kind == "platform"
	some type in _helm_types
	some i in _of_type[type]
	release := input.resources[i]
	version := object.get(release.inputs, "version", null)
	not _exact_version(version)
	v := _resource_decision("PLAT-017", release, sprintf(
		"Helm release %v installs chart %v at version %v, not one pinned exact version",
		[release.name, _shown(object.get(release.inputs, "chart", null)), _shown(version)],
	))
}

# METADATA
# title: Mesh-wide mutual TLS STRICT and never weakened
# description: Every region with an EKS cluster has a mesh-wide Istio PeerAuthentication (namespace istio-system, no selector) with spec.mtls.mode STRICT, and a cluster that resolves to no region denies as it cannot be matched. No PeerAuthentication anywhere sets spec.mtls.mode or a spec.portLevelMtls mode to anything but STRICT or UNSET (inherit), so PERMISSIVE, DISABLE and unknown modes deny.
# custom:
#   id: PLAT-018
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 15(5)"]
#     nist-ai-rmf: ["MEASURE 2.7"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "platform"
	some i in _of_type["aws:eks/cluster:Cluster"]
	cluster := input.resources[i]
	not cluster.region in _strict_mesh_regions
	v := _resource_decision("PLAT-018", cluster, sprintf(
		"EKS cluster %v in region %v has no mesh-wide PeerAuthentication (namespace istio-system, no selector) with mtls mode STRICT",
		[cluster.name, _shown(object.get(cluster, "region", null))],
	))
}

# METADATA
# title: Mesh-wide mutual TLS STRICT and never weakened
# description: Every region with an EKS cluster has a mesh-wide Istio PeerAuthentication (namespace istio-system, no selector) with spec.mtls.mode STRICT, and a cluster that resolves to no region denies as it cannot be matched. No PeerAuthentication anywhere sets spec.mtls.mode or a spec.portLevelMtls mode to anything but STRICT or UNSET (inherit), so PERMISSIVE, DISABLE and unknown modes deny.
# custom:
#   id: PLAT-018
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 15(5)"]
#     nist-ai-rmf: ["MEASURE 2.7"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "platform"
	some [i, setting, mode] in _weakened_mtls
	policy := input.resources[i]
	v := _resource_decision("PLAT-018", policy, sprintf(
		"PeerAuthentication %v in namespace %v sets %v to %v; only STRICT (or UNSET, inheriting) is allowed",
		[
			policy.name,
			_shown(object.get(policy.inputs, ["metadata", "namespace"], null)),
			setting,
			_shown(mode),
		],
	))
}

# Helpers ---------------------------------------------------------------------------------------------------

# Indexes of the Kubernetes objects with a manifest: not the provider (pulumi:providers:kubernetes), not
# a Helm release. (Rules iterate these indexes: a helper call per resource is costly in the embedded engine.)
_kubernetes_objects contains i if {
	some i, resource in input.resources
	is_string(resource.type)
	startswith(resource.type, "kubernetes:")
	is_string(resource.inputs.kind)
}

default _label(_, _) := null

_label(resource, key) := resource.inputs.metadata.labels[key]

# [model, region] pairs the specs declare, and those the plan deploys (objects labelled with their model).
# Sets of pairs keep the checks linear in the number of resources, for fleets of thousands of models.
_declared contains [deployment.model, region] if {
	some deployment in input.deployments
	some region in deployment.regions
}

_deployed_models contains deployment.model if {
	some deployment in input.deployments
}

_planned contains [model, resource.region] if {
	some resource in input.resources
	model := resource.inputs.metadata.labels["mlgate.io/model"]
	is_string(model)
	is_string(resource.region)
}

_non_empty_string(value) if {
	is_string(value)
	value != ""
}

# AWS helpers -----------------------------------------------------------------------------------------------

# Resource indexes by type, built in one pass over the plan (rules look types up here instead of each
# scanning every resource).
_of_type[resource.type] contains i if {
	input.kind == "platform"
	some i, resource in input.resources
}

_unknown := "04da6b54-80e4-46f7-96ec-b56ff0331ba9" # Pulumi's placeholder for a value computed during the update

_undetermined := {_unknown, "[secret]"}

_resource_decision(id, resource, msg) := {
	"id": id,
	"msg": msg,
	"resource": resource.name,
	"region": object.get(resource, "region", null),
}

# obj[key], null when missing; an unknown or secret obj stays what it is (its fields are unknown too), and
# anything else that is not an object has no fields.
_field(obj, key) := object.get(obj, key, null) if is_object(obj)

_field(obj, _) := obj if obj in _undetermined

_field(obj, _) := null if {
	not is_object(obj)
	not obj in _undetermined
}

# A value as messages show it: the unknown marker and secrets by what they mean.
_shown(value) := "unset" if value == null

_shown(value) := "unknown before deployment" if value == _unknown

_shown(value) := "a secret" if value == "[secret]"

_shown(value) := sprintf("%v", [value]) if {
	value != null
	not value in _undetermined
}

# PLAT-010: a KMS key (any keyArn, known or not) for the secrets.
_secrets_encrypted(inputs) if {
	config := inputs.encryptionConfig
	_non_empty_string(config.provider.keyArn)
	is_array(config.resources)
	"secrets" in config.resources
}

# PLAT-011: every CIDR known and none open to the whole internet (unset or empty means EKS's 0.0.0.0/0).
_open_cidrs := {"0.0.0.0/0", "::/0"}

_restricted_cidrs(cidrs) if {
	is_array(cidrs)
	count(cidrs) > 0
	every cidr in cidrs {
		_non_empty_string(cidr)
		not cidr in _open_cidrs
		not cidr in _undetermined
	}
}

# PLAT-012
_required_log_types_set if is_array(env.requiredClusterLogTypes)

_missing_log_types(enabled) := {t | some t in env.requiredClusterLogTypes; not t in enabled} if is_array(enabled)

_missing_log_types(enabled) := {t | some t in env.requiredClusterLogTypes} if not is_array(enabled)

# PLAT-013: GPU pools. An unknown amiType may be a GPU one.
_gpu_node_groups contains i if {
	some i in _of_type["aws:eks/nodeGroup:NodeGroup"]
	ami := input.resources[i].inputs.amiType
	is_string(ami)
	contains(upper(ami), "NVIDIA")
}

_gpu_node_groups contains i if {
	some i in _of_type["aws:eks/nodeGroup:NodeGroup"]
	object.get(input.resources[i].inputs, ["labels", "mlgate.io/node-class"], null) == "gpu"
}

_gpu_node_groups contains i if {
	some i in _of_type["aws:eks/nodeGroup:NodeGroup"]
	input.resources[i].inputs.amiType in _undetermined
}

_gpu_taint_effects := {"NO_SCHEDULE", "NO_EXECUTE"}

_gpu_tainted(inputs) if {
	taints := inputs.taints
	is_array(taints)
	some taint in taints
	taint.key == "nvidia.com/gpu"
	taint.effect in _gpu_taint_effects
}

# PLAT-014, PLAT-015: buckets, and the bucket URN -> indexes of the resources configuring it (a resource
# configures the buckets it depends on).
_bucket_types := {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}

_buckets contains i if {
	some type in _bucket_types
	some i in _of_type[type]
}

_sse_types := {
	"aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
	"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
}

_sse_of[urn] contains i if {
	some type in _sse_types
	some i in _of_type[type]
	dependencies := input.resources[i].dependencies
	is_array(dependencies)
	some urn in dependencies
}

_public_access_block_of[urn] contains i if {
	some i in _of_type["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"]
	dependencies := input.resources[i].dependencies
	is_array(dependencies)
	some urn in dependencies
}

_kms_algorithms := {"aws:kms", "aws:kms:dsse"}

_kms_encrypted(inputs) if {
	rules := inputs.rules
	is_array(rules)
	count(rules) > 0
	every rule in rules {
		is_object(rule)
		object.get(rule, ["applyServerSideEncryptionByDefault", "sseAlgorithm"], null) in _kms_algorithms
	}
}

_public_access_flags := ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]

# PLAT-016: subnet URN -> its index.
_subnet_at[resource.urn] := i if {
	some i in _of_type["aws:ec2/subnet:Subnet"]
	resource := input.resources[i]
}

_private_subnet(inputs) if {
	object.get(inputs, ["tags", "mlgate.io/tier"], null) == "private"
	object.get(inputs, "mapPublicIpOnLaunch", false) == false
}

_uses_planned_subnet(pool) if {
	is_array(pool.dependencies)
	some urn in pool.dependencies
	_subnet_at[urn]
}

# PLAT-017: one exact semantic version.
_helm_types := {"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"}

_exact_version(version) if {
	is_string(version)
	regex.match(`^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`, version)
}

# PLAT-018: Istio PeerAuthentications (security.istio.io v1 and v1beta1).
_peer_authentication_types := {
	"kubernetes:security.istio.io/v1:PeerAuthentication",
	"kubernetes:security.istio.io/v1beta1:PeerAuthentication",
}

_peer_authentications contains i if {
	some type in _peer_authentication_types
	some i in _of_type[type]
}

_mesh_root_namespace := "istio-system"

_accepted_mtls_modes := {"STRICT", "UNSET"}

# Regions with a mesh-wide STRICT policy: in the root namespace, selecting no workload.
_strict_mesh_regions contains resource.region if {
	some i in _peer_authentications
	resource := input.resources[i]
	object.get(resource.inputs, ["metadata", "namespace"], null) == _mesh_root_namespace
	spec := resource.inputs.spec
	is_object(spec)
	object.get(spec, ["mtls", "mode"], null) == "STRICT"
	object.get(spec, "selector", null) in _no_selector
}

_no_selector := {null, {}, {"matchLabels": {}}}

# [index, setting, mode] of every mode that weakens mTLS (a missing mode inherits, as UNSET).
_weakened_mtls contains [i, "spec.mtls.mode", mode] if {
	some i in _peer_authentications
	mode := _field(_field(object.get(input.resources[i].inputs, "spec", null), "mtls"), "mode")
	mode != null
	not mode in _accepted_mtls_modes
}

_weakened_mtls contains [i, sprintf("spec.portLevelMtls[%v].mode", [port]), mode] if {
	some i in _peer_authentications
	ports := _field(object.get(input.resources[i].inputs, "spec", null), "portLevelMtls")
	is_object(ports)
	some port, setting in ports
	mode := _field(setting, "mode")
	mode != null
	not mode in _accepted_mtls_modes
}

# The environment's thresholds; an environment without an entry gets the strict "default" set.
default _env_name := "default"

_env_name := input.environment.name if is_string(input.environment.name)

default env := {}

env := object.get(data.mlgate.thresholds.environments, _env_name, data.mlgate.thresholds.environments["default"])
