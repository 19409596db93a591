"""backend/: the team's state bucket and secrets key, run under Pulumi's mocks."""

from __future__ import annotations

import json
import runpy

import pytest
import yaml

from policy import rules
from tests.harness import ROOT, Declared, ProgramFailed, RecordingMocks, declare

MAIN = ROOT / "backend" / "__main__.py"
BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"


def _run(config: dict) -> Declared:
    return declare(lambda: runpy.run_path(str(MAIN), run_name="__main__"), config)


@pytest.fixture(scope="module")
def named() -> Declared:
    return _run({"aws:region": "us-east-2", "stateBucketName": "team-pulumi-state"})


@pytest.fixture(scope="module")
def default_name() -> Declared:
    original = RecordingMocks.call

    def call(self, args):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            self.calls.append((args.token, dict(args.args)))
            return {"accountId": "123456789012", "arn": "arn:aws:iam::123456789012:user/alice",
                    "id": "123456789012", "userId": "AIDAEXAMPLE"}
        return original(self, args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RecordingMocks, "call", call)
        return _run({"aws:region": "eu-west-1"})


def _of_bucket(declared: Declared, typ: str) -> dict:
    resource = declared.one(typ)
    assert resource.props["bucket"] == declared.one(BUCKET).name + "-id"  # attached to our bucket
    return resource.props


def test_exports_the_backend_and_secrets_provider_urls(named, default_name):
    assert named.outputs["backendUrl"] == "s3://team-pulumi-state?region=us-east-2"
    assert named.outputs["secretsProvider"] == "awskms://alias/dd-assessment-pulumi-secrets?region=us-east-2"
    assert named.outputs["bucketName"] == "team-pulumi-state"
    # Bucket names are global: the default one carries the account and the region.
    assert default_name.outputs["bucketName"] == "dd-assessment-pulumi-state-123456789012-eu-west-1"
    assert default_name.outputs["backendUrl"] == (
        "s3://dd-assessment-pulumi-state-123456789012-eu-west-1?region=eu-west-1")
    assert default_name.outputs["secretsProvider"].endswith("?region=eu-west-1")


def test_bucket_is_versioned(named):
    assert _of_bucket(named, "aws:s3/bucketVersioning:BucketVersioning")["versioningConfiguration"] == {
        "status": "Enabled"}


