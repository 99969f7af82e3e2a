"""Tabular inputs of evidence commands: read CSV or Parquet columns, or a sample of every column.

pandas (and pyarrow for Parquet) are imported here, so import this module only inside a command.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compliance.errors import EvidenceError, UsageError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SampledTable", "check_column_list", "read_table", "sample_table"]

PARQUET_SUFFIXES = (".parquet", ".pq")
CHUNK_ROWS = 100_000


def check_column_list(names: Sequence[str], what: str, flag: str) -> None:
    """UsageError unless ``names`` (a comma-separated flag, split) holds one or more distinct, non-empty columns."""
    if not names or any(not name for name in names):
        raise UsageError(f"give one or more {what} columns, comma-separated", field=flag)
    if len(set(names)) != len(names):
        raise UsageError(f"a {what} column is listed twice", field=flag)


def _read_error(path: Path, exc: Exception) -> Exception:
    """The one-line EvidenceError of a file pandas could not read; anything else is a bug and stays itself."""
    import pandas as pd

    if isinstance(exc, pd.errors.EmptyDataError):
        return EvidenceError("file is empty (no header, no rows)", file=path)
    if isinstance(exc, pd.errors.ParserError | UnicodeDecodeError | ValueError | OSError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return EvidenceError(f"cannot read table: {first}", file=path)
    return exc


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
    except Exception as exc:  # noqa: BLE001 - pandas' and pyarrow's many read errors, one line each
        raise _read_error(path, exc) from None
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


@dataclass(frozen=True)
class SampledTable:
    """A sample of every column of a table, as text (empty string for a missing value)."""

    rows: int  # rows in the file
    columns: tuple[str, ...]  # every column, in file order
    sample: pd.DataFrame  # the sampled rows in file order, every column as str, columns numbered 0..n-1


def sample_table(path: Path, size: int, seed: int) -> SampledTable:
    """A seeded uniform sample of ``size`` rows (all rows when the file has fewer) of a CSV or Parquet file.

    Every row gets a random key from ``numpy.random.default_rng(seed)`` in file order; the sample is the
    ``size`` rows with the smallest keys (a bottom-k sample: uniform, without replacement), returned in file
    order. The whole file is read once, in chunks of 100,000 rows, so memory stays bounded by the sample
    and one chunk. Same file, size and seed: the same sample. Raises UsageError for a missing file,
    EvidenceError for an unreadable or empty file.
    """
    import numpy as np
    import pandas as pd

    if not path.is_file():
        raise UsageError("file not found", file=path)
    if size < 1:
        raise UsageError("the sample size must be 1 or more", field="--sample")
    rng = np.random.default_rng(seed)
    kept: pd.DataFrame | None = None
    keys = np.empty(0)
    rows = 0
    columns: tuple[str, ...] = ()
    try:
        for chunk in _text_chunks(path):
            columns = tuple(str(c) for c in chunk.columns)
            if len(chunk) == 0:
                continue
            chunk.index = pd.RangeIndex(rows, rows + len(chunk))
            rows += len(chunk)
            chunk_keys = rng.random(len(chunk))
            frame = chunk if kept is None else pd.concat([kept, chunk])
            all_keys = chunk_keys if kept is None else np.concatenate([keys, chunk_keys])
            if len(frame) > size:
                keep = np.argpartition(all_keys, size - 1)[:size]
                frame, all_keys = frame.iloc[keep], all_keys[keep]
            kept, keys = frame, all_keys
    except (UsageError, EvidenceError):
        raise
    except Exception as exc:  # noqa: BLE001 - pandas' and pyarrow's many read errors, one line each
        raise _read_error(path, exc) from None
    if kept is None or rows == 0:
        raise EvidenceError("table has no rows", file=path)
    sample = kept.sort_index()
    return SampledTable(rows, columns, pd.DataFrame({i: sample.iloc[:, i].map(_text) for i in range(len(columns))}))


def _text_chunks(path: Path) -> Iterator[pd.DataFrame]:
    """The file in chunks of at most CHUNK_ROWS rows (CSV: every column as str, "" for a missing value)."""
    import pandas as pd

    if not path.name.lower().endswith(PARQUET_SUFFIXES):
        reader = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, chunksize=CHUNK_ROWS)
        with reader:
            yield from reader
        return
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    names = list(parquet.schema_arrow.names)
    empty = True
    for batch in parquet.iter_batches(batch_size=CHUNK_ROWS):
        empty = False
        yield batch.to_pandas()
    if empty:
        yield pd.DataFrame(columns=names)


def _text(value: object) -> str:
    """A cell as text: "" for a missing value (None, NaN, NA, NaT), else its str()."""
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""
    return str(value)
