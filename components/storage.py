"""``mlgate:platform:ModelStore``: one region's model artifact bucket, and cross-region replication.

Artifacts are what the gate pins by digest, so the bucket keeps every version (versioning), is
encrypted with its own rotating KMS key, refuses plain HTTP and public access, and is readable only
by the predictors' service account of the environment (IRSA), never writable from a cluster.
:func:`replicate` copies the home region's bucket into the others', re-encrypted with their keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws.iam as iam
import pulumi_aws.kms as kms
import pulumi_aws.s3 as s3

from components.irsa import irsa_role, policy_document, service_trust
from components.manifests import MODEL_READER_SERVICE_ACCOUNT

__all__ = ["MODEL_READER_SERVICE_ACCOUNT", "ModelStore", "ModelStoreArgs", "reader_subject", "replicate"]


class ModelStoreArgs(TypedDict):
    """``oidc_issuer``: the cluster's OIDC issuer without ``https://`` (the reader role trusts it)."""

    bucket_name: str
    environment: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    tags: NotRequired[dict[str, str]]


def reader_subject(environment: str) -> str:
    """The IRSA subject of every model namespace (``<model>-<environment>``) of the environment."""
    return f"system:serviceaccount:*-{environment}:{MODEL_READER_SERVICE_ACCOUNT}"


def _tls_only_policy(bucket_arn: str) -> str:
    return policy_document(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def _reader_policy(args: list[str]) -> str:
    bucket_arn, key_arn = args
    return policy_document(
        {
            "Sid": "ReadModels",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": f"{bucket_arn}/*",
        },
        {"Sid": "ListModels", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket_arn},
        {"Sid": "DecryptModels", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key_arn},
    )


class ModelStore(pulumi.ComponentResource):
    """Create it with the region's AWS provider in ``opts``; KMS keys and buckets are regional."""

    bucket_name: str
    bucket: s3.Bucket
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    reader_role_arn: pulumi.Output[str]
    #: Replication requires versioning on both ends: depend on it before configuring replication.
    versioning: s3.BucketVersioning

    def __init__(self, name: str, args: ModelStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlgate:platform:ModelStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.get("tags", {}), "mlgate.io/environment": args["environment"]}
        self.bucket_name = args["bucket_name"]

        key = kms.Key(
            f"{name}-key",
            description=f"mlgate model artifacts in {args['bucket_name']}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=child,
        )
        kms.Alias(f"{name}-key-alias", name=f"alias/{args['bucket_name']}", target_key_id=key.arn, opts=child)

        bucket = s3.Bucket(f"{name}-bucket", bucket=args["bucket_name"], tags=tags, opts=child)
        on_bucket = pulumi.ResourceOptions(parent=bucket)
        self.versioning = s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.bucket,
            versioning_configuration=s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=on_bucket,
        )
        s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sse",
            bucket=bucket.bucket,
            rules=[
                s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=(
                        s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="aws:kms", kms_master_key_id=key.arn
                        )
                    ),
                    bucket_key_enabled=True,  # one KMS call per bucket key, not per object
                )
            ],
            opts=on_bucket,
        )
        public_access = s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.bucket,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=on_bucket,
        )
        s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.bucket,
            rule=s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),  # ACLs off
            opts=on_bucket,
        )
        # After the public access block: S3 rejects policy writes while that block is being changed.
        s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.bucket,
            policy=bucket.arn.apply(_tls_only_policy),
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[public_access]),
        )
        reader = irsa_role(
            f"{name}-reader",
            oidc_provider_arn=args["oidc_provider_arn"],
            oidc_issuer=args["oidc_issuer"],
            subject=reader_subject(args["environment"]),
            policy=pulumi.Output.all(bucket.arn, key.arn).apply(_reader_policy),
            opts=child,
        )

        self.bucket = bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.reader_role_arn = reader.arn
        self.register_outputs(
            {"bucketArn": self.bucket_arn, "keyArn": self.key_arn, "readerRoleArn": self.reader_role_arn}
        )


def _replication_policy(args: list[Any]) -> str:
    home_bucket, home_key, *rest = args
    replica_buckets, replica_keys = rest[: len(rest) // 2], rest[len(rest) // 2 :]
    return policy_document(
        {
            "Sid": "ReadConfiguration",
            "Effect": "Allow",
            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            "Resource": home_bucket,
        },
        {
            "Sid": "ReadVersions",
            "Effect": "Allow",
            "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
            "Resource": f"{home_bucket}/*",
        },
        {
            "Sid": "Replicate",
            "Effect": "Allow",
            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            "Resource": [f"{arn}/*" for arn in replica_buckets],
        },
        {"Sid": "DecryptSource", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": home_key},
        {"Sid": "EncryptReplicas", "Effect": "Allow", "Action": ["kms:Encrypt"], "Resource": list(replica_keys)},
    )


def replicate(
    name: str, home: ModelStore, replicas: Sequence[ModelStore], opts: pulumi.ResourceOptions
) -> s3.BucketReplicationConfig:
    """Replicate ``home``'s bucket into every replica's (one rule each, SSE-KMS objects re-encrypted with the
    replica's key, delete markers included). ``opts`` must carry the home region's AWS provider."""
    if not replicas:
        raise ValueError("replicate() needs at least one replica store")
    role = iam.Role(
        f"{name}-role",
        assume_role_policy=service_trust("s3.amazonaws.com"),
        opts=opts,
    )
    policy = iam.RolePolicy(
        f"{name}-role-policy",
        role=role.id,
        policy=pulumi.Output.all(
            home.bucket_arn,
            home.key_arn,
            *[r.bucket_arn for r in replicas],
            *[r.key_arn for r in replicas],
        ).apply(_replication_policy),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=role)),
    )
    rules = [
        s3.BucketReplicationConfigRuleArgs(
            id=f"to-{replica.bucket_name}",
            priority=priority,
            status="Enabled",
            filter=s3.BucketReplicationConfigRuleFilterArgs(prefix=""),  # every object
            delete_marker_replication=s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(status="Enabled"),
            source_selection_criteria=s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                sse_kms_encrypted_objects=(
                    s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(status="Enabled")
                )
            ),
            destination=s3.BucketReplicationConfigRuleDestinationArgs(
                bucket=replica.bucket_arn,
                encryption_configuration=s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                    replica_kms_key_id=replica.key_arn
                ),
            ),
        )
        for priority, replica in enumerate(replicas, start=1)
    ]
    # S3 refuses a replication configuration until both ends are versioned; the role needs its policy first.
    after = [home.versioning, *(r.versioning for r in replicas), policy]
    return s3.BucketReplicationConfig(
        name,
        bucket=home.bucket.bucket,
        role=role.arn,
        rules=rules,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=after)),
    )
