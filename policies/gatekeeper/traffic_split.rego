# SERV-005 at admission: every route named weighted of a VirtualService sends 100 % of its traffic.
package mlgatetrafficsplit

import rego.v1

import data.lib.mlgate

violation contains v if {
	vs := input.review.object
	count(mlgate.weighted_routes(vs)) == 0
	v := mlgate.violation("SERV-005", sprintf("VirtualService %v has no http route named weighted", [mlgate.name(vs)]))
}

violation contains v if {
	vs := input.review.object
	some route in mlgate.weighted_routes(vs)
	total := mlgate.route_total(route)
	total != 100
	v := mlgate.violation("SERV-005", sprintf("VirtualService %v route weights sum to %v, not 100", [mlgate.name(vs), total]))
}
