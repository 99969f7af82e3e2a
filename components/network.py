"""``mlgate:platform:Network``: the VPC a GPU cluster runs in.

Nodes and pods live in private subnets and reach the internet only through NAT; ECR, STS and S3
are reached through VPC endpoints so image pulls, IRSA token exchange and model downloads stay on
the AWS network (and off the NAT bill). All traffic is recorded in VPC flow logs for the audit trail.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TypedDict

import pulumi
import pulumi_aws.cloudwatch as cloudwatch
import pulumi_aws.ec2 as ec2
import pulumi_aws.iam as iam

from components.irsa import policy_document, service_trust

__all__ = ["FLOW_LOG_RETENTION_DAYS", "NETWORK_TYPE", "Network", "NetworkArgs", "subnet_cidrs"]

NETWORK_TYPE = "mlgate:platform:Network"
FLOW_LOG_RETENTION_DAYS = 365  # a year of network evidence for incident investigations and audits
# Interface endpoints the nodes need without NAT: image pulls (ECR api + dkr) and IRSA (STS).
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "sts")
_AZ = re.compile(r"([a-z]{2}(?:-[a-z]+)+-\d)[a-z]")


class NetworkArgs(TypedDict):
    """``cidr``: the VPC block (/16 to /24); ``availability_zones``: 2 or 3 zones of one region (the region
    is theirs, ``eu-west-1a`` → ``eu-west-1``); ``cluster_name``: the EKS cluster that shares the subnets;
    ``single_nat_gateway``: one NAT for all zones (cheaper, not zone-redundant); ``tags``: on every resource."""

    cidr: str
    availability_zones: list[str]
    cluster_name: str
    single_nat_gateway: bool
    tags: dict[str, str]


def subnet_cidrs(cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """(private, public) CIDRs, one each per zone, disjoint and inside ``cidr``.

    Private subnets hold the pods (the VPC CNI gives each pod a VPC address), so each takes a quarter of
    the VPC; the public subnets only hold NAT gateways and load balancers and share the last quarter.
    """
    network = ipaddress.ip_network(cidr, strict=True)
    if not isinstance(network, ipaddress.IPv4Network) or not 16 <= network.prefixlen <= 24:
        raise ValueError(f"the VPC CIDR must be an IPv4 block from /16 to /24, got {cidr!r}")
    if not 2 <= zones <= 3:
        raise ValueError(f"the network spans 2 or 3 availability zones, got {zones}")
    quarters = list(network.subnets(prefixlen_diff=2))
    public = list(quarters[3].subnets(prefixlen_diff=2))
    return [str(q) for q in quarters[:zones]], [str(p) for p in public[:zones]]


def _region(zones: list[str]) -> str:
    regions = {m.group(1) if (m := _AZ.fullmatch(zone)) else None for zone in zones}
    if None in regions or len(regions) != 1:
        raise ValueError(f"availability zones must be standard zones of one region, got {zones}")
    return str(regions.pop())


class Network(pulumi.ComponentResource):
    """VPC, public + private subnets per zone, NAT, flow logs and the endpoints EKS nodes need.

    ``private_subnet_ids`` resolves once the private subnets are routable; ``private_subnets`` are the subnet
    resources themselves (for ``depends_on``)."""

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnets: list[ec2.Subnet]
    public_subnets: list[ec2.Subnet]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(NETWORK_TYPE, name, None, opts)
        zones = args["availability_zones"]
        region = _region(zones)
        private_cidrs, public_cidrs = subnet_cidrs(args["cidr"], len(zones))
        tags = args["tags"]
        cluster_tag = {f"kubernetes.io/cluster/{args['cluster_name']}": "shared"}
        child = pulumi.ResourceOptions(parent=self)

        def named(suffix: str, extra: dict[str, str] | None = None) -> dict[str, str]:
            return {**tags, **(extra or {}), "Name": f"{name}-{suffix}"}

        vpc = ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args["cidr"],
            enable_dns_support=True,  # both needed for the endpoints' private DNS names
            enable_dns_hostnames=True,
            tags=named("vpc"),
            opts=child,
        )
        igw = ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=named("igw"), opts=child)

        def new_subnet(tier: str, zone: str, cidr: str, load_balancer_role: str) -> ec2.Subnet:
            # EKS places internet-facing load balancers in "elb" subnets, internal ones in "internal-elb" subnets.
            return ec2.Subnet(
                f"{name}-{tier}-{zone}",
                vpc_id=vpc.id,
                availability_zone=zone,
                cidr_block=cidr,
                map_public_ip_on_launch=tier == "public",
                tags=named(
                    f"{tier}-{zone}",
                    {**cluster_tag, f"kubernetes.io/role/{load_balancer_role}": "1", "mlgate.io/tier": tier},
                ),
                opts=child,
            )

        self.public_subnets = []
        self.private_subnets = []
        for zone, public_cidr, private_cidr in zip(zones, public_cidrs, private_cidrs, strict=True):
            self.public_subnets.append(new_subnet("public", zone, public_cidr, "elb"))
            self.private_subnets.append(new_subnet("private", zone, private_cidr, "internal-elb"))

        public_rt = ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc.id, tags=named("public-rt"), opts=child)
        ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )
        for zone, subnet in zip(zones, self.public_subnets, strict=True):
            ec2.RouteTableAssociation(
                f"{name}-public-{zone}", route_table_id=public_rt.id, subnet_id=subnet.id, opts=child
            )

        # One NAT per zone keeps a zone's egress alive when another zone fails; one NAT is the cheap option.
        nat_zones = zones[:1] if args["single_nat_gateway"] else zones
        nats: list[ec2.NatGateway] = []
        for zone, subnet in zip(nat_zones, self.public_subnets, strict=False):
            eip = ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags=named(f"nat-{zone}"), opts=child)
            nats.append(
                ec2.NatGateway(
                    f"{name}-nat-{zone}",
                    allocation_id=eip.id,
                    subnet_id=subnet.id,
                    tags=named(f"nat-{zone}"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )

        private_rts: list[ec2.RouteTable] = []
        routing: list[pulumi.Output[str]] = []  # what makes the private subnets routable
        for i, (zone, subnet) in enumerate(zip(zones, self.private_subnets, strict=True)):
            rt = ec2.RouteTable(f"{name}-private-{zone}", vpc_id=vpc.id, tags=named(f"private-{zone}"), opts=child)
            route = ec2.Route(
                f"{name}-private-{zone}-default",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nats[min(i, len(nats) - 1)].id,
                opts=child,
            )
            association = ec2.RouteTableAssociation(
                f"{name}-private-{zone}", route_table_id=rt.id, subnet_id=subnet.id, opts=child
            )
            private_rts.append(rt)
            routing += [route.id, association.id]

        self._flow_logs(name, vpc, args["cluster_name"], tags, child)

        s3 = ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_rts],
            tags=named("s3"),
            opts=child,
        )
        endpoint_sg = ec2.SecurityGroup(
            f"{name}-endpoints",
            description="HTTPS from inside the VPC to its interface endpoints",
            vpc_id=vpc.id,
            ingress=[
                ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=443, to_port=443, cidr_blocks=[args["cidr"]])
            ],
            tags=named("endpoints"),
            opts=child,
        )
        routing.append(s3.id)
        for service in INTERFACE_ENDPOINTS:
            endpoint = ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{region}.{service}",
                vpc_endpoint_type="Interface",
                subnet_ids=[s.id for s in self.private_subnets],
                security_group_ids=[endpoint_sg.id],
                private_dns_enabled=True,
                tags=named(service.replace(".", "-")),
                opts=child,
            )
            routing.append(endpoint.id)

        self.vpc_id = vpc.id
        # The ids carry the routes, associations and endpoints as dependencies: a cluster or node group built on
        # them never starts in a subnet that cannot yet reach ECR, S3 or the internet.
        subnet_ids = pulumi.Output.all(*[s.id for s in self.private_subnets])
        self.private_subnet_ids = pulumi.Output.all(subnet_ids, *routing).apply(lambda values: list(values[0]))
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in self.public_subnets])
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "privateSubnetIds": self.private_subnet_ids,
                "publicSubnetIds": self.public_subnet_ids,
            }
        )

    def _flow_logs(
        self, name: str, vpc: ec2.Vpc, cluster_name: str, tags: dict[str, str], child: pulumi.ResourceOptions
    ) -> None:
        """ALL traffic (accepted and rejected) to a CloudWatch log group, through a role scoped to that group."""
        group = cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/aws/vpc/{cluster_name}/flow-logs",
            retention_in_days=FLOW_LOG_RETENTION_DAYS,
            tags=tags,
            opts=child,
        )
        trust = service_trust("vpc-flow-logs.amazonaws.com")
        role = iam.Role(f"{name}-flow-logs", assume_role_policy=trust, tags=tags, opts=child)

        def write_policy(arn: str) -> str:
            statement = {
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogGroups",
                    "logs:DescribeLogStreams",
                ],
                "Resource": [arn, f"{arn}:*"],
            }
            return policy_document(statement)

        iam.RolePolicy(f"{name}-flow-logs", role=role.id, policy=group.arn.apply(write_policy), opts=child)
        ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            tags=tags,
            opts=child,
        )
