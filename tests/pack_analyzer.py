"""Drive ``policies/pack`` through pulumi-policy's own analyzer, as ``pulumi preview --policy-pack`` does.

Run with the pack's Python (its venv from ``policies/pack/requirements.txt``), not mlgate's: pulumi-policy is not
installed in mlgate's environment (protobuf 5.29 against kserve's 6.33). Used by ``tests/test_policy_pack.py``::

    <pack venv>/bin/python tests/pack_analyzer.py PLAN.json   → JSON list of the diagnostics, on stdout

The plan's resources become ``AnalyzeStackRequest`` resources (properties as Pulumi sends them: unknowns as
its sentinels, the kubeconfig of a Kubernetes provider as a real secret), the pack's ``__main__.py`` is run
with ``PolicyPack`` replaced by a recorder (the real one serves gRPC forever), and the recorded policies are
served by pulumi-policy's ``_PolicyAnalyzerServicer.AnalyzeStack``.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from typing import Any

import pulumi_policy
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import policy as policy_module

PACK = Path(__file__).resolve().parents[1] / "policies" / "pack"
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
KUBECONFIG = "apiVersion: v1\nkind: Config\nusers: [{name: admin, user: {token: do-not-print-me}}]\n"


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    value = struct_pb2.Struct()
    json_format.ParseDict(props, value)
    return value


def _props(resource: dict[str, Any]) -> dict[str, Any]:
    props = dict(resource["inputs"])
    if resource["type"] == "pulumi:providers:kubernetes" and "kubeconfig" in props:
        props["kubeconfig"] = {**SECRET_SIG, "value": KUBECONFIG}  # as the engine sends a secret
    return props


def request(plan: dict[str, Any]) -> analyzer_pb2.AnalyzeStackRequest:
    by_urn = {r["urn"]: r for r in plan["resources"]}
    resources = []
    for r in plan["resources"]:
        provider = None
        if r.get("provider"):
            p = by_urn[r["provider"].rsplit("::", 1)[0]]
            provider = analyzer_pb2.AnalyzerProviderResource(
                type=p["type"], properties=_struct(_props(p)), urn=p["urn"], name=p["name"]
            )
        resources.append(
            analyzer_pb2.AnalyzerResource(
                type=r["type"],
                properties=_struct(_props(r)),
                urn=r["urn"],
                name=r["name"],
                options=analyzer_pb2.AnalyzerResourceOptions(parent=r.get("parent") or ""),
                provider=provider,
                parent=r.get("parent") or "",
                dependencies=r.get("dependencies") or [],
            )
        )
    stack = f"urn:pulumi:{plan['environment']}::{plan['project']}::pulumi:pulumi:Stack::mlgate-{plan['environment']}"
    resources.append(analyzer_pb2.AnalyzerResource(type="pulumi:pulumi:Stack", urn=stack, name=stack.rsplit("::")[-1]))
    return analyzer_pb2.AnalyzeStackRequest(resources=resources)


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    recorded: dict[str, Any] = {}

    def record(**kwargs: Any) -> None:
        recorded.update(kwargs)

    pulumi_policy.PolicyPack = record  # type: ignore[assignment,misc]
    runpy.run_path(str(PACK / "__main__.py"), run_name="__main__")
    servicer = policy_module._PolicyAnalyzerServicer(  # the analyzer Pulumi talks to
        recorded["name"], "0.1.0", recorded["policies"], recorded["enforcement_level"]
    )
    response = servicer.AnalyzeStack(request(plan), None)
    levels = {0: "advisory", 1: "mandatory", 2: "disabled", 3: "remediate"}
    diagnostics = [
        {
            "policy": d.policyName,
            "level": levels.get(d.enforcementLevel, str(d.enforcementLevel)),
            "message": d.message,
            "urn": d.urn,
        }
        for d in response.diagnostics
    ]
    json.dump({"pack": recorded["name"], "diagnostics": diagnostics, "modules": sorted(sys.modules)}, sys.stdout)


if __name__ == "__main__":
    main()
