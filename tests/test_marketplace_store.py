"""The installed-plugins store: SQLite file, WAL, records survive reopening."""

from __future__ import annotations

import os
import sqlite3

import pytest
import trio

from tgo_host.marketplace.store import InstalledRecord, SqliteStore, StoreError


def record(plugin_id: str, **extra) -> InstalledRecord:
    values = {"name": plugin_id.title(), "version": "1.0.0", "install_type": "github",
              "install_path": f"/srv/managed/{plugin_id}", **extra}
    return InstalledRecord(plugin_id=plugin_id, **values)


async def test_round_trip_upsert_delete_and_reopen(short_dir):
    path = os.path.join(short_dir, "m", "installed.db")
    store = SqliteStore(path)
    first = record("com.a", project_id="p1", source_config={"github": {"repo": "o/r", "ref": "v1", "path": "/"}},
                   build_config={"language": "python"}, runtime_config={"args": ["-v"], "env": {"K": "1"}})
    await store.save(first)
    await store.save(record("com.b", status="running", pid=42))
    assert [r.plugin_id for r in await store.all()] == ["com.a", "com.b"]
    assert await store.get("com.a") == first
    assert await store.get("nope") is None
    first.status, first.latest_version = "running", "1.1.0"
    await store.save(first)
    assert (await store.get("com.a")).latest_version == "1.1.0"
    # a new record for the same plugin id replaces the old one (a reinstall)
    replacement = record("com.b", version="2.0.0")
    await store.save(replacement)
    assert (await store.get("com.b")).id == replacement.id and len(await store.all()) == 2
    assert await store.delete("com.b") is True and await store.delete("com.b") is False
    await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened = SqliteStore(path)
    assert await reopened.all() == [first]
    assert reopened.load_sync() == [first]
    await reopened.close()


async def test_concurrent_writers_are_serialised(short_dir):
    store = SqliteStore(os.path.join(short_dir, "installed.db"))
    async with trio.open_nursery() as nursery:
        for i in range(40):
            nursery.start_soon(store.save, record(f"com.p{i:02d}"))
    assert len(await store.all()) == 40
    await store.close()


async def test_unusable_file_is_a_store_error_naming_it(short_dir):
    path = os.path.join(short_dir, "installed.db")
    with open(path, "w") as fh:
        fh.write("this is not a database" * 100)
    with pytest.raises(StoreError, match="installed.db: reading installed plugins failed"):
        await SqliteStore(path).all()
