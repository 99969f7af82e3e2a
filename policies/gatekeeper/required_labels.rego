# The labels mlgate's reports, dashboards and the rules above select serving objects by: each of
# parameters.labels is set and not empty.
package mlgaterequiredlabels

import rego.v1

import data.lib.mlgate

violation contains v if {
	obj := input.review.object
	some label in input.parameters.labels
	object.get(obj, ["metadata", "labels", label], "") == ""
	v := mlgate.violation("LABELS", sprintf("%v %v has no label %v", [obj.kind, mlgate.name(obj), label]))
}
