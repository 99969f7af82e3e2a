# SERV-006 and PLAT-018 at admission: DestinationRules use ISTIO_MUTUAL, no PeerAuthentication weakens STRICT.
package mlgatemutualtls

import rego.v1

import data.lib.mlgate

violation contains v if {
	rule := input.review.object
	rule.kind == "DestinationRule"
	mode := object.get(rule, ["spec", "trafficPolicy", "tls", "mode"], null)
	mode != "ISTIO_MUTUAL"
	v := mlgate.violation("SERV-006", sprintf(
		"DestinationRule %v has tls.mode %v, expected ISTIO_MUTUAL",
		[mlgate.name(rule), mode],
	))
}

violation contains v if {
	policy := input.review.object
	policy.kind == "PeerAuthentication"
	mode := object.get(policy, ["spec", "mtls", "mode"], "UNSET")
	not mode in mlgate.accepted_mtls_modes
	v := mlgate.violation("PLAT-018", sprintf(
		"PeerAuthentication %v in namespace %v sets spec.mtls.mode to %v; only STRICT (or UNSET, inheriting) is allowed",
		[mlgate.name(policy), mlgate.namespace(policy), mode],
	))
}

violation contains v if {
	policy := input.review.object
	policy.kind == "PeerAuthentication"
	some port, setting in object.get(policy, ["spec", "portLevelMtls"], {})
	mode := object.get(setting, "mode", "UNSET")
	not mode in mlgate.accepted_mtls_modes
	v := mlgate.violation("PLAT-018", sprintf(
		"PeerAuthentication %v in namespace %v sets spec.portLevelMtls[%v].mode to %v; only STRICT (or UNSET, inheriting) is allowed",
		[mlgate.name(policy), mlgate.namespace(policy), port, mode],
	))
}
