"""fetch-info over real HTTP: GitHub/Gitee/custom URL rules against a stand-in server on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest

from support.market import market, point_at  # noqa: F401  (market is a fixture)
from tgo_host.api.server import http_service
from tgo_host.host import Host
from tgo_host.marketplace.sources import manifest_candidates, source_allowed

MANIFEST = """\
id: com.example.hello
name: Hello
version: 1.0.0
description: says hello
author: Example
build:
  language: python
"""


@pytest.fixture
async def api(settings, nursery, market, short_dir):
    settings.http_addr = "127.0.0.1:0"
    point_at(settings, market)
    host = Host(settings, services=[http_service])
    await nursery.start(host.serve)
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=30) as client:
        client.host = host
        yield client
    host.request_stop()


def test_source_allowed_matches_scheme_host_port_and_path_prefix():
    sources = ["https://github.com/", "https://mirror.example/plugins"]
    assert source_allowed("https://github.com/o/r", sources)
    assert source_allowed("https://GitHub.com/o/r", sources)
    assert not source_allowed("http://github.com/o/r", sources)
    assert not source_allowed("https://github.com.evil.example/o/r", sources)
    assert not source_allowed("https://github.com@evil.example/o/r", sources)
    assert not source_allowed("https://github.com:8443/o/r", sources)
    assert source_allowed("https://mirror.example/plugins/x/plugin.yml", sources)
    assert source_allowed("https://mirror.example/plugins", sources)
    assert not source_allowed("https://mirror.example/pluginsevil/x", sources)
    assert not source_allowed("file:///etc/passwd", sources)
    assert not source_allowed("/var/plugins", sources)


def test_candidates_follow_the_gateway_rules(settings):
    urls = lambda u: [c.url for c in manifest_candidates(u, settings)]  # noqa: E731
    raw = "https://raw.githubusercontent.com"
    assert urls("https://github.com/o/r") == [f"{raw}/o/r/main/plugin.yml", f"{raw}/o/r/main/plugin.yaml",
                                              f"{raw}/o/r/master/plugin.yml", f"{raw}/o/r/master/plugin.yaml"]
    assert urls("https://github.com/o/r.git")[0] == f"{raw}/o/r/main/plugin.yml"
    assert urls("https://github.com/o/r/tree/v2/plugins/x") == [f"{raw}/o/r/v2/plugins/x/plugin.yml",
                                                                f"{raw}/o/r/v2/plugins/x/plugin.yaml"]
    assert urls("https://github.com/o/r/blob/dev/a/plugin.yml") == [f"{raw}/o/r/dev/a/plugin.yml"]
    assert urls("https://gitee.com/o/r") == ["https://gitee.com/o/r/raw/master/plugin.yml", "https://gitee.com/o/r/raw/master/plugin.yaml",
                                             "https://gitee.com/o/r/raw/main/plugin.yml", "https://gitee.com/o/r/raw/main/plugin.yaml"]
    assert urls("https://example.com/p/manifest.yaml") == ["https://example.com/p/manifest.yaml"]
    assert urls("https://example.com/p/") == ["https://example.com/p/plugin.yml", "https://example.com/p/plugin.yaml"]
    blob = manifest_candidates("https://github.com/o/r/blob/dev/a/plugin.yml", settings)[0]
    assert (blob.git.repo, blob.git.ref, blob.git.path) == ("o/r", "dev", "/a")


async def test_github_repo_url_falls_back_to_master_and_names_the_git_source(api, market):
    market.file("raw/acme/hello/master/plugin.yml", MANIFEST)
    response = await api.post("/plugins/fetch-info", json={"url": f"{market.base}/gh/acme/hello"})
    assert response.status_code == 200, response.text
    info = response.json()
    assert info == {
        "id": "com.example.hello", "name": "Hello", "version": "1.0.0", "description": "says hello",
        "author": "Example", "source": {"github": {"repo": "acme/hello", "ref": "master", "path": "/"}},
        "build": {"language": "python", "python": {"entrypoint": "main.py", "requirements": "requirements.txt"}},
        "runtime": {"args": [], "env": {}, "auto_restart": True, "restart_delay": 5.0},
        "source_url": f"{market.base}/gh/acme/hello",
    }
    assert market.requests[:3] == ["/files/raw/acme/hello/main/plugin.yml", "/files/raw/acme/hello/main/plugin.yaml",
                                   "/files/raw/acme/hello/master/plugin.yml"]


async def test_tree_url_plugin_yaml_and_gitee(api, market):
    market.file("raw/acme/mono/v2/plugins/x/plugin.yaml", MANIFEST.replace("1.0.0", "2.0.0"))
    info = (await api.post("/plugins/fetch-info", json={"url": f"{market.base}/gh/acme/mono/tree/v2/plugins/x"})).json()
    assert info["version"] == "2.0.0" and info["source"] == {"github": {"repo": "acme/mono", "ref": "v2", "path": "/plugins/x"}}
    market.file("../gitee/acme/g/raw/master/plugin.yml", MANIFEST)  # Gitee serves raw files under its own base
    info = (await api.post("/plugins/fetch-info", json={"url": f"{market.base}/gitee/acme/g"})).json()
    assert info.get("source") == {"gitee": {"repo": "acme/g", "ref": "master", "path": "/"}}, info


async def test_custom_url_with_relative_binary_made_absolute(api, market):
    market.file("rel/v1/plugin.yml", MANIFEST + "source:\n  binary:\n    url: ./hello-${os}-${arch}.tar.gz\n")
    info = (await api.post("/plugins/fetch-info", json={"url": f"{market.base}/files/rel/v1/"})).json()
    assert info["source"] == {"binary": {"url": f"{market.base}/files/rel/v1/hello-${{os}}-${{arch}}.tar.gz"}}
    direct = (await api.post("/plugins/fetch-info", json={"url": f"{market.base}/files/rel/v1/plugin.yml"})).json()
    assert direct["source"] == info["source"]


async def test_hostile_and_broken_sources_are_400_with_the_reason(api, market):
    async def error(url: str) -> str:
        response = await api.post("/plugins/fetch-info", json={"url": url})
        assert response.status_code == 400, response.text
        return response.json()["detail"]

    market.file("bad/plugin.yml", "id: [unclosed\n")
    assert "not valid YAML" in await error(f"{market.base}/files/bad/")
    market.file("list/plugin.yml", "- a\n- b\n")
    assert "not a YAML mapping" in await error(f"{market.base}/files/list/")
    market.file("noid/plugin.yml", "name: x\nversion: 1\n")
    assert "id" in await error(f"{market.base}/files/noid/")
    assert "no plugin.yml found" in await error(f"{market.base}/files/missing/")
    assert "not an allowed install source" in await error("https://evil.example/acme/x.git")
    port = market.base.rsplit(":", 1)[1]
    market.redirects["/files/redir/plugin.yml"] = f"http://localhost:{port}/files/list/plugin.yml"
    detail = await error(f"{market.base}/files/redir/")
    assert "localhost" in detail and "not an allowed install source" in detail
    market.redirects["/files/loop/plugin.yml"] = "/files/loop/plugin.yml"
    assert "redirects" in await error(f"{market.base}/files/loop/")
    api.host.settings.max_manifest_bytes = 1000
    market.file("big/plugin.yml", MANIFEST + "#" * 5000)
    assert "limit of 1000 bytes" in await error(f"{market.base}/files/big/")
    assert (await api.post("/plugins/fetch-info", json={})).status_code == 422
