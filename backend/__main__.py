"""The team's Pulumi backend: an S3 bucket for stack state and a KMS key for stack secrets.

Exports what `pulumi login` and `--secrets-provider` take:
- `backendUrl`: `s3://<bucket>?region=<region>`
- `secretsProvider`: `awskms://alias/<alias>?region=<region>`

The bucket: versioned (every checkpoint recoverable), encrypted by default with the KMS key
(SSE-KMS with a bucket key), all four public-access blocks on, ACLs disabled (bucket owner
enforced), and a policy denying any request not made over TLS. Old checkpoint versions expire
after `noncurrentVersionDays` (default 90). The bucket and the key are `protect`ed: losing either
loses every stack's state or secrets, so `pulumi destroy` refuses until protection is lifted.

Config (all optional): `aws:region` (else AWS_REGION), `stateBucketName` (default
`dd-assessment-pulumi-state-<account id>-<region>`: bucket names are global),
`noncurrentVersionDays`.
"""

from __future__ import annotations

import json
import os

import pulumi
import pulumi_aws as aws

PREFIX = "dd-assessment-pulumi"
KEY_ALIAS = f"alias/{PREFIX}-secrets"

config = pulumi.Config()
region = pulumi.Config("aws").get("region") or os.environ.get("AWS_REGION") \
    or os.environ.get("AWS_DEFAULT_REGION")
if not region:
    raise pulumi.RunError("aws:region is not set: `pulumi config set aws:region us-east-2` "
                          "(or export AWS_REGION)")
noncurrent_days = config.get_int("noncurrentVersionDays") or 90


def tags(name: str) -> dict[str, str]:
    return {"Name": name, "project": pulumi.get_project(), "stack": pulumi.get_stack(),
            "purpose": "pulumi-backend"}


protected = pulumi.ResourceOptions(protect=True)

# --- The secrets key: encrypts stack secrets (awskms://) and, as SSE-KMS, the state objects.
key = aws.kms.Key(
    f"{PREFIX}-secrets",
    description="Pulumi secrets provider and state encryption for dd-assessment stacks",
    enable_key_rotation=True,
    deletion_window_in_days=30,
    # No key policy here: the default one delegates to IAM (the account root may use the key),
    # so who may decrypt is decided by IAM policies on users and CI roles.
    tags=tags(f"{PREFIX}-secrets"),
    opts=protected)
alias = aws.kms.Alias(f"{PREFIX}-secrets", name=KEY_ALIAS, target_key_id=key.id)

# --- The state bucket.
bucket_name = config.get("stateBucketName") or aws.get_caller_identity_output().account_id.apply(
    lambda account: f"{PREFIX}-state-{account}-{region}")
bucket = aws.s3.Bucket(f"{PREFIX}-state", bucket=bucket_name, force_destroy=False,
                       tags=tags(f"{PREFIX}-state"), opts=protected)

aws.s3.BucketVersioning(
    f"{PREFIX}-state", bucket=bucket.id,
    versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"))

aws.s3.BucketServerSideEncryptionConfiguration(
    f"{PREFIX}-state", bucket=bucket.id,
    rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
        apply_server_side_encryption_by_default=aws.s3
        .BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm="aws:kms", kms_master_key_id=key.arn),
        bucket_key_enabled=True)])

public_access_block = aws.s3.BucketPublicAccessBlock(
    f"{PREFIX}-state", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
    ignore_public_acls=True, restrict_public_buckets=True)

aws.s3.BucketOwnershipControls(
    f"{PREFIX}-state", bucket=bucket.id,
    rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"))

aws.s3.BucketLifecycleConfiguration(
    f"{PREFIX}-state", bucket=bucket.id,
    rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
        id="expire-old-checkpoints", status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
        noncurrent_version_expiration=aws.s3
        .BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(noncurrent_days=noncurrent_days),
        abort_incomplete_multipart_upload=aws.s3
        .BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(days_after_initiation=7))])


def tls_only_policy(bucket_arn: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    })


aws.s3.BucketPolicy(
    f"{PREFIX}-state", bucket=bucket.id, policy=bucket.arn.apply(tls_only_policy),
    # S3 rejects bucket policies while the public access block is being applied.
    opts=pulumi.ResourceOptions(depends_on=[public_access_block]))

pulumi.export("bucketName", bucket.bucket)
pulumi.export("backendUrl", pulumi.Output.concat("s3://", bucket.bucket, f"?region={region}"))
pulumi.export("kmsKeyArn", key.arn)
pulumi.export("secretsProvider", alias.name.apply(lambda name: f"awskms://{name}?region={region}"))
