"""mlgate's policy pack: the gate's Rego policies over the whole stack at ``pulumi preview`` / ``pulumi up``.

Two stack policies judge the same resources (the logic is :mod:`compliance.pack`, tested without this file):
``mlgate-deny`` (mandatory) reports every unwaived deny and blocks the update; ``mlgate-warn`` (advisory)
reports every unwaived warning. Constructing ``PolicyPack`` serves the pack over gRPC until Pulumi stops it.
"""

import sys
from pathlib import Path

# The gate core comes from the checkout this pack lives in (policies/pack -> the project root), not from an
# installed mlgate: installing mlgate would pull kserve and protobuf 6, which pulumi-policy cannot share.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pulumi_policy import EnforcementLevel, PolicyPack, StackValidationPolicy  # noqa: E402

from compliance.pack import DENY_POLICY, WARN_POLICY, validate_deny, validate_warn  # noqa: E402

PolicyPack(
    name="mlgate",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        StackValidationPolicy(
            name=DENY_POLICY,
            description="mlgate gate: no unwaived deny (fairness, lineage, data handling, serving, platform)",
            enforcement_level=EnforcementLevel.MANDATORY,
            validate=validate_deny,
        ),
        StackValidationPolicy(
            name=WARN_POLICY,
            description="mlgate gate: unwaived warnings",
            enforcement_level=EnforcementLevel.ADVISORY,
            validate=validate_warn,
        ),
    ],
)
