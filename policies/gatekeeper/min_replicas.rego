# SERV-003 at admission: an InferenceService keeps at least the environment's minimum of replicas
# (parameters.minReplicas: data.mlgate.thresholds.environments[parameters.environment].minReplicas).
package mlgateminreplicas

import rego.v1

import data.lib.mlgate

violation contains v if {
	isvc := input.review.object
	replicas := object.get(isvc, ["spec", "predictor", "minReplicas"], null)
	minimum := input.parameters.minReplicas
	not replicas >= minimum
	v := mlgate.violation("SERV-003", sprintf(
		"InferenceService %v runs at least %v replicas, %v needs at least %v",
		[mlgate.name(isvc), replicas, input.parameters.environment, minimum],
	))
}
