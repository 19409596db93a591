"""The team's Pulumi backend: an S3 bucket for stack state and a KMS key for stack secrets.

Exports what `pulumi login` and `--secrets-provider` take:
- `backendUrl`: `s3://<bucket>?region=<region>`
- `secretsProvider`: `awskms://alias/<alias>?region=<region>`

The bucket: versioned (every checkpoint recoverable), encrypted by default with the KMS key
(SSE-KMS with a bucket key), all four public-access blocks on, ACLs disabled (bucket owner
enforced), and a policy denying any request not made over TLS. Old checkpoint versions expire
after `noncurrentVersionDays` (default 90). The bucket and the key are `protect`ed: losing either
loses every stack's state or secrets, so `pulumi destroy` refuses until protection is lifted.

Optional, the pull-request preview's AWS role (`githubRepository: <owner>/<repo>`): assumable
through GitHub's OIDC by that repository's pull_request workflows only, and allowed exactly what a
preview of the stack does: read the state and decrypt its secrets, the program's EC2 lookups, and
`ssm:StartSession` with the AWS-StartSSHSession document on the instances tagged with the
project and the previewed stack (pulumi-docker pings each host's daemon during a preview).
Exports `previewRoleArn`, for the repository variable AWS_ROLE_ARN.

Config (all optional): `aws:region` (else AWS_REGION), `stateBucketName` (default
`dd-assessment-pulumi-state-<account id>-<region>`: bucket names are global),
`noncurrentVersionDays`, `githubRepository`, `previewStack` (default `test`),
`githubOidcProviderArn` (the account's existing provider for token.actions.githubusercontent.com;
there can be only one, so it is created here only when this is unset).
"""

from __future__ import annotations

import json
import os
import re

import pulumi
import pulumi_aws as aws

PREFIX = "dd-assessment-pulumi"
KEY_ALIAS = f"alias/{PREFIX}-secrets"
PROGRAM = "dd-assessment"  # the project whose stacks this backend holds (its instances' `project` tag)
GITHUB_OIDC = "token.actions.githubusercontent.com"

config = pulumi.Config()
region = pulumi.Config("aws").get("region") or os.environ.get("AWS_REGION") \
    or os.environ.get("AWS_DEFAULT_REGION")
if not region:
    raise pulumi.RunError("aws:region is not set: `pulumi config set aws:region us-east-2` "
                          "(or export AWS_REGION)")
noncurrent_days = config.get_int("noncurrentVersionDays") or 90
github_repository = config.get("githubRepository")
if github_repository is not None and not re.fullmatch(r"[\w.-]+/[\w.-]+", github_repository):
    raise pulumi.RunError(f"githubRepository: '{github_repository}' is not '<owner>/<repo>'; e.g. "
                          "`pulumi config set githubRepository my-org/dd-assessment`")


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


# --- Optional: the role the pull-request preview assumes through GitHub's OIDC.


def preview_policy(bucket_arn: str, key_arn: str, stack: str) -> str:
    """Read the state and its secrets, look up what the program looks up, and open an SSH session
    through Session Manager to this project's and stack's instances: nothing else."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadState", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn},
            {"Sid": "ReadCheckpoints", "Effect": "Allow", "Action": "s3:GetObject",
             "Resource": f"{bucket_arn}/*"},
            # State objects are SSE-KMS with this key, and the stack's secrets are encrypted with it.
            {"Sid": "DecryptStateAndSecrets", "Effect": "Allow", "Action": "kms:Decrypt",
             "Resource": key_arn},
            # The program's lookups (AMI, instance type offerings); Describe* reads no secret.
            {"Sid": "ProgramLookups", "Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
            # pulumi-docker's ping of each deployed host's daemon goes over SSH through Session
            # Manager. The plugin ends these sessions itself (a TerminateSession flag on the data
            # channel), so no ssm:TerminateSession is needed.
            {"Sid": "SshToTheStacksHosts", "Effect": "Allow", "Action": "ssm:StartSession",
             "Resource": f"arn:aws:ec2:{region}:*:instance/*",
             "Condition": {"StringEquals": {"ssm:resourceTag/project": PROGRAM,
                                            "ssm:resourceTag/stack": stack}}},
            {"Sid": "SshDocument", "Effect": "Allow", "Action": "ssm:StartSession",
             "Resource": f"arn:aws:ssm:{region}::document/AWS-StartSSHSession"},
        ],
    })


if github_repository:
    preview_stack = config.get("previewStack") or "test"
    provider_arn = config.get("githubOidcProviderArn") or aws.iam.OpenIdConnectProvider(
        f"{PREFIX}-github", url=f"https://{GITHUB_OIDC}", client_id_lists=["sts.amazonaws.com"],
        tags=tags(f"{PREFIX}-github")).arn
    preview_role = aws.iam.Role(
        f"{PREFIX}-preview",
        description=f"pulumi preview of {PROGRAM} stack {preview_stack} from pull requests of "
                    f"{github_repository}",
        assume_role_policy=pulumi.Output.from_input(provider_arn).apply(lambda arn: json.dumps({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                "Principal": {"Federated": arn},
                "Condition": {"StringEquals": {
                    f"{GITHUB_OIDC}:aud": "sts.amazonaws.com",
                    f"{GITHUB_OIDC}:sub": f"repo:{github_repository}:pull_request"}},
            }],
        })),
        max_session_duration=3600,
        tags=tags(f"{PREFIX}-preview"))
    aws.iam.RolePolicy(
        f"{PREFIX}-preview", role=preview_role.id,
        policy=pulumi.Output.all(bucket.arn, key.arn).apply(
            lambda arns: preview_policy(arns[0], arns[1], preview_stack)))
    pulumi.export("previewRoleArn", preview_role.arn)
