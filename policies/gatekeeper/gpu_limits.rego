# SERV-004 at admission: an InferenceService that requests nvidia.com/gpu limits it to the same count, and no
# predictor asks for more GPUs than a node of the GPU pools has (parameters.maxGpusPerReplica).
package mlgategpulimits

import rego.v1

import data.lib.mlgate

violation contains v if {
	isvc := input.review.object
	request := mlgate.gpu(isvc, "requests")
	request != null
	limit := mlgate.gpu(isvc, "limits")
	limit != request
	v := mlgate.violation("SERV-004", sprintf(
		"InferenceService %v requests nvidia.com/gpu %v but limits it to %v",
		[mlgate.name(isvc), request, limit],
	))
}

violation contains v if {
	isvc := input.review.object
	limit := mlgate.gpu(isvc, "limits")
	limit != null
	maximum := input.parameters.maxGpusPerReplica
	not to_number(limit) <= maximum
	v := mlgate.violation("SERV-004", sprintf(
		"InferenceService %v limits nvidia.com/gpu to %v, above the %v a replica may have",
		[mlgate.name(isvc), limit, maximum],
	))
}
