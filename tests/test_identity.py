"""Plugin identity (docs/security.md): reserved ids of launched plugins, printable ids and names,
refusals that reveal no other connection's address, the dev-token lifetime cap."""

from __future__ import annotations

import os
import sys
import time
from functools import partial

import jwt
import pytest
import trio

from support.launched import records  # noqa: F401  (records is a fixture)
from support.paths import PLUGINS
from support.rawclient import RawClient
from support.waiting import wait_for
from tgo_host.host import Host
from tgo_host.plugins.auth import mint_dev_token
from tgo_host.plugins.supervisor import Supervisor

SECRET = "identity-secret-0123456789abcdef0123"


def slow_plugin(parent: str, plugin_id: str, delay: float) -> str:
    """A plugin directory (operator's own, so trusted) that waits ``delay`` s before connecting as ``plugin_id``."""
    directory = os.path.join(parent, plugin_id)
    os.makedirs(directory)
    with open(os.path.join(directory, "plugin.yml"), "w") as fh:
        fh.write(
            f"id: {plugin_id}\nruntime:\n  command: /bin/sh\n"
            f"  args: [-c, 'sleep {delay}; exec {sys.executable} {PLUGINS / 'lifecycle.py'} --id {plugin_id}']\n"
        )
    return parent


async def start(settings, nursery, plugin_dirs=()):
    settings.dev_tcp_addr = "127.0.0.1:0"
    settings.plugin_dirs = list(plugin_dirs)
    settings.restart_delay = 0.2
    host = Host(settings, secret=SECRET, supervisor_factory=partial(Supervisor, settings))
    await nursery.start(host.serve)
    return host


async def test_squatters_are_refused_and_the_launched_plugin_registers(settings, nursery, short_dir, records):  # noqa: F811
    host = await start(settings, nursery, [slow_plugin(os.path.join(short_dir, "dirs"), "sec.target", 1.0)])
    plugin = host.supervisor.get("sec.target")
    assert not plugin.registered
    # a local connection on the plugin socket (not the launched process) claims the id first
    local = await RawClient.connect(settings.socket_path)
    reply = await local.register("sec.target")
    assert reply["error"]["code"] == -32000 and "id reserved by an installed plugin" in reply["error"]["message"]
    assert await local.recv() is None
    # a dev-mode plugin with a valid token for project A
    dev = RawClient(await trio.open_tcp_stream(*host.dev_tcp_address))
    reply = await dev.register("sec.target", dev_token=mint_dev_token(SECRET, "A", "mallory", 3600))
    assert reply["error"]["code"] == -32000 and "id reserved by an installed plugin" in reply["error"]["message"]
    # the launched plugin then registers under its id
    await wait_for(lambda: plugin.registered, timeout=15)
    session = host.registry.get("sec.target")
    assert session is not None and session.peer.transport == "unix" and session.project_id is None
    # and a squatter arriving later is refused with no word of who holds the id
    late = await RawClient.connect(settings.socket_path)
    reply = await late.register("sec.target")
    message = reply["error"]["message"]
    assert "id reserved" in message and "pid" not in message and str(session.peer.pid) not in message
    await dev.aclose()


async def test_a_launched_plugin_takes_its_id_back_from_an_earlier_connection(settings, nursery, short_dir, records):  # noqa: F811
    """A connection holding an id before the plugin was installed is closed when the launched plugin registers."""
    host = await start(settings, nursery)
    early = await RawClient.connect(settings.socket_path)
    assert (await early.register("sec.late"))["result"]["success"] is True
    settings.install_sources = [os.path.join(short_dir, "src")]
    settings.managed_plugins_dir = os.path.join(short_dir, "managed")
    source = os.path.join(short_dir, "src", "late")
    os.makedirs(source)
    with open(os.path.join(source, "plugin.yml"), "w") as fh:
        fh.write("id: sec.late\nbuild: {language: python, python: {entrypoint: lifecycle.py}}\n"
                 "runtime: {args: [--id, sec.late]}\n")
    with open(PLUGINS / "lifecycle.py") as src, open(os.path.join(source, "lifecycle.py"), "w") as dst:
        dst.write(src.read())
    plugin = await host.supervisor.install(source)
    await wait_for(lambda: plugin.registered, timeout=15)
    assert host.registry.get("sec.late") is plugin.session
    with trio.fail_after(5):
        while await early.recv() is not None:
            pass  # the earlier connection is closed


async def test_duplicate_refusal_reveals_no_peer_address(settings, nursery):
    host = await start(settings, nursery)
    token = mint_dev_token(SECRET, "A", "alice", 3600)
    first = RawClient(await trio.open_tcp_stream(*host.dev_tcp_address))
    assert (await first.register("dev.same", dev_token=token))["result"]["success"] is True
    second = RawClient(await trio.open_tcp_stream(*host.dev_tcp_address))
    reply = await second.register("dev.same", dev_token=token)
    message = reply["error"]["message"]
    assert reply["error"]["code"] == -32000 and "already registered" in message
    assert "127.0.0.1" not in message and "tcp" not in message
    await first.aclose()


@pytest.mark.parametrize(
    "field, value",
    [("id", "evil\n2026-01-01 INFO tgo_host: forged"), ("id", "a\x1b[31mred"), ("name", "x\ry"),
     ("name", "bidi\u202eevil"), ("id", "nul\x00")],
)
async def test_ids_and_names_must_be_printable(settings, nursery, field, value, caplog):
    await start(settings, nursery)
    client = await RawClient.connect(settings.socket_path)
    params = {"id": "ok.id", "name": "ok"}
    params[field] = value
    reply = await client.register(params.pop("id"), **params)
    assert reply["error"]["code"] == -32602
    assert reply["error"]["message"].startswith(f"Invalid params: {field}: must be printable")
    assert not any("\n" in r.getMessage() or "\x1b" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "claims, fragment",
    [
        ({"exp": 253402300799}, "exceeds dev_token_max_ttl (30 days)"),  # the year 9999, no iat
        ({"iat": int(time.time()), "exp": int(time.time()) + 31 * 86400}, "lifetime of 31 days exceeds"),
    ],
)
async def test_dev_tokens_living_longer_than_the_maximum_are_refused(settings, nursery, claims, fragment):
    host = await start(settings, nursery)
    token = jwt.encode({"type": "plugin_dev", "project_id": "P", "user_id": "u", **claims}, SECRET, "HS256")
    client = RawClient(await trio.open_tcp_stream(*host.dev_tcp_address))
    reply = await client.register("dev.long", dev_token=token)
    assert reply["error"]["code"] == -32001 and fragment in reply["error"]["message"]
    ok = RawClient(await trio.open_tcp_stream(*host.dev_tcp_address))
    reply = await ok.register("dev.ok", dev_token=mint_dev_token(SECRET, "P", "u", 30 * 86400))
    assert reply["result"]["success"] is True
    await ok.aclose()


@pytest.mark.parametrize("field", ["id", "name"])
def test_manifest_ids_and_names_must_be_printable(short_dir, field):
    from tgo_host.plugins.manifest import ManifestError, load_manifest

    values = {"id": "sec.ok", "name": "ok"}
    values[field] = "forged\\nINFO line"  # a YAML escape: a real newline in the value
    with open(os.path.join(short_dir, "plugin.yml"), "w") as fh:
        fh.write(f'id: "{values["id"]}"\nname: "{values["name"]}"\nruntime: {{command: ./run}}\n')
    with pytest.raises(ManifestError) as info:
        load_manifest(short_dir)
    assert info.value.field == field and "must be printable" in info.value.reason
