# The platform document: the whole plan of one environment. Checks that the plan deploys each model
# exactly where its spec says, and that every Kubernetes object can be traced to an environment and region.
#
# PLAT-001 to PLAT-009 cover the plan's Kubernetes objects; PLAT-010 and up are reserved for the checks
# of the platform's AWS resources (network, clusters, node pools).
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
