"""PostgreSQL state: tgo-host on the upstream runtime's pg_installed_plugins, with a real throw-away cluster."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid

import psycopg
import pytest
import trio

from composehost import ComposeHost, compose_environment
from support.paths import PLUGINS
from pgcluster import pg_cluster  # noqa: F401 - fixture
from tgo_host.marketplace.pgstore import PostgresStore, StoreUnavailable, libpq_url, redacted
from tgo_host.marketplace.store import InstalledRecord

PROJECT = "6a1f3c2e-8d4b-4e2a-9b7c-1d2e3f4a5b6c"
OTHER_PROJECT = "0f0e0d0c-0b0a-4909-8807-060504030201"

# The table as the upstream runtime's migrations leave it (timestamps without time zone).
UPSTREAM_DDL = """
CREATE TABLE pg_alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY);
INSERT INTO pg_alembic_version VALUES ('0001_upstream');
CREATE TABLE pg_installed_plugins (
    id uuid PRIMARY KEY, plugin_id varchar(255) NOT NULL, project_id uuid NOT NULL,
    name varchar(255) NOT NULL, version varchar(50) NOT NULL, description text, author varchar(255),
    source_url varchar(512), latest_version varchar(50), install_type varchar(50) NOT NULL,
    source_config jsonb, build_config jsonb, runtime_config jsonb, status varchar(20) NOT NULL,
    install_path varchar(512), pid integer, last_error text,
    installed_at timestamp NOT NULL DEFAULT now(), updated_at timestamp NOT NULL DEFAULT now()
);
"""


def test_database_url_forms():
    assert libpq_url("postgresql+asyncpg://u:p@db:5432/tgo") == "postgresql://u:p@db:5432/tgo"
    assert libpq_url("postgres://u@db/tgo?sslmode=disable") == "postgresql://u@db/tgo?sslmode=disable"
    assert redacted("postgresql://u:secret@db/tgo") == "postgresql://u:***@db/tgo"
    with pytest.raises(Exception, match="expected postgresql"):
        libpq_url("mysql://u@db/tgo")


def upstream_row(cluster, plugin_id: str, base: str, status: str, project: str = PROJECT) -> str:
    """Insert a row as upstream leaves it, with the plugin's files under base/<plugin_id>/ (a python plugin)."""
    directory = os.path.join(base, plugin_id)
    os.makedirs(directory)
    shutil.copy(PLUGINS / "scripted.py", os.path.join(directory, "main.py"))
    with open(os.path.join(directory, "plugin.yml"), "w") as fh:  # the repository's own manifest, as cloned
        fh.write(f"id: {plugin_id}\nname: upstream manifest\nversion: 0.0.1\n")
    row_id = str(uuid.uuid4())
    source = json.dumps({"github": {"repo": f"acme/{plugin_id}", "ref": "main", "path": "/"}})
    build = json.dumps({"language": "python", "python": {"entrypoint": "main.py", "requirements": "requirements.txt"}})
    runtime = json.dumps({"args": ["--id", plugin_id], "env": {}, "auto_restart": True, "restart_delay": 5})
    cluster.psql(
        "INSERT INTO pg_installed_plugins (id, plugin_id, project_id, name, version, description, author, source_url, "
        "latest_version, install_type, source_config, build_config, runtime_config, status, install_path, pid, "
        f"installed_at, updated_at) VALUES ('{row_id}', '{plugin_id}', '{project}', 'Upstream {plugin_id}', '1.2.0', "
        f"'installed by upstream', 'ACME', 'https://github.com/acme/{plugin_id}', '1.2.0', 'github', "
        f"'{source}', '{build}', '{runtime}', '{status}', '{directory}', 4242, "
        "'2026-01-02 03:04:05', '2026-01-02 03:04:05')"
    )
    return row_id


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout} s (last: {last!r})")


def listed(host, project: str = PROJECT) -> dict[str, dict]:
    answer = host.get("/plugins/installed", params={"project_id": project})
    assert answer.status_code == 200, answer.text
    return {p["plugin_id"]: p for p in answer.json()["plugins"]}


def row(cluster, plugin_id: str) -> str:
    return cluster.psql(f"SELECT status FROM pg_installed_plugins WHERE plugin_id = '{plugin_id}'")


