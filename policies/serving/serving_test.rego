package mlgate.serving_test

import data.mlgate.serving

# A good deployment document: a GPU model in prod, v7 a 10 % canary beside v6, planned in eu-west-1
# with its InferenceServices, VirtualService and DestinationRule as the program renders them.

_ns := "support-llm-prod"

_host(version) := sprintf("support-llm-%v-predictor.%v.svc.cluster.local", [version, _ns])

_isvc(version) := {
	"type": "kubernetes:serving.kserve.io/v1beta1:InferenceService",
	"name": sprintf("support-llm-eu-west-1-%v", [version]),
	"region": "eu-west-1",
	"apiVersion": "serving.kserve.io/v1beta1",
	"kind": "InferenceService",
	"metadata": {
		"name": sprintf("support-llm-%v", [version]),
		"namespace": _ns,
		"annotations": {"serving.kserve.io/deploymentMode": "Standard"},
	},
	"spec": {"predictor": {
		"minReplicas": 2,
		"maxReplicas": 6,
		"model": {"resources": {
			"limits": {"cpu": "8", "memory": "48Gi", "nvidia.com/gpu": "1"},
			"requests": {"cpu": "8", "memory": "48Gi"},
		}},
	}},
}

_virtual_service := {
	"type": "kubernetes:networking.istio.io/v1:VirtualService",
	"name": "support-llm-eu-west-1-vs",
	"region": "eu-west-1",
	"apiVersion": "networking.istio.io/v1",
	"kind": "VirtualService",
	"metadata": {"name": "support-llm", "namespace": _ns},
	"spec": {"http": [{"name": "weighted", "route": [
		{"destination": {"host": _host("v7"), "port": {"number": 80}}, "weight": 10},
		{"destination": {"host": _host("v6"), "port": {"number": 80}}, "weight": 90},
	]}]},
}

