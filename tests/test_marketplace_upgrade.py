"""check-update and upgrade over real HTTP: a new version published to the stand-in git server, upgrades that
succeed, and upgrades that fail (build, start) and roll back to the old version, which serves again."""

from __future__ import annotations

import os

from marketplugins import python_tree
from support.market import api, install_stream, managed_entries, market, stages  # noqa: F401  (api and market are fixtures)


async def render_text(api) -> str:
    response = await api.post("/plugins/test.market-up/render?project_id=p", json={"visitor_id": "v"})
    assert response.status_code == 200, response.text
    return response.json()["data"]["text"]


async def upgrade_stream(api, body) -> list[dict]:
    import json

    events = []
    async with api.stream("POST", "/plugins/test.market-up/upgrade?project_id=p", json=body) as response:
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: "):]))
    assert events and events[-1]["stage"] in ("complete", "error"), events
    return events


async def test_check_update_upgrade_and_roll_back(api, market, short_dir):  # noqa: F811
    src = lambda name: os.path.join(short_dir, "src", name)  # noqa: E731
    market.git_repo("acme/up", python_tree(src("v1"), "test.market-up", "1.0.0"))
    info = (await api.post("/plugins/fetch-info", json={"url": f"{market.base}/gh/acme/up"})).json()
    assert (await install_stream(api, {**info, "project_id": "p"}))[-1]["stage"] == "complete"
    assert await render_text(api) == "test.market-up 1.0.0"

    check = (await api.get("/plugins/test.market-up/check-update", params={"project_id": "p"})).json()
    assert check["has_update"] is False and check["current_version"] == "1.0.0" and check["latest_version"] == "1.0.0"
    assert (await api.get("/plugins/test.market-up/check-update", params={"project_id": "other"})).status_code == 404

    # the server starts serving 1.1.0
    market.git_repo("acme/up", python_tree(src("v11"), "test.market-up", "1.1.0"))
    check = (await api.get("/plugins/test.market-up/check-update", params={"project_id": "p"})).json()
    assert check["has_update"] is True and check["latest_version"] == "1.1.0", check
    assert check["latest_config"]["version"] == "1.1.0" and check["latest_config"]["source"]["github"]["repo"] == "acme/up"
    listed = (await api.get("/plugins/installed", params={"project_id": "p"})).json()["plugins"]
    assert next(p for p in listed if p["plugin_id"] == "test.market-up")["latest_version"] == "1.1.0"

    old_pid = api.host.supervisor.get("test.market-up").pid
    events = await upgrade_stream(api, {"latest_config": check["latest_config"]})
    assert stages(events) == ["stopping", "cloning", "building", "starting", "complete"], events
    assert await render_text(api) == "test.market-up 1.1.0"
    assert api.host.supervisor.get("test.market-up").pid != old_pid
    item = next(p for p in (await api.get("/plugins/installed")).json()["plugins"] if p["plugin_id"] == "test.market-up")
    assert item["version"] == "1.1.0" and item["status"] == "running"
    assert (await api.host.marketplace.store.get("test.market-up")).version == "1.1.0"
    assert managed_entries(api) == ["test.market-up"]  # no staging or old copy left

    # 1.2.0 whose build fails: rolled back, 1.1.0 serves again
    market.git_repo("acme/up", python_tree(src("v12"), "test.market-up", "1.2.0",
                                           requirements="--no-index\nno-such-package-anywhere==9.9\n"))
    events = await upgrade_stream(api, {})  # no latest_config: re-resolved from source_url
    assert events[-1]["stage"] == "error", events
    message = events[-1]["message"]
    assert "pip install -r requirements.txt: failed" in message and "rolled back" in message, message
    assert "1.1.0 is running again" in message
    assert await render_text(api) == "test.market-up 1.1.0"
    assert managed_entries(api) == ["test.market-up"]

    # 1.3.0 that exits at start: rolled back after the start failed
    market.git_repo("acme/up", python_tree(src("v13"), "test.market-up", "1.3.0", crash="missing config"))
    events = await upgrade_stream(api, {})
    assert stages(events)[-2:] == ["starting", "error"], events
    assert "crashing on purpose: missing config" in events[-1]["message"] and "rolled back" in events[-1]["message"]
    assert await render_text(api) == "test.market-up 1.1.0"
    assert (await api.host.marketplace.store.get("test.market-up")).version == "1.1.0"
    assert managed_entries(api) == ["test.market-up"]