@pytest.mark.timeout(300)
def test_upstream_rows_are_adopted_kept_and_updated(pg_cluster, short_dir):  # noqa: F811
    cluster = pg_cluster
    cluster.psql(UPSTREAM_DDL)
    compose = compose_environment(short_dir, DATABASE_URL=cluster.url())
    base = compose["PLUGIN_BASE_PATH"]
    running_id = upstream_row(cluster, "pg-run", base, "running")
    upstream_row(cluster, "pg-stopped", base, "stopped")
    upstream_row(cluster, "pg-other", base, "running", project=OTHER_PROJECT)
    host = ComposeHost(compose, os.path.join(short_dir, "host.log"))
    try:
        host.wait_healthy()
        plugins = wait_until(lambda: (lambda p: p if p.get("pg-run", {}).get("status") == "running" else None)(
            listed(host)), 30, "the running upstream plugin started and registered")
        item = plugins["pg-run"]
        assert (item["name"], item["version"], item["description"], item["author"]) == (
            "Upstream pg-run", "1.2.0", "installed by upstream", "ACME")
        assert (item["source_url"], item["install_type"], item["is_dev_mode"]) == (
            "https://github.com/acme/pg-run", "github", False)
        assert item["installed_at"].startswith("2026-01-02T03:04:05")
        assert item["id"] == running_id
        wait_until(lambda: cluster.psql("SELECT status, pid FROM pg_installed_plugins WHERE plugin_id = 'pg-run'")
                   == f"running|{item['pid']}", 20, "the row says running with the new pid")
        assert item["pid"] != 4242
        assert plugins["pg-stopped"]["status"] == "stopped"
        assert "pg-other" not in plugins and "pg-other" in listed(host, OTHER_PROJECT)
        assert os.path.exists(os.path.join(base, "pg-run", "plugin.yml.orig"))  # the repository's manifest kept
        render = host.post("/plugins/pg-run/render", params={"project_id": PROJECT},
                           json={"visitor_id": "v1", "extension_type": "visitor_panel"})
        assert render.status_code == 200, render.text

        # lifecycle calls update the rows as upstream would
        assert host.post("/plugins/pg-run/stop", params={"project_id": PROJECT}).status_code == 200
        assert row(cluster, "pg-run") == "stopped"
        assert host.post("/plugins/pg-run/start", params={"project_id": PROJECT}).status_code == 200
        wait_until(lambda: row(cluster, "pg-run") == "running", 20, "row status running again once registered")

        # the database goes away: renders keep working, lifecycle calls answer 503, the list still answers
        cluster.stop()
        render = host.post("/plugins/pg-run/render", params={"project_id": PROJECT},
                           json={"visitor_id": "v2", "extension_type": "visitor_panel"})
        assert render.status_code == 200, render.text
        started = time.monotonic()
        refused = host.post("/plugins/pg-run/stop", params={"project_id": PROJECT})
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["type"] == "store_unavailable" and refused.headers["retry-after"] == "5"
        assert "store unavailable" in refused.text and "PostgreSQL" in refused.text and "not-checked" not in refused.text
        assert time.monotonic() - started < 10
        assert listed(host)["pg-run"]["status"] == "running"  # nothing was done
        again = host.post("/plugins/pg-run/stop", params={"project_id": PROJECT})
        assert again.status_code == 503
        assert host.get("/health").json() == {"status": "healthy"}

        # the database returns: the store recovers by itself
        cluster.start()
        wait_until(lambda: host.post("/plugins/pg-run/stop", params={"project_id": PROJECT}).status_code == 200, 60,
                   "stop accepted once PostgreSQL is back")
        assert row(cluster, "pg-run") == "stopped"
        assert host.post("/plugins/pg-run/start", params={"project_id": PROJECT}).status_code == 200

        # uninstall deletes that row and its files only
        gone = host.request_delete("/plugins/pg-stopped/uninstall", params={"project_id": PROJECT})
        assert gone.status_code == 200, gone.text
        assert row(cluster, "pg-stopped") == "" and not os.path.exists(os.path.join(base, "pg-stopped"))
        assert row(cluster, "pg-other") == "running"
        assert cluster.psql("SELECT version_num FROM pg_alembic_version") == "0001_upstream"
    finally:
        assert host.stop() == 0, host.stderr()

    # a restarted host keeps what the rows say
    host = ComposeHost(compose, os.path.join(short_dir, "host2.log"))
    try:
        host.wait_healthy()
        plugins = wait_until(lambda: (lambda p: p if p.get("pg-run", {}).get("status") == "running" else None)(
            listed(host)), 30, "pg-run running after a restart")
        assert "pg-stopped" not in plugins
    finally:
        assert host.stop() == 0, host.stderr()


