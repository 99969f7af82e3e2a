"""The run ledger: an append-only, hash-chained SQLite file of gate-run records (docs/ledger.md).

Table ``runs``: ``seq`` (1, 2, 3, … with no gap), ``run_id``, ``time``, ``environment``, ``prev``, ``hash`` and
``record``, the canonical JSON of the whole record (``hash`` included) as UTF-8 text. A record's ``hash`` is the
sha256 of the canonical JSON of the record without its ``hash`` key; its ``prev`` is the hash of the record
before it (``null`` for the first), so altering, removing or re-inserting any record breaks the chain at that
record. The other columns repeat fields of the record for lookups; :meth:`Ledger.verify` checks them too.

Appends are one ``BEGIN IMMEDIATE`` transaction each: read the last ``(seq, hash)``, link, insert, commit.
Concurrent writers (processes, CI jobs on one runner) serialise on SQLite's write lock and the chain never
forks. The file is in WAL mode with ``synchronous=FULL``: a record whose append returned is on disk (the WAL is
fsynced at each commit) and survives the writer being killed, and a power loss; a writer killed mid-append
leaves no trace of its record (an uncommitted WAL frame is ignored).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from compliance.errors import LedgerError

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "Ledger", "LedgerRun", "VerifyReport"]

APPLICATION_ID = 0x6D6C6764  # "mlgd": PRAGMA application_id of an mlgate ledger
SCHEMA_VERSION = 1
BUSY_TIMEOUT = 60.0  # seconds an append waits for the write lock before it fails
Synchronous = Literal["FULL", "NORMAL", "OFF", "EXTRA"]

_SCHEMA = """
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE,
    time TEXT NOT NULL,
    environment TEXT NOT NULL,
    prev TEXT,
    hash TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX runs_environment ON runs (environment, seq);
"""
_ASSIGNED = ("seq", "prev", "hash")
_REQUIRED = ("runId", "time", "environment")


def _dumps(value: Any) -> str:
    """The canonical JSON text of :func:`compliance.ledger.record.canonical`, before its UTF-8 encoding."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _piece(key: str, value: Any) -> str:
    """``"key":<canonical value>``: a record's canonical JSON is its sorted pieces joined by commas (this is
    what ``json.dumps(..., sort_keys=True)`` writes), so the text with and without ``hash`` comes of one pass."""
    return _dumps(key) + ":" + _dumps(value)


def _hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _joined(pieces: Mapping[str, str]) -> str:
    return "{" + ",".join(pieces[key] for key in sorted(pieces)) + "}"


@dataclass(frozen=True)
class LedgerRun:
    """One line of ``mlgate ledger show``: the summary of a recorded run."""

    seq: int
    run_id: str
    time: str
    environment: str
    commit: str | None
    dirty: bool | None
    summary: dict[str, int]
    exit_code: int | None
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "runId": self.run_id,
            "time": self.time,
            "environment": self.environment,
            "commit": self.commit,
            "dirty": self.dirty,
            "summary": self.summary,
            "exitCode": self.exit_code,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class VerifyReport:
    """What :meth:`Ledger.verify` found: ``ok``, or the first broken record (``broken``: its seq) and why."""

    path: Path
    records: int  # records that verified, in order, before the first broken one (all of them when ok)
    head: str | None  # hash of the last record that verified
    broken: int | None = None
    run_id: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def __str__(self) -> str:
        if self.ok:
            head = f", head {self.head}" if self.head else ""
            return f"ledger {self.path}: intact, {self.records} records{head}"
        return f"ledger {self.path}: BROKEN at record {self.broken}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return {
            "ledger": str(self.path),
            "ok": self.ok,
            "records": self.records,
            "head": self.head,
            "broken": self.broken,
            "runId": self.run_id,
            "reason": self.reason,
        }


