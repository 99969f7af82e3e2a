"""The decision cache: a document the same policies have judged before is not judged again.

:class:`CachedEngine` wraps an engine. Its key is the sha256 of

* :data:`CACHE_FORMAT` (bump it when the meaning of an engine's values changes) and mlgate's version,
* ``PolicyBundle.digest()``: every policy file (tests included) and ``data.json``,
* the engine's name and version (``embedded``, ``regorus 0.13.0``) and the evaluated packages,
* the canonical JSON of the input document (sorted keys, no spaces). The embedded engine sees the same value:
  regorus reads tuples as arrays and keys as strings, as JSON does. A document JSON cannot encode (NaN, a set,
  mixed key types) is judged every time.

So any change to a policy, the data, the engine or a single byte of a document's JSON value is a miss.

**input.now.** The document carries ``now``, the time of the run to the second. It stays in the key: FAIR-007
compares it with the evidence's ``generatedAt`` to the nanosecond (``time.parse_rfc3339_ns``, not per day) and
quotes it in its message, so a document judged at another time may be judged differently. Without
``mlgate check --now`` a run therefore only hits what the same second judged. ``--now`` pins the time (CI can
pass the commit time) and unchanged documents then hit from run to run.

Only clean values are stored: every package an object of ``deny``/``warn`` arrays of ``{id, msg}`` objects.
Engine errors, UNDEFINED and malformed values are judged again each time. Waivers, their expiry and the sorting
come after the cache (``compliance.gate.run``), so an expiring waiver still counts.

The store is one SQLite file, ``$XDG_CACHE_HOME/mlgate/decisions/decisions.sqlite3`` (default ``~/.cache``), in
WAL mode, with one transaction per run, pruned to the :data:`MAX_ENTRIES` most recently used entries.
``MLGATE_NO_CACHE=1`` disables it. The cache fails closed: each value carries a checksum over its key and text;
anything unreadable, locked, of another schema or failing its checksum is a miss. A corrupt file is deleted and
rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance._internal.cache import cache_root
from compliance.gate.bundle import PolicyBundle
from compliance.gate.engine import Engine, EngineFailure, Outcome, evaluate_all

__all__ = ["CACHE_FORMAT", "MAX_ENTRIES", "CacheStats", "CachedEngine", "DecisionStore", "cache_file", "is_clean"]

#: Bump when what an engine returns for the same document and bundle changes: it invalidates every entry.
CACHE_FORMAT = "mlgate-decisions-1"
#: Entries kept; the least recently used beyond this are pruned at the end of a run.
MAX_ENTRIES = 100_000

_SCHEMA_VERSION = 1  # of the SQLite file (PRAGMA user_version); another version is discarded
_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    checksum TEXT NOT NULL,
    used INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS decisions_used ON decisions (used);
"""
_LOOKUP_BATCH = 500  # keys per SELECT … IN (…)
_TOUCH_AFTER = 24 * 3600  # seconds: a hit refreshes its entry's `used` at most once a day


def cache_file() -> Path | None:
    """The store's path, or None when ``MLGATE_NO_CACHE`` is set or there is no home directory."""
    root = cache_root("decisions")
    return root / "decisions.sqlite3" if root else None


def is_clean(values: Any, packages: Sequence[str]) -> bool:
    """Exactly the packages, each ``{"deny"?: [...], "warn"?: [...]}`` of ``{id: str, msg: str, …}`` objects."""
    if not isinstance(values, dict) or set(values) != set(packages):
        return False
    for value in values.values():
        if not isinstance(value, dict) or not set(value) <= {"deny", "warn"}:
            return False
        for items in value.values():
            if not isinstance(items, list) or not all(
                isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("msg"), str)
                for item in items
            ):
                return False
    return True


def _canonical(document: Mapping[str, Any]) -> bytes | None:
    try:
        return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError, RecursionError):
        return None


def _checksum(key: str, value: str) -> str:
    return hashlib.sha256(f"{key}\n{value}".encode()).hexdigest()


