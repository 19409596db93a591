"""The dd-assessment-guards CrossGuard policy pack.

Run with `pulumi preview --policy-pack policy` (or `up`). Building the pack starts the analyzer's
gRPC server and blocks, so this file only assembles it: the rules live in `rules.py`, a plain
module the tests import (tests/test_policy.py).
"""

import rules  # `pulumi` runs this directory with it on sys.path
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    "dd-assessment-guards",
    # The pack default; every policy sets its own level (security: mandatory, hygiene: advisory;
    # see rules.py for why).
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=rules.policies(),
    description="Security and hygiene guards for the dd-assessment Datadog demo on AWS.",
)
