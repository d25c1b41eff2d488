"""What the host has installed, persisted: :class:`InstalledRecord` behind the :class:`InstalledStore` interface.

The record has the columns of upstream's ``pg_installed_plugins`` table
(``id`` uuid, ``plugin_id``, ``project_id``, …, ``source_config``,
``build_config``, ``runtime_config`` as JSON, ``installed_at``/``updated_at``
ISO-8601 UTC), so a PostgreSQL implementation of the same interface can
store them unchanged. :class:`SqliteStore` is the embedded one: one file in
the managed plugins directory, WAL journal, one connection used by one
worker thread at a time (every call runs in ``trio.to_thread`` under a lock,
so there is exactly one writer and the event loop never blocks on disk).

Failures raise :class:`StoreError` naming the database file and the operation.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from datetime import datetime, timezone
from functools import partial
from typing import Any, Callable, Protocol, TypeVar

import attrs
import trio

from ..errors import HostError

T = TypeVar("T")

#: ``status`` values a record can have. ``installing``: files are being put in place (a record
#: left in this state by a crash is rolled back at the next start); the others mirror the
#: supervisor's statuses, as last seen.
RECORD_STATUSES = ("installing", "starting", "running", "stopped", "error")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


@attrs.define(kw_only=True)
class InstalledRecord:
    """One installed plugin: the request it came from, its manifest's facts, its last known state."""

    plugin_id: str
    name: str
    version: str
    install_type: str  # "github" | "binary" | "local"
    install_path: str
    id: str = attrs.Factory(lambda: str(uuid.uuid4()))
    project_id: str | None = None
    description: str | None = None
    author: str | None = None
    source_url: str | None = None
    latest_version: str | None = None
    source_config: dict[str, Any] = attrs.Factory(dict)
    build_config: dict[str, Any] | None = None
    runtime_config: dict[str, Any] = attrs.Factory(dict)
    status: str = "installing"
    pid: int | None = None
    last_error: str | None = None
    installed_at: str = attrs.Factory(now_iso)
    updated_at: str = attrs.Factory(now_iso)


COLUMNS = tuple(f.name for f in attrs.fields(InstalledRecord))
JSON_COLUMNS = ("source_config", "build_config", "runtime_config")


class StoreError(HostError):
    """The store could not be read or written (the message names the file and the operation)."""

    kind = "store_error"
    status_hint = 500


class InstalledStore(Protocol):
    """The interface every store implements (SQLite here; PostgreSQL elsewhere).

    Records are keyed by ``plugin_id`` (one installation of a plugin id per
    host). All methods are async and raise :class:`StoreError`.
    """

    async def all(self) -> list[InstalledRecord]:
        """Every record, ordered by plugin id."""
        ...

    async def get(self, plugin_id: str) -> InstalledRecord | None:
        ...

    async def save(self, record: InstalledRecord) -> None:
        """Insert or replace the record of ``record.plugin_id``."""
        ...

    async def delete(self, plugin_id: str) -> bool:
        """Remove the record; False if there was none."""
        ...

    async def close(self) -> None:
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS installed_plugins (
    id TEXT PRIMARY KEY,
    plugin_id TEXT NOT NULL UNIQUE,
    project_id TEXT,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    description TEXT,
    author TEXT,
    source_url TEXT,
    latest_version TEXT,
    install_type TEXT NOT NULL,
    source_config TEXT NOT NULL,
    build_config TEXT,
    runtime_config TEXT NOT NULL,
    status TEXT NOT NULL,
    install_path TEXT NOT NULL,
    pid INTEGER,
    last_error TEXT,
    installed_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""


class SqliteStore(InstalledStore):
    """:class:`InstalledStore` in one SQLite file (stdlib ``sqlite3``, WAL, one writer)."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self._conn: sqlite3.Connection | None = None
        self._thread_lock = threading.Lock()  # one statement sequence at a time on the connection
        self._lock = trio.Lock()  # callers queue here instead of holding worker threads

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            os.makedirs(os.path.dirname(self.path), mode=0o750, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            self._conn = conn
        return self._conn

    def _run(self, what: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._thread_lock:
            try:
                return fn(self._connect())
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {what} failed: {exc}") from None

    async def _call(self, what: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        async with self._lock:
            return await trio.to_thread.run_sync(partial(self._run, what, fn))

    def load_sync(self) -> list[InstalledRecord]:
        """Every record, read on the calling thread (for the command line's ``check``)."""
        return self._run("reading installed plugins", _select_all)

    async def all(self) -> list[InstalledRecord]:
        return await self._call("reading installed plugins", _select_all)

    async def get(self, plugin_id: str) -> InstalledRecord | None:
        def select(conn: sqlite3.Connection) -> InstalledRecord | None:
            row = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM installed_plugins WHERE plugin_id = ?", (plugin_id,)).fetchone()
            return _record(row) if row is not None else None

        return await self._call(f"reading plugin {plugin_id!r}", select)

    async def save(self, record: InstalledRecord) -> None:
        values = _row(record)

        def upsert(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("DELETE FROM installed_plugins WHERE plugin_id = ? AND id != ?", (record.plugin_id, record.id))
                conn.execute(
                    f"INSERT OR REPLACE INTO installed_plugins ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                    values,
                )

        await self._call(f"saving plugin {record.plugin_id!r}", upsert)

    async def delete(self, plugin_id: str) -> bool:
        def remove(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM installed_plugins WHERE plugin_id = ?", (plugin_id,)).rowcount > 0

        return await self._call(f"deleting plugin {plugin_id!r}", remove)

    async def close(self) -> None:
        def close(_: sqlite3.Connection) -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        if self._conn is not None:
            await self._call("closing", close)


def _select_all(conn: sqlite3.Connection) -> list[InstalledRecord]:
    rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM installed_plugins ORDER BY plugin_id").fetchall()
    return [_record(row) for row in rows]


def _row(record: InstalledRecord) -> tuple[Any, ...]:
    values = attrs.asdict(record)
    return tuple(json.dumps(values[c]) if c in JSON_COLUMNS and values[c] is not None else values[c] for c in COLUMNS)


def _record(row: tuple[Any, ...]) -> InstalledRecord:
    values = dict(zip(COLUMNS, row))
    for column in JSON_COLUMNS:
        if values[column] is not None:
            values[column] = json.loads(values[column])
    return InstalledRecord(**values)
