"""``mlgate:platform:GlobalRouting``: one DNS name per model endpoint, answered by the nearest healthy region.

Each region's ingress gateway gets a Route53 health check on Istio's readiness endpoint (status port
15021, ``/healthz/ready``). Every model host gets one latency-routed record per region it is deployed in,
tied to that region's health check: Route53 answers with the lowest-latency region whose check passes, so a
failed region drains within about ``failure_threshold * request_interval`` seconds plus the record's TTL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypedDict

import pulumi
import pulumi_aws.route53 as route53

__all__ = ["ROUTING_TYPE", "Endpoint", "GlobalRouting", "GlobalRoutingArgs"]

ROUTING_TYPE = "mlgate:platform:GlobalRouting"
HEALTH_PORT = 15021  # istio-proxy's status port: ready only when the gateway can route
HEALTH_PATH = "/healthz/ready"
TTL = 60


class Endpoint(TypedDict):
    """A model's public host (``credit-scoring.prod.models.example.com``) and the regions serving it."""

    name: str
    host: str
    regions: list[str]


class GlobalRoutingArgs(TypedDict):
    """``zone_id``: an existing hosted zone of ``domain``; None creates one. ``gateways``: region -> hostname
    of its ingress gateway's load balancer (regions without one get no records)."""

    domain: str
    zone_id: pulumi.Input[str] | None
    gateways: Mapping[str, pulumi.Input[str]]
    endpoints: Sequence[Endpoint]


class GlobalRouting(pulumi.ComponentResource):
    zone_id: pulumi.Output[str]

    def __init__(self, name: str, args: GlobalRoutingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(ROUTING_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args["zone_id"] is None:
            zone = route53.Zone(f"{name}-zone", name=args["domain"], comment="mlgate model endpoints", opts=child)
            self.zone_id = zone.zone_id
        else:
            self.zone_id = pulumi.Output.from_input(args["zone_id"])
        checks: dict[str, route53.HealthCheck] = {}
        for region, hostname in sorted(args["gateways"].items()):
            checks[region] = route53.HealthCheck(
                f"{name}-{region}-health",
                type="HTTP",
                fqdn=hostname,
                port=HEALTH_PORT,
                resource_path=HEALTH_PATH,
                request_interval=10,
                failure_threshold=3,
                tags={"Name": f"mlgate ingress {region}", "mlgate.io/region": region},
                opts=child,
            )
        for endpoint in args["endpoints"]:
            for region in endpoint["regions"]:
                if region not in checks:
                    continue
                route53.Record(
                    f"{endpoint['name']}-{region}-dns",
                    zone_id=self.zone_id,
                    name=endpoint["host"],
                    type="CNAME",
                    ttl=TTL,
                    records=[args["gateways"][region]],
                    set_identifier=region,
                    latency_routing_policies=[route53.RecordLatencyRoutingPolicyArgs(region=region)],
                    health_check_id=checks[region].id,
                    opts=child,
                )
        self.register_outputs({"zone_id": self.zone_id})