_destination_rule := {
	"type": "kubernetes:networking.istio.io/v1:DestinationRule",
	"name": "support-llm-eu-west-1-dr",
	"region": "eu-west-1",
	"apiVersion": "networking.istio.io/v1",
	"kind": "DestinationRule",
	"metadata": {"name": "support-llm", "namespace": _ns},
	"spec": {"host": sprintf("*.%v.svc.cluster.local", [_ns]), "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}},
}

_version(name, position, weight) := {
	"name": name,
	"position": position,
	"newest": position == 0,
	"deployed": weight != null,
	"weight": weight,
}

_good := {
	"kind": "deployment",
	"subject": "support-llm@prod",
	"now": "2026-11-25T10:00:00Z",
	"environment": {"name": "prod", "regions": ["eu-west-1"]},
	"model": {
		"name": "support-llm",
		"riskTier": "limited",
		"resources": {"cpu": "8", "memory": "48Gi", "gpu": 1},
		"autoscaling": {"minReplicas": 2, "maxReplicas": 6, "metric": "concurrency", "target": 4},
	},
	"deployment": {"regions": ["eu-west-1"], "traffic": {"v7": 10, "v6": 90}, "abTest": null, "shadow": null},
	"versions": [_version("v7", 0, 10), _version("v6", 1, 90), _version("v5", 2, null)],
	"plannedRegions": ["eu-west-1"],
	"resources": [_isvc("v7"), _isvc("v6"), _virtual_service, _destination_rule],
}

_with(patches) := json.patch(_good, patches)

# Resource indexes in _good.resources: 0 ISVC v7, 1 ISVC v6, 2 VirtualService, 3 DestinationRule.
_route := "/resources/2/spec/http/0/route"

_has(decisions, id) if {
	some d in decisions
	d.id == id
}

test_good_document_has_no_decisions if {
	denies := serving.deny with input as _good
	warns := serving.warn with input as _good
	count(denies) == 0
	count(warns) == 0
}

# SERV-001

test_serv_001_canary_too_large if {
	doc := _with([
		{"op": "replace", "path": "/versions/0/weight", "value": 30},
		{"op": "replace", "path": "/versions/1/weight", "value": 70},
	])
	denies := serving.deny with input as doc
	some d in denies
	d.id == "SERV-001"
	d.version == "v7"
}

test_serv_001_no_limit_in_dev if {
	doc := _with([
		{"op": "replace", "path": "/versions/0/weight", "value": 50},
		{"op": "replace", "path": "/versions/1/weight", "value": 50},
		{"op": "replace", "path": "/environment/name", "value": "dev"},
	])
	denies := serving.deny with input as doc
	not _has(denies, "SERV-001")
}

test_serv_001_full_rollout_is_no_canary if {
	doc := _with([
		{"op": "replace", "path": "/versions/0/weight", "value": 100},
		{"op": "replace", "path": "/versions/1/weight", "value": 0},
	])
	denies := serving.deny with input as doc
	not _has(denies, "SERV-001")
}

# SERV-002

test_serv_002_no_rollback_target if {
	doc := _with([
		{"op": "replace", "path": "/versions/0/weight", "value": 100},
		{"op": "replace", "path": "/versions/1/deployed", "value": false},
		{"op": "replace", "path": "/versions/1/weight", "value": null},
	])
	denies := serving.deny with input as doc
	some d in denies
	d.id == "SERV-002"
}

test_serv_002_not_required_in_staging if {
	doc := _with([
		{"op": "replace", "path": "/versions/1/deployed", "value": false},
		{"op": "replace", "path": "/environment/name", "value": "staging"},
	])
	denies := serving.deny with input as doc
	not _has(denies, "SERV-002")
}

test_serv_002_weight_zero_rollback_target_passes if {
	doc := _with([
		{"op": "replace", "path": "/versions/0/weight", "value": 100},
		{"op": "replace", "path": "/versions/1/weight", "value": 0},
	])
	denies := serving.deny with input as doc
	not _has(denies, "SERV-002")
}

# SERV-003

test_serv_003_spec_min_replicas_too_low if {
	denies := serving.deny with input as _with([{"op": "replace", "path": "/model/autoscaling/minReplicas", "value": 1}])
	some d in denies
	d.id == "SERV-003"
	not d.resource
}

test_serv_003_planned_replicas_too_low if {
	denies := serving.deny with input as _with([{"op": "remove", "path": "/resources/1/spec/predictor/minReplicas"}])
	some d in denies
	d.id == "SERV-003"
	d.resource == "support-llm-eu-west-1-v6"
	d.region == "eu-west-1"
}

test_serv_003_one_replica_is_enough_in_staging if {
	doc := _with([
		{"op": "replace", "path": "/model/autoscaling/minReplicas", "value": 1},
		{"op": "replace", "path": "/environment/name", "value": "staging"},
	])
	denies := serving.deny with input as doc
	not _has(denies, "SERV-003")
}

test_serv_003_no_thresholds_fails_closed if {
	denies := serving.deny with input as _good with data.mlgate.thresholds as {}
	_has(denies, "SERV-003")
}

# SERV-004

test_serv_004_gpu_limit_missing if {
	denies := serving.deny with input as _with([
		{"op": "remove", "path": "/resources/0/spec/predictor/model/resources/limits/nvidia.com~1gpu"},
	])
	some d in denies
	d.id == "SERV-004"
	d.resource == "support-llm-eu-west-1-v7"
}

test_serv_004_gpu_count_differs if {
	denies := serving.deny with input as _with([{"op": "replace", "path": "/model/resources/gpu", "value": 2}])
	_has(denies, "SERV-004")
}

test_serv_004_cpu_model_requesting_gpu if {
	denies := serving.deny with input as _with([{"op": "replace", "path": "/model/resources/gpu", "value": 0}])
	some d in denies
	d.id == "SERV-004"
	contains(d.msg, "CPU-only")
}

test_serv_004_cpu_model_without_gpu_passes if {
	doc := _with([
		{"op": "replace", "path": "/model/resources/gpu", "value": 0},
		{"op": "remove", "path": "/resources/0/spec/predictor/model/resources/limits/nvidia.com~1gpu"},
		{"op": "remove", "path": "/resources/1/spec/predictor/model/resources/limits/nvidia.com~1gpu"},
	])
	denies := serving.deny with input as doc
	not _has(denies, "SERV-004")
}

# SERV-005

test_serv_005_weights_differ_from_spec if {
	denies := serving.deny with input as _with([
		{"op": "replace", "path": concat("/", [_route, "0/weight"]), "value": 50},
		{"op": "replace", "path": concat("/", [_route, "1/weight"]), "value": 50},
	])
	some d in denies
	d.id == "SERV-005"
	contains(d.msg, "v6=50, v7=50")
}

test_serv_005_weights_do_not_sum_to_100 if {
	doc := _with([
		{"op": "replace", "path": concat("/", [_route, "1/weight"]), "value": 80},
		{"op": "replace", "path": "/deployment/traffic/v6", "value": 80},
	])
	denies := serving.deny with input as doc
	some d in denies
	d.id == "SERV-005"
	contains(d.msg, "sum to 90")
}

test_serv_005_unknown_host if {
	denies := serving.deny with input as _with([
		{"op": "replace", "path": concat("/", [_route, "0/destination/host"]), "value": "legacy.example.com"},
	])
	_has(denies, "SERV-005")
}

test_serv_005_no_weighted_route if {
	denies := serving.deny with input as _with([
		{"op": "replace", "path": "/resources/2/spec/http/0/name", "value": "default"},
	])
	some d in denies
	d.id == "SERV-005"
	contains(d.msg, "no http route named weighted")
}

test_serv_005_weight_zero_route_may_be_absent if {
	doc := _with([
		{"op": "replace", "path": "/deployment/traffic", "value": {"v7": 10, "v6": 90, "v5": 0}},
		{"op": "replace", "path": "/versions/2/deployed", "value": true},
		{"op": "replace", "path": "/versions/2/weight", "value": 0},
	])
	denies := serving.deny with input as doc
	not _has(denies, "SERV-005")
}

test_serv_005_each_virtual_service_is_judged if {
	# a second region whose VirtualService sends everything to v6: only that one is reported
	other := json.patch(_virtual_service, [
		{"op": "replace", "path": "/name", "value": "support-llm-eu-central-1-vs"},
		{"op": "replace", "path": "/region", "value": "eu-central-1"},
		{"op": "replace", "path": "/spec/http/0/route/0/weight", "value": 0},
		{"op": "replace", "path": "/spec/http/0/route/1/weight", "value": 100},
	])
	denies := serving.deny with input as _with([{"op": "add", "path": "/resources/-", "value": other}])
	found := [d | some d in denies; d.id == "SERV-005"]
	count(found) == 1
	found[0].resource == "support-llm-eu-central-1-vs"
	found[0].region == "eu-central-1"
	contains(found[0].msg, "routes v6=100")
}

test_serv_005_route_without_destinations if {
	denies := serving.deny with input as _with([{"op": "replace", "path": _route, "value": null}])
	some d in denies
	d.id == "SERV-005"
	contains(d.msg, "routes , the spec's traffic is v6=90, v7=10")
}

test_serv_005_no_verdict_without_a_model_name if {
	# unchanged: without a model name no predictor host can be recognised, and SERV-005 says nothing
	denies := serving.deny with input as _with([
		{"op": "remove", "path": "/model/name"},
		{"op": "replace", "path": "/resources/2/spec/http/0/name", "value": "default"},
	])
	not _has(denies, "SERV-005")
}

# SERV-006

test_serv_006_no_mutual_tls if {
	denies := serving.deny with input as _with([
		{"op": "replace", "path": "/resources/3/spec/trafficPolicy/tls/mode", "value": "DISABLE"},
	])
	some d in denies
	d.id == "SERV-006"
	d.resource == "support-llm-eu-west-1-vs"
}

test_serv_006_rule_in_another_region if {
	denies := serving.deny with input as _with([{"op": "replace", "path": "/resources/3/region", "value": "us-east-1"}])
	_has(denies, "SERV-006")
}

test_serv_006_wildcard_of_another_namespace if {
	denies := serving.deny with input as _with([
		{"op": "replace", "path": "/resources/3/spec/host", "value": "*.other-prod.svc.cluster.local"},
	])
	_has(denies, "SERV-006")
}

test_serv_006_mirror_host_needs_mutual_tls if {
	denies := serving.deny with input as _with([
		{"op": "add", "path": "/resources/2/spec/http/0/mirror", "value": {"host": "shadow.elsewhere.svc.cluster.local"}},
	])
	some d in denies
	d.id == "SERV-006"
	contains(d.msg, "shadow.elsewhere")
}

test_serv_006_mirror_host_in_the_namespace_passes if {
	denies := serving.deny with input as _with([
		{"op": "add", "path": "/resources/2/spec/http/0/mirror", "value": {"host": _host("v5")}},
	])
	not _has(denies, "SERV-006")
}

test_serv_006_exact_host_rule_passes if {
	doc := _with([
		{"op": "replace", "path": "/resources/3/spec/host", "value": _host("v7")},
		{"op": "add", "path": "/resources/-", "value": json.patch(_destination_rule, [
			{"op": "replace", "path": "/name", "value": "support-llm-eu-west-1-dr-v6"},
			{"op": "replace", "path": "/spec/host", "value": _host("v6")},
		])},
	])
	denies := serving.deny with input as doc
	not _has(denies, "SERV-006")
}

# SERV-007

test_serv_007_serverless_mode if {
	denies := serving.deny with input as _with([
		{
			"op": "replace",
			"path": "/resources/0/metadata/annotations/serving.kserve.io~1deploymentMode",
			"value": "Serverless",
		},
	])
	some d in denies
	d.id == "SERV-007"
	d.resource == "support-llm-eu-west-1-v7"
}

test_serv_007_annotation_missing if {
	denies := serving.deny with input as _with([{"op": "remove", "path": "/resources/1/metadata/annotations"}])
	_has(denies, "SERV-007")
}

test_serv_007_standard_mode_passes if {
	denies := serving.deny with input as _good
	not _has(denies, "SERV-007")
}

# SERV-008

test_serv_008_shadow_with_live_traffic if {
	warns := serving.warn with input as _with([
		{"op": "replace", "path": "/deployment/shadow", "value": {"version": "v7", "percent": 100}},
	])
	some w in warns
	w.id == "SERV-008"
	w.version == "v7"
}

test_serv_008_shadow_without_live_traffic_passes if {
	doc := _with([
		{"op": "replace", "path": "/deployment/shadow", "value": {"version": "v5", "percent": 100}},
		{"op": "replace", "path": "/deployment/traffic", "value": {"v7": 10, "v6": 90, "v5": 0}},
	])
	warns := serving.warn with input as doc
	not _has(warns, "SERV-008")
}