@pytest.mark.timeout(120)
async def test_store_creates_the_table_and_reconnects(pg_cluster, short_dir):  # noqa: F811
    cluster = pg_cluster
    cluster.psql("CREATE TABLE unrelated (x int); INSERT INTO unrelated VALUES (7)")
    store = PostgresStore(cluster.url("postgresql"), short_dir)
    assert await store.all() == []
    columns = cluster.psql("SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) "
                           "FROM information_schema.columns WHERE table_name = 'pg_installed_plugins'")
    assert columns.split(",")[:4] == ["id:uuid", "plugin_id:character varying", "project_id:uuid",
                                      "name:character varying"]
    assert "source_config:jsonb" in columns and "installed_at:timestamp with time zone" in columns
    record = InstalledRecord(plugin_id="p1", name="P", version="1", install_type="github", install_path="",
                             project_id=PROJECT, source_config={"github": {"repo": "a/b"}}, status="running")
    await store.save(record)
    (got,) = await store.all()
    assert got.id == record.id and got.source_config == {"github": {"repo": "a/b"}}
    assert got.install_path == os.path.join(short_dir, "p1")
    record.status = "stopped"
    await store.save(record)
    assert (await store.get("p1")).status == "stopped"
    cluster.stop()
    with pytest.raises(StoreUnavailable):
        await store.save(record)
    with pytest.raises(StoreUnavailable, match="next attempt"):  # fails fast during the back-off
        await store.check()
    cluster.start()
    with trio.fail_after(30):
        while True:
            try:
                await store.check()
                break
            except StoreUnavailable:
                await trio.sleep(0.2)
    assert await store.delete("p1") is True
    assert cluster.psql("SELECT x FROM unrelated") == "7"
    await store.close()


@pytest.mark.timeout(300)
def test_installs_through_the_api_write_rows_upstream_can_read(pg_cluster, short_dir):  # noqa: F811
    cluster = pg_cluster
    sources = os.path.join(short_dir, "sources")
    plugin_dir = os.path.join(sources, "pg-new")
    os.makedirs(plugin_dir)
    shutil.copy(PLUGINS / "scripted.py", os.path.join(plugin_dir, "main.py"))
    compose = compose_environment(short_dir, DATABASE_URL=cluster.url(), TGO_INSTALL_SOURCES=sources)
    host = ComposeHost(compose, os.path.join(short_dir, "host.log"))
    try:
        host.wait_healthy()
        body = {"id": "pg-new", "name": "New", "version": "0.3.0", "description": "via the API", "author": "me",
                "source": {"local": {"path": plugin_dir}}, "build": {"language": "python"},
                "runtime": {"args": ["--id", "pg-new"]}, "project_id": PROJECT}
        installed = host.post("/plugins/install", json=body)
        assert installed.status_code in (200, 201), installed.text
        fields = cluster.psql(
            "SELECT project_id, name, version, install_type, status, source_config->'local'->>'path', "
            "runtime_config->'args'->>1, pid IS NOT NULL, install_path FROM pg_installed_plugins "
            "WHERE plugin_id = 'pg-new'")
        assert fields.split("|") == [PROJECT, "New", "0.3.0", "local", "running", plugin_dir, "pg-new", "t",
                                     os.path.join(compose["PLUGIN_BASE_PATH"], "pg-new")]
        assert "pg-new" in listed(host)
        gone = host.request_delete("/plugins/pg-new/uninstall", params={"project_id": PROJECT})
        assert gone.status_code == 200, gone.text
        assert cluster.psql("SELECT count(*) FROM pg_installed_plugins") == "0"
    finally:
        assert host.stop() == 0, host.stderr()


@pytest.mark.timeout(120)
def test_a_missing_plugin_volume_stops_the_start_and_keeps_the_rows(pg_cluster, short_dir):  # noqa: F811
    cluster = pg_cluster
    cluster.psql(UPSTREAM_DDL)
    compose = compose_environment(short_dir, DATABASE_URL=cluster.url())
    upstream_row(cluster, "pg-run", compose["PLUGIN_BASE_PATH"], "running")
    shutil.rmtree(compose["PLUGIN_BASE_PATH"])  # the volume is not mounted where the rows say
    host = ComposeHost(compose, os.path.join(short_dir, "host.log"))
    assert host.proc.wait(60) == 2
    assert "database_url" in host.stderr() and "none of their directories exists" in host.stderr()
    host.stop()
    assert row(cluster, "pg-run") == "running"
