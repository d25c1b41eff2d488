"""Cost of the HTTP guard's checks (api/guard.py) on one request, in microseconds.

Run: .venv/bin/python bench/guard_bench.py  (from the repository root)
Three requests: the gateway's (trusted network, JSON, no token), a console call on loopback
(Origin, token) and a refused cross-site POST.
"""

from __future__ import annotations

import timeit

from tgo_host.api.guard import HttpGuard
from tgo_host.settings import Settings


class _Host:
    def __init__(self, settings: Settings, http_token: str | None, admin_token: str | None) -> None:
        self.settings, self.http_token, self.admin_token = settings, http_token, admin_token


def scope(client: str, headers: dict[str, str], method: str = "POST") -> dict:
    return {"type": "http", "path": "/plugins/com.example.crm/render", "method": method, "scheme": "http",
            "client": (client, 40000), "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}


def main() -> None:
    compose = HttpGuard(None, _Host(Settings(http_addr="0.0.0.0:8090", trusted_networks=["172.18.0.0/16"],
                                             http_allowed_hosts=["tgo-host"]), None, "a" * 32))
    local = HttpGuard(None, _Host(Settings(), "t" * 32, None))
    cases = {
        "gateway (trusted network, JSON)": (compose, scope("172.18.0.5", {
            "host": "tgo-host:8090", "content-type": "application/json", "content-length": "42"})),
        "console on loopback (Origin, token)": (local, scope("127.0.0.1", {
            "host": "127.0.0.1:8090", "origin": "http://127.0.0.1:8090", "authorization": "Bearer " + "t" * 32,
            "content-type": "application/json", "content-length": "42"})),
        "cross-site POST (refused)": (local, scope("127.0.0.1", {
            "host": "127.0.0.1:8090", "origin": "http://evil.example", "content-type": "text/plain"})),
    }
    for name, (guard, request) in cases.items():
        number = 20000
        best = min(timeit.repeat(lambda: guard.refusal(request), number=number, repeat=5)) / number
        print(f"{name:40s} {best * 1e6:7.2f} us")


if __name__ == "__main__":
    main()