class Ledger:
    """An open ledger file. ``with Ledger.open(path) as ledger: ledger.append(record)``."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self._db = db

    # ------------------------------------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        create: bool = True,
        synchronous: Synchronous = "FULL",
        timeout: float = BUSY_TIMEOUT,
    ) -> Ledger:
        """Open (with ``create``: create, with its parent directories) the ledger at ``path``.

        LedgerError when the file is not an mlgate ledger, is of another schema, cannot be created, or (without
        ``create``) does not exist. ``synchronous`` is for benchmarks: FULL is what makes an append durable.
        """
        target = Path(path)
        if synchronous not in ("FULL", "NORMAL", "OFF", "EXTRA"):
            raise ValueError(f"synchronous={synchronous!r}")
        if not target.exists():
            if not create:
                raise LedgerError("no ledger here (mlgate check writes one)", file=target)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LedgerError(f"cannot create the ledger's directory: {exc.strerror}", file=target) from None
        elif target.is_dir():
            raise LedgerError("is a directory, not a ledger file", file=target)
        try:
            db = sqlite3.connect(target, timeout=timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open the ledger: {exc}", file=target) from None
        try:
            cls._prepare(db, target, create=create, synchronous=synchronous)
        except BaseException:
            db.close()
            raise
        return cls(target, db)

    @staticmethod
    def _header(db: sqlite3.Connection) -> tuple[int, int, int]:
        """``(application_id, user_version, tables)`` in one statement: one snapshot, even while another
        process is creating the schema."""
        row = db.execute(
            "SELECT a.application_id, u.user_version, (SELECT COUNT(*) FROM sqlite_master) "
            "FROM pragma_application_id a, pragma_user_version u"
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    @staticmethod
    def _prepare(db: sqlite3.Connection, target: Path, *, create: bool, synchronous: str) -> None:
        try:
            app_id, schema, tables = Ledger._header(db)
            if app_id == 0 and schema == 0:
                if tables:
                    raise LedgerError("not an mlgate ledger (an SQLite file with other tables)", file=target)
                if not create:
                    raise LedgerError("not an mlgate ledger (an empty file)", file=target)
            elif app_id != APPLICATION_ID:
                raise LedgerError("not an mlgate ledger (another application's SQLite file)", file=target)
            elif schema != SCHEMA_VERSION:
                raise LedgerError(f"ledger schema {schema}; this mlgate reads schema {SCHEMA_VERSION}", file=target)
            if create:
                (mode,) = db.execute("PRAGMA journal_mode=WAL").fetchone()
                if str(mode).lower() != "wal":
                    raise LedgerError(f"cannot put the ledger in WAL mode (journal_mode {mode})", file=target)
                if app_id == 0:
                    Ledger._create_schema(db, target)
            db.execute(f"PRAGMA synchronous={synchronous}")
            db.execute("SELECT seq, run_id, time, environment, prev, hash, record FROM runs LIMIT 0").fetchall()
        except sqlite3.Error as exc:
            raise LedgerError(f"unreadable ledger: {exc}", file=target) from None

    @staticmethod
    def _create_schema(db: sqlite3.Connection, target: Path) -> None:
        """The schema, once, even when several processes create the same new ledger at the same moment."""
        db.execute("BEGIN IMMEDIATE")
        try:
            app_id, schema, tables = Ledger._header(db)
            if app_id == 0 and (tables or schema):
                raise LedgerError("not an mlgate ledger (an SQLite file with other tables)", file=target)
            if app_id == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            elif app_id != APPLICATION_ID or schema != SCHEMA_VERSION:
                raise LedgerError("not an mlgate ledger of this schema (created meanwhile)", file=target)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------------ writing

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Append ``record`` (``seq``/``prev``/``hash`` are set here and may be absent) in one transaction;
        returns the record as stored. LedgerError when it could not be committed (nothing is then recorded)."""
        for key in _REQUIRED:
            if not isinstance(record.get(key), str) or not record[key]:
                raise LedgerError(f"a ledger record needs a non-empty {key}", file=self.path)
        body = {key: value for key, value in record.items() if key not in _ASSIGNED}
        if not all(isinstance(key, str) for key in body):
            raise LedgerError("a ledger record's keys must be strings", file=self.path)
        try:  # the expensive part, outside the write lock
            pieces = {key: _piece(key, value) for key, value in body.items()}
        except (TypeError, ValueError, RecursionError) as exc:
            raise LedgerError(f"record is not JSON: {exc}", file=self.path) from None
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                last = db.execute("SELECT seq, hash FROM runs ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev = (last[0] + 1, last[1]) if last else (1, None)
                pieces["seq"] = _piece("seq", seq)
                pieces["prev"] = _piece("prev", prev)
                digest = _hash(_joined(pieces))
                pieces["hash"] = _piece("hash", digest)
                db.execute(
                    "INSERT INTO runs (seq, run_id, time, environment, prev, hash, record) VALUES (?,?,?,?,?,?,?)",
                    (seq, body["runId"], body["time"], body["environment"], prev, digest, _joined(pieces)),
                )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.IntegrityError:
            raise LedgerError(f"run {body['runId']} is already recorded", file=self.path) from None
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                message = "ledger stayed locked by other runs; the run is not recorded"
                raise LedgerError(message, file=self.path) from None
            raise LedgerError(f"cannot record the run: {exc}", file=self.path) from None
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot record the run: {exc}", file=self.path) from None
        return {**body, "seq": seq, "prev": prev, "hash": digest}

    # ------------------------------------------------------------------------------------------------ reading

    def _query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._db.execute(sql, parameters).fetchall()
        except sqlite3.Error as exc:
            raise LedgerError(f"unreadable ledger: {exc}", file=self.path) from None

    def _parse(self, text: Any, seq: int) -> dict[str, Any]:
        try:
            value = json.loads(text)
        except (ValueError, TypeError, RecursionError):
            raise LedgerError(f"record {seq} is not valid JSON (run mlgate ledger verify)", file=self.path) from None
        if not isinstance(value, dict):
            raise LedgerError(f"record {seq} is not a JSON object (run mlgate ledger verify)", file=self.path)
        return value

    def get(self, run_id: str) -> dict[str, Any] | None:
        """The stored record of ``run_id`` (not verified: :meth:`verify` does that)."""
        rows = self._query("SELECT seq, record FROM runs WHERE run_id = ?", (run_id,))
        return self._parse(rows[0][1], rows[0][0]) if rows else None

    def latest(self, environment: str | None = None) -> dict[str, Any] | None:
        """The last stored record (of ``environment``), or None."""
        rows = self._query(
            "SELECT seq, record FROM runs WHERE ?1 IS NULL OR environment = ?1 ORDER BY seq DESC LIMIT 1",
            (environment,),
        )
        return self._parse(rows[0][1], rows[0][0]) if rows else None

    def __len__(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM runs")[0][0])

    def runs(self, environment: str | None = None, limit: int | None = None) -> list[LedgerRun]:
        """Summaries of the last ``limit`` runs (all by default) of ``environment`` (all by default), oldest first."""
        rows = self._query(
            """SELECT seq, run_id, time, environment, hash,
                      CASE WHEN json_valid(record) THEN json_extract(record, '$.repo', '$.result') END
               FROM runs WHERE ?1 IS NULL OR environment = ?1 ORDER BY seq DESC LIMIT ?2""",
            (environment, -1 if limit is None else limit),
        )
        runs: list[LedgerRun] = []
        for seq, run_id, time, env, digest, extracted in reversed(rows):
            repo, result = json.loads(extracted) if extracted else ({}, {})
            repo = repo if isinstance(repo, dict) else {}
            result = result if isinstance(result, dict) else {}
            summary = result.get("summary")
            code = result.get("exitCode")
            runs.append(
                LedgerRun(
                    seq,
                    run_id,
                    time,
                    env,
                    repo.get("commit"),
                    repo.get("dirty"),
                    summary if isinstance(summary, dict) else {},
                    code if isinstance(code, int) else None,
                    digest,
                )
            )
        return runs

    def records(self) -> Generator[tuple[int, Any, tuple[Any, ...]], None, None]:
        """Every row in seq order, in one read transaction: ``(seq, record text, (run_id, time, environment,
        prev, hash))``. A snapshot: appends that commit meanwhile are not seen."""
        db = self._db
        try:
            db.execute("BEGIN")
            try:
                cursor = db.execute("SELECT seq, record, run_id, time, environment, prev, hash FROM runs ORDER BY seq")
                for row in cursor:
                    yield row[0], row[1], tuple(row[2:])
            finally:
                if db.in_transaction:
                    db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise LedgerError(f"unreadable ledger: {exc}", file=self.path) from None

    # ---------------------------------------------------------------------------------------------- verifying

    def verify(self) -> VerifyReport:
        """Walk the chain in seq order and report the first broken record (or that it is intact).

        A record is broken when its stored JSON does not parse, is not canonical, does not hash to its
        ``hash``, disagrees with its columns, does not link to the record before it (``prev``), or when
        records before it are missing (a gap in seq). Removing the newest records leaves a shorter chain that
        verifies: compare :attr:`VerifyReport.head` with a head you kept to catch that.
        """
        rows = self.records()
        try:
            return self._walk(rows)
        finally:
            rows.close()  # ends the read transaction at the first break too

    def _walk(self, rows: Iterator[tuple[int, Any, tuple[Any, ...]]]) -> VerifyReport:
        count = 0
        last_hash: str | None = None
        last_run: str | None = None
        for seq, stored, columns in rows:
            run_id, prev_column = columns[0], columns[3]
            expected = count + 1
            if seq != expected:  # a gap: the first missing record is the broken one
                missing = f"record {expected} is" if seq == expected + 1 else f"records {expected}-{seq - 1} are"
                if expected == 1:
                    reason = f"the ledger starts at record {seq} (run {run_id})"
                elif prev_column != last_hash:
                    reason = f"record {seq}'s prev does not match record {expected - 1}'s hash"
                else:
                    reason = f"seq jumps from {expected - 1} to {seq}"
                return VerifyReport(self.path, count, last_hash, expected, None, f"{missing} missing: {reason}")
            problem = _row_problem(seq, stored, columns, last_hash, last_run)
            if problem is not None:
                return VerifyReport(self.path, count, last_hash, seq, run_id, f"record {seq} (run {run_id}): {problem}")
            count, last_hash, last_run = seq, columns[4], run_id
        return VerifyReport(self.path, count, last_hash)


def _row_problem(
    seq: int, stored: Any, columns: tuple[Any, ...], last_hash: str | None, last_run: str | None
) -> str | None:
    """What is wrong with one stored record, in order: readable, hashes to its hash, canonical, agrees with
    its columns, links to the record before it. None when nothing is."""
    if isinstance(stored, bytes):
        try:
            stored = stored.decode("utf-8")
        except UnicodeDecodeError:
            return "stored record is not UTF-8 text (altered outside mlgate)"
    if not isinstance(stored, str):
        return "stored record is not text"
    try:
        record = json.loads(stored)
    except (ValueError, RecursionError):
        return "stored record is not valid JSON (altered outside mlgate)"
    if not isinstance(record, dict):
        return "stored record is not a JSON object"
    try:
        pieces = {key: _piece(key, value) for key, value in record.items()}
    except (ValueError, RecursionError):
        return "stored record cannot be serialised again"
    if _hash(_joined({key: piece for key, piece in pieces.items() if key != "hash"})) != record.get("hash"):
        return "content does not match its hash (altered after it was recorded)"
    if _joined(pieces) != stored:
        return "stored JSON is not in canonical form (altered outside mlgate)"
    names = ("run_id", "time", "environment", "prev", "hash")
    keys = ("runId", "time", "environment", "prev", "hash")
    for column, key, value in zip(("seq", *names), ("seq", *keys), (seq, *columns), strict=True):
        if record.get(key) != value:
            return f"column {column} ({value!r}) does not match the record's {key} ({record.get(key)!r})"
    if record.get("prev") != last_hash:
        if last_hash is None:
            return "the first record's prev is not null"
        return (
            f"prev does not match the hash of record {seq - 1} (run {last_run}): "
            f"record {seq - 1} was rewritten or replaced, or this one was"
        )
    return None
