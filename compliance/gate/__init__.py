"""The gate: spec + Plan + evidence + waivers → Rego → decisions (stages 3 and 4 of the pipeline).

Submodules: ``inputs`` (documents), ``bundle`` (policies), ``engine``, ``run`` (evaluation and
waivers), ``decisions`` (the result), ``check`` (the whole of ``mlgate check`` below the CLI).
Kept empty so that importing ``compliance.gate.decisions`` stays cheap.
"""
