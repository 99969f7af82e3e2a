"""``policies/waivers.yaml``: accepted findings, each with an owner, an approver and an expiry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from compliance.errors import PolicyError, SpecError
from compliance.gate.decisions import Waiver
from compliance.spec.yamlsafe import load_yaml

__all__ = ["load_waivers"]

_SUBJECT = r"^[a-z]([-a-z0-9]*[a-z0-9])?(@[a-z]([-a-z0-9]*[a-z0-9])?(:[a-z]([-a-z0-9]*[a-z0-9])?)?)?$"
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class _WaiverEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    policy: Annotated[str, StringConstraints(pattern=r"^(FAIR|LIN|DATA|SERV|PLAT)-\d{3}$")]
    subject: Annotated[str, StringConstraints(pattern=_SUBJECT)]
    reason: Annotated[str, StringConstraints(min_length=1)]
    owner: Annotated[str, StringConstraints(pattern=_EMAIL)]
    approvedBy: Annotated[str, StringConstraints(pattern=_EMAIL)]
    expires: dt.date = Field(strict=False)


def load_waivers(path: str | Path) -> tuple[Waiver, ...]:
    """All waivers of the file; a missing file means none. Errors name file, line and field."""
    file = Path(path)
    if not file.exists():
        return ()
    try:
        data, index = load_yaml(file)
    except SpecError as exc:
        raise PolicyError(exc.message, file=exc.file, line=exc.line) from None
    if data is None:
        return ()
    if not isinstance(data, list):
        raise PolicyError("expected a YAML list of waivers", file=file, line=1)
    waivers: list[Waiver] = []
    for i, entry in enumerate(data):
        line = index.line_of(data, [i])
        try:
            parsed = _WaiverEntry.model_validate(entry)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            key = str(error["loc"][0]) if error["loc"] else ""
            message = {"extra_forbidden": "unknown field", "missing": "required field is missing"}.get(
                error["type"], str(error["msg"])
            )
            raise PolicyError(
                message, file=file, line=index.line_of(data, [i, key]) or line, field=f"[{i}].{key}".rstrip(".")
            ) from None
        waivers.append(
            Waiver(
                policy=parsed.policy,
                subject=parsed.subject,
                reason=parsed.reason,
                owner=parsed.owner,
                approvedBy=parsed.approvedBy,
                expires=parsed.expires,
                file=str(file),
                line=line,
            )
        )
    return tuple(waivers)
