"""The error hierarchy: every failure a user can cause is an :class:`MlgateError`.

The CLI catches the base class once, prints :meth:`MlgateError.diagnostics` on one line and exits 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CrdError",
    "EngineError",
    "EvidenceError",
    "LedgerError",
    "MlgateError",
    "PlanError",
    "PolicyError",
    "SpecError",
    "UsageError",
]


class MlgateError(Exception):
    """Base of every error mlgate reports to a user (exit code 2)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field

    def location(self) -> str:
        """``file:line field`` as far as known, for the front of the one-line message."""
        where = self.file or ""
        if where and self.line is not None:
            where = f"{where}:{self.line}"
        if self.field:
            where = f"{where}: {self.field}" if where else self.field
        return where

    def diagnostics(self) -> str:
        where = self.location()
        return f"{where}: {self.message}" if where else self.message

    def __str__(self) -> str:
        return self.diagnostics()


class UsageError(MlgateError):
    """A command line that cannot be carried out (missing file, bad flag combination)."""


class SpecError(MlgateError):
    """A model deployment catalog or stack config that is malformed or inconsistent."""


class PlanError(MlgateError):
    """The Pulumi program could not be captured, or a preview/plan file is malformed."""


class CrdError(MlgateError):
    """A CRD directory that cannot be read, or a resource without a matching CRD."""


class PolicyError(MlgateError):
    """A policy bundle that cannot be loaded: Rego syntax, METADATA, data or waivers."""


class EvidenceError(MlgateError):
    """An evidence file that exists but is not valid evidence."""


class EngineError(MlgateError):
    """The policy engine could not evaluate (inside the gate this becomes a GATE-ERROR deny)."""


class LedgerError(MlgateError):
    """The run ledger cannot be opened, read or written (not an mlgate ledger, locked, disk full)."""
