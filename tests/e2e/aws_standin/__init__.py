"""A Pulumi resource provider named `aws` that stands in for pulumi-aws 7.51.1, backed by moto.

The real pulumi-aws plugin cannot be built here (its upstream patches are in no Go module), so
`make e2e` installs this one under that name and version (`pulumi plugin install resource aws
7.51.1 -f pulumi-resource-aws`). It serves the EC2, IAM and SSM resources and functions the
program uses, validates inputs against the pulumi-aws 7.51.1 SDK's schema, replaces what
terraform-provider-aws replaces, and turns each EC2 instance into a real test host.
"""
