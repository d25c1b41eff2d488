"""Accepting like trio's ``serve_listeners``, on real sockets: out of fds is retried, anything else ends the host.

A listening TCP socket that is shut down makes ``accept`` fail with ``EINVAL`` for good (a broken
listener: retrying would log forever); a host whose open-file limit is used up gets ``EMFILE`` from
``accept`` until fds come back, and then serves the plugin that waited in the backlog.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap

import pytest
import trio

from support.rawclient import RawClient
from tgo_host.cli import held
from tgo_host.host import Host
from tgo_host.plugins.listener import ListenerFailed


async def test_a_broken_listener_ends_accepting_and_the_host_with_an_error_naming_it(settings):
    settings.dev_tcp_addr = "127.0.0.1:0"
    host = Host(settings, secret="accept-test-secret")
    with pytest.raises(BaseExceptionGroup) as info:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                await nursery.start(host.serve)
                plugin = await RawClient.connect(settings.socket_path)
                assert (await plugin.register("accept-probe"))["result"]["success"] is True
                [tcp] = [sock for sock in host.listeners if sock.family != trio.socket.AF_UNIX]
                tcp.shutdown(trio.socket.SHUT_RDWR)  # accept now fails with EINVAL, and always will
                await trio.sleep_forever()
    failure = held(info.value, ListenerFailed)
    assert failure is not None, info.value
    host_, port = host.dev_tcp_address
    assert failure.errno == errno.EINVAL
    assert failure.strerror == f"accept on the TCP debug listener {host_}:{port} failed: Invalid argument; the listener is broken"
    assert not os.path.exists(settings.socket_path)  # the host stopped and removed its socket file
    assert await plugin.recv() is None  # and its sessions ended
    await plugin.aclose()


# The host in a process of its own with a low open-file limit: once serving, it fills every free fd,
# waits until accept has failed with EMFILE three times, then gives the fds back.
OUT_OF_FDS_HOST = textwrap.dedent(r"""
    import logging, os, resource, sys
    import trio
    from tgo_host.host import Host
    from tgo_host.settings import Settings

    class Failures(logging.Handler):
        count = 0
        def emit(self, record):
            if "failed (#" in record.getMessage():
                Failures.count += 1

    async def main(path):
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
        logging.getLogger("tgo_host.listener").addHandler(Failures())
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        host = Host(Settings(socket_path=path, http_addr="off", register_timeout=30.0))
        async with trio.open_nursery() as nursery:
            await nursery.start(host.serve)
            fillers = []
            try:
                while True:
                    fillers.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                pass
            print("full", flush=True)
            with trio.fail_after(20):
                while Failures.count < 3:
                    await trio.sleep(0.01)
            for fd in fillers:
                os.close(fd)
            print("freed", flush=True)
            with trio.fail_after(20):
                while "emfile-probe" not in {s.plugin_id for s in host.registry.all_sessions()}:
                    await trio.sleep(0.01)
            print("registered", flush=True)
            host.request_stop()

    trio.run(main, sys.argv[1])
""")


async def test_accept_out_of_fds_is_retried_and_the_waiting_plugin_is_served_once_fds_return(settings, reap):
    proc = subprocess.Popen([sys.executable, "-c", OUT_OF_FDS_HOST, settings.socket_path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reap.append(proc)
    assert await trio.to_thread.run_sync(proc.stdout.readline) == "full\n"
    plugin = await RawClient.connect(settings.socket_path)  # waits in the backlog: the host has no fd for it
    await plugin.send({"jsonrpc": "2.0", "id": 1, "method": "register",
                       "params": {"id": "emfile-probe", "name": "probe", "version": "1.0", "capabilities": []}})
    assert await trio.to_thread.run_sync(proc.stdout.readline) == "freed\n"
    reply = await plugin.recv(timeout=20)
    assert reply["result"]["success"] is True and reply["result"]["plugin_id"] == "emfile-probe"
    out, err = await trio.to_thread.run_sync(lambda: proc.communicate(timeout=30))
    assert out == "registered\n" and proc.returncode == 0, err
    retries = [line for line in err.splitlines() if "failed (#" in line]
    assert len(retries) >= 3, err
    assert f"accept on the plugin socket {settings.socket_path} failed (#1): [Errno {errno.EMFILE}]" in retries[0]
    assert "retrying in 0.1 s" in retries[0]
    assert "the listener is broken" not in err
    await plugin.aclose()