def _corrupt(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


class DecisionStore:
    """key -> value text in one SQLite file. Every failure is a miss (reads) or a lost write (writes)."""

    def __init__(self, path: Path, *, max_entries: int = MAX_ENTRIES) -> None:
        self.path = path
        self.max_entries = max_entries
        self._db: sqlite3.Connection | None = None
        self._broken = False  # found corrupt: deleted on close
        self._stale: list[str] = []  # hits of the last load whose `used` is older than a day

    @classmethod
    def default(cls) -> DecisionStore | None:
        path = cache_file()
        return cls(path) if path is not None else None

    def load(self, keys: Sequence[str]) -> dict[str, str]:
        """The stored, checksum-verified values of ``keys`` (absent keys are misses)."""
        db = self._open()
        if db is None or not keys:
            return {}
        found: dict[str, str] = {}
        stale = int(time.time()) - _TOUCH_AFTER
        self._stale = []
        try:
            for start in range(0, len(keys), _LOOKUP_BATCH):
                batch = keys[start : start + _LOOKUP_BATCH]
                marks = ",".join("?" * len(batch))
                query = f"SELECT key, value, checksum, used FROM decisions WHERE key IN ({marks})"
                for key, value, checksum, used in db.execute(query, batch):
                    if isinstance(value, str) and checksum == _checksum(key, value):
                        found[key] = value
                        if not isinstance(used, int) or used < stale:
                            self._stale.append(key)
        except sqlite3.Error as exc:
            self._broken = _corrupt(exc)
            self._stale = []
            return {}
        return found

    def save(self, entries: Mapping[str, str]) -> int:
        """Store ``entries``, mark the hits of the last :meth:`load` used, prune: one transaction. Returns the
        number of entries stored (0 when the write failed)."""
        db = self._open()
        stale, self._stale = self._stale, []
        if db is None or not (entries or stale):
            return 0
        now = int(time.time())
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT OR REPLACE INTO decisions (key, value, checksum, used) VALUES (?, ?, ?, ?)",
                    [(key, value, _checksum(key, value), now) for key, value in entries.items()],
                )
                db.executemany("UPDATE decisions SET used = ? WHERE key = ?", [(now, key) for key in stale])
                if entries:
                    self._prune(db)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:  # locked by another run, disk full, corrupt: the cache is only an optimisation
            self._broken = self._broken or _corrupt(exc)
            return 0
        return len(entries)

    def close(self) -> None:
        """Close the connection; a store found corrupt is deleted, to be rebuilt by the next run."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._broken:
            self._discard()
            self._broken = False

    def _prune(self, db: sqlite3.Connection) -> None:
        (count,) = db.execute("SELECT COUNT(*) FROM decisions").fetchone()
        if count > self.max_entries:
            db.execute(
                "DELETE FROM decisions WHERE key IN (SELECT key FROM decisions ORDER BY used, key LIMIT ?)",
                (count - self.max_entries,),
            )

    def _open(self) -> sqlite3.Connection | None:
        if self._broken:
            return None
        if self._db is not None:
            return self._db
        for attempt in range(2):
            try:
                self._db = self._connect()
                return self._db
            except sqlite3.Error as exc:
                if attempt == 0 and (_corrupt(exc) or isinstance(exc, _WrongSchema)):
                    self._discard()  # not ours or damaged: start again
                    continue
                return None  # locked, read-only, …: no cache this run
            except OSError:
                return None
        return None

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=2.0, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            (schema,) = db.execute("PRAGMA user_version").fetchone()
            if schema == 0:
                db.executescript(_SCHEMA)
                db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            elif schema != _SCHEMA_VERSION:
                raise _WrongSchema(f"schema {schema}, not {_SCHEMA_VERSION}")
            db.execute("SELECT key, value, checksum, used FROM decisions LIMIT 1").fetchall()
        except BaseException:
            db.close()
            raise
        return db

    def _discard(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)


class _WrongSchema(sqlite3.DatabaseError):
    pass


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    stored: int = 0
    uncacheable: int = 0  # documents JSON cannot encode: judged, never stored

    def __str__(self) -> str:
        text = f"{self.hits} hits, {self.misses} misses, {self.stored} stored"
        return text + (f", {self.uncacheable} not cacheable" if self.uncacheable else "")


def _mlgate_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlgate")
    except PackageNotFoundError:
        return "?"


class CachedEngine:
    """An engine that answers from :class:`DecisionStore` when it can and asks ``engine`` otherwise."""

    def __init__(self, engine: Engine, bundle: PolicyBundle, store: DecisionStore) -> None:
        self.name = engine.name  # reports name the engine that judged, cached or not
        self.version = str(getattr(engine, "version", ""))
        self.engine = engine
        self.store = store
        self.stats = CacheStats()
        self._scope = [CACHE_FORMAT, _mlgate_version(), bundle.digest(), self.name, self.version]

    def key(self, document: Mapping[str, Any], packages: Sequence[str]) -> str | None:
        """sha256 of the scope (format, bundle, engine, packages) and the document's canonical JSON."""
        canonical = _canonical(document)
        if canonical is None:
            return None
        digest = hashlib.sha256(json.dumps([*self._scope, list(packages)]).encode() + b"\0")
        digest.update(canonical)
        return digest.hexdigest()

    def evaluate(self, document: Mapping[str, Any], packages: Sequence[str]) -> dict[str, Any]:
        """One document; the wrapped engine's exceptions pass through unchanged."""
        key = self.key(document, packages)
        try:
            cached = self._decode(self.store.load([key]).get(key), packages) if key else None
            if cached is not None:
                self.stats.hits += 1
                return cached
            self._count_miss(key)
            values = self.engine.evaluate(document, packages)
            if key is not None and is_clean(values, packages):
                self.stats.stored += self.store.save({key: _encode(values)})
            return values
        finally:
            self.store.close()

    def evaluate_all(self, documents: Sequence[Mapping[str, Any]], packages: Sequence[str]) -> list[Outcome]:
        """Hits from the store; the misses judged together by the wrapped engine; clean values stored."""
        keys = [self.key(document, packages) for document in documents]
        try:
            found = self.store.load([k for k in keys if k is not None])
            outcomes: list[Outcome | None] = [self._decode(found.get(k), packages) if k else None for k in keys]
            misses = [i for i, outcome in enumerate(outcomes) if outcome is None]
            self.stats.hits += len(documents) - len(misses)
            fresh = evaluate_all(self.engine, [documents[i] for i in misses], packages)
            new: dict[str, str] = {}
            for i, outcome in zip(misses, fresh, strict=True):
                outcomes[i] = outcome
                key = keys[i]
                self._count_miss(key)
                if key is not None and not isinstance(outcome, EngineFailure) and is_clean(outcome, packages):
                    new[key] = _encode(outcome)
            self.stats.stored += self.store.save(new)
        finally:
            self.store.close()
        return [o if o is not None else EngineFailure(f"{self.name} engine: no result") for o in outcomes]

    def _count_miss(self, key: str | None) -> None:
        self.stats.misses += 1
        if key is None:
            self.stats.uncacheable += 1

    @staticmethod
    def _decode(text: str | None, packages: Sequence[str]) -> dict[str, Any] | None:
        if text is None:
            return None
        try:
            values = json.loads(text)
        except (ValueError, RecursionError):
            return None
        return values if is_clean(values, packages) else None


def _encode(values: Mapping[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, separators=(",", ":"))
