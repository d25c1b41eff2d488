""":class:`PostgresStore`: the installed-plugin records in upstream's ``pg_installed_plugins`` table.

Used when ``database_url`` (upstream ``DATABASE_URL``) is set, so tgo-host
and the upstream TGO plugin runtime read and write the same rows and either
can replace the other. psycopg 3 (a blocking driver, the reference one for
PostgreSQL) is driven from trio through worker threads: one connection,
one statement sequence at a time (a trio lock queues callers, so at most
one worker thread is ever busy), parameterised queries only.

Losing the database never blocks anything else: rendering never touches the
store, and a call made while the connection is down fails at once with
:class:`StoreUnavailable` until the back-off (0.5 s doubling to 30 s) allows
the next connection attempt. ``connect_timeout`` and ``statement_timeout``
bound every attempt. The table is created when missing, with upstream's
columns; rows of other plugin ids are never touched.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from datetime import datetime, timezone
from functools import partial
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit, urlunsplit

import attrs
import trio

from ..settings import Settings
from .store import COLUMNS, JSON_COLUMNS, InstalledRecord, InstalledStore, StoreError

log = logging.getLogger("tgo_host.marketplace.pgstore")
T = TypeVar("T")

TABLE = "pg_installed_plugins"
CONNECT_TIMEOUT = 5  # seconds; libpq's connect_timeout
STATEMENT_TIMEOUT_MS = 10000
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id uuid PRIMARY KEY,
    plugin_id varchar(255) NOT NULL,
    project_id uuid,
    name varchar(255) NOT NULL,
    version varchar(50) NOT NULL,
    description text,
    author varchar(255),
    source_url varchar(512),
    latest_version varchar(50),
    install_type varchar(50) NOT NULL,
    source_config jsonb,
    build_config jsonb,
    runtime_config jsonb,
    status varchar(20) NOT NULL,
    install_path varchar(512),
    pid integer,
    last_error text,
    installed_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""
_INDEX = f"CREATE INDEX IF NOT EXISTS ix_{TABLE}_plugin_id ON {TABLE} (plugin_id)"


class StoreUnavailable(StoreError):
    """The database cannot be reached now (the message says why and when the next attempt is)."""

    kind = "store_unavailable"
    status_hint = 503
    retry_after = 5


def libpq_url(url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy's form) or ``postgres://…`` → a libpq ``postgresql://…`` URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise StoreError(f"database_url: expected postgresql://…, got a {parts.scheme or 'scheme-less'} URL")
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))


def redacted(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class PostgresStore(InstalledStore):
    """:class:`InstalledStore` in PostgreSQL's ``pg_installed_plugins`` (psycopg 3, one connection, reconnecting)."""

    def __init__(self, url: str, base_path: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = libpq_url(url)
        self.base_path = os.path.abspath(base_path)  # a row without install_path: BASE/<plugin_id> (upstream's layout)
        self.shown = redacted(self.url)
        self._conn: Any = None
        self._thread_lock = threading.Lock()
        self._lock = trio.Lock()
        self._clock = clock
        self._backoff = 0.0
        self._retry_at = 0.0
        self._last_error = ""

    # -- connection --------------------------------------------------------------

    def _connect(self) -> Any:
        import psycopg

        if self._conn is not None and not self._conn.closed:
            return self._conn
        now = self._clock()
        if now < self._retry_at:
            raise StoreUnavailable(
                f"PostgreSQL {self.shown} is unavailable ({self._last_error}); next attempt in {self._retry_at - now:.1f} s"
            )
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                                   options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}")
            conn.execute(_SCHEMA)
            conn.execute(_INDEX)
        except psycopg.Error as exc:
            self._fail(exc)
            raise StoreUnavailable(f"PostgreSQL {self.shown}: cannot connect: {self._last_error}") from None
        if self._backoff:
            log.info("PostgreSQL %s is back", self.shown)
        self._conn, self._backoff, self._retry_at = conn, 0.0, 0.0
        return conn

    def _fail(self, exc: BaseException) -> None:
        """Drop the connection and schedule the next attempt (doubling back-off)."""
        self._last_error = " ".join(str(exc).split()) or type(exc).__name__
        self._backoff = min(MAX_BACKOFF, self._backoff * 2 if self._backoff else FIRST_BACKOFF)
        self._retry_at = self._clock() + self._backoff
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
            self._conn = None
        log.warning("PostgreSQL %s: %s; retrying in %.1f s", self.shown, self._last_error, self._backoff)

    def _run(self, what: str, fn: Callable[[Any], T]) -> T:
        import psycopg

        with self._thread_lock:
            conn = self._connect()
            try:
                return fn(conn)
            except psycopg.OperationalError as exc:  # connection lost (or a statement timed out)
                self._fail(exc)
                raise StoreUnavailable(f"PostgreSQL {self.shown}: {what} failed: {self._last_error}") from None
            except psycopg.Error as exc:
                if conn.closed or conn.broken:
                    self._fail(exc)
                    raise StoreUnavailable(f"PostgreSQL {self.shown}: {what} failed: {self._last_error}") from None
                raise StoreError(f"PostgreSQL {self.shown}: {what} failed: {' '.join(str(exc).split())}") from None

    async def _call(self, what: str, fn: Callable[[Any], T]) -> T:
        async with self._lock:
            return await trio.to_thread.run_sync(partial(self._run, what, fn))

    # -- the interface -------------------------------------------------------------

    def load_sync(self) -> list[InstalledRecord]:
        """Every record, read on the calling thread (start-up, before trio runs)."""
        return self._fill(self._run("reading installed plugins", _select_all))

    def _fill(self, records: list[InstalledRecord]) -> list[InstalledRecord]:
        for record in records:
            if not record.install_path:
                record.install_path = os.path.join(self.base_path, record.plugin_id)
        return records

    async def check(self) -> None:
        """Raise :class:`StoreUnavailable` unless the database answers now."""
        await self._call("checking the connection", lambda conn: conn.execute("SELECT 1").fetchone())

    async def all(self) -> list[InstalledRecord]:
        return self._fill(await self._call("reading installed plugins", _select_all))

    async def get(self, plugin_id: str) -> InstalledRecord | None:
        def select(conn: Any) -> InstalledRecord | None:
            rows = _select(conn, "WHERE plugin_id = %s ORDER BY updated_at DESC LIMIT 1", (plugin_id,))
            return self._fill(rows)[0] if rows else None

        return await self._call(f"reading plugin {plugin_id!r}", select)

    async def save(self, record: InstalledRecord) -> None:
        values = _row(record)
        names = ", ".join(COLUMNS)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS if c != "id")
        sql = (f"INSERT INTO {TABLE} ({names}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
               f"ON CONFLICT (id) DO UPDATE SET {updates}")
        await self._call(f"saving plugin {record.plugin_id!r}", lambda conn: conn.execute(sql, values))

    async def delete(self, plugin_id: str) -> bool:
        def remove(conn: Any) -> bool:
            return bool(conn.execute(f"DELETE FROM {TABLE} WHERE plugin_id = %s", (plugin_id,)).rowcount > 0)

        return await self._call(f"deleting plugin {plugin_id!r}", remove)

    async def close(self) -> None:
        def close(_: Any) -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        if self._conn is not None:
            async with self._lock:
                await trio.to_thread.run_sync(partial(self._locked_close, close))

    def _locked_close(self, close: Callable[[Any], None]) -> None:
        with self._thread_lock:
            close(self._conn)


