# Serving: safe rollouts (canary size, rollback target), capacity, and what the plan will really create
# (InferenceServices, the VirtualService's traffic split, mutual TLS) compared with the spec.
package mlgate.serving

# METADATA
# title: Canary weight bounded
# description: Where the environment sets maxCanaryWeight and several versions take traffic, every version newer than the oldest weighted one is a canary and takes at most that weight.
# custom:
#   id: SERV-001
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 9(5)", "Art. 15(4)"]
#     nist-ai-rmf: ["MANAGE 2.4", "MANAGE 4.1"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "deployment"
	is_number(env.maxCanaryWeight)
	count(_weighted_positions) > 1
	oldest := max(_weighted_positions)
	some version in input.versions
	version.position in _weighted_positions
	version.position < oldest
	version.weight > env.maxCanaryWeight
	v := {
		"id": "SERV-001",
		"msg": sprintf(
			"canary %v takes %v%% of traffic, the %v maximum for a canary is %v%%",
			[version.name, version.weight, _env_name, env.maxCanaryWeight],
		),
		"version": version.name,
	}
}

# METADATA
# title: Rollback target deployed
# description: Where the environment requires it, a version older than the newest deployed one stays deployed (weight 0 is enough), so a bad release can be rolled back without a new deployment.
# custom:
#   id: SERV-002
#   severity: medium
#   controls:
#     eu-ai-act: ["Art. 15(4)"]
#     nist-ai-rmf: ["MANAGE 2.3", "MANAGE 2.4"]
#     iso-42001: ["A.6.2.5", "A.6.2.6"]
deny contains v if {
	input.kind == "deployment"
	env.requireRollbackTarget == true
	not _has_rollback_target
	v := {
		"id": "SERV-002",
		"msg": sprintf(
			"%v needs a rollback target, but no deployed version (%v) is older than the newest; %v",
			[_env_name, concat(", ", sort(_deployed_names)), "keep the previous version deployed with weight 0"],
		),
	}
}

# METADATA
# title: Minimum replicas
# description: The model's autoscaling minimum and every planned InferenceService keep at least the environment's minimum number of replicas.
# custom:
#   id: SERV-003
#   severity: medium
#   controls:
#     eu-ai-act: ["Art. 15(4)"]
#     nist-ai-rmf: ["MEASURE 2.7", "MANAGE 2.2"]
#     iso-42001: ["A.6.2.6"]
deny contains v if {
	input.kind == "deployment"
	minimum := object.get(env, "minReplicas", null)
	not _at_least(_spec_min_replicas, minimum)
	v := {
		"id": "SERV-003",
		"msg": sprintf(
			"autoscaling.minReplicas is %v, %v needs at least %v",
			[_spec_min_replicas, _env_name, minimum],
		),
	}
}

# METADATA
# title: Minimum replicas
# description: The model's autoscaling minimum and every planned InferenceService keep at least the environment's minimum number of replicas.
# custom:
#   id: SERV-003
#   severity: medium
#   controls:
#     eu-ai-act: ["Art. 15(4)"]
#     nist-ai-rmf: ["MEASURE 2.7", "MANAGE 2.2"]
#     iso-42001: ["A.6.2.6"]
deny contains v if {
	input.kind == "deployment"
	minimum := object.get(env, "minReplicas", null)
	some resource in input.resources
	resource.kind == "InferenceService"
	replicas := object.get(resource, ["spec", "predictor", "minReplicas"], null)
	not _at_least(replicas, minimum)
	v := _resource_decision("SERV-003", resource, sprintf(
		"InferenceService %v runs at least %v replicas, %v needs at least %v",
		[resource.name, replicas, _env_name, minimum],
	))
}

# METADATA
# title: GPU request matches the spec
# description: A GPU model's planned InferenceServices limit nvidia.com/gpu to exactly the spec's count, and a CPU model's request no GPU.
# custom:
#   id: SERV-004
#   severity: medium
#   controls:
#     eu-ai-act: ["Art. 15(1)"]
#     nist-ai-rmf: ["MANAGE 2.2"]
#     iso-42001: ["A.4.5"]
deny contains v if {
	input.kind == "deployment"
	_gpus > 0
	some resource in input.resources
	resource.kind == "InferenceService"
	limit := object.get(resource, ["spec", "predictor", "model", "resources", "limits", "nvidia.com/gpu"], null)
	limit != format_int(_gpus, 10)
	problem := sprintf("limits nvidia.com/gpu to %v, the spec asks for %v", [limit, _gpus])
	v := _resource_decision("SERV-004", resource, sprintf("InferenceService %v %v", [resource.name, problem]))
}

