"""IAM policy documents, roles for Kubernetes service accounts (IRSA), Helm releases from the pinned chart list.

Shared by the network (flow logs), the cluster (EBS CSI driver, cluster autoscaler), the model store (KServe's
storage initializer, replication) and the mesh/serving/monitoring components.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws.iam as iam
import pulumi_kubernetes as k8s

from components.versions import CHARTS

__all__ = ["helm_release", "irsa_role", "policy_document", "service_trust"]


def policy_document(*statements: dict[str, Any]) -> str:
    """An IAM policy document as JSON, keys sorted so that plans of the same program are byte-identical."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def service_trust(service: str, *actions: str) -> str:
    """A trust policy letting the AWS service ``service`` assume the role (``sts:AssumeRole`` unless given)."""
    action: str | list[str] = list(actions) if len(actions) > 1 else (actions or ("sts:AssumeRole",))[0]
    return policy_document({"Effect": "Allow", "Principal": {"Service": service}, "Action": action})


def irsa_role(
    name: str,
    *,
    oidc_provider_arn: pulumi.Input[str],
    oidc_issuer: pulumi.Input[str],
    subject: str,
    policy: pulumi.Input[str] | None = None,
    managed_policy_arns: tuple[str, ...] = (),
    opts: pulumi.ResourceOptions,
) -> iam.Role:
    """A role only ``subject`` (``system:serviceaccount:<ns>:<sa>``; ``*`` allowed in the namespace) can assume
    through the cluster's OIDC provider. ``oidc_issuer`` is the issuer URL without ``https://``."""

    def trust(args: list[Any]) -> str:
        provider_arn, issuer = args
        conditions: dict[str, dict[str, str]] = {"StringEquals": {f"{issuer}:aud": "sts.amazonaws.com"}}
        # A wildcard needs StringLike; an exact subject stays StringEquals (no accidental pattern match).
        conditions.setdefault("StringLike" if "*" in subject else "StringEquals", {})[f"{issuer}:sub"] = subject
        statement = {
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": conditions,
        }
        return policy_document(statement)

    role = iam.Role(
        name,
        assume_role_policy=pulumi.Output.all(oidc_provider_arn, oidc_issuer).apply(trust),
        opts=opts,
    )
    child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=role))
    if policy is not None:
        iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy, opts=child)
    for i, arn in enumerate(managed_policy_arns):
        iam.RolePolicyAttachment(f"{name}-attach-{i}", role=role.name, policy_arn=arn, opts=child)
    return role


def helm_release(
    name: str,
    key: str,
    *,
    values: dict[str, Any] | None = None,
    create_namespace: bool = True,
    opts: pulumi.ResourceOptions,
) -> k8s.helm.v3.Release:
    """A ``helm.v3.Release`` of the pinned chart ``key`` (``helm.v4.Chart`` is opaque to previews and mocks)."""
    chart = CHARTS[key]
    return k8s.helm.v3.Release(
        name,
        chart=chart.chart,
        version=chart.version,
        namespace=chart.namespace,
        create_namespace=create_namespace,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo) if chart.repo else None,
        values=values or {},
        atomic=True,
        cleanup_on_fail=True,
        timeout=900,
        opts=opts,
    )
