# The helpers every admission template shares (a Gatekeeper `libs` entry of each ConstraintTemplate that
# `mlgate export gatekeeper` writes). They read one Kubernetes object, as policies/serving/serving.rego and
# policies/platform/platform.rego read the planned ones, and word their messages the same way, under the same ids.
package lib.mlgate

import rego.v1

# A Gatekeeper violation: "SERV-005: VirtualService vs route weights sum to 90, not 100".
violation(id, msg) := {"msg": sprintf("%v: %v", [id, msg]), "details": {"id": id}}

name(obj) := object.get(obj, ["metadata", "name"], "<unnamed>")

namespace(obj) := object.get(obj, ["metadata", "namespace"], "<none>")

# The http routes named weighted: the traffic split mlgate renders (components/manifests.py).
weighted_routes(vs) := [route |
	some route in object.get(vs, ["spec", "http"], [])
	object.get(route, "name", null) == "weighted"
]

# The sum of a route's numeric weights (serving.rego's `total`).
route_total(route) := sum([weight |
	some destination in object.get(route, "route", [])
	weight := object.get(destination, "weight", null)
	is_number(weight)
])

# nvidia.com/gpu of an InferenceService's predictor model, under resources.requests or resources.limits.
gpu(isvc, field) := object.get(isvc, ["spec", "predictor", "model", "resources", field, "nvidia.com/gpu"], null)

deployment_mode(isvc) := object.get(isvc, ["metadata", "annotations", "serving.kserve.io/deploymentMode"], null)

# platform.rego's _accepted_mtls_modes (PLAT-018).
accepted_mtls_modes := {"STRICT", "UNSET"}