def test_bucket_is_encrypted_with_the_kms_key(named):
    (rule,) = _of_bucket(named, "aws:s3/bucketServerSideEncryptionConfiguration:"
                                "BucketServerSideEncryptionConfiguration")["rules"]
    default = rule["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms"
    assert default["kmsMasterKeyId"] == f"arn:aws:kms:us-east-2:123456789012:{named.one(KEY).name}"
    assert rule["bucketKeyEnabled"] is True


def test_bucket_blocks_all_public_access(named):
    block = _of_bucket(named, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for setting in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert block[setting] is True, setting


def test_bucket_owner_enforced(named):
    ownership = _of_bucket(named, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_bucket_policy_denies_everything_without_tls(named):
    policy_resource = named.one("aws:s3/bucketPolicy:BucketPolicy")
    policy = json.loads(_of_bucket(named, "aws:s3/bucketPolicy:BucketPolicy")["policy"])
    (statement,) = policy["Statement"]
    arn = f"arn:aws:s3:us-east-2:123456789012:{named.one(BUCKET).name}"
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert sorted(statement["Resource"]) == [arn, f"{arn}/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # Applied after the public access block (S3 rejects policy changes while that is in flight).
    block = named.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert any(dep.endswith(f"::{block.name}") and "bucketPublicAccessBlock" in dep
               for dep in policy_resource.options["dependencies"])


def test_old_checkpoints_expire_but_current_state_never_does(named):
    (rule,) = _of_bucket(named, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")["rules"]
    assert rule["status"] == "Enabled"
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 90}
    assert "expiration" not in rule


def test_kms_key_rotates_and_has_the_alias(named):
    key = named.one(KEY)
    assert key.props["enableKeyRotation"] is True
    alias = named.one("aws:kms/alias:Alias").props
    assert alias == {"name": "alias/dd-assessment-pulumi-secrets", "targetKeyId": f"{key.name}-id"}


def test_bucket_and_key_are_protected_and_never_force_destroyed(named):
    assert named.one(BUCKET).options["protect"] is True
    assert named.one(KEY).options["protect"] is True
    assert named.one(BUCKET).props["forceDestroy"] is False


def test_the_backend_passes_the_policy_pack(named, preview_role):
    found = [(r.typ, name, message) for declared in (named, preview_role) for r in declared.resources
             for name, message in rules.violations(r.typ, r.props)]
    assert found == []


# ---------------------------------------------------------------------------------------------
# The pull-request preview's role (optional)

ROLE = "aws:iam/role:Role"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"


@pytest.fixture(scope="module")
def preview_role() -> Declared:
    return _run({"aws:region": "us-east-2", "stateBucketName": "team-pulumi-state",
                 "githubRepository": "acme/dd-assessment"})


def test_no_preview_role_unless_a_repository_is_named(named):
    assert not named.of_type(ROLE) and not named.of_type(OIDC)
    assert "previewRoleArn" not in named.outputs


def test_preview_role_is_assumable_by_the_repositorys_pull_requests_only(preview_role):
    provider = preview_role.one(OIDC)
    assert provider.props["url"] == "https://token.actions.githubusercontent.com"
    assert provider.props["clientIdLists"] == ["sts.amazonaws.com"]
    role = preview_role.one(ROLE)
    assert json.loads(role.props["assumeRolePolicy"])["Statement"] == [{
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": f"arn:aws:iam:us-east-2:123456789012:{provider.name}"},
        "Condition": {"StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:acme/dd-assessment:pull_request"}}}]
    assert preview_role.outputs["previewRoleArn"] == f"arn:aws:iam:us-east-2:123456789012:{role.name}"


def test_preview_role_reads_the_state_and_reaches_only_the_stacks_hosts(preview_role):
    bucket = f"arn:aws:s3:us-east-2:123456789012:{preview_role.one(BUCKET).name}"
    key = f"arn:aws:kms:us-east-2:123456789012:{preview_role.one(KEY).name}"
    (policy,) = preview_role.of_type("aws:iam/rolePolicy:RolePolicy")
    assert policy.props["role"] == f"{preview_role.one(ROLE).name}-id"
    assert json.loads(policy.props["policy"])["Statement"] == [
        {"Sid": "ReadState", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket},
        {"Sid": "ReadCheckpoints", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{bucket}/*"},
        {"Sid": "DecryptStateAndSecrets", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key},
        {"Sid": "ProgramLookups", "Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
        {"Sid": "SshToTheStacksHosts", "Effect": "Allow", "Action": "ssm:StartSession",
         "Resource": "arn:aws:ec2:us-east-2:*:instance/*",
         "Condition": {"StringEquals": {"ssm:resourceTag/project": "dd-assessment",
                                        "ssm:resourceTag/stack": "test"}}},
        {"Sid": "SshDocument", "Effect": "Allow", "Action": "ssm:StartSession",
         "Resource": "arn:aws:ssm:us-east-2::document/AWS-StartSSHSession"},
    ]
    assert not preview_role.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")  # no managed policy


def test_an_existing_github_provider_is_reused_and_another_stack_can_be_previewed():
    existing = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    declared = _run({"aws:region": "us-east-2", "stateBucketName": "b", "githubRepository": "acme/demo",
                     "githubOidcProviderArn": existing, "previewStack": "staging"})
    assert not declared.of_type(OIDC)
    trust = json.loads(declared.one(ROLE).props["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Federated": existing}
    policy = json.loads(declared.one("aws:iam/rolePolicy:RolePolicy").props["policy"])
    (hosts,) = [s for s in policy["Statement"] if s["Sid"] == "SshToTheStacksHosts"]
    assert hosts["Condition"]["StringEquals"]["ssm:resourceTag/stack"] == "staging"


def test_a_malformed_repository_is_refused_naming_the_key():
    with pytest.raises(ProgramFailed, match="githubRepository: 'https://github.com/acme/demo' is not '<owner>/<repo>'"):
        _run({"aws:region": "us-east-2", "githubRepository": "https://github.com/acme/demo"})


def test_project_file_uses_its_own_venv():
    project = yaml.safe_load((ROOT / "backend" / "Pulumi.yaml").read_text())
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
    pins = (ROOT / "backend" / "requirements.txt").read_text()
    main_pins = (ROOT / "requirements.txt").read_text().splitlines()
    for package in ("pulumi==", "pulumi-aws=="):
        (line,) = [pin for pin in main_pins if pin.startswith(package)]
        assert line in pins.splitlines()