# METADATA
# title: GPU request matches the spec
# description: A GPU model's planned InferenceServices limit nvidia.com/gpu to exactly the spec's count, and a CPU model's request no GPU.
# custom:
#   id: SERV-004
#   severity: medium
#   controls:
#     eu-ai-act: ["Art. 15(1)"]
#     nist-ai-rmf: ["MANAGE 2.2"]
#     iso-42001: ["A.4.5"]
deny contains v if {
	input.kind == "deployment"
	_gpus == 0
	some resource in input.resources
	resource.kind == "InferenceService"
	limit := object.get(resource, ["spec", "predictor", "model", "resources", "limits", "nvidia.com/gpu"], null)
	request := object.get(resource, ["spec", "predictor", "model", "resources", "requests", "nvidia.com/gpu"], null)
	some quantity in [limit, request]
	not quantity in {null, 0, "0"}
	problem := sprintf("asks for nvidia.com/gpu (limit %v, request %v) for a CPU-only model", [limit, request])
	v := _resource_decision("SERV-004", resource, sprintf("InferenceService %v %v", [resource.name, problem]))
}

# METADATA
# title: Traffic split matches the spec
# description: Each planned VirtualService has a route named weighted whose weights equal the spec's traffic for this environment and sum to 100.
# custom:
#   id: SERV-005
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 26(1)"]
#     nist-ai-rmf: ["GOVERN 1.4", "MANAGE 4.1"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "deployment"
	some r, routes in _weighted_routes
	count(routes) == 0
	resource := input.resources[r]
	problem := "has no http route named weighted"
	v := _resource_decision("SERV-005", resource, sprintf("VirtualService %v %v", [resource.name, problem]))
}

# METADATA
# title: Traffic split matches the spec
# description: Each planned VirtualService has a route named weighted whose weights equal the spec's traffic for this environment and sum to 100.
# custom:
#   id: SERV-005
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 26(1)"]
#     nist-ai-rmf: ["GOVERN 1.4", "MANAGE 4.1"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "deployment"
	some r, routes in _weighted_routes
	some route in routes
	route.split != _spec_split
	resource := input.resources[r]
	problem := sprintf("routes %v, the spec's traffic is %v", [_split_text(route.split), _split_text(_spec_split)])
	v := _resource_decision("SERV-005", resource, sprintf("VirtualService %v %v", [resource.name, problem]))
}

# METADATA
# title: Traffic split matches the spec
# description: Each planned VirtualService has a route named weighted whose weights equal the spec's traffic for this environment and sum to 100.
# custom:
#   id: SERV-005
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 26(1)"]
#     nist-ai-rmf: ["GOVERN 1.4", "MANAGE 4.1"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "deployment"
	some r, routes in _weighted_routes
	some route in routes
	route.split == _spec_split
	route.total != 100
	resource := input.resources[r]
	problem := sprintf("route weights sum to %v, not 100", [route.total])
	v := _resource_decision("SERV-005", resource, sprintf("VirtualService %v %v", [resource.name, problem]))
}

# METADATA
# title: Mutual TLS to every destination
# description: Every destination host of a planned VirtualService is covered, in the same region, by a planned DestinationRule (the same host, or a *.<namespace>.svc.cluster.local wildcard) with tls.mode ISTIO_MUTUAL.
# custom:
#   id: SERV-006
#   severity: high
#   controls:
#     eu-ai-act: ["Art. 15(5)"]
#     nist-ai-rmf: ["MEASURE 2.7"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "deployment"
	some resource in input.resources
	resource.kind == "VirtualService"
	some host in _destination_hosts(resource)
	not _mutual_tls(host, resource.region)
	v := _resource_decision("SERV-006", resource, sprintf(
		"VirtualService %v sends traffic to %v, which no ISTIO_MUTUAL DestinationRule in %v covers",
		[resource.name, host, resource.region],
	))
}

# METADATA
# title: KServe Standard deployment mode
# description: Every planned InferenceService sets the annotation serving.kserve.io/deploymentMode to Standard (plain Deployments, no Knative).
# custom:
#   id: SERV-007
#   severity: medium
#   controls:
#     eu-ai-act: ["Art. 26(1)"]
#     nist-ai-rmf: ["MANAGE 2.2"]
#     iso-42001: ["A.6.2.5"]
deny contains v if {
	input.kind == "deployment"
	some resource in input.resources
	resource.kind == "InferenceService"
	mode := object.get(resource, ["metadata", "annotations", "serving.kserve.io/deploymentMode"], null)
	mode != "Standard"
	v := _resource_decision("SERV-007", resource, sprintf(
		"InferenceService %v has deploymentMode %v, expected Standard",
		[resource.name, mode],
	))
}

# METADATA
# title: Shadow version takes no live traffic
# description: A version that receives mirrored (shadow) traffic does not also take a share of the live traffic, whose answers reach users.
# custom:
#   id: SERV-008
#   severity: low
#   controls:
#     eu-ai-act: ["Art. 9(5)"]
#     nist-ai-rmf: ["MANAGE 2.4"]
#     iso-42001: ["A.6.2.5"]
warn contains v if {
	input.kind == "deployment"
	name := input.deployment.shadow.version
	weight := input.deployment.traffic[name]
	weight > 0
	v := {
		"id": "SERV-008",
		"msg": sprintf("shadow version %v also takes %v%% of live traffic", [name, weight]),
		"version": name,
	}
}

