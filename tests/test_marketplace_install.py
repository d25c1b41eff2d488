"""The gateway's install calls over real HTTP: git (smart HTTP) and release sources served on 127.0.0.1,
real builds (venv + pip with a local wheel, npm, go), real supervised plugin processes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest
import trio

from support.waiting import wait_for
from marketplugins import GATEWAY_READ, GATEWAY_REQUIRED, HERE, hostile_tar, python_tree, tar_gz, zip_bomb
from support.launched import gone
from support.market import api, install_stream, managed_entries, market, stages  # noqa: F401  (api and market are fixtures)
from support.paths import EXAMPLES


def check_gateway_item(item: dict) -> None:
    for key in GATEWAY_REQUIRED:
        assert item.get(key) not in (None, ""), (key, item)
    for key in GATEWAY_READ:
        assert key in item, (key, item)
    from datetime import datetime

    datetime.fromisoformat(item["installed_at"])
    datetime.fromisoformat(item["updated_at"])


async def test_git_python_plugin_with_wheel_streams_registers_is_scoped_and_uninstalls(api, market, short_dir):
    tree = python_tree(os.path.join(short_dir, "src", "hello"), "test.market-git", "1.0.0", wheel=True)
    market.git_repo("acme/hello", tree)
    info = (await api.post("/plugins/fetch-info", json={"url": f"{market.base}/gh/acme/hello"})).json()
    assert info["source"] == {"github": {"repo": "acme/hello", "ref": "main", "path": "/"}}, info
    events = await install_stream(api, {**info, "project_id": "proj-1"})
    assert stages(events) == ["cloning", "building", "starting", "complete"], events
    assert any("pip install -r requirements.txt" in e["message"] for e in events)
    assert any("greet_lib" in e["message"] for e in events if e["stage"] == "building")
    host = api.host
    plugin = host.supervisor.get("test.market-git")
    assert plugin.registered and plugin.pid
    root = host.settings.managed_plugins_dir
    assert managed_entries(api) == ["test.market-git"]
    assert os.path.isfile(os.path.join(root, "test.market-git", ".venv", "bin", "python"))
    # the venv's greet_lib is what the plugin renders with
    rendered = (await api.post("/plugins/test.market-git/render?project_id=proj-1", json={"visitor_id": "v"})).json()
    assert rendered["data"]["text"] == "test.market-git 1.0.0 greetings from greet_lib"
    # bound to proj-1: invisible to another project, visible unscoped
    assert (await api.post("/plugins/test.market-git/render?project_id=other", json={"visitor_id": "v"})).status_code == 404
    listed = (await api.get("/plugins/installed", params={"project_id": "proj-1"})).json()
    item = next(p for p in listed["plugins"] if p["plugin_id"] == "test.market-git")
    check_gateway_item(item)
    assert item["install_type"] == "github" and item["status"] == "running" and item["version"] == "1.0.0"
    assert item["source_url"] == f"{market.base}/gh/acme/hello"
    other = (await api.get("/plugins/installed", params={"project_id": "other"})).json()
    assert all(p["plugin_id"] != "test.market-git" for p in other["plugins"])
    assert (await api.get("/plugins/test.market-git/status", params={"project_id": "other"})).status_code == 404
    # the build output is in the plugin's log
    logs = (await api.get("/plugins/test.market-git/logs?limit=500")).json()["logs"]
    assert any("pip install" in line for line in logs) and any("test.market-git 1.0.0 up" in line for line in logs)
    pid = plugin.pid
    removed = await api.delete("/plugins/test.market-git/uninstall", params={"project_id": "proj-1"})
    assert removed.status_code == 200, removed.text
    assert gone(pid) and managed_entries(api) == []
    assert await host.marketplace.store.get("test.market-git") is None


async def test_release_archive_via_post_install_answers_installed_plugin_info(api, market, short_dir):
    tree = python_tree(os.path.join(short_dir, "src", "arch"), "test.market-arch", "1.0.0")
    market.file("rel/v1/arch-linux-amd64.tar.gz", tar_gz(tree, top="arch-1.0.0"))
    market.file("rel/v1/plugin.yml", open(os.path.join(tree, "plugin.yml")).read()
                + "source:\n  binary:\n    url: ./arch-${os}-${arch}.tar.gz\n")
    info = (await api.post("/plugins/fetch-info", json={"url": f"{market.base}/files/rel/v1/"})).json()
    response = await api.post("/plugins/install", json={**info, "project_id": "proj-1"})
    assert response.status_code == 200, response.text
    item = response.json()
    check_gateway_item(item)
    assert item["plugin_id"] == "test.market-arch" and item["install_type"] == "binary" and item["status"] == "running"
    assert item["pid"] == api.host.supervisor.get("test.market-arch").pid


async def test_single_executable_with_sha256(api, market, short_dir):
    tree = python_tree(os.path.join(short_dir, "src", "exe"), "test.market-exe", "1.0.0")
    # one executable file: the raw plugin reads meta.json beside its real path, so ship a self-contained script
    meta = open(os.path.join(tree, "meta.json")).read()
    script = open(HERE / "rawplugin.py").read().replace(
        'with open(os.path.join(HERE, "meta.json")) as fh:\n    META = json.load(fh)', f"META = json.loads({meta!r})")
    url = market.file("exe/market-exe", script)
    body = {"id": "test.market-exe", "name": "exe", "version": "1.0.0", "project_id": "p",
            "source": {"binary": {"url": url, "sha256": "0" * 64}}}
    events = await install_stream(api, body)
    assert events[-1]["stage"] == "error" and "sha256" in events[-1]["message"], events
    assert managed_entries(api) == []
    body["source"]["binary"]["sha256"] = hashlib.sha256(script.encode()).hexdigest()
    events = await install_stream(api, body)
    assert events[-1]["stage"] == "complete", events
    assert "sha256 verified" in " ".join(e["message"] for e in events)


async def test_node_plugin_with_package_json(api, market, short_dir):
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI"):
            pytest.fail("node/npm are missing under CI (make test installs nodejs)")
        pytest.skip("node/npm are not installed (make test installs them)")
    tree = os.path.join(short_dir, "src", "node")
    shutil.copytree(os.path.join(EXAMPLES, "hello_node"), tree)
    with open(os.path.join(tree, "package.json"), "w") as fh:
        json.dump({"name": "hello-node", "version": "1.0.0", "private": True}, fh)
    market.git_repo("acme/node", tree)
    info = (await api.post("/plugins/fetch-info", json={"url": f"{market.base}/gh/acme/node"})).json()
    events = await install_stream(api, {**info, "project_id": "p"})
    assert stages(events) == ["cloning", "building", "starting", "complete"], events
    assert any(e["message"] == "npm install" for e in events)
    assert os.path.isfile(os.path.join(api.host.settings.managed_plugins_dir, "com.example.hello-node", "package-lock.json"))


async def test_go_plugin_is_built(api, market, short_dir):
    if shutil.which("go") is None:
        if os.environ.get("CI"):
            pytest.fail("go is missing under CI (make test installs golang-go)")
        pytest.skip("go is not installed (make test installs golang-go when running as root)")
    tree = os.path.join(short_dir, "src", "go")
    os.makedirs(os.path.join(tree, "cmd", "plugin"))
    shutil.copy(HERE / "plugin.go", os.path.join(tree, "cmd", "plugin", "main.go"))
    with open(os.path.join(tree, "go.mod"), "w") as fh:
        fh.write("module example.com/marketgo\n\ngo 1.19\n")
    with open(os.path.join(tree, "plugin.yml"), "w") as fh:
        fh.write("id: test.market-go\nname: market-go\nversion: 1.0.0\nbuild:\n  language: go\n")
    market.git_repo("acme/go", tree)
    info = (await api.post("/plugins/fetch-info", json={"url": f"{market.base}/gh/acme/go"})).json()
    assert info["build"] == {"language": "go", "go": {"main": "./cmd/plugin", "output": "plugin"}}
    events = await install_stream(api, {**info, "project_id": "p"})
    assert stages(events) == ["cloning", "building", "starting", "complete"], events
    rendered = await api.post("/plugins/test.market-go/render?project_id=p", json={"visitor_id": "v"})
    assert rendered.status_code == 200 and rendered.json()["data"]["text"] == "hello from go", (rendered.text, api.host.supervisor.logs("test.market-go"), api.host.supervisor.status("test.market-go"))


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
async def test_hostile_archives_are_refused_and_nothing_escapes(api, market, kind):
    url = market.file(f"evil/{kind}.tar.gz", hostile_tar(kind))
    body = {"id": f"test.evil-{kind}", "name": "evil", "version": "1", "project_id": "p",
            "source": {"binary": {"url": url}}, "build": {"language": "python"}}
    events = await install_stream(api, body)
    assert events[-1]["stage"] == "error", events
    reason = {"dotdot": "'..'", "absolute": "absolute path", "symlink": "links to the absolute path"}[kind]
    assert reason in events[-1]["message"], events[-1]
    assert managed_entries(api) == []
    assert not os.path.exists("/tmp/tgo-escaped") and not os.path.exists("/tmp/tgo-escaped-abs")
    assert not os.path.exists(os.path.join(os.path.dirname(api.host.settings.managed_plugins_dir), "etc"))


async def test_zip_bomb_hits_the_unpacked_size_cap(api, market, short_dir):
    path = os.path.join(market.root, "files", "bomb.zip")
    await trio.to_thread.run_sync(zip_bomb, path)
    assert os.path.getsize(path) < 10 * 1024 * 1024
    body = {"id": "test.bomb", "name": "bomb", "version": "1", "project_id": "p",
            "source": {"binary": {"url": f"{market.base}/files/bomb.zip"}}, "build": {"language": "python"}}
    events = await install_stream(api, body)
    assert events[-1]["stage"] == "error" and "max_unpacked_bytes" in events[-1]["message"], events
    assert managed_entries(api) == []


async def test_disallowed_sources_are_error_events(api, market):
    port = market.base.rsplit(":", 1)[1]
    market.redirects["/files/away.tar.gz"] = f"http://localhost:{port}/files/x.tar.gz"
    body = {"id": "test.away", "name": "away", "version": "1", "project_id": "p",
            "source": {"binary": {"url": f"{market.base}/files/away.tar.gz"}}, "build": {"language": "python"}}
    events = await install_stream(api, body)
    assert events[-1]["stage"] == "error" and "localhost" in events[-1]["message"], events
    assert "not an allowed install source" in events[-1]["message"]
    api.host.settings.github_base_url = "https://git.evil.example"
    body = {"id": "test.gitevil", "name": "x", "version": "1", "project_id": "p", "source": {"github": {"repo": "o/r"}}}
    events = await install_stream(api, body)
    assert events[-1] == {"stage": "error", "message": "repository https://git.evil.example/o/r.git is not an allowed "
                          f"install source (install_sources: {market.base}/)"}, events
    # a ref that would be read as a git option
    api.host.settings.github_base_url = f"{market.base}/gh"
    body = {"id": "test.gitopt", "name": "x", "version": "1", "project_id": "p",
            "source": {"github": {"repo": "o/r", "ref": "--upload-pack=touch /tmp/tgo-pwned"}}}
    events = await install_stream(api, body)
    assert events == [{"stage": "error", "message": "source.github.ref: '--upload-pack=touch /tmp/tgo-pwned' is not a "
                                                     "branch, tag or commit name"}], events
    assert not os.path.exists("/tmp/tgo-pwned")
    # a non-200 answer before the stream starts: invalid body
    bad = await api.post("/plugins/install-stream", json={"id": "x", "name": "x", "version": "1", "build": {"language": "rust"}})
    assert bad.status_code == 422 and bad.json()["error"]["path"] == "build.language"
    assert managed_entries(api) == []


async def test_plugin_that_exits_is_an_error_with_its_output_and_leaves_nothing(api, market, short_dir):
    tree = python_tree(os.path.join(short_dir, "src", "crash"), "test.market-crash", "1.0.0", crash="bad config")
    market.git_repo("acme/crash", tree)
    info = (await api.post("/plugins/fetch-info", json={"url": f"{market.base}/gh/acme/crash"})).json()
    events = await install_stream(api, {**info, "project_id": "p"})
    assert stages(events) == ["cloning", "building", "starting", "error"], events
    assert "crashing on purpose: bad config" in events[-1]["message"]
    assert managed_entries(api) == [] and "test.market-crash" not in api.host.supervisor
    # a failing build step: pip cannot find the requirement (no index reachable offline: --no-index)
    tree = python_tree(os.path.join(short_dir, "src", "badreq"), "test.market-badreq", "1.0.0",
                       requirements="--no-index\nno-such-package-anywhere==9.9\n")
    market.git_repo("acme/badreq", tree)
    info = (await api.post("/plugins/fetch-info", json={"url": f"{market.base}/gh/acme/badreq"})).json()
    events = await install_stream(api, {**info, "project_id": "p"})
    assert events[-1]["stage"] == "error" and "pip install -r requirements.txt: failed" in events[-1]["message"], events
    assert managed_entries(api) == []


async def test_client_disconnect_cancels_and_leaves_nothing(api, market, short_dir):
    tree = python_tree(os.path.join(short_dir, "src", "cancel"), "test.market-cancel", "1.0.0", wheel=True)
    market.git_repo("acme/cancel", tree)
    info = (await api.post("/plugins/fetch-info", json={"url": f"{market.base}/gh/acme/cancel"})).json()
    async with api.stream("POST", "/plugins/install-stream", json={**info, "project_id": "p"}) as response:
        async for line in response.aiter_lines():
            if '"building"' in line:
                break  # leave mid-build: the connection closes
    await wait_for(lambda: managed_entries(api) == [] and "test.market-cancel" not in api.host.supervisor, timeout=30)
    assert await api.host.marketplace.store.get("test.market-cancel") is None
    # nothing left installing: the same plugin installs cleanly afterwards
    events = await install_stream(api, {**info, "project_id": "p"})
    assert events[-1]["stage"] == "complete", events
