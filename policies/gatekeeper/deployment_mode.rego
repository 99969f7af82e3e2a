# SERV-007 at admission: InferenceServices run in KServe's Standard mode (plain Deployments, no Knative).
package mlgatedeploymentmode

import rego.v1

import data.lib.mlgate

violation contains v if {
	isvc := input.review.object
	mode := mlgate.deployment_mode(isvc)
	mode != "Standard"
	v := mlgate.violation("SERV-007", sprintf(
		"InferenceService %v has deploymentMode %v, expected Standard",
		[mlgate.name(isvc), mode],
	))
}
