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
	some version in input.versions
	version.position in _weighted_positions
	version.position < max(_weighted_positions)
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
	some resource in input.resources
	resource.kind == "InferenceService"
	replicas := object.get(resource, ["spec", "predictor", "minReplicas"], null)
	minimum := object.get(env, "minReplicas", null)
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
	some resource in input.resources
	resource.kind == "InferenceService"
	problem := _gpu_problem(resource, _gpus)
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
	some resource in input.resources
	resource.kind == "VirtualService"
	some problem in _traffic_problems(resource, input.model.name, _version_names)
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
	not _mutual_tls(host, resource.region, input.resources)
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

_gpu_path(section) := ["spec", "predictor", "model", "resources", section, "nvidia.com/gpu"]

# A GPU model limits nvidia.com/gpu to the spec's count; a CPU-only model asks for no GPU at all.
_gpu_problem(resource, gpus) := sprintf("limits nvidia.com/gpu to %v, the spec asks for %v", [limit, gpus]) if {
	gpus > 0
	limit := object.get(resource, _gpu_path("limits"), null)
	limit != format_int(gpus, 10)
}

_gpu_problem(resource, gpus) := msg if {
	gpus == 0
	limit := object.get(resource, _gpu_path("limits"), null)
	request := object.get(resource, _gpu_path("requests"), null)
	some quantity in [limit, request]
	not quantity in {null, 0, "0"}
	msg := sprintf("asks for nvidia.com/gpu (limit %v, request %v) for a CPU-only model", [limit, request])
}

_at_least(value, limit) if {
	is_number(value)
	is_number(limit)
	value >= limit
}

_http(resource) := resource.spec.http if is_array(resource.spec.http)

_routes(route) := route.route if is_array(route.route)

_has_weighted_route(resource) if {
	some route in _http(resource)
	route.name == "weighted"
}

# The spec's split, without weight-0 entries (a rollback target may or may not have a weight-0 route).
_spec_split contains [name, weight] if {
	some name, weight in input.deployment.traffic
	weight != 0
}

# A route's split as [version, weight] pairs; a host that is no version's predictor stays a host.
_route_split(route, model, names) := {[_target(destination.destination.host, model, names), weight] |
	some destination in _routes(route)
	weight := object.get(destination, "weight", null)
	weight != 0
}

_version_of(host, model, names) := name if {
	is_string(host)
	some name in names
	startswith(host, sprintf("%v-%v-predictor.", [model, name]))
}

_target(host, model, names) := _version_of(host, model, names)

_target(host, model, names) := host if not _version_of(host, model, names)

_route_total(route) := sum([weight |
	some destination in _routes(route)
	weight := object.get(destination, "weight", null)
	is_number(weight)
])

_traffic_problems(resource, _, _) := {"has no http route named weighted"} if not _has_weighted_route(resource)

_traffic_problems(resource, model, names) := {problem |
	some route in _http(resource)
	route.name == "weighted"
	problem := _split_problem(_route_split(route, model, names), _route_total(route), _spec_split)
} if _has_weighted_route(resource)

_split_problem(split, _, spec) := msg if {
	split != spec
	msg := sprintf("routes %v, the spec's traffic is %v", [_split_text(split), _split_text(spec)])
}

_split_problem(split, total, spec) := sprintf("route weights sum to %v, not 100", [total]) if {
	split == spec
	total != 100
}

_split_text(split) := concat(", ", sort([sprintf("%v=%v", [pair[0], pair[1]]) | some pair in split]))

_destination_hosts(resource) := {host |
	some route in _http(resource)
	some destination in _routes(route)
	host := destination.destination.host
} | {host |
	some route in _http(resource)
	host := route.mirror.host
}

_mutual_tls(host, region, resources) if {
	some rule in resources
	rule.kind == "DestinationRule"
	rule.region == region
	object.get(rule, ["spec", "trafficPolicy", "tls", "mode"], null) == "ISTIO_MUTUAL"
	_host_covers(object.get(rule, ["spec", "host"], null), host)
}

_host_covers(pattern, host) if {
	is_string(host)
	pattern == host
}

_host_covers(pattern, host) if {
	is_string(pattern)
	is_string(host)
	startswith(pattern, "*.")
	endswith(host, trim_prefix(pattern, "*"))
}
