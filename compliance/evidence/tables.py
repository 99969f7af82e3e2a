"""Tabular inputs of evidence commands: read CSV or Parquet columns, hash the file.

pandas (and pyarrow for Parquet) are imported here, so import this module only inside a command.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from compliance.errors import EvidenceError, UsageError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["file_digest", "read_table"]

PARQUET_SUFFIXES = (".parquet", ".pq")


def file_digest(path: Path) -> str:
    """``sha256:<hex>`` of the file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def read_table(path: Path, columns: dict[str, str], *, text: Sequence[str] = ()) -> pd.DataFrame:
    """Read ``columns`` (name → the flag that named it, for errors) of a CSV or Parquet file.

    Columns in ``text`` are read as strings (CSV) so labels like ``007`` keep their spelling.
    Raises UsageError for a missing file, EvidenceError for an unreadable file, a missing column or no rows.
    """
    import pandas as pd

    if not path.is_file():
        raise UsageError("file not found", file=path)
    wanted = list(dict.fromkeys(columns))
    try:
        if path.name.lower().endswith(PARQUET_SUFFIXES):
            if importlib.util.find_spec("pyarrow") is None:
                raise UsageError("reading Parquet needs pyarrow (pip install pyarrow), or give a CSV file", file=path)
            import pyarrow.parquet as pq

            present = set(pq.read_schema(path).names)
            _check_columns(path, columns, present)
            table = pd.read_parquet(path, columns=wanted, engine="pyarrow")
        else:
            header = pd.read_csv(path, nrows=0)
            _check_columns(path, columns, set(header.columns))
            dtypes = {name: str for name in wanted if name in text}
            table = pd.read_csv(path, usecols=wanted, dtype=dtypes)
    except (UsageError, EvidenceError):
        raise
    except pd.errors.EmptyDataError:
        raise EvidenceError("file is empty (no header, no rows)", file=path) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EvidenceError(f"cannot read table: {first}", file=path) from None
    if len(table) == 0:
        raise EvidenceError("table has no rows", file=path)
    for name in wanted:
        if table[name].isna().any():
            row = int(table[name].isna().to_numpy().argmax())
            raise EvidenceError(f"missing value (NaN/empty) in data row {row + 1}", file=path, field=name)
    return table


def _check_columns(path: Path, columns: dict[str, str], present: set[str]) -> None:
    for name, flag in columns.items():
        if name not in present:
            raise EvidenceError(f"no such column (given by {flag})", file=path, field=name)
