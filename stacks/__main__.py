"""mlgate's Pulumi program (``pulumi up --stack prod``); the work is in :mod:`compliance.program`."""

from compliance.program import build

build()