def _select(conn: Any, where: str, params: tuple[Any, ...]) -> list[InstalledRecord]:
    rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {TABLE} {where}", params).fetchall()
    return [_record(row) for row in rows]


def _select_all(conn: Any) -> list[InstalledRecord]:
    """Every row; when upstream left several rows for one plugin id, the latest one (the others stay as they are)."""
    latest: dict[str, InstalledRecord] = {}
    for record in _select(conn, "ORDER BY plugin_id, updated_at", ()):
        if record.plugin_id in latest:
            log.warning("%s has several rows for plugin %s; using the latest (%s)", TABLE, record.plugin_id, record.id)
        latest[record.plugin_id] = record
    return list(latest.values())


def _uuid(value: str | None, column: str, plugin_id: str) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise StoreError(f"{TABLE}.{column} of plugin {plugin_id!r} must be a UUID, got {value!r}") from None


def _row(record: InstalledRecord) -> tuple[Any, ...]:
    from psycopg.types.json import Jsonb

    values = attrs.asdict(record)
    values["id"] = _uuid(record.id, "id", record.plugin_id)
    values["project_id"] = _uuid(record.project_id, "project_id", record.plugin_id)
    for column in JSON_COLUMNS:
        values[column] = Jsonb(values[column]) if values[column] is not None else None
    for column in ("installed_at", "updated_at"):
        values[column] = datetime.fromisoformat(values[column])
    return tuple(values[c] for c in COLUMNS)


def _record(row: tuple[Any, ...]) -> InstalledRecord:
    values = dict(zip(COLUMNS, row))
    for column in ("id", "project_id"):
        values[column] = str(values[column]) if values[column] is not None else None
    for column in ("installed_at", "updated_at"):
        stamp = values[column]
        if isinstance(stamp, datetime):
            values[column] = (stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).isoformat()
    for column in ("source_config", "runtime_config"):
        if values[column] is None:
            values[column] = {}
    values["install_path"] = values["install_path"] or ""
    return InstalledRecord(**values)


def open_postgres_store(settings: Settings) -> PostgresStore | None:
    """The store of ``settings.database_url`` (None when unset), checked and adopted before anything launches.

    Reads the rows once (raising :class:`StoreError` when the database cannot
    be reached, or when no row's directory exists: a start-up failure) and writes the host's manifests into the
    directories the upstream runtime left (:mod:`.adopt`).
    """
    from .adopt import write_upstream_manifests

    if not settings.database_url:
        return None
    if not settings.managed_plugins_dir:
        raise StoreError("needs managed_plugins_dir (PLUGIN_BASE_PATH), where the plugins' files are")
    store = PostgresStore(settings.database_url, settings.managed_plugins_dir)
    records = store.load_sync()
    present = [r for r in records if r.status == "installing" or os.path.isdir(r.install_path)]
    if records and not present:
        # Every directory missing means the plugin volume is not where the rows say (not mounted, another
        # PLUGIN_BASE_PATH): starting would forget every installed plugin, so refuse instead.
        raise StoreError(
            f"{len(records)} installed plugin(s) in {TABLE} but none of their directories exists "
            f"(e.g. {records[0].install_path}); is the plugin volume mounted at {store.base_path}? Nothing was changed"
        )
    adopted = write_upstream_manifests(records)
    log.info("PostgreSQL %s: %d installed plugin(s), %d adopted from the upstream runtime", store.shown,
             len(records), adopted)
    return store