# Helpers ---------------------------------------------------------------------------------------------------

default _env_name := "default"

_env_name := input.environment.name if is_string(input.environment.name)

# The environment's thresholds; an environment without an entry gets the strict "default" set. Without
# thresholds at all, every numeric limit is null, and a comparison with null fails (fail closed).
default env := {}

env := object.get(data.mlgate.thresholds.environments, _env_name, data.mlgate.thresholds.environments["default"])

_resource_decision(id, resource, msg) := {"id": id, "msg": msg, "resource": resource.name, "region": resource.region}

_weighted_positions contains version.position if {
	some version in input.versions
	version.deployed == true
	is_number(version.weight)
	version.weight > 0
}

_deployed_positions contains version.position if {
	some version in input.versions
	version.deployed == true
}

_deployed_names contains version.name if {
	some version in input.versions
	version.deployed == true
}

_version_names contains version.name if {
	some version in input.versions
}

_has_rollback_target if {
	some position in _deployed_positions
	position > min(_deployed_positions)
}

default _spec_min_replicas := null

_spec_min_replicas := input.model.autoscaling.minReplicas

default _gpus := 0

_gpus := input.model.resources.gpu if is_number(input.model.resources.gpu)

_at_least(value, limit) if {
	is_number(value)
	is_number(limit)
	value >= limit
}

# The spec's split, without weight-0 entries (a rollback target may or may not have a weight-0 route).
_spec_split contains [name, weight] if {
	some name, weight in input.deployment.traffic
	weight != 0
}

# The routes named weighted of each planned VirtualService, by its index in input.resources (an empty array:
# it has none). For each such route: its split as [version, weight] pairs without weight-0 entries (a host
# that is no version's predictor stays a host) and the sum of its numeric weights. A rule, computed once per
# evaluation, so the SERV-005 bodies only compare. Without a model name (predictor hosts are named after it)
# there is no verdict on the traffic: hence `_ = input.model.name`. (`[host]`: a path of one key, so that a
# host that is not a string is looked up as itself, never as a path.)
_weighted_routes[r] := [{"split": split, "total": total} |
	is_array(resource.spec.http)
	some route in resource.spec.http
	route.name == "weighted"
	split := {[object.get(_host_version, [host], host), weight] |
		is_array(route.route)
		some destination in route.route
		weight := object.get(destination, "weight", null)
		weight != 0
		host := destination.destination.host
	}
	total := sum([weight |
		is_array(route.route)
		some destination in route.route
		weight := object.get(destination, "weight", null)
		is_number(weight)
	])
] if {
	_ = input.model.name
	some r, resource in input.resources
	resource.kind == "VirtualService"
}

# The destination hosts of the weighted routes, and the version whose predictor each one is:
# <model>-<version>-predictor.<anything>.
_weighted_hosts contains host if {
	some resource in input.resources
	resource.kind == "VirtualService"
	is_array(resource.spec.http)
	some route in resource.spec.http
	route.name == "weighted"
	is_array(route.route)
	some destination in route.route
	host := destination.destination.host
	is_string(host)
}

_predictor_prefix[name] := sprintf("%v-%v-predictor.", [input.model.name, name]) if some name in _version_names

_host_version[host] := name if {
	some host in _weighted_hosts
	some name, prefix in _predictor_prefix
	startswith(host, prefix)
}

_split_text(split) := concat(", ", sort([sprintf("%v=%v", [pair[0], pair[1]]) | some pair in split]))

_destination_hosts(resource) := {host |
	is_array(resource.spec.http)
	some route in resource.spec.http
	is_array(route.route)
	some destination in route.route
	host := destination.destination.host
} | {host |
	is_array(resource.spec.http)
	some route in resource.spec.http
	host := route.mirror.host
}

# [region, host pattern] of every planned DestinationRule with tls.mode ISTIO_MUTUAL; and, for the *.<suffix>
# wildcard patterns among them, [region, .<suffix>].
_mtls contains [rule.region, object.get(rule, ["spec", "host"], null)] if {
	some rule in input.resources
	rule.kind == "DestinationRule"
	object.get(rule, ["spec", "trafficPolicy", "tls", "mode"], null) == "ISTIO_MUTUAL"
}

_mtls_suffixes contains [pair[0], trim_prefix(pattern, "*")] if {
	some pair in _mtls
	pattern := pair[1]
	is_string(pattern)
	startswith(pattern, "*.")
}

# host is covered in region by an ISTIO_MUTUAL DestinationRule: the same host, or a wildcard it ends with.
_mutual_tls(host, region) if {
	is_string(host)
	[region, host] in _mtls
}

_mutual_tls(host, region) if {
	is_string(host)
	some wildcard in _mtls_suffixes
	wildcard[0] == region
	endswith(host, wildcard[1])
}
