"""The OPA-facing part of the command line: the engine flags of ``mlgate check``, ``mlgate opa push`` and
``mlgate export gatekeeper``. Kept beside ``compliance.cli`` (which wires them in) so that file stays a list of
commands; nothing heavy is imported before a command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compliance.gate.opa import OpaSettings

__all__ = ["add_engine_flags", "add_export_commands", "add_opa_commands", "engine_name", "opa_settings"]

from compliance.cli_common import EXIT_OK, project_root


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 600:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds above 0 and at most 600")
    return seconds


def add_engine_flags(parser: argparse.ArgumentParser, *, choose: bool = True) -> None:
    """``--engine`` (with ``choose``) and the ``--opa-*`` flags."""
    group = parser.add_argument_group("policy engine")
    if choose:
        group.add_argument(
            "--engine",
            choices=("embedded", "opa"),
            help="embedded (regorus, the default) or opa (an OPA server; implied by --opa-url); "
            "default: the stack's mlgate:policy engine",
        )
    group.add_argument(
        "--opa-url",
        metavar="URL",
        required=not choose,
        help="OPA server, http(s)://HOST[:PORT]" + ("; default: the stack's mlgate:policy opaUrl" if choose else ""),
    )
    group.add_argument(
        "--opa-token",
        metavar="TOKEN",
        help="bearer token for the server; prefer $MLGATE_OPA_TOKEN (a flag shows in process lists)",
    )
    group.add_argument(
        "--opa-timeout", type=_seconds, metavar="S", help="seconds per request (default 10); retried at most twice"
    )
    group.add_argument("--opa-ca-bundle", metavar="FILE", help="PEM CA bundle to verify an https server with")


def engine_name(args: argparse.Namespace) -> str | None:
    """``--engine``, or ``opa`` when only ``--opa-url`` is given; None: the stack decides."""
    chosen: str | None = getattr(args, "engine", None)
    return chosen or ("opa" if getattr(args, "opa_url", None) else None)


def opa_settings(args: argparse.Namespace) -> OpaSettings:
    from compliance.gate.opa import OpaSettings

    return OpaSettings.resolve(
        args.opa_url, token=args.opa_token, timeout=args.opa_timeout, ca_bundle=args.opa_ca_bundle
    )


# ------------------------------------------------------------------------------------------ mlgate opa push


def cmd_opa_push(args: argparse.Namespace) -> int:
    from compliance.gate.bundle import PolicyBundle
    from compliance.gate.opa import OpaEngine

    policies = Path(args.policies) if args.policies else project_root(args) / "policies"
    bundle = PolicyBundle.load(policies)
    engine = OpaEngine(bundle, opa_settings(args))
    try:
        report = engine.push()  # an EngineError: `mlgate: error: OPA server …` and exit 2
    finally:
        engine.close()
    print(report.render())
    return EXIT_OK


def add_opa_commands(commands: Any) -> None:
    opa = commands.add_parser("opa", help="work with an OPA server: push the policies")
    opa_commands = opa.add_subparsers(dest="opa_command", metavar="COMMAND", required=True)
    push = opa_commands.add_parser(
        "push",
        help="upload the policies and their data to an OPA server",
        description="Upload policies/data.json (PUT /v1/data/mlgate/…) and every non-test module of policies/ "
        "(PUT /v1/policies/mlgate/<file>) to an OPA server (1.0 or later), deleting mlgate/ modules the bundle "
        "no longer has. `mlgate check --engine opa` does the same before judging. Exit 2 on any failure.",
    )
    push.add_argument("--policies", metavar="DIR", help="policy directory (default: policies/)")
    add_engine_flags(push, choose=False)
    push.set_defaults(handler=cmd_opa_push)


# ------------------------------------------------------------------------------------------ mlgate export


def cmd_export_gatekeeper(args: argparse.Namespace) -> int:
    from compliance.gate.gatekeeper import export_gatekeeper

    policies = Path(args.policies) if args.policies else project_root(args) / "policies"
    written = export_gatekeeper(policies, Path(args.out), environment=args.env)
    for path in written:
        print(path)
    print(
        f"mlgate: {len(written)} files written to {args.out}; apply with: kubectl apply -f {args.out}", file=sys.stderr
    )
    return EXIT_OK


def add_export_commands(commands: Any) -> None:
    export = commands.add_parser("export", help="export the policies for other enforcement points: gatekeeper")
    export_commands = export.add_subparsers(dest="export_command", metavar="COMMAND", required=True)
    gatekeeper = export_commands.add_parser(
        "gatekeeper",
        help="write Gatekeeper ConstraintTemplates and Constraints for the serving rules",
        description="Write a ConstraintTemplate (templates.gatekeeper.sh/v1) and a Constraint per admission rule "
        "of policies/gatekeeper/ (traffic weights, mutual TLS, GPU limits, labels, deployment mode): the rules "
        "that only need the resource itself, enforced again at cluster admission. Thresholds come from "
        "policies/data.json for ENV. Needs Gatekeeper 3.15 or later (Rego v1 templates).",
    )
    gatekeeper.add_argument("--out", default="gatekeeper", metavar="DIR", help="output directory (default: gatekeeper)")
    gatekeeper.add_argument("--policies", metavar="DIR", help="policy directory (default: policies/)")
    gatekeeper.add_argument(
        "--env", default="prod", metavar="ENV", help="thresholds of this environment (default: prod)"
    )
    gatekeeper.set_defaults(handler=cmd_export_gatekeeper)
