"""mlgate's Pulumi program (``pulumi up --stack prod``); the work is in :mod:`compliance.program`.

``build()`` judges the model deployments first (the pre-flight, ``mlgate:policy.mode``; docs/preflight.md) and
registers nothing when it denies in enforce mode.
"""

from compliance.program import build

build()
